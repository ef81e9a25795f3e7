//! Spans: the [`Span`] handle on one traced operation, the [`EnteredSpan`] guard that makes it
//! current, and [`with_active_span`], which lends the current one. The functions that start
//! spans are the children's: [`entry_span`], [`local_span`] and [`exit_span`].

#[cfg(any(feature = "kafka", feature = "rdkafka"))]
mod batch;
mod entry;
mod exit;
mod start;

use std::fmt;
use std::sync::Arc;

use rust2sky_proto::v3::SpanLayer;

#[cfg(any(feature = "kafka", feature = "rdkafka"))]
pub(crate) use self::batch::batch_entry_span;
pub use self::entry::entry_span;
pub use self::exit::exit_span;
pub use self::start::local_span;
use crate::clock::now_ms;
use crate::context::stack::{self, Current, Position};
use crate::segment::{Change, RememberedPeer, Segment, UnsampledTrace};
use crate::tracer::Tracer;

/// One traced operation. It ends when dropped (or at [`Span::end`]).
///
/// A span is `Send`: it may start on one thread or task and end on another (the official agents'
/// "async span"). Starting a span does not make it current; [`Span::entered`] does, for sync code,
/// and [`crate::FutureExt::in_span`] does around each poll of a future. Spans started while
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
///     let mut request = rust2sky::entry_span("GET:/orders", &rust2sky::propagation::NoHeaders).entered();
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
    Unsampled(Arc<UnsampledTrace>, Option<RememberedPeer>),
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
    fn handle(segment: Arc<Segment>, span_id: i32, owned: bool) -> Span {
        Span {
            state: SpanState::Recording(Recording {
                segment,
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

    /// Whether this span does nothing at all: no recording and no trace to propagate.
    #[cfg_attr(not(feature = "tracing"), allow(dead_code))]
    pub(crate) fn is_noop(&self) -> bool {
        matches!(self.state, SpanState::Noop)
    }

    /// A handle on the same span that does not end it when dropped, to start children under it.
    #[cfg_attr(not(feature = "tracing"), allow(dead_code))]
    pub(crate) fn clone_handle(&self) -> Span {
        match &self.state {
            SpanState::Noop => Span::noop(),
            SpanState::Unsampled(trace, peer) => Span {
                state: SpanState::Unsampled(trace.clone(), peer.clone()),
            },
            SpanState::Recording(recording) => {
                Span::handle(recording.segment.clone(), recording.span_id, false)
            }
        }
    }

    /// The tracer whose segment records this span; `None` when it is not recorded.
    #[cfg_attr(
        not(any(feature = "tower", feature = "reqwest", feature = "tracing")),
        allow(dead_code)
    )]
    pub(crate) fn recording_tracer(&self) -> Option<&Tracer> {
        match &self.state {
            SpanState::Recording(recording) => Some(&recording.segment.tracer),
            _ => None,
        }
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
    /// let mut span = rust2sky::entry_span("GET", &rust2sky::propagation::NoHeaders);
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
    /// with the guard. For sync code; in async code use [`crate::FutureExt::in_span`].
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
        match &self.state {
            SpanState::Noop => stack::Entered::none(),
            SpanState::Unsampled(trace, peer) => {
                stack::enter(Position::Unsampled(trace.clone(), peer.clone()))
            }
            SpanState::Recording(recording) => {
                stack::enter_span(&recording.segment, recording.span_id)
            }
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
/// Where futures need not be `Send` (a current-thread runtime, `LocalSet`, `block_on`), holding
/// one across an `.await` compiles. Then:
/// - inside a future made by [`FutureExt::in_span`](crate::FutureExt::in_span), an
///   `async fn` with an `sw_*` attribute, or [`crate::spawn`]: the span stays with that future.
///   Between its polls it is not current, so other tasks on the thread do not see it;
/// - in any other future (an `async fn main` or a plain `tokio::spawn`ed block), it stays
///   current on the thread until dropped, and tasks that carry no context of their own and run
///   meanwhile see it as their parent. The server layers (`integrations::tower::EntryLayer`)
///   start each request from a clean context, so requests never become its children.
///
/// Prefer [`FutureExt::in_span`](crate::FutureExt::in_span) for a span around async work.
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
        Some(Current::Span { segment, span_id }) => {
            Some(Span::handle(segment.clone(), span_id, false))
        }
        _ => None,
    })?;
    Some(f(&mut span))
}
