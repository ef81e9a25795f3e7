//! Segments: the spans of one request context in one thread or task, reported together.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use rust2sky_proto::v3::{SegmentObject, SpanObject, SpanType};

use crate::id::Id;
use crate::propagation::{Correlation, Injector, SW8, SW8_CORRELATION, SW8_X, Sw8x, encode_fields};
use crate::tracer::Tracer;

/// A trace id: made here, or received in an `sw8` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TraceId {
    Local(Id),
    Remote(Arc<str>),
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TraceId::Local(id) => id.fmt(f),
            TraceId::Remote(id) => f.write_str(id),
        }
    }
}

impl TraceId {
    /// Runs `f` with the id's text, without allocating.
    pub(crate) fn with_str<R>(&self, f: impl FnOnce(&str) -> R) -> R {
        match self {
            TraceId::Local(id) => f(id.text().as_str()),
            TraceId::Remote(id) => f(id),
        }
    }
}

/// The header values an outgoing call carries.
pub(crate) struct Outgoing {
    pub(crate) sw8: String,
    pub(crate) correlation: Option<String>,
    pub(crate) skip_analysis: bool,
}

impl Outgoing {
    /// Writes the headers into `headers`.
    pub(crate) fn write_to(self, headers: &mut impl Injector) {
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
fn outgoing(
    span_id: Option<i32>,
    tracer: &Tracer,
    trace_id: &TraceId,
    segment_id: Id,
    endpoint: &str,
    correlation: &Correlation,
    peer: &str,
) -> (String, Option<String>) {
    let segment_id = segment_id.text();
    let sw8 = trace_id.with_str(|trace_id| {
        encode_fields(
            span_id.is_some(),
            [
                trace_id,
                segment_id.as_str(),
                tracer.service(),
                tracer.instance(),
                endpoint,
                peer,
            ],
            span_id.unwrap_or(0),
        )
    });
    let correlation = (!correlation.is_empty()).then(|| correlation.encode());
    (sw8, correlation)
}

/// A segment being recorded. Spans hold it through an `Arc`; the span that ends last reports it.
pub(crate) struct Segment {
    tracer: Tracer,
    trace_id: TraceId,
    segment_id: Id,
    /// Tracing mode `1` from `sw8-x`: every span asks OAP to skip analysis.
    skip_analysis: bool,
    state: Mutex<SegmentState>,
}

struct SegmentState {
    next_span_id: i32,
    open_spans: usize,
    spans: Vec<SpanObject>,
    size_limited: bool,
    /// The segment's endpoint: its first span's name, replaced by the first entry span's.
    endpoint: Option<(String, bool)>,
    correlation: Correlation,
    reported: bool,
}

impl Segment {
    pub(crate) fn new(
        tracer: Tracer,
        trace_id: TraceId,
        skip_analysis: bool,
        correlation: Correlation,
    ) -> Arc<Segment> {
        Arc::new(Segment {
            tracer,
            trace_id,
            segment_id: Id::generate(),
            skip_analysis,
            state: Mutex::new(SegmentState {
                next_span_id: 0,
                open_spans: 0,
                spans: Vec::new(),
                size_limited: false,
                endpoint: None,
                correlation,
                reported: false,
            }),
        })
    }

    pub(crate) fn tracer(&self) -> &Tracer {
        &self.tracer
    }

    pub(crate) fn trace_id(&self) -> &TraceId {
        &self.trace_id
    }

    pub(crate) fn segment_id(&self) -> Id {
        self.segment_id
    }

    pub(crate) fn skip_analysis(&self) -> bool {
        self.skip_analysis
    }

    fn lock(&self) -> MutexGuard<'_, SegmentState> {
        // Nothing panics while holding this lock; should something ever, the state is still
        // consistent, so a poisoned lock is used as it is rather than failing the host.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Allocates the next span id for a span named `operation`, or `None` when the segment is at
    /// its span limit (the segment is then marked size-limited) or already reported.
    pub(crate) fn open_span(&self, operation: &str, span_type: SpanType) -> Option<i32> {
        let mut state = self.lock();
        if state.reported {
            return None;
        }
        if state.next_span_id as usize >= self.tracer.span_limit() {
            state.size_limited = true;
            return None;
        }
        let span_id = state.next_span_id;
        state.next_span_id += 1;
        state.open_spans += 1;
        let is_entry = span_type == SpanType::Entry;
        match &state.endpoint {
            None => state.endpoint = Some((operation.to_owned(), is_entry)),
            Some((_, false)) if is_entry => state.endpoint = Some((operation.to_owned(), true)),
            Some(_) => {}
        }
        Some(span_id)
    }

    /// Records a finished span; the last one to finish reports the segment.
    pub(crate) fn close_span(&self, span: SpanObject) {
        let finished = {
            let mut state = self.lock();
            state.spans.push(span);
            state.open_spans = state.open_spans.saturating_sub(1);
            if state.open_spans == 0 && !state.reported {
                state.reported = true;
                Some((std::mem::take(&mut state.spans), state.size_limited))
            } else {
                None
            }
        };
        if let Some((spans, is_size_limited)) = finished {
            self.tracer.reporter().report(SegmentObject {
                trace_id: self.trace_id.to_string(),
                trace_segment_id: self.segment_id.to_string(),
                spans,
                service: self.tracer.service().to_owned(),
                service_instance: self.tracer.instance().to_owned(),
                is_size_limited,
            });
        }
    }

    /// The headers for a call from span `span_id` to `peer`.
    pub(crate) fn outgoing(&self, span_id: i32, peer: &str) -> Outgoing {
        let state = self.lock();
        let endpoint = state
            .endpoint
            .as_ref()
            .map_or("", |(name, _)| name.as_str());
        let (sw8, correlation) = outgoing(
            Some(span_id),
            &self.tracer,
            &self.trace_id,
            self.segment_id,
            endpoint,
            &state.correlation,
            peer,
        );
        Outgoing {
            sw8,
            correlation,
            skip_analysis: self.skip_analysis,
        }
    }

    /// The endpoint that `sw8` headers and cross-thread references name for this segment.
    pub(crate) fn endpoint(&self) -> String {
        self.lock()
            .endpoint
            .as_ref()
            .map(|(name, _)| name.clone())
            .unwrap_or_default()
    }

    pub(crate) fn correlation(&self) -> Correlation {
        self.lock().correlation.clone()
    }

    pub(crate) fn with_correlation<R>(&self, f: impl FnOnce(&mut Correlation) -> R) -> R {
        f(&mut self.lock().correlation)
    }
}

/// A trace that is not recorded (not sampled or ignored), kept so that its context still
/// propagates, with the sample flag `0`.
pub(crate) struct UnsampledTrace {
    tracer: Tracer,
    trace_id: TraceId,
    segment_id: Id,
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

    pub(crate) fn tracer(&self) -> &Tracer {
        &self.tracer
    }

    pub(crate) fn trace_id(&self) -> &TraceId {
        &self.trace_id
    }

    pub(crate) fn segment_id(&self) -> Id {
        self.segment_id
    }

    pub(crate) fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The headers for a call to `peer`: the caller's decision not to sample travels with it.
    pub(crate) fn outgoing(&self, peer: &str) -> Outgoing {
        let (sw8, correlation) = self.with_correlation(|correlation| {
            outgoing(
                None,
                &self.tracer,
                &self.trace_id,
                self.segment_id,
                &self.endpoint,
                correlation,
                peer,
            )
        });
        Outgoing {
            sw8,
            correlation,
            skip_analysis: self.skip_analysis,
        }
    }

    pub(crate) fn with_correlation<R>(&self, f: impl FnOnce(&mut Correlation) -> R) -> R {
        f(&mut self
            .correlation
            .lock()
            .unwrap_or_else(PoisonError::into_inner))
    }
}
