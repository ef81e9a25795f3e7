//! A finished segment's protobuf bytes, written straight from its records.
//!
//! [`FinishedSegment::to_proto`] builds a `SegmentObject` with a `String` for every id, name and
//! tag, which prost then copies into the wire buffer. A reporter that only sends bytes needs
//! neither the strings nor the copy: this writes the bytes prost would write for `to_proto()`,
//! field for field and in the same order (the tests compare the two), from the text buffer.
//!
//! Each message is written by one walk over its fields ([`WireMessage::fields`]) that either
//! measures or writes ([`Sink`]), so that the length written before a nested message and the
//! bytes after it come from the same code.

use std::cell::RefCell;

use rust2sky_proto::prost::bytes::{Buf, BufMut};
use rust2sky_proto::prost::encoding::{
    DecodeContext, WireType, encode_key, encode_varint, encoded_len_varint, key_len, skip_field,
};
use rust2sky_proto::prost::{self, DecodeError};
use rust2sky_proto::v3::RefType;

use super::finished::FinishedSegment;
use super::records::{LogRecord, Parent, Records, SpanRecord};
use crate::id::{self, IdText};
use crate::propagation::Sw8Fields;
use crate::text::Text;

/// Where a message's fields go: counted, or written.
trait Sink {
    /// A `string` field made of `parts`; proto3 leaves an empty one out.
    fn string_parts(&mut self, tag: u32, parts: &[&[u8]]);
    /// A varint field (`int32`, `int64`, `bool`, an enum) as its `u64`; proto3 leaves 0 out.
    fn varint(&mut self, tag: u32, value: u64);
    /// One element of a `repeated` message field, which is written even when empty.
    fn message(&mut self, tag: u32, message: &impl WireMessage);

    fn string(&mut self, tag: u32, value: &str) {
        self.string_parts(tag, &[value.as_bytes()]);
    }

    fn int32(&mut self, tag: u32, value: i32) {
        // A negative int32 goes on the wire sign-extended to 64 bits, as prost writes it.
        self.varint(tag, i64::from(value) as u64);
    }

    fn int64(&mut self, tag: u32, value: i64) {
        self.varint(tag, value as u64);
    }

    fn bool(&mut self, tag: u32, value: bool) {
        self.varint(tag, u64::from(value));
    }
}

/// A protobuf message made of records.
trait WireMessage {
    fn fields(&self, sink: &mut impl Sink);
}

/// Counts the bytes the fields take, and keeps the length of every nested message in the
/// order the walk meets them, for [`Write`] to put before each.
struct Measure<'l> {
    len: usize,
    nested: &'l mut Vec<usize>,
}

impl Sink for Measure<'_> {
    fn string_parts(&mut self, tag: u32, parts: &[&[u8]]) {
        let len: usize = parts.iter().map(|part| part.len()).sum();
        if len != 0 {
            self.len += key_len(tag) + encoded_len_varint(len as u64) + len;
        }
    }

    fn varint(&mut self, tag: u32, value: u64) {
        if value != 0 {
            self.len += key_len(tag) + encoded_len_varint(value);
        }
    }

    fn message(&mut self, tag: u32, message: &impl WireMessage) {
        // The slot is taken before the fields are walked: nested messages inside come after.
        let slot = self.nested.len();
        self.nested.push(0);
        let outer = std::mem::take(&mut self.len);
        message.fields(self);
        let len = std::mem::replace(&mut self.len, outer);
        self.nested[slot] = len;
        self.len += key_len(tag) + encoded_len_varint(len as u64) + len;
    }
}

/// Writes the fields into a buffer, with the nested messages' lengths [`Measure`] found.
struct Write<'b, B> {
    buf: &'b mut B,
    nested: std::slice::Iter<'b, usize>,
}

impl<B: BufMut> Write<'_, B> {
    /// A field's key. Every field number here is below 16, so every key is one byte.
    fn key(&mut self, tag: u32, wire_type: WireType) {
        match u8::try_from(tag << 3 | wire_type as u32) {
            Ok(key) if key < 0x80 => self.buf.put_u8(key),
            _ => encode_key(tag, wire_type, self.buf),
        }
    }

    /// Most lengths and values here are below 128: one byte, without prost's loop.
    fn varint(&mut self, value: u64) {
        match u8::try_from(value) {
            Ok(byte) if byte < 0x80 => self.buf.put_u8(byte),
            _ => encode_varint(value, self.buf),
        }
    }
}

impl<B: BufMut> Sink for Write<'_, B> {
    fn string_parts(&mut self, tag: u32, parts: &[&[u8]]) {
        let len: usize = parts.iter().map(|part| part.len()).sum();
        if len != 0 {
            self.key(tag, WireType::LengthDelimited);
            self.varint(len as u64);
            for part in parts {
                self.buf.put_slice(part);
            }
        }
    }

    fn varint(&mut self, tag: u32, value: u64) {
        if value != 0 {
            self.key(tag, WireType::Varint);
            Write::varint(self, value);
        }
    }

    fn message(&mut self, tag: u32, message: &impl WireMessage) {
        // The same walk as the measure's, so there is a length for every message.
        let len = self.nested.next().copied().unwrap_or_default();
        self.key(tag, WireType::LengthDelimited);
        Write::varint(self, len as u64);
        message.fields(self);
    }
}

/// How long a scratch vector may stay between segments: one that grew past it for a segment
/// much larger than most gives its memory back.
const KEPT: usize = 4096;

/// The order the spans are reported in, and each span's tags and logs, worked out once per
/// walk: a span's tags may have been added in any order among other spans'.
#[derive(Default)]
struct Layout {
    /// Span indices in the order the spans ended.
    order: Vec<u32>,
    tags: Buckets,
    logs: Buckets,
}

/// Item indices grouped by the span they belong to, each group in the items' order.
#[derive(Default)]
struct Buckets {
    /// Where each span's group starts in `items`; one more entry than spans.
    start: Vec<u32>,
    items: Vec<u32>,
    next: Vec<u32>,
}

impl Buckets {
    /// Groups items by their span ids; an item of a span the segment does not have is left
    /// out, as `to_proto` leaves it out.
    fn fill(&mut self, spans: usize, owners: impl Iterator<Item = i32> + Clone) {
        let span_of = |owner: i32| usize::try_from(owner).ok().filter(|&span| span < spans);
        self.start.clear();
        self.start.resize(spans + 1, 0);
        for span in owners.clone().filter_map(span_of) {
            self.start[span + 1] += 1;
        }
        for span in 0..spans {
            self.start[span + 1] += self.start[span];
        }
        self.next.clear();
        self.next.extend_from_slice(&self.start[..spans]);
        self.items.clear();
        self.items.resize(self.start[spans] as usize, 0);
        for (item, owner) in owners.enumerate() {
            if let Some(span) = span_of(owner) {
                self.items[self.next[span] as usize] = item as u32;
                self.next[span] += 1;
            }
        }
    }

    fn of(&self, span: usize) -> &[u32] {
        let range = self.start[span] as usize..self.start[span + 1] as usize;
        &self.items[range]
    }
}

impl Layout {
    fn fill(&mut self, records: &Records) {
        let spans = records.spans.len();
        self.order.clear();
        self.order.extend(0..spans as u32);
        // Stable, as to_proto's: spans still open (0) come first, in the order they started.
        self.order
            .sort_by_key(|&index| records.spans[index as usize].ended);
        self.tags
            .fill(spans, records.tags.iter().map(|tag| tag.span_id));
        self.logs
            .fill(spans, records.logs.iter().map(|log| log.span_id));
    }

    /// A layout keeps its vectors for the next segment, unless one grew past [`KEPT`].
    fn trim(&mut self) {
        for list in [
            &mut self.order,
            &mut self.tags.start,
            &mut self.tags.items,
            &mut self.tags.next,
            &mut self.logs.start,
            &mut self.logs.items,
            &mut self.logs.next,
        ] {
            if list.capacity() > KEPT {
                *list = Vec::new();
            }
        }
    }
}

/// What a walk over a segment works with: its layout, and the nested messages' lengths.
#[derive(Default)]
struct Scratch {
    layout: Layout,
    nested: Vec<usize>,
}

thread_local! {
    /// The reporter thread's scratch, reused from segment to segment.
    static SCRATCH: RefCell<Scratch> = RefCell::default();
}

/// A segment measured, ready to be written.
struct Measured<'a> {
    message: SegmentMessage<'a>,
    nested: &'a [usize],
    len: usize,
}

impl Measured<'_> {
    fn write(&self, buf: &mut impl BufMut) {
        let nested = self.nested.iter();
        self.message.fields(&mut Write { buf, nested });
    }
}

/// Measures `segment` and runs `f` on what it found.
fn measure<R>(segment: &FinishedSegment, mut f: impl FnMut(&Measured<'_>) -> R) -> R {
    let records = segment.records.get();
    let mut run = |scratch: &mut Scratch| {
        let Scratch { layout, nested } = scratch;
        layout.fill(records);
        nested.clear();
        let message = SegmentMessage {
            segment,
            records,
            layout,
            segment_id: segment.segment_id.text_after_uuid(),
            trace_id: segment.trace_id.text_after_uuid(),
        };
        let mut measure = Measure { len: 0, nested };
        message.fields(&mut measure);
        let len = measure.len;
        let result = f(&Measured {
            message,
            nested,
            len,
        });
        layout.trim();
        if nested.capacity() > KEPT {
            *nested = Vec::new();
        }
        result
    };
    let reused = SCRATCH.try_with(|scratch| {
        let mut scratch = scratch.try_borrow_mut().ok()?;
        Some(run(&mut scratch))
    });
    match reused {
        Ok(Some(result)) => result,
        // The thread is exiting, or a segment is being written inside another's walk.
        _ => run(&mut Scratch::default()),
    }
}

impl FinishedSegment {
    /// How many bytes [`FinishedSegment::encode_to_vec`] writes: the length of the protobuf
    /// `SegmentObject` that [`FinishedSegment::to_proto`] builds, without building it.
    ///
    /// ```
    /// use rust2sky::{Tracer, config::Config, reporter::MemoryReporter};
    /// use rust2sky::proto::prost::Message;
    ///
    /// let reporter = MemoryReporter::new();
    /// let tracer = Tracer::new(Config::default(), reporter.clone());
    /// tracer.in_scope(|| drop(rust2sky::local_span("work")));
    /// let segment = reporter.take_finished().remove(0);
    /// assert_eq!(segment.encoded_len(), segment.to_proto().encoded_len());
    /// ```
    pub fn encoded_len(&self) -> usize {
        measure(self, |measured| measured.len)
    }

    /// The segment as protobuf bytes: what `to_proto().encode_to_vec()` gives, without the
    /// `SegmentObject` and its strings. For a reporter that sends the bytes on, such as one to
    /// Kafka's `skywalking-segments` topic.
    ///
    /// ```
    /// use rust2sky::{Tracer, config::Config, reporter::MemoryReporter};
    /// use rust2sky::proto::{prost::Message, v3::SegmentObject};
    ///
    /// let reporter = MemoryReporter::new();
    /// let tracer = Tracer::new(Config::default(), reporter.clone());
    /// tracer.in_scope(|| drop(rust2sky::local_span("work")));
    /// let bytes = reporter.take_finished().remove(0).encode_to_vec();
    /// let segment = SegmentObject::decode(bytes.as_slice()).unwrap();
    /// assert_eq!(segment.spans[0].operation_name, "work");
    /// ```
    pub fn encode_to_vec(&self) -> Vec<u8> {
        measure(self, |measured| {
            let mut bytes = Vec::with_capacity(measured.len);
            measured.write(&mut bytes);
            bytes
        })
    }

    /// Writes the protobuf bytes into `buf`, which must have room for them as prost's buffers
    /// grow to.
    pub(crate) fn encode_into(&self, buf: &mut impl BufMut) {
        measure(self, |measured| measured.write(buf));
    }
}

/// `SegmentObject`.
struct SegmentMessage<'a> {
    segment: &'a FinishedSegment,
    records: &'a Records,
    layout: &'a Layout,
    /// The ids' decimal parts, made once for both walks.
    segment_id: IdText,
    trace_id: Option<IdText>,
}

impl SegmentMessage<'_> {
    fn trace_id(&self) -> [&[u8]; 3] {
        match &self.trace_id {
            Some(after) => id::with_uuid(after),
            None => [self.segment.trace_id.remote_bytes(), &[], &[]],
        }
    }
}

impl WireMessage for SegmentMessage<'_> {
    fn fields(&self, sink: &mut impl Sink) {
        let (service, instance) = self.records.origin();
        sink.string_parts(1, &self.trace_id());
        sink.string_parts(2, &id::with_uuid(&self.segment_id));
        for &index in &self.layout.order {
            let index = index as usize;
            sink.message(
                3,
                &SpanMessage {
                    segment: self,
                    index,
                    span: &self.records.spans[index],
                },
            );
        }
        sink.string(4, service);
        sink.string(5, instance);
        sink.bool(6, self.records.size_limited);
    }
}

/// `SpanObject`.
struct SpanMessage<'a> {
    segment: &'a SegmentMessage<'a>,
    index: usize,
    span: &'a SpanRecord,
}

impl WireMessage for SpanMessage<'_> {
    fn fields(&self, sink: &mut impl Sink) {
        let records = self.segment.records;
        let text = records.text.as_str();
        let span = self.span;
        sink.int32(1, i32::try_from(self.index).unwrap_or(i32::MAX));
        sink.int32(2, span.parent_span_id);
        sink.int64(3, span.start_time);
        sink.int64(4, span.end_time);
        if let (0, Some(parent)) = (self.index, &records.parent) {
            sink.message(
                5,
                &ReferenceMessage {
                    segment: self.segment,
                    parent,
                },
            );
            for caller in &records.more_callers {
                sink.message(5, &CallerMessage { caller, text });
            }
        }
        sink.string(6, span.operation.get(text));
        sink.string(7, span.peer.get(text));
        sink.int32(8, span.span_type as i32);
        sink.int32(9, span.layer as i32);
        sink.int32(10, span.component_id);
        sink.bool(11, span.is_error);
        for &tag in self.segment.layout.tags.of(self.index) {
            let tag = &records.tags[tag as usize];
            sink.message(
                12,
                &PairMessage {
                    key: tag.key,
                    value: tag.value,
                    text,
                },
            );
        }
        for &log in self.segment.layout.logs.of(self.index) {
            let log = &records.logs[log as usize];
            sink.message(13, &LogMessage { log, text });
        }
        sink.bool(14, self.segment.segment.skip_analysis);
    }
}

/// `SegmentReference` to the segment's parent.
struct ReferenceMessage<'a> {
    segment: &'a SegmentMessage<'a>,
    parent: &'a Parent,
}

impl WireMessage for ReferenceMessage<'_> {
    fn fields(&self, sink: &mut impl Sink) {
        match self.parent {
            Parent::CrossProcess(caller) => CallerMessage {
                caller,
                text: &self.segment.records.text,
            }
            .fields(sink),
            Parent::CrossThread {
                segment_id,
                span_id,
                endpoint,
            } => {
                let (service, instance) = self.segment.records.origin();
                sink.int32(1, RefType::CrossThread as i32);
                sink.string_parts(2, &self.segment.trace_id());
                let segment_id = segment_id.text_after_uuid();
                sink.string_parts(3, &id::with_uuid(&segment_id));
                sink.int32(4, *span_id);
                sink.string(5, service);
                sink.string(6, instance);
                sink.string(7, endpoint);
            }
        }
    }
}

/// `SegmentReference` to a caller in another process.
struct CallerMessage<'a> {
    caller: &'a Sw8Fields,
    text: &'a str,
}

impl WireMessage for CallerMessage<'_> {
    fn fields(&self, sink: &mut impl Sink) {
        let [trace, segment, service, instance, endpoint, address] =
            self.caller.text.map(|field| field.get(self.text));
        sink.int32(1, RefType::CrossProcess as i32);
        sink.string(2, trace);
        sink.string(3, segment);
        sink.int32(4, self.caller.parent_span_id);
        sink.string(5, service);
        sink.string(6, instance);
        sink.string(7, endpoint);
        sink.string(8, address);
    }
}

/// `KeyStringValuePair`.
struct PairMessage<'a> {
    key: Text,
    value: Text,
    text: &'a str,
}

impl WireMessage for PairMessage<'_> {
    fn fields(&self, sink: &mut impl Sink) {
        sink.string(1, self.key.get(self.text));
        sink.string(2, self.value.get(self.text));
    }
}

/// `Log`.
struct LogMessage<'a> {
    log: &'a LogRecord,
    text: &'a str,
}

impl WireMessage for LogMessage<'_> {
    fn fields(&self, sink: &mut impl Sink) {
        sink.int64(1, self.log.time);
        for &(key, value) in &self.log.fields {
            sink.message(
                2,
                &PairMessage {
                    key,
                    value,
                    text: self.text,
                },
            );
        }
    }
}

/// A finished segment as a prost message for tonic's codec, which writes it straight into the
/// stream's buffer. Only ever sent: decoding one skips every field.
pub(crate) struct SegmentBytes(pub(crate) FinishedSegment);

impl prost::Message for SegmentBytes {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        self.0.encode_into(buf);
    }

    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: WireType,
        buf: &mut impl Buf,
        ctx: DecodeContext,
    ) -> Result<(), DecodeError> {
        skip_field(wire_type, tag, buf, ctx)
    }

    fn encoded_len(&self) -> usize {
        self.0.encoded_len()
    }

    fn clear(&mut self) {}
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use rust2sky_proto::prost::Message as _;
    use rust2sky_proto::v3::SegmentObject;

    use crate::config::Config;
    use crate::reporter::{FinishedSegment, MemoryReporter};
    use crate::{SpanLayer, Tracer};

    const CALLER_SW8: &str = "1-M2YyYzlhMWJlNGQ1NGMwZjlhN2U2YjVkNGMzYjJhMTkuMS4xNzM1Njg5NjAwMDEyMDAwMA==-M2YyYzlhMWJlNGQ1NGMwZjlhN2U2YjVkNGMzYjJhMTkuMS4xNzM1Njg5NjAwMDEyMDAwMQ==-2-b3JkZXItc2VydmljZQ==-OGE3YjZjNWQ0ZTNmNDBhMWIyYzNkNGU1ZjZhN2I4YzlAMTAuMC4wLjEy-R0VUOi9hcGkvb3JkZXJzL3tpZH0=-aW52ZW50b3J5OjgwODA=";

    fn tracer(span_limit: usize) -> (Tracer, MemoryReporter) {
        let config = Config::builder()
            .service_name("inventory")
            .instance_name("instance-1")
            .span_limit(span_limit)
            .build_with_env(|_| None)
            .expect("test config is valid");
        let reporter = MemoryReporter::new();
        (Tracer::new(config, reporter.clone()), reporter)
    }

    /// The bytes written from the records are exactly prost's for `to_proto()`, and decode back
    /// to the same message.
    fn assert_same_bytes(segments: &[FinishedSegment]) {
        assert!(!segments.is_empty());
        for segment in segments {
            let message = segment.to_proto();
            let expected = message.encode_to_vec();
            let written = segment.encode_to_vec();
            assert_eq!(written, expected, "{message:#?}");
            assert_eq!(segment.encoded_len(), expected.len());
            let mut streamed = Vec::new();
            super::SegmentBytes(segment.clone())
                .encode(&mut streamed)
                .unwrap();
            assert_eq!(streamed, expected);
            assert_eq!(SegmentObject::decode(written.as_slice()).unwrap(), message);
        }
    }

    #[test]
    fn a_request_continuing_a_caller_is_written_as_prost_writes_it() {
        let (tracer, reporter) = tracer(300);
        // Tracing mode 1 (skip analysis) on every span; a trace id longer than kept inline.
        let incoming = HashMap::from([
            ("sw8".to_owned(), CALLER_SW8.to_owned()),
            ("sw8-x".to_owned(), "1-1735689600000".to_owned()),
        ]);
        tracer.in_scope(|| {
            let mut request = crate::entry_span("GET:/stock/{sku}", &incoming).entered();
            request.set_layer(SpanLayer::Http).set_component(49);
            {
                let mut check = crate::local_span("check stock").entered();
                check.log([("event", "miss"), ("", "empty key")]);
                check.log(std::iter::empty::<(&str, &str)>());
                request.tag("http.method", "GET");
                check.tag("hit", "false").tag("", "");
            }
            let mut call = crate::exit_span("POST:/reserve", "warehouse:9000", &mut HashMap::new());
            call.error("timeout", &"no answer in 5 s");
            request.tag("http.status_code", "500").set_error(true);
        });
        assert_same_bytes(&reporter.take_finished());
    }

    #[test]
    fn cross_thread_batches_limits_and_new_traces_are_written_as_prost_writes_them() {
        let (tracer, reporter) = tracer(3);
        // A caller whose trace id is longer than a segment keeps inline.
        let mut fields: Vec<String> = CALLER_SW8.split('-').map(str::to_owned).collect();
        fields[1] = crate::propagation::encode_piece(&"t".repeat(120));
        let long_caller = fields.join("-");
        tracer.in_scope(|| {
            // A new trace, with a span past the limit: the segment is size limited.
            let root = crate::local_span("root").entered();
            let snapshot = crate::capture();
            std::thread::spawn(move || {
                snapshot.continue_in(|| drop(crate::local_span("in thread").entered()));
            })
            .join()
            .unwrap();
            for name in ["a", "b", "c"] {
                drop(crate::local_span(name).entered());
            }
            drop(root);
            // One span for a batch of records from three callers, one of them malformed.
            let records = [
                HashMap::from([("sw8".to_owned(), long_caller.clone())]),
                HashMap::from([("sw8".to_owned(), "not a header".to_owned())]),
                HashMap::from([("sw8".to_owned(), CALLER_SW8.to_owned())]),
            ];
            drop(crate::span::batch_entry_span(
                "Kafka/orders/Consumer/g",
                &records,
            ));
        });
        let segments = reporter.take_finished();
        assert_eq!(segments.len(), 3);
        assert_same_bytes(&segments);
        let messages: Vec<_> = segments.iter().map(FinishedSegment::to_proto).collect();
        assert!(messages.iter().any(|segment| segment.is_size_limited));
        assert!(
            messages
                .iter()
                .any(|segment| segment.spans[0].refs.len() == 2)
        );
        let cross_thread =
            |segment: &SegmentObject| segment.spans[0].refs.first().map(|r| r.ref_type);
        assert!(
            messages
                .iter()
                .any(|segment| cross_thread(segment) == Some(1))
        );
        assert!(
            messages
                .iter()
                .any(|segment| segment.trace_id == "t".repeat(120))
        );
    }
}
