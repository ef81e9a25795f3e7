//! Spans: entry, local and exit, and the functions that start them.

use std::fmt;
use std::sync::Arc;

use rust2sky_proto::v3::{SpanLayer, SpanType};

use crate::clock::now_ms;
use crate::context::snapshot::Snapshot;
use crate::context::stack::{self, Position};
use crate::id;
use crate::propagation::{Correlation, Extractor, Incoming, Injector, Sw8Fields};
use crate::segment::{Change, Parent, PooledRecords, Segment, TraceId, UnsampledTrace};
use crate::tags;
use crate::tracer::Tracer;

/// One traced operation. It ends when dropped (or at [`Span::end`]).
///
/// A span is `Send`: it may start on one thread or task and end on another (the official agents'
/// "async span"). Starting a span does not make it current; [`Span::entered`] does, for sync code,
/// and [`crate::FutureExt::instrument`] does around each poll of a future. Spans started while
/// another is current become its children.
///
/// A span that is not recorded (no tracer installed, the trace not sampled, the segment at its
/// span limit) is a noop: every method works and does nothing.
///
/// ```
/// use rust2sky::{Tracer, config::Config, reporter::MemoryReporter, tags};
///
/// let reporter = MemoryReporter::new();
/// let tracer = Tracer::new(Config::default(), reporter.clone());
/// tracer.in_scope(|| {
///     let mut request = rust2sky::entry_span("GET:/orders", &()).entered();
///     request.tag(tags::HTTP_METHOD, "GET");
///     {
///         let _query = rust2sky::local_span("load orders").entered();
///     }
///     request.tag(tags::HTTP_STATUS_CODE, "200");
/// });
/// let segment = &reporter.segments()[0];
/// assert_eq!(segment.spans.len(), 2);
/// assert_eq!(segment.spans[0].operation_name, "load orders");
/// assert_eq!(segment.spans[0].parent_span_id, 0);
/// ```
#[must_use = "a span ends as soon as it is dropped"]
pub struct Span {
    state: SpanState,
}

enum SpanState {
    Noop,
    /// Not recorded; `peer` is set for an exit span, whose calls still carry the trace.
    Unsampled(Arc<UnsampledTrace>, Option<Arc<str>>),
    Recording(Recording),
}

/// A handle on a span that its segment records.
struct Recording {
    segment: Arc<Segment>,
    span_id: i32,
    /// Whether the span already logged a panic of the code it covers.
    panic_recorded: bool,
    /// Whether this handle ends the span when dropped: false for the handle
    /// [`with_active_span`] lends, which the span's owner ends.
    owned: bool,
}

impl Span {
    /// A span that records nothing.
    ///
    /// ```
    /// assert!(!rust2sky::Span::noop().is_recording());
    /// ```
    pub fn noop() -> Span {
        Span {
            state: SpanState::Noop,
        }
    }

    /// A handle on span `span_id` of `segment`; an `owned` one ends the span when dropped.
    fn handle(segment: &Arc<Segment>, span_id: i32, owned: bool) -> Span {
        Span {
            state: SpanState::Recording(Recording {
                segment: segment.clone(),
                span_id,
                panic_recorded: false,
                owned,
            }),
        }
    }

    /// Whether this span is recorded and will be reported.
    ///
    /// ```
    /// // no tracer installed: spans are noops
    /// assert!(!rust2sky::local_span("work").is_recording());
    /// ```
    pub fn is_recording(&self) -> bool {
        matches!(self.state, SpanState::Recording(_))
    }

    /// Applies `change` to the span's record, if it is recorded.
    fn change(&mut self, change: Change<'_>) -> &mut Self {
        if let SpanState::Recording(recording) = &self.state {
            recording.segment.change(recording.span_id, change);
        }
        self
    }

    /// Adds a tag (see [`crate::tags`] for the keys OAP understands).
    ///
    /// ```
    /// let mut span = rust2sky::local_span("query");
    /// span.tag(rust2sky::tags::DB_TYPE, "sql").tag(rust2sky::tags::DB_STATEMENT, "SELECT 1");
    /// ```
    pub fn tag(&mut self, key: impl AsRef<str>, value: impl AsRef<str>) -> &mut Self {
        self.change(Change::Tag(key.as_ref(), value.as_ref()))
    }

    /// Adds a timestamped log entry with these fields.
    ///
    /// ```
    /// let mut span = rust2sky::local_span("retry");
    /// span.log([("event", "retry"), ("attempt", "2")]);
    /// ```
    pub fn log<K, V>(&mut self, fields: impl IntoIterator<Item = (K, V)>) -> &mut Self
    where
        K: AsRef<str>,
        V: AsRef<str>,
    {
        if !self.is_recording() {
            return self;
        }
        // The fields are the caller's types: they are read before the segment is locked.
        let fields: Vec<(K, V)> = fields.into_iter().collect();
        let fields: Vec<(&str, &str)> = fields
            .iter()
            .map(|(key, value)| (key.as_ref(), value.as_ref()))
            .collect();
        self.change(Change::Log(now_ms(), &fields))
    }

    /// Marks the span as failed and logs the error, in the Java agent's convention
    /// (`event=error`, `error.kind`, `message`).
    ///
    /// ```
    /// let mut span = rust2sky::local_span("parse");
    /// if let Err(error) = "x".parse::<u32>() {
    ///     span.error("ParseIntError", &error);
    /// }
    /// ```
    pub fn error(&mut self, kind: &str, message: &dyn fmt::Display) -> &mut Self {
        if !self.is_recording() {
            return self;
        }
        let message = message.to_string();
        self.change(Change::Error(true));
        self.log([
            ("event", "error"),
            ("error.kind", kind),
            ("message", message.as_str()),
        ])
    }

    /// Sets or clears the error mark without logging anything.
    ///
    /// ```
    /// let mut span = rust2sky::local_span("call");
    /// span.set_error(true);
    /// ```
    pub fn set_error(&mut self, is_error: bool) -> &mut Self {
        self.change(Change::Error(is_error))
    }

    /// Sets the remote address (`host:port`); exit spans need one for OAP's topology.
    ///
    /// ```
    /// let mut span = rust2sky::local_span("call");
    /// span.set_peer("users:8080");
    /// ```
    pub fn set_peer(&mut self, peer: impl AsRef<str>) -> &mut Self {
        self.change(Change::Peer(peer.as_ref()))
    }

    /// Sets the technology layer (HTTP, database, ...).
    ///
    /// ```
    /// let mut span = rust2sky::local_span("GET /users");
    /// span.set_layer(rust2sky::SpanLayer::Http);
    /// ```
    pub fn set_layer(&mut self, layer: SpanLayer) -> &mut Self {
        self.change(Change::Layer(layer))
    }

    /// Sets the component id (see [`crate::component`]).
    ///
    /// ```
    /// let mut span = rust2sky::local_span("GET /users");
    /// span.set_component(rust2sky::component::HTTP_CLIENT);
    /// ```
    pub fn set_component(&mut self, component_id: i32) -> &mut Self {
        self.change(Change::Component(component_id))
    }

    /// Renames the operation. Renaming the segment's first entry span renames the endpoint that
    /// calls made from now on name, as the Java agent does.
    ///
    /// ```
    /// let mut span = rust2sky::entry_span("GET", &());
    /// span.set_operation_name("GET:/users/{id}");
    /// ```
    pub fn set_operation_name(&mut self, name: impl AsRef<str>) -> &mut Self {
        self.change(Change::OperationName(name.as_ref()))
    }

    /// The span's id within its segment, if it is recorded.
    ///
    /// ```
    /// assert_eq!(rust2sky::Span::noop().span_id(), None);
    /// ```
    pub fn span_id(&self) -> Option<i32> {
        match &self.state {
            SpanState::Recording(recording) => Some(recording.span_id),
            _ => None,
        }
    }

    /// Makes this span current on this thread until the returned guard is dropped; the span ends
    /// with the guard. For sync code; in async code use [`crate::FutureExt::instrument`].
    ///
    /// ```
    /// let span = rust2sky::local_span("outer").entered();
    /// let _child = rust2sky::local_span("inner").entered(); // a child of "outer"
    /// ```
    pub fn entered(self) -> EnteredSpan {
        EnteredSpan {
            entered: self.enter(),
            span: self,
        }
    }

    /// Runs `f` with this span current.
    ///
    /// ```
    /// let span = rust2sky::local_span("outer");
    /// let value = span.in_scope(|| 7);
    /// assert_eq!(value, 7);
    /// ```
    pub fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        let _entered = self.enter();
        f()
    }

    /// Ends the span now (dropping it does the same).
    ///
    /// ```
    /// let span = rust2sky::local_span("step");
    /// span.end();
    /// ```
    pub fn end(self) {
        drop(self);
    }

    pub(crate) fn enter(&self) -> stack::Entered {
        match self.position() {
            Some(position) => stack::enter(position),
            None => stack::Entered::none(),
        }
    }

    fn position(&self) -> Option<Position> {
        match &self.state {
            SpanState::Noop => None,
            SpanState::Unsampled(trace, peer) => {
                Some(Position::Unsampled(trace.clone(), peer.clone()))
            }
            SpanState::Recording(recording) => Some(Position::Span {
                segment: recording.segment.clone(),
                span_id: recording.span_id,
            }),
        }
    }

    /// Keeps an unsampled exit span's peer for [`crate::outgoing_headers`] while the span is
    /// current (a recorded span's peer is in its record).
    fn remember_peer(&mut self, peer: &str) {
        if let SpanState::Unsampled(_, remembered) = &mut self.state
            && !peer.is_empty()
        {
            *remembered = Some(Arc::from(peer));
        }
    }

    /// Marks the span as failed because the code it covers panicked, once: a future's poll
    /// records a panic before the span is dropped during the same unwinding.
    pub(crate) fn record_panic(&mut self) {
        let SpanState::Recording(recording) = &mut self.state else {
            return;
        };
        if std::mem::replace(&mut recording.panic_recorded, true) {
            return;
        }
        self.error("panic", &"the traced code panicked");
    }

    /// Logs that the traced future was dropped before it completed.
    pub(crate) fn record_cancelled(&mut self) {
        self.log([("event", "cancelled")]);
    }
}

impl Drop for Span {
    fn drop(&mut self) {
        if !matches!(&self.state, SpanState::Recording(recording) if recording.owned) {
            return;
        }
        if std::thread::panicking() {
            self.record_panic();
        }
        if let SpanState::Recording(recording) = &self.state {
            recording.segment.close_span(recording.span_id);
        }
    }
}

impl fmt::Debug for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.state {
            SpanState::Noop => f.write_str("Span(noop)"),
            SpanState::Unsampled(..) => f.write_str("Span(unsampled)"),
            SpanState::Recording(recording) => f
                .debug_struct("Span")
                .field("span_id", &recording.span_id)
                .finish_non_exhaustive(),
        }
    }
}

/// A span that is current on this thread; it ends, and stops being current, when dropped.
///
/// Returned by [`Span::entered`]. It is `!Send`: a context entered on one thread must be left on
/// that thread, so holding one across an `.await` in a spawned task does not compile.
///
/// ```compile_fail
/// fn assert_send<T: Send>(_: T) {}
/// assert_send(rust2sky::local_span("work").entered());
/// ```
#[must_use = "a span ends as soon as it is dropped"]
pub struct EnteredSpan {
    // Dropped first: the span stops being current before it ends.
    entered: stack::Entered,
    span: Span,
}

impl EnteredSpan {
    /// Stops the span being current without ending it.
    ///
    /// ```
    /// let span = rust2sky::local_span("work").entered().exit();
    /// std::thread::spawn(move || drop(span)).join().unwrap();
    /// ```
    pub fn exit(self) -> Span {
        let EnteredSpan { entered, span } = self;
        drop(entered);
        span
    }
}

impl std::ops::Deref for EnteredSpan {
    type Target = Span;

    fn deref(&self) -> &Span {
        &self.span
    }
}

impl std::ops::DerefMut for EnteredSpan {
    fn deref_mut(&mut self) -> &mut Span {
        &mut self.span
    }
}

impl fmt::Debug for EnteredSpan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("EnteredSpan").field(&self.span).finish()
    }
}

/// Runs `f` with the span that is current here, if it is recorded; go2sky's `ActiveSpan(ctx)`.
///
/// For code that did not start the span but has something to add to it: the body of a
/// `#[sw_exit]` or `#[sw_entry]` function tagging its own span with the status it got, or a
/// helper deep in a handler marking the request failed. `f` gets the span to tag, log, rename or
/// mark; it cannot end it, which stays its owner's job. Returns `None`, without calling `f`,
/// outside a span or inside a trace that is not recorded.
///
/// ```
/// use rust2sky::{Tracer, config::Config, reporter::MemoryReporter, sw_exit, tags};
///
/// #[sw_exit(peer = "users:8080")]
/// fn get_user() -> u16 {
///     let status = 200; // the call's answer
///     rust2sky::with_active_span(|span| {
///         span.tag(tags::HTTP_STATUS_CODE, status.to_string());
///     });
///     status
/// }
///
/// let reporter = MemoryReporter::new();
/// let tracer = Tracer::new(Config::default(), reporter.clone());
/// tracer.in_scope(get_user);
/// let span = &reporter.segments()[0].spans[0];
/// assert_eq!((span.tags[0].key.as_str(), span.tags[0].value.as_str()), ("http.status_code", "200"));
/// assert_eq!(rust2sky::with_active_span(|span| span.span_id()), None); // no span here
/// ```
pub fn with_active_span<R>(f: impl FnOnce(&mut Span) -> R) -> Option<R> {
    // The handle is made while the context is borrowed and used after: `f` is user code.
    let mut span = stack::with_current(|position| match position {
        Some(Position::Span { segment, span_id }) => Some(Span::handle(segment, *span_id, false)),
        _ => None,
    })?;
    Some(f(&mut span))
}

/// Starts an entry span: the server side of a request, reading the caller's context from
/// `headers` (`sw8`, `sw8-correlation`, `sw8-x`).
///
/// With a valid `sw8` header, the span starts a new segment of the caller's trace, linked to the
/// caller by a `CrossProcess` reference. Without one, it is a child of the current span, or
/// starts a new trace. Malformed headers are ignored and counted (see [`crate::diagnostics`]).
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

/// Starts a local span: in-process work, a child of the current span (or a new trace).
///
/// ```
/// let _span = rust2sky::local_span("render invoice").entered();
/// ```
pub fn local_span(operation: impl AsRef<str>) -> Span {
    start(SpanType::Local, operation.as_ref(), None)
}

/// Starts an exit span: the client side of a call to `peer`, writing the `sw8` headers for the
/// callee into `headers`.
///
/// `peer` is the address the client uses (`host:port`), written both on the span and in the
/// header, so that OAP can join the two ends of the call. A trace that is not sampled still
/// propagates its context, with the sample flag `0`.
///
/// ```
/// use std::collections::HashMap;
/// use rust2sky::{Tracer, config::Config, reporter::MemoryReporter};
///
/// let tracer = Tracer::new(Config::default(), MemoryReporter::new());
/// let mut headers = HashMap::new();
/// tracer.in_scope(|| drop(rust2sky::exit_span("GET:/users", "users:8080", &mut headers)));
/// let sw8 = rust2sky::propagation::Sw8Header::decode(&headers["sw8"])?;
/// assert_eq!(sw8.target_address, "users:8080");
/// # Ok::<(), rust2sky::propagation::Sw8Error>(())
/// ```
pub fn exit_span(
    operation: impl AsRef<str>,
    peer: impl AsRef<str>,
    headers: &mut impl Injector,
) -> Span {
    let peer = peer.as_ref();
    let mut span = start(SpanType::Exit, operation.as_ref(), None);
    inject(&span, peer, headers);
    span.remember_peer(peer);
    span
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
fn start(span_type: SpanType, operation: &str, correlation: Option<Correlation>) -> Span {
    let start = stack::with_current(|position| match position {
        Some(Position::Span { segment, span_id }) => {
            Start::Made(child(segment, *span_id, span_type, operation))
        }
        // Inside a trace that is not recorded, a local or entry span has nothing of its own to
        // carry: the trace stays current through its parent, so a noop costs no reference count
        // and no context push. An exit span keeps the trace to remember its peer, which
        // `outgoing_headers` reads.
        Some(Position::Unsampled(trace, _)) => Start::Made(if span_type == SpanType::Exit {
            Span {
                state: SpanState::Unsampled(trace.clone(), None),
            }
        } else {
            Span::noop()
        }),
        Some(Position::Continuation(snapshot)) => Start::Continue(snapshot.clone()),
        Some(Position::Tracer(tracer)) => Start::NewTrace(tracer.clone()),
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
fn recording(segment: &Arc<Segment>, span_id: Option<i32>) -> Span {
    match span_id {
        Some(span_id) => Span::handle(segment, span_id, true),
        None => Span::noop(),
    }
}

fn child(segment: &Arc<Segment>, parent: i32, span_type: SpanType, operation: &str) -> Span {
    let span_id = segment.open_span(parent, span_type, operation, now_ms());
    recording(segment, span_id)
}

/// The first span of a segment, started when the segment was, at `now`.
fn first_span(segment: &Arc<Segment>, span_type: SpanType, operation: &str, now: i64) -> Span {
    recording(segment, segment.open_span(-1, span_type, operation, now))
}

fn local_trace(
    tracer: Tracer,
    span_type: SpanType,
    operation: &str,
    correlation: Option<Correlation>,
) -> Span {
    // One clock reading for the trace id, the segment id and the span's start.
    let now = now_ms();
    let trace_id = TraceId::Local(id::Id::generate_at(now));
    let correlation = correlation.unwrap_or_else(|| Correlation::new(tracer.correlation_limits()));
    if !tracer.sampler().sample(operation) {
        return unsampled(tracer, trace_id, operation, false, correlation);
    }
    let segment = Segment::new(
        tracer,
        trace_id,
        false,
        correlation,
        PooledRecords::recycled(),
        None,
        now,
    );
    first_span(&segment, span_type, operation, now)
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
        return unsampled(tracer, trace_id, operation, skip_analysis, correlation);
    }
    let parent = Some(Parent::CrossProcess(parent));
    let now = now_ms();
    let segment = Segment::new(
        tracer,
        trace_id,
        skip_analysis,
        correlation,
        records,
        parent,
        now,
    );
    first_span(&segment, SpanType::Entry, operation, now)
}

fn continuation(snapshot: &Snapshot, span_type: SpanType, operation: &str) -> Span {
    let now = now_ms();
    let parent = Parent::CrossThread {
        segment_id: snapshot.segment_id,
        span_id: snapshot.span_id,
        endpoint: snapshot.endpoint.clone(),
    };
    let segment = Segment::new(
        snapshot.tracer.clone(),
        snapshot.trace_id.clone(),
        snapshot.skip_analysis,
        snapshot.correlation.clone(),
        PooledRecords::recycled(),
        Some(parent),
        now,
    );
    first_span(&segment, span_type, operation, now)
}

fn unsampled(
    tracer: Tracer,
    trace_id: TraceId,
    operation: &str,
    skip_analysis: bool,
    correlation: Correlation,
) -> Span {
    let trace = UnsampledTrace::new(
        tracer,
        trace_id,
        operation.to_owned(),
        skip_analysis,
        correlation,
    );
    Span {
        state: SpanState::Unsampled(trace, None),
    }
}

/// Records `peer` on the new exit span `span` and writes the headers that carry its context to
/// the callee into `headers`.
fn inject(span: &Span, peer: &str, headers: &mut impl Injector) {
    // Receivers reject a header with an empty address, so none is sent without a peer.
    if peer.is_empty() {
        return;
    }
    let outgoing = match &span.state {
        SpanState::Recording(recording) => recording.segment.call(recording.span_id, peer),
        SpanState::Unsampled(trace, _) => Some(trace.outgoing(peer)),
        // Not recorded because the segment is full: the call still carries the trace, naming
        // the current span as the caller.
        SpanState::Noop => stack::with_current(|position| match position {
            Some(Position::Span { segment, span_id }) => segment.outgoing(*span_id, Some(peer)),
            Some(Position::Unsampled(trace, _)) => Some(trace.outgoing(peer)),
            _ => None,
        }),
    };
    // The carrier is the user's code: it runs after every lock above is released.
    if let Some(outgoing) = outgoing {
        outgoing.write_to(headers);
    }
}
