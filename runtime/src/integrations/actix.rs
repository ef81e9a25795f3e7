//! Entry spans for actix-web.
