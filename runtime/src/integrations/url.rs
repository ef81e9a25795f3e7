//! The `url` tag of HTTP spans: what of a request's URL may go into a trace.
//!
//! Credentials (`user:password@`) never do. A query string often carries secrets too (tokens,
//! presigned signatures), so it goes in only where
//! [`Config::http_url_query`](crate::config::Config::http_url_query) says so; a fragment never
//! reaches a server and is left out as well.

use crate::span::Span;

/// The `url` tag of `span` for `uri` (absolute for a client, path and query for a server), or
/// `None` when the span is not recorded.
#[cfg(any(feature = "tower", feature = "tracing"))]
pub(crate) fn uri_tag(span: &Span, uri: &http::Uri) -> Option<String> {
    parts_tag(
        span,
        uri.scheme_str(),
        uri.authority().map(|authority| authority.as_str()),
        uri.path(),
        uri.query(),
    )
}

/// As [`uri_tag`], from a URI's parts: for frameworks on another version of `http` (actix-web).
#[cfg(any(feature = "tower", feature = "tracing", feature = "actix-web"))]
pub(crate) fn parts_tag(
    span: &Span,
    scheme: Option<&str>,
    authority: Option<&str>,
    path: &str,
    query: Option<&str>,
) -> Option<String> {
    let record_query = span.recording_tracer()?.integrations().http_url_query;
    let mut shown = String::with_capacity(path.len() + 32);
    if let Some(scheme) = scheme {
        shown.push_str(scheme);
        shown.push_str("://");
    }
    if let Some(authority) = authority {
        shown.push_str(
            authority
                .rsplit_once('@')
                .map_or(authority, |(_, host)| host),
        );
    }
    shown.push_str(path);
    if let Some(query) = query.filter(|_| record_query) {
        shown.push('?');
        shown.push_str(query);
    }
    Some(shown)
}

/// As [`uri_tag`], for a `url::Url` (reqwest's).
#[cfg(feature = "reqwest")]
pub(crate) fn url_tag(span: &Span, url: &reqwest::Url) -> Option<String> {
    let query = span.recording_tracer()?.integrations().http_url_query;
    let mut shown = url.clone();
    // Both fail only for URLs that cannot have credentials, which then have none to remove.
    let _ = shown.set_password(None);
    let _ = shown.set_username("");
    if !query {
        shown.set_query(None);
    }
    shown.set_fragment(None);
    Some(shown.into())
}

/// As [`uri_tag`], for a URL given as text (a `tracing` field); text that is no URI is left out,
/// since what in it is a secret can't be told.
#[cfg(feature = "tracing")]
pub(crate) fn text_tag(span: &Span, text: &str) -> Option<String> {
    uri_tag(span, &text.parse().ok()?)
}
