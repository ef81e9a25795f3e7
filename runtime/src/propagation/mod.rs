//! The headers that carry SkyWalking trace context between processes.
//!
//! - [`Sw8Header`]: the `sw8` header, the parent's trace, segment, span and endpoint;
//! - [`Correlation`]: the `sw8-correlation` header, a few user key/value pairs that follow the trace;
//! - [`Sw8x`]: the `sw8-x` extension header, the tracing mode and the send timestamp.
//!
//! Every decoder is total: any input, however malformed, gives either a value or a typed error, and
//! never a panic. [`IncomingHeaders::extract`] is the lenient front door that a server uses: it
//! decodes all three headers, ignores what is malformed, counts it in [`crate::diagnostics`], and
//! lets the request go on.

mod base64;
mod carrier;
mod correlation;
mod incoming;
mod outgoing;
mod sw8;
mod sw8x;

pub use carrier::{Extractor, Injector, NoHeaders};
pub use correlation::{
    Correlation, CorrelationError, CorrelationLimits, DecodedCorrelation,
    MAX_CORRELATION_HEADER_LEN, MAX_CORRELATION_KEY_LEN,
};
pub(crate) use incoming::Incoming;
pub use incoming::IncomingHeaders;
pub(crate) use outgoing::{Outgoing, outgoing};
#[cfg(any(feature = "kafka", feature = "rdkafka"))]
pub(crate) use sw8::decode_into;
pub use sw8::{MAX_ID_LEN, MAX_SW8_LEN, Sw8Error, Sw8Field, Sw8Header};
pub(crate) use sw8::{Piece, Sw8Fields, encode_piece};
pub use sw8x::{Sw8x, Sw8xError};

/// Name of the `sw8` header: the parent's trace context.
///
/// ```
/// use std::collections::HashMap;
/// use rust2sky::{Tracer, config::Config, propagation::SW8, reporter::MemoryReporter};
///
/// let tracer = Tracer::new(Config::default(), MemoryReporter::new());
/// let mut headers: HashMap<String, String> = HashMap::new();
/// tracer.in_scope(|| drop(rust2sky::exit_span("GET:/users", "users:8080", &mut headers)));
/// assert!(headers[SW8].starts_with("1-"));
/// ```
pub const SW8: &str = "sw8";
/// Name of the `sw8-correlation` header: user key/value pairs that follow the trace.
///
/// ```
/// use std::collections::HashMap;
/// use rust2sky::propagation::{CorrelationLimits, IncomingHeaders, SW8_CORRELATION};
///
/// let headers = HashMap::from([(SW8_CORRELATION, "dGVuYW50:YWNtZQ==")]);
/// let limits = CorrelationLimits::default();
/// let incoming = IncomingHeaders::extract(|name| headers.get(name).copied(), limits);
/// assert_eq!(incoming.correlation.get("tenant"), Some("acme"));
/// ```
pub const SW8_CORRELATION: &str = "sw8-correlation";
/// Name of the `sw8-x` header: tracing mode and send timestamp.
///
/// ```
/// use rust2sky::propagation::{SW8_X, Sw8x};
///
/// let mut headers = http::HeaderMap::new();
/// let x = Sw8x { skip_analysis: false, send_time_ms: Some(1735689600123) };
/// headers.insert(SW8_X, x.encode().parse()?);
/// assert_eq!(headers[SW8_X], "0-1735689600123");
/// # Ok::<(), http::header::InvalidHeaderValue>(())
/// ```
pub const SW8_X: &str = "sw8-x";
