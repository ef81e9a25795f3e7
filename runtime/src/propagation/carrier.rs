//! Where headers are read from and written to: [`Extractor`] and [`Injector`].

use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::BuildHasher;

use crate::diagnostics::{self, Problem};

/// Reads request headers by name, for an entry span.
///
/// Implemented for `http::HeaderMap` (hyper, axum, reqwest...), tonic's `MetadataMap`, a
/// `HashMap<String, String>`, [`NoHeaders`], and any closure `Fn(&str) -> Option<String>`.
/// Names are asked for in lowercase (`sw8`, `sw8-correlation`, `sw8-x`).
///
/// ```
/// use std::collections::HashMap;
/// use rust2sky::propagation::Extractor;
///
/// let headers = HashMap::from([("sw8".to_owned(), "1-...".to_owned())]);
/// assert_eq!(headers.extract("sw8").as_deref(), Some("1-..."));
/// let from_closure = |name: &str| (name == "sw8").then(|| "1-...".to_owned());
/// assert_eq!(from_closure.extract("sw8").as_deref(), Some("1-..."));
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` can't be read as request headers: it is not an `Extractor`",
    label = "not an `Extractor`",
    note = "pass an `http::HeaderMap`, tonic's `MetadataMap`, a `HashMap<String, String>`, a reference to one, or a closure `Fn(&str) -> Option<String>`"
)]
pub trait Extractor {
    /// The value of the header `name`, if present and text.
    fn extract(&self, name: &str) -> Option<Cow<'_, str>>;
}

/// Writes request headers, for an exit span.
///
/// Implemented for `http::HeaderMap`, tonic's `MetadataMap`, a `HashMap<String, String>`, a
/// `Vec<(String, String)>` or `Vec<(&'static str, String)>`, [`NoHeaders`] (headers not wanted),
/// and any closure `FnMut(&'static str, String)`, also behind `&mut dyn FnMut(..)`.
///
/// ```
/// use rust2sky::propagation::Injector;
///
/// let mut headers: Vec<(String, String)> = Vec::new();
/// headers.inject("sw8", "1-...".to_owned());
/// assert_eq!(headers, [("sw8".to_owned(), "1-...".to_owned())]);
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` can't take request headers: it is not an `Injector`",
    label = "not an `Injector`",
    note = "pass `&mut` to an `http::HeaderMap`, tonic's `MetadataMap`, a `HashMap<String, String>` or a `Vec<(String, String)>`, or a closure `FnMut(&'static str, String)`"
)]
pub trait Injector {
    /// Sets the header `name` to `value`, replacing any value it had.
    fn inject(&mut self, name: &'static str, value: String);
}

/// The carrier of a span with no headers to read or write: an entry span that continues no
/// caller (a job started by a timer, a message without context), or an exit span to a peer that
/// is not told the context.
///
/// ```
/// use rust2sky::propagation::NoHeaders;
///
/// let _job = rust2sky::entry_span("cron:cleanup", &NoHeaders);
/// let _call = rust2sky::exit_span("SELECT", "db:5432", &mut NoHeaders);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NoHeaders;

impl Extractor for NoHeaders {
    fn extract(&self, _name: &str) -> Option<Cow<'_, str>> {
        None
    }
}

impl<F: Fn(&str) -> Option<String>> Extractor for F {
    fn extract(&self, name: &str) -> Option<Cow<'_, str>> {
        self(name).map(Cow::Owned)
    }
}

impl<S: BuildHasher> Extractor for HashMap<String, String, S> {
    fn extract(&self, name: &str) -> Option<Cow<'_, str>> {
        self.get(name).map(|value| Cow::Borrowed(value.as_str()))
    }
}

impl Extractor for http::HeaderMap {
    fn extract(&self, name: &str) -> Option<Cow<'_, str>> {
        self.get(name)?.to_str().ok().map(Cow::Borrowed)
    }
}

impl Extractor for tonic::metadata::MetadataMap {
    fn extract(&self, name: &str) -> Option<Cow<'_, str>> {
        self.get(name)?.to_str().ok().map(Cow::Borrowed)
    }
}

// References to the carriers are carriers too, so that `req.headers()` (a `&HeaderMap`) works
// where a `&impl Extractor` is asked for. (A blanket `impl for &T` would overlap the closure impl.)
impl<S: BuildHasher> Extractor for &HashMap<String, String, S> {
    fn extract(&self, name: &str) -> Option<Cow<'_, str>> {
        (**self).extract(name)
    }
}

impl Extractor for &http::HeaderMap {
    fn extract(&self, name: &str) -> Option<Cow<'_, str>> {
        (**self).extract(name)
    }
}

impl Extractor for &tonic::metadata::MetadataMap {
    fn extract(&self, name: &str) -> Option<Cow<'_, str>> {
        (**self).extract(name)
    }
}

impl Injector for NoHeaders {
    fn inject(&mut self, _name: &'static str, _value: String) {}
}

// `?Sized`, so that `&mut dyn FnMut(..)` is a carrier too.
impl<F: FnMut(&'static str, String) + ?Sized> Injector for F {
    fn inject(&mut self, name: &'static str, value: String) {
        self(name, value);
    }
}

impl<S: BuildHasher> Injector for HashMap<String, String, S> {
    fn inject(&mut self, name: &'static str, value: String) {
        self.insert(name.to_owned(), value);
    }
}

impl Injector for Vec<(String, String)> {
    fn inject(&mut self, name: &'static str, value: String) {
        match self.iter_mut().find(|(n, _)| n == name) {
            Some((_, existing)) => *existing = value,
            None => self.push((name.to_owned(), value)),
        }
    }
}

impl Injector for Vec<(&'static str, String)> {
    fn inject(&mut self, name: &'static str, value: String) {
        match self.iter_mut().find(|(n, _)| *n == name) {
            Some((_, existing)) => *existing = value,
            None => self.push((name, value)),
        }
    }
}

/// Whether `name` is made of lowercase letters, digits and `-` only, as SkyWalking's header names
/// are: a name `http` then takes as it is, with no copy (`from_static`), where `from_bytes`
/// allocates a copy of every name it does not know.
fn is_plain_lowercase(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-')
}

// rust2sky's own names and values (Base64, digits and `-`) are always valid; a name or value a
// map refuses, from a caller of the public trait, is skipped and counted rather than failing the
// request. `from_static` is used only for names it takes (it panics on others), and
// `MetadataMap::insert`, which would panic on an invalid value, only after `try_from` took it.
impl Injector for http::HeaderMap {
    fn inject(&mut self, name: &'static str, value: String) {
        let header = if is_plain_lowercase(name) {
            Ok(http::HeaderName::from_static(name))
        } else {
            http::HeaderName::from_bytes(name.as_bytes())
        };
        match (header, http::HeaderValue::try_from(value)) {
            (Ok(name), Ok(value)) => {
                self.insert(name, value);
            }
            _ => not_written(name),
        }
    }
}

impl Injector for tonic::metadata::MetadataMap {
    fn inject(&mut self, name: &'static str, value: String) {
        // An ASCII key: `from_bytes` refuses a `-bin` one, which would need binary values.
        let key = if is_plain_lowercase(name) && !name.ends_with("-bin") {
            Ok(tonic::metadata::AsciiMetadataKey::from_static(name))
        } else {
            tonic::metadata::AsciiMetadataKey::from_bytes(name.as_bytes())
        };
        match (key, tonic::metadata::MetadataValue::try_from(value)) {
            (Ok(key), Ok(value)) => {
                self.insert(key, value);
            }
            _ => not_written(name),
        }
    }
}

fn not_written(name: &str) {
    diagnostics::record(
        Problem::HeaderNotWritten,
        1,
        &format_args!("the name was {}", crate::escape::escaped(name)),
    );
}
