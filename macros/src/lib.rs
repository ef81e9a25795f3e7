//! Attribute macros of rust2sky.
//!
//! Users never depend on this crate directly: they depend on `rust2sky`, which re-exports the macros.
//! The macros themselves arrive with their own issue; until then this crate is an empty placeholder
//! so that the workspace layout is in place.
