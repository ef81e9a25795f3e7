//! rust2sky's runtime tests: one binary, a module per area.

mod cleartext;
mod context;
mod gauges;
mod global;
mod macros;
mod propagation;
mod readme;
#[cfg(feature = "reqwest")]
mod reqwest;
mod spans;
#[cfg(feature = "axum")]
mod tower;
#[cfg(feature = "tracing")]
mod tracing_spans;
