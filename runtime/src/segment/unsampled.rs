//! A trace that is not recorded, whose context still goes with the calls it makes.

use std::cell::Cell;
use std::sync::Arc;

use parking_lot::Mutex;

use super::trace_id::TraceId;
use crate::id::Id;
use crate::propagation::{Correlation, Outgoing, outgoing};
use crate::tracer::Tracer;

/// A trace that is not recorded (not sampled or ignored), kept so that its context still
/// propagates, with the sample flag `0`.
pub(crate) struct UnsampledTrace {
    pub(crate) tracer: Tracer,
    pub(crate) trace_id: TraceId,
    pub(crate) segment_id: Id,
    endpoint: String,
    skip_analysis: bool,
    correlation: Mutex<Correlation>,
}

/// The longest endpoint buffer a thread keeps with its last unsampled trace.
const MAX_KEPT_ENDPOINT: usize = 1024;

thread_local! {
    /// The last unsampled trace of the global tracer this thread started, which the next one
    /// reuses once nothing else holds it, as [`Segment::new`](super::Segment::new) does with
    /// segments: a request that is not sampled then allocates no trace and no endpoint.
    static LAST_TRACE: Cell<Option<Arc<UnsampledTrace>>> = const { Cell::new(None) };
}

impl UnsampledTrace {
    pub(crate) fn new(
        tracer: Tracer,
        trace_id: TraceId,
        endpoint: &str,
        skip_analysis: bool,
        correlation: Correlation,
    ) -> Arc<Self> {
        let segment_id = Id::generate();
        let make = |(tracer, trace_id, correlation)| UnsampledTrace {
            tracer,
            trace_id,
            segment_id,
            endpoint: endpoint.to_owned(),
            skip_analysis,
            correlation: Mutex::new(correlation),
        };
        let parts = (tracer, trace_id, correlation);
        if !parts.0.is_global() {
            return Arc::new(make(parts));
        }
        let refill = |reused: &mut UnsampledTrace, (_tracer, trace_id, correlation)| {
            reused.trace_id = trace_id;
            reused.segment_id = segment_id;
            reused.endpoint.clear();
            reused.endpoint.push_str(endpoint);
            reused.skip_analysis = skip_analysis;
            *reused.correlation.get_mut() = correlation;
        };
        // An endpoint grown by an unusual name is not kept.
        let keep = |trace: &UnsampledTrace| trace.endpoint.capacity() <= MAX_KEPT_ENDPOINT;
        super::reuse::reuse_or_make(&LAST_TRACE, parts, make, refill, keep)
    }

    pub(crate) fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The headers for a call to `peer`: the caller's decision not to sample travels with it.
    pub(crate) fn outgoing(&self, peer: &str) -> Outgoing {
        let (sw8, correlation) = self.with_correlation(|correlation| {
            self.trace_id.with_piece(|trace_id| {
                outgoing(
                    None,
                    &self.tracer,
                    trace_id,
                    self.segment_id,
                    &self.endpoint,
                    correlation,
                    peer,
                )
            })
        });
        Outgoing {
            sw8,
            correlation,
            skip_analysis: self.skip_analysis,
        }
    }

    pub(crate) fn with_correlation<R>(&self, f: impl FnOnce(&mut Correlation) -> R) -> R {
        f(&mut self.correlation.lock())
    }
}
