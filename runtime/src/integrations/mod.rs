//! Ready-made instrumentation for common frameworks, each behind a cargo feature.

#[cfg(feature = "tower")]
pub mod tower;

#[cfg(feature = "reqwest")]
pub mod reqwest;

#[cfg(feature = "metrics")]
pub mod metrics;

#[cfg(feature = "tracing")]
pub mod tracing;

#[cfg(feature = "redis")]
pub mod redis;

#[cfg(any(
    feature = "sqlx-postgres",
    feature = "sqlx-mysql",
    feature = "sqlx-sqlite"
))]
pub mod sqlx;

#[cfg(feature = "actix-web")]
pub mod actix;

#[cfg(any(feature = "kafka", feature = "rdkafka"))]
pub mod kafka;

#[cfg(any(
    feature = "tower",
    feature = "reqwest",
    feature = "tracing",
    feature = "actix-web"
))]
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

/// The first `max` characters of `text`: tags stay bounded whatever the host sends.
#[cfg(any(
    feature = "redis",
    feature = "sqlx-postgres",
    feature = "sqlx-mysql",
    feature = "sqlx-sqlite",
    feature = "tracing"
))]
fn cut(text: &str, max: usize) -> &str {
    text.char_indices()
        .nth(max)
        .map_or(text, |(end, _)| &text[..end])
}
