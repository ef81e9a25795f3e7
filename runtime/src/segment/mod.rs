//! Segments: the spans of one request context in one thread or task, reported together.
//!
//! A [`Segment`] keeps the records of its spans itself, in a compact form whose strings all live
//! in one buffer (see [`records`] and [`crate::text`]), taken from a pool of finished segments'
//! ([`pool`]); a [`crate::Span`] is a handle, the segment and an index. When the last span ends,
//! the records move into a [`FinishedSegment`] for the reporter, which writes the protobuf
//! bytes straight from them ([`wire`]), off the request path when it queues. A trace that is not sampled
//! has no segment: an [`UnsampledTrace`] only carries its context on.

mod finished;
mod pool;
mod records;
pub(crate) mod reporting;
mod reuse;
mod trace_id;
mod unsampled;
mod wire;

use std::cell::Cell;
use std::sync::Arc;

use rust2sky_proto::v3::{SpanLayer, SpanType};

pub use self::finished::FinishedSegment;
pub(crate) use self::pool::PooledRecords;
pub(crate) use self::records::Parent;
use self::records::{LogRecord, SpanRecord, TagRecord};
pub(crate) use self::trace_id::TraceId;
pub(crate) use self::unsampled::{RememberedPeer, UnsampledTrace};
pub(crate) use self::wire::SegmentBytes;
use crate::clock::now_ms;
use crate::diagnostics::{self, Problem};
use crate::id::Id;
use crate::propagation::{Correlation, Outgoing, Piece, outgoing};
use crate::text::{self, Text};
use crate::tracer::Tracer;

/// A segment's lock. It is taken about thirteen times in a five-span request, nearly always by
/// the one thread that records the segment; two threads wait on it only while spans of one
/// segment are used on both at the same moment. A spin lock's unlock is a plain store, where
/// parking_lot's is a compare-and-swap (to see whether a waiter sleeps), which waits until every
/// store of the locked section has reached memory: the request went from 888 to 969 ns to 812 to
/// 890 ns (`span/five_span_request`, old and new binary in turn). A waiter yields its core
/// between tries, so that it does not keep a holder that was preempted from running.
type Mutex<T> = spin::mutex::SpinMutex<T, spin::relax::Yield>;
type MutexGuard<'a, T> = spin::mutex::SpinMutexGuard<'a, T>;

/// How many tags and log entries a segment keeps at most: with empty strings, which the text limit
/// does not stop, a span tagged in a loop would otherwise still grow without bound.
const MAX_ENTRIES: usize = 65_536;

thread_local! {
    /// The last segment of the global tracer this thread started (see [`Segment::new`]).
    static LAST_SEGMENT: Cell<Option<Arc<Segment>>> = const { Cell::new(None) };
}

/// How many callers a segment's first span refers to at most: as many as the records of one
/// poll of a Kafka consumer with its default `max.poll.records`, so that a batch handled as one
/// span links to each, and no batch grows the segment past that.
const MAX_CALLERS: usize = 500;

/// A segment being recorded. Spans hold it through an `Arc`; the span that ends last reports it.
pub(crate) struct Segment {
    // Fixed at creation, read by the context on every span: plain fields, no lock.
    pub(crate) tracer: Tracer,
    pub(crate) trace_id: TraceId,
    pub(crate) segment_id: Id,
    /// Tracing mode `1` from `sw8-x`: every span asks OAP to skip analysis.
    pub(crate) skip_analysis: bool,
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
    /// A new segment recording into `records` (empty, or holding in its text what `parent`
    /// refers to already), with its first span of `first`'s type and name open, started at
    /// `first`'s time (epoch milliseconds), which is the segment's too. Returns the segment and
    /// the first span's id, `None` when the span limit is 0.
    ///
    /// The first span is recorded before any other thread can see the segment, without taking
    /// its lock.
    pub(crate) fn new(
        tracer: Tracer,
        trace_id: TraceId,
        skip_analysis: bool,
        correlation: Correlation,
        mut records: PooledRecords,
        parent: Option<Parent>,
        first: (SpanType, &str, i64),
    ) -> (Arc<Segment>, Option<i32>) {
        let (span_type, operation, now) = first;
        if let Some(records) = records.get_mut() {
            records.parent = parent;
            records.set_origin(&tracer);
        }
        let mut state = SegmentState {
            records,
            open_spans: 0,
            ended: 0,
            endpoint: None,
            correlation,
        };
        let first_span = state.open_span(-1, span_type, operation, now, tracer.span_limit());
        report_dropped(state.take_dropped());
        let segment_id = Id::generate_at(now);
        let make = |(tracer, trace_id, state)| Segment {
            tracer,
            trace_id,
            segment_id,
            skip_analysis,
            state: Mutex::new(state),
        };
        let parts = (tracer, trace_id, state);
        // A thread keeps its last segment of the global tracer, and the next one it starts
        // reuses it once nothing else holds it: a request then allocates no segment.
        if !parts.0.is_global() {
            return (Arc::new(make(parts)), first_span);
        }
        let refill = |reused: &mut Segment, (_tracer, trace_id, state)| {
            reused.trace_id = trace_id;
            reused.segment_id = segment_id;
            reused.skip_analysis = skip_analysis;
            *reused.state.get_mut() = state;
        };
        let segment = reuse::reuse_or_make(&LAST_SEGMENT, parts, make, refill, |_| true);
        (segment, first_span)
    }

    fn lock(&self) -> MutexGuard<'_, SegmentState> {
        self.state.lock()
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
            (result, state.take_dropped())
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
            let segment = FinishedSegment {
                trace_id: self.trace_id.clone(),
                segment_id: self.segment_id,
                skip_analysis: self.skip_analysis,
                records,
            };
            reporting::run(|| self.tracer.reporter().report(segment));
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

    /// Adds the caller whose `sw8` header is `sw8` to the references of the segment's first
    /// span, when that span continues a caller in another process already: the other records
    /// of a batch that a consumer handles as one span, as the Java agent links them. Past
    /// [`MAX_CALLERS`] or the text limit the caller is left out and counted; a malformed header
    /// is ignored and counted.
    #[cfg(any(feature = "kafka", feature = "rdkafka"))]
    pub(crate) fn add_caller(&self, sw8: &str) {
        let added = self.update(|state| {
            let Some(records) = state.records.get_mut() else {
                return Ok::<(), crate::propagation::Sw8Error>(());
            };
            if !matches!(records.parent, Some(Parent::CrossProcess(_))) {
                return Ok(());
            }
            if records.more_callers.len() + 1 >= MAX_CALLERS
                || records.text.len() + sw8.len() > text::MAX_TEXT_LEN
            {
                records.dropped += 1;
                return Ok(());
            }
            let caller = crate::propagation::decode_into(sw8, &mut records.text)?;
            records.more_callers.push(caller);
            Ok(())
        });
        if let Err(error) = added {
            diagnostics::record(Problem::MalformedSw8, 1, &error);
        }
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
    /// How many strings were left out since the last call, for [`report_dropped`] once the
    /// lock is let go.
    fn take_dropped(&mut self) -> usize {
        self.records
            .get_mut()
            .map_or(0, |records| std::mem::take(&mut records.dropped))
    }

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

/// Counts, and may log, strings a segment left out. Called with the segment unlocked: the
/// application's logger may ask for the current context, which locks the segment.
fn report_dropped(dropped: usize) {
    if dropped == 0 {
        return;
    }
    let why = format_args!(
        "a segment holds at most {} bytes of text, {MAX_ENTRIES} tags and logs and {MAX_CALLERS} \
         callers",
        text::MAX_TEXT_LEN
    );
    diagnostics::record(Problem::SpanTextDropped, dropped, &why);
}
