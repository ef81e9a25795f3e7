//! Capturing the current context to continue it on another thread or task.

use std::fmt;
use std::sync::Arc;

use crate::context::stack::{self, Current, Position};
use crate::id::Id;
use crate::propagation::Correlation;
use crate::segment::TraceId;
use crate::tracer::Tracer;

/// What a continuation needs from the segment it continues.
pub(crate) struct Snapshot {
    pub(crate) tracer: Tracer,
    pub(crate) trace_id: TraceId,
    pub(crate) segment_id: Id,
    pub(crate) span_id: i32,
    pub(crate) endpoint: String,
    pub(crate) skip_analysis: bool,
    pub(crate) correlation: Correlation,
}

impl Snapshot {
    pub(crate) fn tracer(&self) -> &Tracer {
        &self.tracer
    }
}

/// The trace context at one point of the code, to continue on another thread or task.
///
/// Work continued from a snapshot is a new segment of the same trace, whose first span refers
/// back to the captured span with a `CrossThread` reference, as the official agents record it.
/// `Send`, `Sync` and cheap to clone; a snapshot of no context continues nothing.
///
/// ```
/// use rust2sky::{Tracer, config::Config, reporter::MemoryReporter};
///
/// let reporter = MemoryReporter::new();
/// let tracer = Tracer::new(Config::default(), reporter.clone());
/// tracer.in_scope(|| {
///     let _request = rust2sky::local_span("request").entered();
///     let snapshot = rust2sky::capture();
///     std::thread::spawn(move || {
///         snapshot.continue_in(|| {
///             let _work = rust2sky::local_span("background work").entered();
///         })
///     })
///     .join()
///     .unwrap();
/// });
/// let segments = reporter.segments();
/// assert_eq!(segments.len(), 2);
/// assert_eq!(segments[0].trace_id, segments[1].trace_id);
/// ```
#[derive(Clone, Default)]
pub struct ContextSnapshot {
    position: Option<Position>,
}

impl ContextSnapshot {
    /// Runs `f` in the captured context: spans it starts continue the captured trace.
    ///
    /// ```
    /// let snapshot = rust2sky::capture();
    /// assert_eq!(snapshot.continue_in(|| 1 + 1), 2);
    /// ```
    pub fn continue_in<R>(&self, f: impl FnOnce() -> R) -> R {
        let _entered = self.enter();
        f()
    }

    /// Whether the snapshot holds a context (a trace, or at least a tracer).
    ///
    /// ```
    /// assert!(rust2sky::capture().is_empty()); // no tracer, no trace
    /// ```
    pub fn is_empty(&self) -> bool {
        self.position.is_none()
    }

    pub(crate) fn of_tracer(tracer: Tracer) -> Self {
        ContextSnapshot {
            position: Some(Position::Tracer(tracer)),
        }
    }

    pub(crate) fn enter(&self) -> stack::Entered {
        match &self.position {
            Some(position) => stack::enter(position.clone()),
            None => stack::Entered::none(),
        }
    }
}

impl fmt::Debug for ContextSnapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.position {
            None => "empty",
            Some(Position::Tracer(_)) => "tracer",
            Some(Position::Span { .. } | Position::Continuation(_)) => "trace",
            Some(Position::Unsampled(..)) => "unsampled trace",
        };
        f.debug_struct("ContextSnapshot")
            .field("context", &kind)
            .finish()
    }
}

/// Captures the current context, to continue it elsewhere with [`ContextSnapshot::continue_in`],
/// [`crate::FutureExt::in_context`] or [`crate::spawn`].
///
/// ```
/// let snapshot = rust2sky::capture();
/// std::thread::spawn(move || snapshot.continue_in(|| { /* traced work */ })).join().unwrap();
/// ```
pub fn capture() -> ContextSnapshot {
    let position = stack::with_current(|position| {
        position.map(|position| match position {
            Current::Span { segment, span_id } => Position::Continuation(Arc::new(Snapshot {
                tracer: segment.tracer.clone(),
                trace_id: segment.trace_id.clone(),
                segment_id: segment.segment_id,
                span_id,
                endpoint: segment.endpoint(),
                skip_analysis: segment.skip_analysis,
                correlation: segment.correlation(),
            })),
            other => other.to_position(),
        })
    });
    ContextSnapshot { position }
}
