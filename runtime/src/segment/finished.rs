//! A segment whose spans have all ended, and the protobuf `SegmentObject` built from it.

use std::fmt;

use rust2sky_proto::v3::{
    KeyStringValuePair, Log, RefType, SegmentObject, SegmentReference, SpanObject,
};

use super::pool::PooledRecords;
use super::records::Parent;
use super::trace_id::TraceId;
use crate::id::Id;
use crate::propagation::Sw8Fields;
use crate::text::Text;

/// A segment whose spans have all ended, as a [`Reporter`](crate::reporter::Reporter) receives
/// it.
///
/// It holds the spans in the compact form they were recorded in; [`FinishedSegment::encode_to_vec`]
/// writes the protobuf bytes that go on the wire straight from them, and
/// [`FinishedSegment::to_proto`] builds the `SegmentObject` of the same bytes. A reporter that
/// queues segments does either on its own thread, off the request path.
///
/// ```
/// use rust2sky::reporter::{FinishedSegment, Reporter};
///
/// #[derive(Debug)]
/// struct PrintingReporter;
///
/// impl Reporter for PrintingReporter {
///     fn report(&self, segment: FinishedSegment) {
///         let segment = segment.to_proto();
///         println!("{} spans of trace {}", segment.spans.len(), segment.trace_id);
///     }
/// }
/// ```
#[derive(Clone)]
pub struct FinishedSegment {
    pub(super) trace_id: TraceId,
    pub(crate) segment_id: Id,
    pub(super) skip_analysis: bool,
    pub(super) records: PooledRecords,
}

impl FinishedSegment {
    /// About how many bytes this segment holds: its text buffer and its records, with the
    /// allocations they have (a pooled buffer keeps its capacity). Cheap, as a queue bounded
    /// in bytes weighs every segment it takes.
    pub(crate) fn size_estimate(&self) -> usize {
        use std::mem::size_of;
        let records = self.records.get();
        let fields: usize = records.logs.iter().map(|log| log.fields.capacity()).sum();
        size_of::<Self>()
            + size_of::<super::records::Records>()
            + records.text.capacity()
            + records.spans.capacity() * size_of::<super::records::SpanRecord>()
            + records.tags.capacity() * size_of::<super::records::TagRecord>()
            + records.logs.capacity() * size_of::<super::records::LogRecord>()
            + records.more_callers.capacity() * size_of::<Sw8Fields>()
            + fields * size_of::<(Text, Text)>()
    }

    /// The segment as the collector receives it: spans in the order they ended, each with its
    /// tags and logs in the order they were added.
    ///
    /// ```
    /// use rust2sky::{Tracer, config::Config, reporter::MemoryReporter};
    ///
    /// let reporter = MemoryReporter::new();
    /// let tracer = Tracer::new(Config::default(), reporter.clone());
    /// tracer.in_scope(|| drop(rust2sky::local_span("work")));
    /// let segment = reporter.take_finished().remove(0).to_proto();
    /// assert_eq!(segment.spans[0].operation_name, "work");
    /// ```
    pub fn to_proto(&self) -> SegmentObject {
        let records = self.records.get();
        let text = records.text.as_str();
        let (service, instance) = records.origin();
        // Spans are recorded in the order they started and reported in the order they ended.
        let mut spans: Vec<(u32, SpanObject)> = records
            .spans
            .iter()
            .enumerate()
            .map(|(index, span)| {
                let object = SpanObject {
                    span_id: i32::try_from(index).unwrap_or(i32::MAX),
                    parent_span_id: span.parent_span_id,
                    start_time: span.start_time,
                    end_time: span.end_time,
                    refs: Vec::new(),
                    operation_name: span.operation.get(text).to_owned(),
                    peer: span.peer.get(text).to_owned(),
                    span_type: span.span_type as i32,
                    span_layer: span.layer as i32,
                    component_id: span.component_id,
                    is_error: span.is_error,
                    tags: Vec::new(),
                    logs: Vec::new(),
                    skip_analysis: self.skip_analysis,
                };
                (span.ended, object)
            })
            .collect();
        let pair = |key: Text, value: Text| KeyStringValuePair {
            key: key.get(text).to_owned(),
            value: value.get(text).to_owned(),
        };
        for tag in &records.tags {
            if let Some(span) = span_mut(&mut spans, tag.span_id) {
                span.tags.push(pair(tag.key, tag.value));
            }
        }
        for log in &records.logs {
            if let Some(span) = span_mut(&mut spans, log.span_id) {
                span.logs.push(Log {
                    time: log.time,
                    data: log.fields.iter().map(|&(k, v)| pair(k, v)).collect(),
                });
            }
        }
        if let (Some(parent), Some(first)) = (&records.parent, span_mut(&mut spans, 0)) {
            first.refs.push(self.reference(parent));
            let more = records.more_callers.iter();
            first
                .refs
                .extend(more.map(|caller| cross_process(caller, text)));
        }
        spans.sort_by_key(|(ended, _)| *ended);
        SegmentObject {
            trace_id: self.trace_id.to_string(),
            trace_segment_id: self.segment_id.to_string(),
            spans: spans.into_iter().map(|(_, span)| span).collect(),
            service: service.to_owned(),
            service_instance: instance.to_owned(),
            is_size_limited: records.size_limited,
        }
    }

    fn reference(&self, parent: &Parent) -> SegmentReference {
        let records = self.records.get();
        let text = records.text.as_str();
        let (service, instance) = records.origin();
        match parent {
            Parent::CrossProcess(caller) => cross_process(caller, text),
            Parent::CrossThread {
                segment_id,
                span_id,
                endpoint,
            } => SegmentReference {
                ref_type: RefType::CrossThread as i32,
                trace_id: self.trace_id.to_string(),
                parent_trace_segment_id: segment_id.to_string(),
                parent_span_id: *span_id,
                parent_service: service.to_owned(),
                parent_service_instance: instance.to_owned(),
                parent_endpoint: endpoint.clone(),
                network_address_used_at_peer: String::new(),
            },
        }
    }

    /// How many spans the segment has.
    ///
    /// ```
    /// use rust2sky::{Tracer, config::Config, reporter::MemoryReporter};
    ///
    /// let reporter = MemoryReporter::new();
    /// let tracer = Tracer::new(Config::default(), reporter.clone());
    /// tracer.in_scope(|| drop(rust2sky::local_span("work")));
    /// assert_eq!(reporter.take_finished()[0].span_count(), 1);
    /// ```
    pub fn span_count(&self) -> usize {
        self.records.get().spans.len()
    }
}

/// The reference to a caller in another process, whose `sw8` fields are ranges of `text`.
fn cross_process(caller: &Sw8Fields, text: &str) -> SegmentReference {
    let [trace, segment, service, instance, endpoint, address] =
        caller.text.map(|field| field.get(text).to_owned());
    SegmentReference {
        ref_type: RefType::CrossProcess as i32,
        trace_id: trace,
        parent_trace_segment_id: segment,
        parent_span_id: caller.parent_span_id,
        parent_service: service,
        parent_service_instance: instance,
        parent_endpoint: endpoint,
        network_address_used_at_peer: address,
    }
}

fn span_mut(spans: &mut [(u32, SpanObject)], span_id: i32) -> Option<&mut SpanObject> {
    let index = usize::try_from(span_id).ok()?;
    spans.get_mut(index).map(|(_, span)| span)
}

impl fmt::Debug for FinishedSegment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FinishedSegment")
            .field("trace_id", &self.trace_id.to_string())
            .field("segment_id", &self.segment_id.to_string())
            .field("spans", &self.records.get().spans.len())
            .finish_non_exhaustive()
    }
}
