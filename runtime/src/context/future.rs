//! Futures that carry trace context across `.await`: each poll enters the context and leaves it.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project::{pin_project, pinned_drop};

use crate::context::snapshot::{ContextSnapshot, capture};
use crate::context::stack::{Parked, poll_parked};
use crate::span::Span;
use crate::tracer::Tracer;

/// Trace context for futures.
///
/// ```
/// use rust2sky::FutureExt as _;
///
/// async fn load_cart() -> u32 {
///     // spans started here are children of "checkout"
///     3
/// }
///
/// # let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// # runtime.block_on(async {
/// let items = load_cart().in_span(rust2sky::local_span("checkout")).await;
/// assert_eq!(items, 3);
/// # });
/// ```
pub trait FutureExt: Future + Sized {
    /// Makes `span` current while this future is polled (and while it is dropped), and ends the
    /// span when the future completes. If the future is dropped before completing, the span ends
    /// then, with a `cancelled` log; if a poll panics, the span is marked as an error.
    ///
    /// ```
    /// use rust2sky::FutureExt as _;
    /// # let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    /// # runtime.block_on(async {
    /// async { /* work */ }.in_span(rust2sky::local_span("work")).await;
    /// # });
    /// ```
    fn in_span(self, span: Span) -> Instrumented<Self> {
        Instrumented::with_outcome(self, span, NoOutcome)
    }

    /// Captures the current context now, and enters it whenever this future is polled: spans the
    /// future starts continue the current trace in a new segment (a `CrossThread` reference),
    /// wherever the future runs. [`crate::spawn`] does this for you.
    ///
    /// ```
    /// use rust2sky::FutureExt as _;
    /// # let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    /// # runtime.block_on(async {
    /// let task = tokio::spawn(async { /* traced work */ }.in_current_context());
    /// task.await.unwrap();
    /// # });
    /// ```
    fn in_current_context(self) -> InContext<Self> {
        self.in_context(capture())
    }

    /// Enters `snapshot` whenever this future is polled.
    ///
    /// ```
    /// use rust2sky::FutureExt as _;
    /// # let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    /// # runtime.block_on(async {
    /// let snapshot = rust2sky::capture();
    /// async { /* traced work */ }.in_context(snapshot).await;
    /// # });
    /// ```
    fn in_context(self, snapshot: ContextSnapshot) -> InContext<Self> {
        InContext {
            inner: Some(self),
            snapshot,
            parked: Parked::default(),
        }
    }

    /// Makes `tracer` the one new traces use while this future is polled (see
    /// [`Tracer::in_scope`] for sync code).
    ///
    /// ```
    /// use rust2sky::{FutureExt as _, Tracer, config::Config, reporter::MemoryReporter};
    ///
    /// let reporter = MemoryReporter::new();
    /// let tracer = Tracer::new(Config::default(), reporter.clone());
    /// # let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    /// # runtime.block_on(async {
    /// async { drop(rust2sky::local_span("job")) }.with_tracer(&tracer).await;
    /// # });
    /// assert_eq!(reporter.segments().len(), 1);
    /// ```
    fn with_tracer(self, tracer: &Tracer) -> InContext<Self> {
        self.in_context(ContextSnapshot::of_tracer(tracer.clone()))
    }
}

impl<F: Future> FutureExt for F {}

/// A future with a span current while it runs. Made by [`FutureExt::in_span`].
///
/// `O` looks at the output before the span ends; the attribute macros use it to mark a returned
/// `Err` as an error.
///
/// ```
/// use rust2sky::future::{FutureExt as _, Instrumented};
///
/// async fn load_cart() -> u32 {
///     3
/// }
/// let future: Instrumented<_> = load_cart().in_span(rust2sky::local_span("load cart"));
/// # let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// assert_eq!(runtime.block_on(future), 3);
/// ```
#[pin_project(PinnedDrop)]
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub struct Instrumented<F, O = NoOutcome> {
    #[pin]
    inner: Option<F>,
    span: Option<Span>,
    on_ready: Option<O>,
    parked: Parked,
}

/// Looks at a future's output with its span, just before the span ends.
///
/// ```
/// use std::future::Future;
/// use rust2sky::future::{FutureExt as _, Instrumented, OnReady};
///
/// // Generic code over the futures rust2sky instruments names the bound.
/// async fn run<F: Future, O: OnReady<F::Output>>(future: Instrumented<F, O>) -> F::Output {
///     future.await
/// }
/// # let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// let answer = runtime.block_on(run(async { 42 }.in_span(rust2sky::local_span("answer"))));
/// assert_eq!(answer, 42);
/// ```
pub trait OnReady<T> {
    /// Called once, with the span and the output.
    fn on_ready(self, span: &mut Span, output: &T);
}

/// Does nothing with the output: what [`FutureExt::in_span`] uses.
///
/// ```
/// use rust2sky::Tracer;
/// use rust2sky::future::{FutureExt as _, Instrumented, NoOutcome};
/// use rust2sky::{config::Config, reporter::MemoryReporter};
///
/// let reporter = MemoryReporter::new();
/// let tracer = Tracer::new(Config::default(), reporter.clone());
/// let job: Instrumented<_, NoOutcome> = tracer
///     .in_scope(|| async { Err::<(), _>("failed") }.in_span(rust2sky::local_span("job")));
/// # let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// assert!(runtime.block_on(job).is_err());
/// // The output is not looked at: the span is not marked as failed.
/// assert!(!reporter.segments()[0].spans[0].is_error);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct NoOutcome;

impl<T> OnReady<T> for NoOutcome {
    fn on_ready(self, _span: &mut Span, _output: &T) {}
}

impl<T, F: FnOnce(&mut Span, &T)> OnReady<T> for F {
    fn on_ready(self, span: &mut Span, output: &T) {
        self(span, output);
    }
}

impl<F, O> Instrumented<F, O> {
    /// A future that makes `span` current while `inner` runs, and gives the output to `on_ready`
    /// before the span ends.
    pub(crate) fn with_outcome(inner: F, span: Span, on_ready: O) -> Self {
        Instrumented {
            inner: Some(inner),
            span: Some(span),
            on_ready: Some(on_ready),
            parked: Parked::default(),
        }
    }
}

impl<F: Future, O: OnReady<F::Output>> Future for Instrumented<F, O> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let mut this = self.project();
        let Some(inner) = this.inner.as_mut().as_pin_mut() else {
            // Polled after completion: that is the caller's bug, and futures may answer it with
            // anything but undefined behaviour; we stay pending rather than panic.
            return Poll::Pending;
        };
        let poll = {
            let _entered = this.span.as_ref().map(Span::enter);
            let mut panic_mark = PanicMark(this.span.as_mut());
            let poll = poll_parked(this.parked, || inner.poll(cx));
            panic_mark.0 = None;
            poll
        };
        if let Poll::Ready(output) = &poll {
            // The inner future is dropped inside the span, then the span ends: its end time is
            // the completion time.
            let _entered = this.span.as_ref().map(Span::enter);
            poll_parked(this.parked, || this.inner.set(None));
            drop(_entered);
            if let (Some(span), Some(on_ready)) = (this.span.as_mut(), this.on_ready.take()) {
                on_ready.on_ready(span, output);
            }
            drop(this.span.take());
        }
        poll
    }
}

#[pinned_drop]
impl<F, O> PinnedDrop for Instrumented<F, O> {
    fn drop(self: Pin<&mut Self>) {
        let mut this = self.project();
        let Some(mut span) = this.span.take() else {
            return;
        };
        if this.inner.is_some() {
            let _entered = span.enter();
            poll_parked(this.parked, || this.inner.set(None));
            drop(_entered);
            if !std::thread::panicking() {
                span.record_cancelled();
            }
        }
    }
}

/// Marks the span as failed if a panic unwinds through the poll it guards.
struct PanicMark<'a>(Option<&'a mut Span>);

impl Drop for PanicMark<'_> {
    fn drop(&mut self) {
        if let Some(span) = self.0.take()
            && std::thread::panicking()
        {
            span.record_panic();
        }
    }
}

/// A future that runs in a captured context. Made by [`FutureExt::in_current_context`],
/// [`FutureExt::in_context`] and [`FutureExt::with_tracer`].
///
/// ```
/// use rust2sky::future::{FutureExt as _, InContext};
/// use rust2sky::{Tracer, config::Config, reporter::MemoryReporter};
///
/// let reporter = MemoryReporter::new();
/// let tracer = Tracer::new(Config::default(), reporter.clone());
/// let job: InContext<_> = tracer.in_scope(|| {
///     let _request = rust2sky::local_span("request").entered();
///     async { drop(rust2sky::local_span("background job")) }.in_current_context()
/// });
/// # let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// runtime.block_on(job);
/// let segments = reporter.segments();
/// assert_eq!(segments[0].trace_id, segments[1].trace_id); // one trace, two segments
/// ```
#[pin_project(PinnedDrop)]
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub struct InContext<F> {
    #[pin]
    inner: Option<F>,
    snapshot: ContextSnapshot,
    parked: Parked,
}

impl<F: Future> Future for InContext<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let mut this = self.project();
        let Some(inner) = this.inner.as_mut().as_pin_mut() else {
            return Poll::Pending;
        };
        let _entered = this.snapshot.enter();
        let poll = poll_parked(this.parked, || inner.poll(cx));
        if poll.is_ready() {
            poll_parked(this.parked, || this.inner.set(None));
        }
        poll
    }
}

#[pinned_drop]
impl<F> PinnedDrop for InContext<F> {
    fn drop(self: Pin<&mut Self>) {
        let mut this = self.project();
        if this.inner.is_some() {
            let _entered = this.snapshot.enter();
            poll_parked(this.parked, || this.inner.set(None));
        }
    }
}

/// Spawns `future` on the current tokio runtime, continuing the current trace in it (as
/// [`FutureExt::in_current_context`]). Must be called from inside a tokio runtime, as
/// `tokio::spawn`.
///
/// ```
/// # let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// # runtime.block_on(async {
/// let handle = rust2sky::spawn(async { 40 + 2 });
/// assert_eq!(handle.await.unwrap(), 42);
/// # });
/// ```
pub fn spawn<F>(future: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    tokio::spawn(future.in_current_context())
}
