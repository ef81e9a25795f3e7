//! Ready-made instrumentation for common frameworks, each behind a cargo feature.

#[cfg(feature = "tower")]
pub mod tower;

#[cfg(feature = "reqwest")]
pub mod reqwest;

#[cfg(feature = "metrics")]
pub mod metrics;

#[cfg(any(feature = "tower", feature = "reqwest"))]
mod url;
