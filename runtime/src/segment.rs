//! Segments: the spans of one request context in one thread or task, reported together.
//!
//! A segment keeps the records of its spans itself, in a compact form whose strings all live in
//! one buffer (see [`crate::text`]); a [`crate::Span`] is a handle, the segment and an index.
//! When the last span ends, the records move into a [`FinishedSegment`] for the reporter, which
//! builds the protobuf `SegmentObject` from them, off the request path when it queues.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use rust2sky_proto::v3::{
    KeyStringValuePair, Log, RefType, SegmentObject, SegmentReference, SpanLayer, SpanObject,
    SpanType,
};

use crate::clock::now_ms;
use crate::diagnostics::{self, Problem};
use crate::id::{self, Id};
use crate::propagation::{
    Correlation, Injector, Piece, SW8, SW8_CORRELATION, SW8_X, Sw8Fields, Sw8x, encode_fields,
};
use crate::text::{self, Text};
use crate::tracer::Tracer;

/// A trace id: made here, or received in an `sw8` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TraceId {
    Local(Id),
    /// A caller's id kept inline, as most fit (the official agents' are 36 to 56 bytes long):
    /// the request then makes no allocation for it. Built only by [`TraceId::remote`].
    Short {
        len: u8,
        bytes: [u8; SHORT_ID_MAX],
    },
    /// A caller's id too long to keep inline.
    Remote(Arc<str>),
}

/// The longest caller's trace id kept inline; the enum is then 64 bytes.
const SHORT_ID_MAX: usize = 62;

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TraceId::Local(id) => id.fmt(f),
            TraceId::Short { .. } | TraceId::Remote(_) => f.write_str(self.remote_text()),
        }
    }
}

impl TraceId {
    /// A trace id received from a caller.
    pub(crate) fn remote(text: &str) -> TraceId {
        let mut bytes = [0; SHORT_ID_MAX];
        match (bytes.get_mut(..text.len()), u8::try_from(text.len())) {
            (Some(inline), Ok(len)) => {
                inline.copy_from_slice(text.as_bytes());
                TraceId::Short { len, bytes }
            }
            _ => TraceId::Remote(Arc::from(text)),
        }
    }

    /// A caller's id as text; empty for an id made here.
    fn remote_text(&self) -> &str {
        match self {
            // Copied from a `str` whole, so always text.
            TraceId::Short { len, bytes } => bytes
                .get(..usize::from(*len))
                .and_then(|text| std::str::from_utf8(text).ok())
                .unwrap_or_default(),
            TraceId::Remote(text) => text,
            TraceId::Local(_) => "",
        }
    }

    /// Runs `f` with the id as an `sw8` field, without allocating.
    fn with_piece<R>(&self, f: impl FnOnce(Piece<'_>) -> R) -> R {
        match self {
            TraceId::Local(id) => f(Piece::Base64Then(
                id::uuid_dot_base64(),
                id.text_after_uuid().as_str(),
            )),
            TraceId::Short { .. } | TraceId::Remote(_) => f(Piece::Text(self.remote_text())),
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

/// How many tags and log entries a segment keeps at most: with empty strings, which the text limit
/// does not stop, a span tagged in a loop would otherwise still grow without bound.
const MAX_ENTRIES: usize = 65_536;

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
    records: PooledRecords,
    open_spans: u32,
    /// How many spans have ended, to report them in the order they ended, as Java does.
    ended: u32,
    /// The span whose name is the segment's endpoint: the first span, replaced by the first
    /// entry span; and whether it is an entry span.
    endpoint: Option<(usize, bool)>,
    correlation: Correlation,
}

/// Everything a segment reports, with its strings in `text`.
#[derive(Clone)]
struct Records {
    text: String,
    spans: Vec<SpanRecord>,
    tags: Vec<TagRecord>,
    logs: Vec<LogRecord>,
    parent: Option<Parent>,
    size_limited: bool,
    /// Strings left out since the last report of them (see [`report_dropped`]).
    dropped: usize,
}

/// One span. Its id is its index in [`Records::spans`].
#[derive(Clone)]
struct SpanRecord {
    parent_span_id: i32,
    span_type: SpanType,
    layer: SpanLayer,
    component_id: i32,
    is_error: bool,
    start_time: i64,
    end_time: i64,
    operation: Text,
    peer: Text,
    /// When the span ended among the segment's spans, from 1; 0 while it is open.
    ended: u32,
}

#[derive(Clone)]
struct TagRecord {
    span_id: i32,
    key: Text,
    value: Text,
}

#[derive(Clone)]
struct LogRecord {
    span_id: i32,
    time: i64,
    fields: Vec<(Text, Text)>,
}

/// Where a segment's first span continues a trace from: the reference it reports.
#[derive(Clone)]
pub(crate) enum Parent {
    /// A caller in another process, from its `sw8` header (the fields are ranges of the text
    /// the header was decoded into).
    CrossProcess(Sw8Fields),
    /// A span of this process, captured on another thread or task.
    CrossThread {
        segment_id: Id,
        span_id: i32,
        endpoint: String,
    },
}

/// A change to a recorded span.
pub(crate) enum Change<'a> {
    Tag(&'a str, &'a str),
    Log(i64, &'a [(&'a str, &'a str)]),
    Error(bool),
    Peer(&'a str),
    Layer(SpanLayer),
    Component(i32),
    OperationName(&'a str),
}

impl Segment {
    /// A new segment, started at `now` (epoch milliseconds), recording into `records`: empty, or
    /// holding in its text what `parent` refers to already.
    pub(crate) fn new(
        tracer: Tracer,
        trace_id: TraceId,
        skip_analysis: bool,
        correlation: Correlation,
        mut records: PooledRecords,
        parent: Option<Parent>,
        now: i64,
    ) -> Arc<Segment> {
        if let Some(records) = records.get_mut() {
            records.parent = parent;
        }
        Arc::new(Segment {
            tracer,
            trace_id,
            segment_id: Id::generate_at(now),
            skip_analysis,
            state: Mutex::new(SegmentState {
                records,
                open_spans: 0,
                ended: 0,
                endpoint: None,
                correlation,
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

    /// Starts recording a span named `operation` at `start_time`, a child of `parent_span_id`
    /// (-1 for the first span); returns its id, or `None` when the segment is at its span limit
    /// (the segment is then marked size-limited) or already reported.
    pub(crate) fn open_span(
        &self,
        parent_span_id: i32,
        span_type: SpanType,
        operation: &str,
        start_time: i64,
    ) -> Option<i32> {
        let span_limit = self.tracer.span_limit();
        self.update(|state| {
            state.open_span(parent_span_id, span_type, operation, start_time, span_limit)
        })
    }

    /// Applies `change` to span `span_id`.
    pub(crate) fn change(&self, span_id: i32, change: Change<'_>) {
        self.update(|state| state.change(span_id, change));
    }

    /// Runs `f` on the locked state, then counts what it left out once the lock is released.
    fn update<R>(&self, f: impl FnOnce(&mut SegmentState) -> R) -> R {
        let (result, dropped) = {
            let mut state = self.lock();
            let result = f(&mut state);
            let dropped = state.records.get_mut().map(|records| &mut records.dropped);
            (result, dropped.map_or(0, std::mem::take))
        };
        report_dropped(dropped);
        result
    }

    /// Records that span `span_id` ended; the last span to end reports the segment.
    pub(crate) fn close_span(&self, span_id: i32) {
        let end_time = now_ms();
        let finished = {
            let mut state = self.lock();
            let state = &mut *state;
            if let Some(records) = state.records.get_mut()
                && let Some(index) = records.index(span_id)
            {
                let span = &mut records.spans[index];
                if span.ended == 0 {
                    state.ended += 1;
                    span.ended = state.ended;
                    span.end_time = end_time;
                    state.open_spans = state.open_spans.saturating_sub(1);
                }
            }
            // Taking the records reports the segment once: what comes later finds none.
            if state.open_spans == 0 {
                state.records.take()
            } else {
                None
            }
        };
        if let Some(records) = finished {
            self.tracer.reporter().report(FinishedSegment {
                trace_id: self.trace_id.clone(),
                segment_id: self.segment_id,
                service: self.tracer.service_name(),
                instance: self.tracer.instance_name(),
                skip_analysis: self.skip_analysis,
                records,
            });
        }
    }

    /// The headers for a call from span `span_id` to `peer`, or to the span's own peer; `None`
    /// without a peer, since receivers reject a header with an empty address.
    pub(crate) fn outgoing(&self, span_id: i32, peer: Option<&str>) -> Option<Outgoing> {
        let state = self.lock();
        let records = state.records.get();
        let peer = match peer {
            Some(peer) => peer,
            None => {
                let span = &records.spans[records.index(span_id)?];
                if span.span_type != SpanType::Exit {
                    return None;
                }
                span.peer.get(&records.text)
            }
        };
        self.headers(&state, span_id, peer)
    }

    /// Records `peer` as exit span `span_id`'s, and returns the headers for its call, under one
    /// lock.
    pub(crate) fn call(&self, span_id: i32, peer: &str) -> Option<Outgoing> {
        self.update(|state| {
            state.change(span_id, Change::Peer(peer));
            self.headers(state, span_id, peer)
        })
    }

    fn headers(&self, state: &SegmentState, span_id: i32, peer: &str) -> Option<Outgoing> {
        if peer.is_empty() {
            return None;
        }
        let encode = |trace_id: Piece<'_>| {
            outgoing(
                Some(span_id),
                &self.tracer,
                trace_id,
                self.segment_id,
                state.endpoint_name(),
                &state.correlation,
                peer,
            )
        };
        let (sw8, correlation) = match state.records.get().caller_trace_id_base64() {
            Some(encoded) => encode(Piece::Base64(encoded)),
            None => self.trace_id.with_piece(encode),
        };
        Some(Outgoing {
            sw8,
            correlation,
            skip_analysis: self.skip_analysis,
        })
    }

    /// The endpoint that `sw8` headers and cross-thread references name for this segment.
    pub(crate) fn endpoint(&self) -> String {
        self.lock().endpoint_name().to_owned()
    }

    pub(crate) fn correlation(&self) -> Correlation {
        self.lock().correlation.clone()
    }

    pub(crate) fn with_correlation<R>(&self, f: impl FnOnce(&mut Correlation) -> R) -> R {
        f(&mut self.lock().correlation)
    }
}

impl SegmentState {
    /// [`Segment::open_span`], with the segment locked.
    fn open_span(
        &mut self,
        parent_span_id: i32,
        span_type: SpanType,
        operation: &str,
        start_time: i64,
        span_limit: usize,
    ) -> Option<i32> {
        let records = self.records.get_mut()?;
        let index = records.spans.len();
        if index >= span_limit {
            records.size_limited = true;
            return None;
        }
        let span_id = i32::try_from(index).ok()?;
        let operation = records.push_text(operation);
        records.spans.push(SpanRecord {
            parent_span_id,
            span_type,
            layer: SpanLayer::Unknown,
            component_id: 0,
            is_error: false,
            start_time,
            end_time: 0,
            operation,
            peer: Text::default(),
            ended: 0,
        });
        self.open_spans += 1;
        let is_entry = span_type == SpanType::Entry;
        match self.endpoint {
            None => self.endpoint = Some((index, is_entry)),
            Some((_, false)) if is_entry => self.endpoint = Some((index, true)),
            Some(_) => {}
        }
        Some(span_id)
    }

    /// Applies `change` to span `span_id`.
    fn change(&mut self, span_id: i32, change: Change<'_>) {
        let Some(records) = self.records.get_mut() else {
            return;
        };
        let Some(index) = records.index(span_id) else {
            return;
        };
        match change {
            Change::Tag(..) | Change::Log(..)
                if records.tags.len() + records.logs.len() >= MAX_ENTRIES =>
            {
                records.dropped += 1;
            }
            Change::Tag(key, value) => {
                if let Some((key, value)) = records.push_pair(key, value) {
                    records.tags.push(TagRecord {
                        span_id,
                        key,
                        value,
                    });
                }
            }
            Change::Log(time, fields) => {
                let fields = fields
                    .iter()
                    .filter_map(|(key, value)| records.push_pair(key, value))
                    .collect();
                records.logs.push(LogRecord {
                    span_id,
                    time,
                    fields,
                });
            }
            Change::Peer(peer) => records.spans[index].peer = records.push_text(peer),
            Change::OperationName(name) => {
                records.spans[index].operation = records.push_text(name);
            }
            Change::Error(is_error) => records.spans[index].is_error = is_error,
            Change::Layer(layer) => records.spans[index].layer = layer,
            Change::Component(id) => records.spans[index].component_id = id,
        }
    }

    fn endpoint_name(&self) -> &str {
        let records = self.records.get();
        self.endpoint
            .and_then(|(index, _)| records.spans.get(index))
            .map_or("", |span| span.operation.get(&records.text))
    }
}

impl Records {
    /// The trace id in the Base64 the caller's `sw8` carried it in, when it can be copied as is.
    fn caller_trace_id_base64(&self) -> Option<&str> {
        match &self.parent {
            Some(Parent::CrossProcess(caller)) => Some(caller.trace_id_base64?.get(&self.text)),
            _ => None,
        }
    }

    fn index(&self, span_id: i32) -> Option<usize> {
        usize::try_from(span_id)
            .ok()
            .filter(|&index| index < self.spans.len())
    }

    /// Keeps `value` in the text buffer; past the buffer's limit it is dropped (an empty text
    /// stands for it), and counted in `dropped`.
    fn push_text(&mut self, value: &str) -> Text {
        Text::push(&mut self.text, value).unwrap_or_else(|| {
            self.dropped += 1;
            Text::default()
        })
    }

    /// Keeps a key and its value, or neither when they do not both fit (counted in `dropped`).
    fn push_pair(&mut self, key: &str, value: &str) -> Option<(Text, Text)> {
        if self.text.len() + key.len() + value.len() > text::MAX_TEXT_LEN {
            self.dropped += 1;
            return None;
        }
        Some((self.push_text(key), self.push_text(value)))
    }
}

/// How many finished segments' records wait for new segments. With the size limits of
/// [`Records::is_worth_keeping`], the spare records hold at most about 750 KiB, and typically
/// under 200 KiB (a typical segment's come to about 1.3 KiB).
const MAX_SPARE: usize = 128;

/// Records of reported segments, emptied, for new segments to record into: a request then takes
/// its text, span and tag buffers from here instead of making four allocations, and the
/// reporter's thread does not free them. Both ends only `try_lock`: when the pool is busy, a new
/// segment allocates and a finished one frees, as they would without it.
#[expect(
    clippy::vec_box,
    reason = "the boxes are what is reused, so that records move as pointers"
)]
static SPARE: Mutex<Vec<Box<Records>>> = Mutex::new(Vec::new());

/// What [`PooledRecords`] reads once its records have moved on: none.
static NO_RECORDS: Records = Records {
    text: String::new(),
    spans: Vec::new(),
    tags: Vec::new(),
    logs: Vec::new(),
    parent: None,
    size_limited: false,
    dropped: 0,
};

/// A segment's records, in a box of their own so that segments and reporters move a pointer
/// rather than the records, which go back to the pool with their box when dropped. Empty once
/// taken by the reporter, which is what marks a segment reported.
#[derive(Clone, Default)]
pub(crate) struct PooledRecords(Option<Box<Records>>);

impl PooledRecords {
    /// Empty records, in the box of a finished segment's when there is one to spare.
    pub(crate) fn recycled() -> PooledRecords {
        let spare = SPARE.try_lock().ok().and_then(|mut spare| spare.pop());
        PooledRecords(Some(spare.unwrap_or_else(Records::new_box)))
    }

    fn get(&self) -> &Records {
        self.0.as_deref().unwrap_or(&NO_RECORDS)
    }

    /// The records, unless they have moved on to the reporter.
    fn get_mut(&mut self) -> Option<&mut Records> {
        self.0.as_deref_mut()
    }

    /// The records, moved out for the reporter; `None` once they have been.
    fn take(&mut self) -> Option<PooledRecords> {
        self.0.take().map(|records| PooledRecords(Some(records)))
    }

    pub(crate) fn text(&self) -> &str {
        &self.get().text
    }

    /// The text buffer, which an entry span decodes the caller's `sw8` into.
    pub(crate) fn text_mut(&mut self) -> &mut String {
        &mut self.0.get_or_insert_with(Records::new_box).text
    }
}

impl Drop for PooledRecords {
    fn drop(&mut self) {
        let Some(mut records) = self.0.take() else {
            return;
        };
        if !records.is_worth_keeping() {
            return;
        }
        records.clear();
        if let Ok(mut spare) = SPARE.try_lock()
            && spare.len() < MAX_SPARE
        {
            spare.push(records);
        }
    }
}

impl Records {
    fn new_box() -> Box<Records> {
        Box::new(Records {
            text: String::with_capacity(text::INITIAL_CAPACITY),
            spans: Vec::with_capacity(8),
            tags: Vec::new(),
            logs: Vec::new(),
            parent: None,
            size_limited: false,
            dropped: 0,
        })
    }

    /// Whether these buffers are worth keeping: not grown by an unusual segment so much that
    /// keeping them would hold memory that typical segments never use.
    fn is_worth_keeping(&self) -> bool {
        self.text.capacity() <= 2048
            && self.spans.capacity() <= 32
            && self.tags.capacity() <= 64
            && self.logs.capacity() <= 16
    }

    /// Empties the records, keeping their buffers.
    fn clear(&mut self) {
        self.text.clear();
        self.spans.clear();
        self.tags.clear();
        self.logs.clear();
        self.parent = None;
        self.size_limited = false;
        self.dropped = 0;
    }
}

/// Counts, and may log, strings a segment left out. Called with the segment unlocked: the
/// application's logger may ask for the current context, which locks the segment.
fn report_dropped(dropped: usize) {
    if dropped == 0 {
        return;
    }
    let why = format_args!(
        "a segment holds at most {} bytes of text and {MAX_ENTRIES} tags and logs",
        text::MAX_TEXT_LEN
    );
    diagnostics::record(Problem::SpanTextDropped, dropped, &why);
}

/// A segment whose spans have all ended, as a [`Reporter`](crate::reporter::Reporter) receives
/// it.
///
/// It holds the spans in the compact form they were recorded in; [`FinishedSegment::to_proto`]
/// builds the `SegmentObject` that goes on the wire. A reporter that queues segments converts
/// them on its own thread, off the request path.
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
    trace_id: TraceId,
    segment_id: Id,
    service: Arc<str>,
    instance: Arc<str>,
    skip_analysis: bool,
    records: PooledRecords,
}

impl FinishedSegment {
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
        }
        spans.sort_by_key(|(ended, _)| *ended);
        SegmentObject {
            trace_id: self.trace_id.to_string(),
            trace_segment_id: self.segment_id.to_string(),
            spans: spans.into_iter().map(|(_, span)| span).collect(),
            service: self.service.to_string(),
            service_instance: self.instance.to_string(),
            is_size_limited: records.size_limited,
        }
    }

    /// [`FinishedSegment::to_proto`], consuming the segment.
    ///
    /// ```
    /// use rust2sky::{Tracer, config::Config, reporter::MemoryReporter};
    ///
    /// let reporter = MemoryReporter::new();
    /// let tracer = Tracer::new(Config::default(), reporter.clone());
    /// tracer.in_scope(|| drop(rust2sky::local_span("work")));
    /// let segment = reporter.take_finished().remove(0).into_proto();
    /// assert_eq!(segment.spans.len(), 1);
    /// ```
    pub fn into_proto(self) -> SegmentObject {
        self.to_proto()
    }

    fn reference(&self, parent: &Parent) -> SegmentReference {
        let text = self.records.get().text.as_str();
        match parent {
            Parent::CrossProcess(caller) => {
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
            Parent::CrossThread {
                segment_id,
                span_id,
                endpoint,
            } => SegmentReference {
                ref_type: RefType::CrossThread as i32,
                trace_id: self.trace_id.to_string(),
                parent_trace_segment_id: segment_id.to_string(),
                parent_span_id: *span_id,
                parent_service: self.service.to_string(),
                parent_service_instance: self.instance.to_string(),
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

fn span_mut(spans: &mut [(u32, SpanObject)], span_id: i32) -> Option<&mut SpanObject> {
    let index = usize::try_from(span_id).ok()?;
    spans.get_mut(index).map(|(_, span)| span)
}

impl From<FinishedSegment> for SegmentObject {
    fn from(segment: FinishedSegment) -> SegmentObject {
        segment.into_proto()
    }
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
        f(&mut self
            .correlation
            .lock()
            .unwrap_or_else(PoisonError::into_inner))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callers_trace_ids_of_any_length_read_back_as_sent() {
        for len in [1, SHORT_ID_MAX, SHORT_ID_MAX + 1, 150] {
            let text: String = "é3f2c9a1b.".chars().cycle().take(len).collect();
            let id = TraceId::remote(&text);
            assert_eq!(id.to_string(), text);
            assert_eq!(
                matches!(id, TraceId::Short { .. }),
                text.len() <= SHORT_ID_MAX
            );
        }
    }

    #[test]
    fn spare_records_come_back_empty_and_stay_bounded() {
        let mut used = PooledRecords::recycled();
        let records = used.get_mut().expect("fresh records");
        records.text.push_str("GET:/orders");
        records.spans.push(SpanRecord {
            parent_span_id: -1,
            span_type: SpanType::Entry,
            layer: SpanLayer::Http,
            component_id: 0,
            is_error: false,
            start_time: 1,
            end_time: 2,
            operation: Text::from_range(0, 11),
            peer: Text::default(),
            ended: 1,
        });
        records.size_limited = true;
        drop(used);

        // Other tests run at the same time and share the pool, so every one is checked.
        let taken: Vec<PooledRecords> = (0..2 * MAX_SPARE)
            .map(|_| PooledRecords::recycled())
            .collect();
        for records in taken.iter().map(PooledRecords::get) {
            assert!(records.text.is_empty() && records.spans.is_empty());
            assert!(records.tags.is_empty() && records.logs.is_empty());
            assert!(records.parent.is_none() && !records.size_limited);
        }
        drop(taken);
        assert!(SPARE.lock().map_or(0, |spare| spare.len()) <= MAX_SPARE);

        // Records grown by an unusual segment are freed, not kept.
        let mut big = PooledRecords::recycled();
        big.text_mut().reserve(1 << 20);
        assert!(!big.get().is_worth_keeping());
    }
}
