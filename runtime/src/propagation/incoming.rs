//! Reading all three headers off an incoming request, without ever failing it.

use super::sw8::{self, MAX_SW8_LEN, Sw8Fields};
use super::{Correlation, CorrelationLimits, SW8, SW8_CORRELATION, SW8_X, Sw8Header, Sw8x};
use crate::diagnostics::{self, Problem};
use crate::text;

/// The SkyWalking headers of an incoming request, with whatever was malformed left out.
///
/// ```
/// use std::collections::HashMap;
/// use rust2sky::propagation::{CorrelationLimits, IncomingHeaders};
///
/// let headers = HashMap::from([
///     ("sw8", "1-dA==-cw==-2-c3Zj-aW5zdA==-ZXA=-cGVlcjo4MA=="),
///     ("sw8-correlation", "dXNlcg==:YWxpY2U="),
///     ("sw8-x", "not-a-valid-extension"),
/// ]);
/// let incoming = IncomingHeaders::extract(|name| headers.get(name).copied(), CorrelationLimits::default());
/// assert_eq!(incoming.sw8.map(|parent| parent.parent_span_id), Some(2));
/// assert_eq!(incoming.correlation.get("user"), Some("alice"));
/// assert_eq!(incoming.sw8x, None); // malformed, so ignored and counted
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct IncomingHeaders {
    /// The caller's context; `None` when the header is absent, empty or malformed.
    pub sw8: Option<Sw8Header>,
    /// The correlation entries that were well-formed and within the limits.
    pub correlation: Correlation,
    /// The extension header; `None` when absent or malformed.
    pub sw8x: Option<Sw8x>,
}

impl IncomingHeaders {
    /// Reads `sw8`, `sw8-correlation` and `sw8-x` through `header`, which returns the value of the
    /// header with the given lowercase name.
    ///
    /// Nothing here fails the request: a malformed header is ignored, counted in
    /// [`diagnostics::counters`], and logged at most once per kind every 30 seconds through the
    /// `log` crate. An empty header value counts as absent.
    ///
    /// ```
    /// use rust2sky::propagation::{CorrelationLimits, IncomingHeaders};
    ///
    /// let request = http::Request::get("/orders")
    ///     .header("sw8", "1-dA==-cw==-2-c3Zj-aW5zdA==-ZXA=-cGVlcjo4MA==")
    ///     .body(())?;
    /// let incoming = IncomingHeaders::extract(
    ///     |name| request.headers().get(name)?.to_str().ok(),
    ///     CorrelationLimits::default(),
    /// );
    /// assert_eq!(incoming.sw8.map(|parent| parent.trace_id).as_deref(), Some("t"));
    /// assert!(incoming.correlation.is_empty());
    /// # Ok::<(), http::Error>(())
    /// ```
    pub fn extract<F, V>(header: F, limits: CorrelationLimits) -> Self
    where
        F: FnMut(&str) -> Option<V>,
        V: AsRef<str>,
    {
        let mut text = String::new();
        let incoming = Incoming::read(header, limits, &mut text);
        IncomingHeaders {
            sw8: incoming.sw8.map(|fields| fields.to_header(&text)),
            correlation: incoming.correlation,
            sw8x: incoming.sw8x,
        }
    }
}

/// The headers as an entry span reads them: the `sw8` fields are ranges of the buffer they were
/// decoded into, which the span's segment goes on to keep its own strings in.
pub(crate) struct Incoming {
    pub(crate) sw8: Option<Sw8Fields>,
    pub(crate) correlation: Correlation,
    pub(crate) sw8x: Option<Sw8x>,
}

impl Incoming {
    /// Reads the three headers as [`IncomingHeaders::extract`] documents, decoding the `sw8`
    /// fields into `text`.
    pub(crate) fn read<F, V>(mut header: F, limits: CorrelationLimits, text: &mut String) -> Self
    where
        F: FnMut(&str) -> Option<V>,
        V: AsRef<str>,
    {
        let sw8 = header(SW8).and_then(|value| {
            let value = value.as_ref();
            if value.trim().is_empty() {
                return None;
            }
            // Decoded Base64 is shorter than its text, so the segment's own strings fit in the
            // rest of this one allocation.
            text.reserve(value.len().min(MAX_SW8_LEN) + text::INITIAL_CAPACITY);
            sw8::decode_into(value, text)
                .map_err(|error| diagnostics::record(Problem::MalformedSw8, 1, &error))
                .ok()
        });

        let correlation = match header(SW8_CORRELATION) {
            Some(value) => {
                let decoded = Correlation::decode(value.as_ref(), limits);
                if decoded.malformed > 0 {
                    let why = "an entry is not base64(key):base64(value)";
                    diagnostics::record(Problem::MalformedCorrelation, decoded.malformed, &why);
                }
                if decoded.over_limit > 0 {
                    let why = format_args!(
                        "over the limits of {} keys, {} characters a value, {} a key or {} bytes \
                         a header",
                        limits.max_keys,
                        limits.max_value_len,
                        super::MAX_CORRELATION_KEY_LEN,
                        super::MAX_CORRELATION_HEADER_LEN,
                    );
                    diagnostics::record(Problem::CorrelationOverLimit, decoded.over_limit, &why);
                }
                decoded.correlation
            }
            None => Correlation::new(limits),
        };

        let sw8x = header(SW8_X).and_then(|value| {
            Sw8x::decode(value.as_ref())
                .map_err(|error| diagnostics::record(Problem::MalformedSw8x, 1, &error))
                .ok()
        });

        Incoming {
            sw8,
            correlation,
            sw8x,
        }
    }
}
