//! Writing all three headers onto an outgoing call, from a recorded segment or an unsampled trace.

use super::sw8::{Piece, encode_fields};
use super::{Correlation, Injector, SW8, SW8_CORRELATION, SW8_X, Sw8x};
use crate::id::{self, Id};
use crate::tracer::Tracer;

/// The header values an outgoing call carries.
pub(crate) struct Outgoing {
    pub(crate) sw8: String,
    pub(crate) correlation: Option<String>,
    pub(crate) skip_analysis: bool,
}

impl Outgoing {
    /// Writes the headers into `headers`.
    pub(crate) fn write_to(self, headers: &mut (impl Injector + ?Sized)) {
        headers.inject(SW8, self.sw8);
        if let Some(correlation) = self.correlation {
            headers.inject(SW8_CORRELATION, correlation);
        }
        if self.skip_analysis {
            let extension = Sw8x {
                skip_analysis: true,
                send_time_ms: None,
            };
            headers.inject(SW8_X, extension.encode());
        }
    }
}

/// Encodes the headers of a call to `peer` from span `span_id` of a recorded segment, or (with
/// `None`) from a trace that is not sampled.
pub(crate) fn outgoing(
    span_id: Option<i32>,
    tracer: &Tracer,
    trace_id: Piece<'_>,
    segment_id: Id,
    endpoint: &str,
    correlation: &Correlation,
    peer: &str,
) -> (String, Option<String>) {
    let segment_id = segment_id.text_after_uuid();
    let sw8 = encode_fields(
        span_id.is_some(),
        [
            trace_id,
            Piece::Base64Then(id::uuid_dot_base64(), segment_id.as_str()),
            Piece::Base64(tracer.encoded_service()),
            Piece::Base64(tracer.encoded_instance()),
            Piece::Text(endpoint),
            Piece::Text(peer),
        ],
        span_id.unwrap_or(0),
    );
    let correlation = (!correlation.is_empty()).then(|| correlation.encode());
    (sw8, correlation)
}
