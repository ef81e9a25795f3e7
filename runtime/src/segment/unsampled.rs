//! A trace that is not recorded, whose context still goes with the calls it makes.

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

impl UnsampledTrace {
    pub(crate) fn new(
        tracer: Tracer,
        trace_id: TraceId,
        endpoint: String,
        skip_analysis: bool,
        correlation: Correlation,
    ) -> Arc<Self> {
        Arc::new(UnsampledTrace {
            tracer,
            trace_id,
            segment_id: Id::generate(),
            endpoint,
            skip_analysis,
            correlation: Mutex::new(correlation),
        })
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
