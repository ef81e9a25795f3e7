//! Ready-made instrumentation for common frameworks, each behind a cargo feature.

#[cfg(feature = "tower")]
pub mod tower;

#[cfg(feature = "reqwest")]
pub mod reqwest;

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

#[cfg(any(feature = "tower", feature = "reqwest", feature = "actix-web"))]
mod url;

/// The first `max` characters of `text`: tags stay bounded whatever the host sends.
#[cfg(any(
    feature = "redis",
    feature = "sqlx-postgres",
    feature = "sqlx-mysql",
    feature = "sqlx-sqlite"
))]
fn cut(text: &str, max: usize) -> &str {
    text.char_indices()
        .nth(max)
        .map_or(text, |(end, _)| &text[..end])
}
