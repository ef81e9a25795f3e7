//! Entry spans: the server side of a request, continuing the caller's trace from its headers.

use rust2sky_proto::v3::SpanType;

use super::Span;
use super::start::{recording, start, unsampled};
use crate::clock::now_ms;
use crate::propagation::{Correlation, Extractor, Incoming, Sw8Fields};
use crate::segment::{Parent, PooledRecords, Segment, TraceId, reporting};
use crate::tags;
use crate::tracer::Tracer;

/// Starts an entry span: the server side of a request, reading the caller's context from
/// `headers` (`sw8`, `sw8-correlation`, `sw8-x`).
///
/// With a valid `sw8` header, the span starts a new segment of the caller's trace, linked to the
/// caller by a `CrossProcess` reference. Without one, it is a child of the current span, or
/// starts a new trace. Malformed headers are ignored and counted (see [`crate::diagnostics`]).
/// With [`Config::ignore_incoming_context`](crate::config::Config::ignore_incoming_context) set,
/// the headers are not read at all.
///
/// ```
/// use std::collections::HashMap;
/// use rust2sky::{Tracer, config::Config, reporter::MemoryReporter};
///
/// let reporter = MemoryReporter::new();
/// let tracer = Tracer::new(Config::default(), reporter.clone());
/// let headers = HashMap::from([(
///     "sw8".to_owned(),
///     "1-dHJhY2U=-c2VnbWVudA==-3-b3JkZXJz-b3JkZXJzLTE=-R0VUOi9vcmRlcnM=-Y2FydDo4MA==".to_owned(),
/// )]);
/// tracer.in_scope(|| drop(rust2sky::entry_span("GET:/cart", &headers)));
///
/// let segment = &reporter.segments()[0];
/// assert_eq!(segment.trace_id, "trace");
/// let caller = &segment.spans[0].refs[0];
/// assert_eq!((caller.parent_trace_segment_id.as_str(), caller.parent_span_id), ("segment", 3));
/// assert_eq!(caller.network_address_used_at_peer, "cart:80");
/// ```
pub fn entry_span(operation: impl AsRef<str>, headers: &impl Extractor) -> Span {
    let Some(tracer) = Tracer::current() else {
        return Span::noop();
    };
    let operation = operation.as_ref();
    if tracer.ignores_incoming_context() {
        return start(SpanType::Entry, operation, None);
    }
    let mut records = PooledRecords::recycled();
    let incoming = Incoming::read(
        |name| headers.extract(name),
        tracer.correlation_limits(),
        records.text_mut(),
    );
    let sent_at = incoming.sw8x.and_then(|x| x.send_time_ms);
    let mut span = match incoming.sw8 {
        Some(parent) => {
            let skip_analysis = incoming.sw8x.is_some_and(|x| x.skip_analysis);
            let caller = Caller {
                parent,
                records,
                skip_analysis,
                correlation: incoming.correlation,
            };
            remote_trace(tracer, operation, caller)
        }
        None => start(SpanType::Entry, operation, Some(incoming.correlation)),
    };
    if let Some(sent) = sent_at {
        let latency = now_ms().saturating_sub(sent).max(0);
        span.tag(
            tags::TRANSMISSION_LATENCY,
            itoa::Buffer::new().format(latency),
        );
    }
    span
}

/// What an entry span read from its caller's headers.
struct Caller {
    parent: Sw8Fields,
    /// The records whose text the `sw8` fields were decoded into; the segment keeps its strings
    /// there too.
    records: PooledRecords,
    skip_analysis: bool,
    correlation: Correlation,
}

fn remote_trace(tracer: Tracer, operation: &str, caller: Caller) -> Span {
    if reporting::in_report() {
        return Span::noop();
    }
    let Caller {
        parent,
        records,
        skip_analysis,
        correlation,
    } = caller;
    let [trace_id, ..] = parent.text;
    let trace_id = TraceId::remote(trace_id.get(records.text()));
    // A caller that did not sample is honoured; a caller that did is followed, as Java does,
    // unless this operation is one the ignore rules exclude.
    if !parent.sampled || !tracer.sampler().sample_followed(operation) {
        let trace_id_base64 = parent.trace_id_base64.map(|text| text.get(records.text()));
        return unsampled(
            tracer,
            trace_id,
            trace_id_base64,
            operation,
            skip_analysis,
            correlation,
        );
    }
    let parent = Some(Parent::CrossProcess(parent));
    let now = now_ms();
    let (segment, span_id) = Segment::new(
        tracer,
        trace_id,
        skip_analysis,
        correlation,
        records,
        parent,
        (SpanType::Entry, operation, now),
    );
    recording(segment, span_id)
}
