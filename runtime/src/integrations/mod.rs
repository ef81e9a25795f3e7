//! Ready-made instrumentation for common frameworks, each behind a cargo feature.

#[cfg(feature = "tower")]
pub mod tower;

#[cfg(feature = "reqwest")]
pub mod reqwest;

#[cfg(feature = "metrics")]
pub mod metrics;

#[cfg(feature = "tracing")]
pub mod tracing;

#[cfg(any(feature = "tower", feature = "reqwest", feature = "tracing"))]
mod url;

/// The route a request matched: axum's template when there is one, else the path.
#[cfg(any(feature = "tower", feature = "tracing"))]
fn route<B>(request: &http::Request<B>) -> &str {
    #[cfg(feature = "axum")]
    if let Some(matched) = request.extensions().get::<axum::extract::MatchedPath>() {
        return matched.as_str();
    }
    request.uri().path()
}
