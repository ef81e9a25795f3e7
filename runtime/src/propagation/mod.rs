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
mod sw8;
mod sw8x;

pub use carrier::{Extractor, Injector};
pub use correlation::{Correlation, CorrelationError, CorrelationLimits, DecodedCorrelation};
pub use incoming::IncomingHeaders;
pub(crate) use sw8::encode_fields;
pub use sw8::{MAX_SW8_LEN, Sw8Error, Sw8Field, Sw8Header};
pub use sw8x::{Sw8x, Sw8xError};

/// Name of the `sw8` header: the parent's trace context.
pub const SW8: &str = "sw8";
/// Name of the `sw8-correlation` header: user key/value pairs that follow the trace.
pub const SW8_CORRELATION: &str = "sw8-correlation";
/// Name of the `sw8-x` header: tracing mode and send timestamp.
pub const SW8_X: &str = "sw8-x";
