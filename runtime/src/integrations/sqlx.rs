//! Exit spans for sqlx.
