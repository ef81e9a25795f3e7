//! Where a new span goes: a child of the current span, a continuation of a captured context, or
//! the first span of a new trace, recorded or not as the sampler decides.

use std::sync::Arc;

use rust2sky_proto::v3::SpanType;

use super::{Span, SpanState};
use crate::clock::now_ms;
use crate::context::snapshot::Snapshot;
use crate::context::stack::{self, Current};
use crate::id;
use crate::propagation::Correlation;
use crate::segment::{Parent, PooledRecords, Segment, TraceId, UnsampledTrace, reporting};
use crate::tracer::Tracer;

/// Starts a local span: in-process work, a child of the current span (or a new trace).
///
/// ```
/// let _span = rust2sky::local_span("render invoice").entered();
/// ```
pub fn local_span(operation: impl AsRef<str>) -> Span {
    start(SpanType::Local, operation.as_ref(), None)
}

/// What the current position means for a new span.
#[derive(Default)]
enum Start {
    /// The span was made: a child, or an unsampled span.
    Made(Span),
    /// A continuation: the span opens a new segment referring to the snapshot.
    Continue(Arc<Snapshot>),
    /// No trace here: the span starts one with this tracer.
    NewTrace(Tracer),
    /// No context at all (or none readable): the global tracer, if any, starts a trace.
    #[default]
    Global,
}

/// Starts a span of `span_type` at the current position.
pub(super) fn start(
    span_type: SpanType,
    operation: &str,
    correlation: Option<Correlation>,
) -> Span {
    let start = stack::with_current(|position| match position {
        Some(Current::Span { segment, span_id }) => {
            Start::Made(child(segment, span_id, span_type, operation))
        }
        // Inside a trace that is not recorded, a local or entry span has nothing of its own to
        // carry: the trace stays current through its parent, so a noop costs no reference count
        // and no context push. An exit span keeps the trace to remember its peer, which
        // `outgoing_headers` reads.
        Some(Current::Unsampled(trace, _)) => Start::Made(if span_type == SpanType::Exit {
            Span {
                state: SpanState::Unsampled(trace.clone(), None),
            }
        } else {
            Span::noop()
        }),
        Some(Current::Continuation(snapshot)) => Start::Continue(snapshot.clone()),
        Some(Current::Tracer(tracer)) => Start::NewTrace(tracer.clone()),
        None => Start::Global,
    });
    match start {
        Start::Made(span) => span,
        Start::Continue(snapshot) => continuation(&snapshot, span_type, operation),
        Start::NewTrace(tracer) => local_trace(tracer, span_type, operation, correlation),
        Start::Global => match crate::tracer::global_tracer() {
            Some(tracer) => local_trace(tracer.clone(), span_type, operation, correlation),
            None => Span::noop(),
        },
    }
}

/// A span of `segment` with the id `open_span` gave, or a noop when it gave none.
pub(super) fn recording(segment: Arc<Segment>, span_id: Option<i32>) -> Span {
    match span_id {
        Some(span_id) => Span::handle(segment, span_id, true),
        None => Span::noop(),
    }
}

fn child(segment: &Arc<Segment>, parent: i32, span_type: SpanType, operation: &str) -> Span {
    let span_id = segment.open_span(parent, span_type, operation, now_ms());
    recording(segment.clone(), span_id)
}

fn local_trace(
    tracer: Tracer,
    span_type: SpanType,
    operation: &str,
    correlation: Option<Correlation>,
) -> Span {
    if reporting::in_report() {
        return Span::noop();
    }
    // One clock reading for the trace id, the segment id and the span's start.
    let now = now_ms();
    let trace_id = TraceId::Local(id::Id::generate_at(now));
    let correlation = correlation.unwrap_or_else(|| Correlation::new(tracer.correlation_limits()));
    if !tracer.sampler().sample(operation) {
        return unsampled(tracer, trace_id, None, operation, false, correlation);
    }
    let (segment, span_id) = Segment::new(
        tracer,
        trace_id,
        false,
        correlation,
        PooledRecords::recycled(),
        None,
        (span_type, operation, now),
    );
    recording(segment, span_id)
}

fn continuation(snapshot: &Snapshot, span_type: SpanType, operation: &str) -> Span {
    if reporting::in_report() {
        return Span::noop();
    }
    let now = now_ms();
    let parent = Parent::CrossThread {
        segment_id: snapshot.segment_id,
        span_id: snapshot.span_id,
        endpoint: snapshot.endpoint.clone(),
    };
    let (segment, span_id) = Segment::new(
        snapshot.tracer.clone(),
        snapshot.trace_id.clone(),
        snapshot.skip_analysis,
        snapshot.correlation.clone(),
        PooledRecords::recycled(),
        Some(parent),
        (span_type, operation, now),
    );
    recording(segment, span_id)
}

pub(super) fn unsampled(
    tracer: Tracer,
    trace_id: TraceId,
    trace_id_base64: Option<&str>,
    operation: &str,
    skip_analysis: bool,
    correlation: Correlation,
) -> Span {
    let trace = UnsampledTrace::new(
        tracer,
        trace_id,
        trace_id_base64,
        operation,
        skip_analysis,
        correlation,
    );
    Span {
        state: SpanState::Unsampled(trace, None),
    }
}
