//! The thread-local stack of active contexts.
//!
//! Each thread keeps a small stack of [`Position`]s; the top one is "where the code is now" in the
//! trace. Sync code pushes with an [`Entered`] guard; futures push around each poll (see
//! [`super::future`]), so nothing lives here between polls and a task can move between worker
//! threads freely. A guard held across an `.await` (possible where futures need not be `Send`:
//! current-thread runtimes, `LocalSet`) would outlive its poll and be seen by every other task
//! polled on the thread; an instrumented future therefore parks what its poll left behind and
//! puts it back at its next poll ([`poll_parked`]).
//!
//! The stack cannot hurt the host: the `RefCell` is borrowed only for an instant and never while
//! user code or a `Drop` runs, guards dropped out of order remove their own entry, depth is bounded
//! (overflow is counted and the context is simply not entered), and a thread whose thread-locals
//! are already destroyed behaves as if no context were active.

use std::cell::{Cell, RefCell};
use std::marker::PhantomData;
use std::sync::Arc;

use crate::context::snapshot::Snapshot;
use crate::diagnostics::{self, Problem};
use crate::segment::{RememberedPeer, Segment, UnsampledTrace};
use crate::tracer::Tracer;

/// How deep contexts may nest on one thread before further entries are refused.
const MAX_DEPTH: usize = 1024;

/// Where the code is in a trace.
#[derive(Clone)]
pub(crate) enum Position {
    /// No trace yet, but new traces use this tracer.
    Tracer(Tracer),
    /// Inside a recorded span.
    Span { segment: Arc<Segment>, span_id: i32 },
    /// Inside a trace that is not recorded (not sampled, or ignored); `peer` is set for an exit
    /// span.
    Unsampled(Arc<UnsampledTrace>, Option<RememberedPeer>),
    /// At the start of a continuation on another thread or task: the next span opens a new
    /// segment that refers back to the captured one.
    Continuation(Arc<Snapshot>),
}

/// The current [`Position`], as [`with_current`] lends it.
#[derive(Clone, Copy)]
pub(crate) enum Current<'a> {
    Tracer(&'a Tracer),
    Span {
        segment: &'a Arc<Segment>,
        span_id: i32,
    },
    Unsampled(&'a Arc<UnsampledTrace>, &'a Option<RememberedPeer>),
    Continuation(&'a Arc<Snapshot>),
}

impl<'a> Current<'a> {
    fn of(position: &'a Position) -> Current<'a> {
        match position {
            Position::Tracer(tracer) => Current::Tracer(tracer),
            Position::Span { segment, span_id } => Current::Span {
                segment,
                span_id: *span_id,
            },
            Position::Unsampled(trace, peer) => Current::Unsampled(trace, peer),
            Position::Continuation(snapshot) => Current::Continuation(snapshot),
        }
    }

    /// The tracer that spans at this position report to.
    pub(crate) fn tracer(self) -> &'a Tracer {
        match self {
            Current::Tracer(tracer) => tracer,
            Current::Span { segment, .. } => &segment.tracer,
            Current::Unsampled(trace, _) => &trace.tracer,
            Current::Continuation(snapshot) => snapshot.tracer(),
        }
    }

    /// The position, to keep.
    pub(crate) fn to_position(self) -> Position {
        match self {
            Current::Tracer(tracer) => Position::Tracer(tracer.clone()),
            Current::Span { segment, span_id } => Position::Span {
                segment: segment.clone(),
                span_id,
            },
            Current::Unsampled(trace, peer) => Position::Unsampled(trace.clone(), peer.clone()),
            Current::Continuation(snapshot) => Position::Continuation(snapshot.clone()),
        }
    }
}

/// One entry of the stack.
enum Slot {
    Own(Position),
    /// A span of the segment that the nearest `Own` entry below holds, which is always a span's:
    /// entering a child span of the current one changes no reference count of their segment,
    /// which every other thread that holds one of its spans would have to wait for (the
    /// `EnteredSpan` keeps its own). An `Own` entry that leaves the stack hands its segment on
    /// to a `Nested` entry just above it (see [`Entered`]'s drop), and a future parks entries
    /// only from an `Own` one (see [`ParkOnExit`]).
    Nested(i32),
}

type Entries = Vec<(u64, Slot)>;

/// The position at the top of `entries`.
fn top(entries: &[(u64, Slot)]) -> Option<Current<'_>> {
    match &entries.last()?.1 {
        Slot::Own(position) => Some(Current::of(position)),
        Slot::Nested(span_id) => Some(Current::Span {
            segment: holder(entries)?,
            span_id: *span_id,
        }),
    }
}

/// The segment that `Nested` entries at the top of `entries` are spans of.
fn holder(entries: &[(u64, Slot)]) -> Option<&Arc<Segment>> {
    let own = entries.iter().rev().find_map(|(_, slot)| match slot {
        Slot::Own(position) => Some(position),
        Slot::Nested(_) => None,
    });
    match own {
        Some(Position::Span { segment, .. }) => Some(segment),
        _ => None,
    }
}

struct Stack {
    entries: RefCell<Entries>,
    next_token: Cell<u64>,
}

thread_local! {
    static STACK: Stack = const {
        Stack { entries: RefCell::new(Vec::new()), next_token: Cell::new(1) }
    };
}

/// Runs `f` with the current position. `f` must not run user code or enter contexts: the stack is
/// borrowed while it runs.
///
/// When the thread's stack is gone (the thread is exiting) or busy, `f` does not run and the result
/// is `R::default()`: a noop span, no context.
pub(crate) fn with_current<R: Default>(f: impl FnOnce(Option<Current<'_>>) -> R) -> R {
    STACK
        .try_with(|stack| match stack.entries.try_borrow() {
            Ok(entries) => f(top(&entries)),
            Err(_) => R::default(),
        })
        .unwrap_or_default()
}

/// Entries that a future's poll pushed and did not pop, kept with the future until its next poll.
#[derive(Default)]
pub(crate) struct Parked(Entries);

impl std::fmt::Debug for Parked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Parked")
            .field("entries", &self.0.len())
            .finish()
    }
}

/// Runs `poll` with the entries `parked` holds back on the stack, then parks again whatever the
/// poll left above where it started, so that the thread's stack is as `poll` found it, even when
/// `poll` panics.
pub(crate) fn poll_parked<R>(parked: &mut Parked, poll: impl FnOnce() -> R) -> R {
    let mark = STACK
        .try_with(|stack| {
            let mut entries = stack.entries.try_borrow_mut().ok()?;
            let mark = entries.len();
            entries.append(&mut parked.0);
            Some(mark)
        })
        .ok()
        .flatten();
    let _park = ParkOnExit { parked, mark };
    poll()
}

struct ParkOnExit<'a> {
    parked: &'a mut Parked,
    /// The stack's depth when the poll started; `None` when the stack could not be read.
    mark: Option<usize>,
}

impl Drop for ParkOnExit<'_> {
    fn drop(&mut self) {
        let Some(mark) = self.mark else {
            return;
        };
        let _ = STACK.try_with(|stack| {
            if let Ok(mut entries) = stack.entries.try_borrow_mut()
                && entries.len() > mark
            {
                // The parked entries must not depend on the ones they leave behind.
                if let Slot::Nested(span_id) = entries[mark].1
                    && let Some(segment) = holder(&entries[..mark]).cloned()
                {
                    entries[mark].1 = Slot::Own(Position::Span { segment, span_id });
                }
                self.parked.0.extend(entries.drain(mark..));
            }
        });
    }
}

/// Makes `position` current until the guard is dropped.
pub(crate) fn enter(position: Position) -> Entered {
    push(|_| Slot::Own(position))
}

/// Makes span `span_id` of `segment` current until the guard is dropped.
pub(crate) fn enter_span(segment: &Arc<Segment>, span_id: i32) -> Entered {
    push(|entries| match top(entries) {
        Some(Current::Span {
            segment: current, ..
        }) if Arc::ptr_eq(current, segment) => Slot::Nested(span_id),
        _ => Slot::Own(Position::Span {
            segment: segment.clone(),
            span_id,
        }),
    })
}

/// Pushes the entry that `slot` makes from the entries below it.
fn push(slot: impl FnOnce(&[(u64, Slot)]) -> Slot) -> Entered {
    let token = STACK.try_with(|stack| {
        let token = stack.next_token.get();
        let mut entries = stack.entries.try_borrow_mut().map_err(|_| Refused::Busy)?;
        if entries.len() >= MAX_DEPTH {
            return Err(Refused::TooDeep);
        }
        stack.next_token.set(token.wrapping_add(1));
        let slot = slot(&entries);
        entries.push((token, slot));
        Ok(token)
    });
    let refused = match token {
        Ok(Ok(token)) => return Entered::new(token),
        Ok(Err(refused)) => refused,
        Err(_) => Refused::Destroyed,
    };
    match refused {
        Refused::TooDeep => diagnostics::record(
            Problem::ContextOverflow,
            1,
            &format_args!("the limit is {MAX_DEPTH} levels"),
        ),
        Refused::Busy => diagnostics::record(
            Problem::ContextUnavailable,
            1,
            &format_args!("it was being changed"),
        ),
        Refused::Destroyed => diagnostics::count_quietly(Problem::ContextUnavailable, 1),
    }
    Entered::new(0)
}

/// Why [`enter`] could not push.
enum Refused {
    TooDeep,
    Busy,
    Destroyed,
}

/// Keeps a position current on this thread; dropping it restores the previous one.
///
/// `!Send`: a context entered on one thread must be left on that thread.
pub(crate) struct Entered {
    token: u64,
    _not_send: PhantomData<*const ()>,
}

impl Entered {
    fn new(token: u64) -> Self {
        Entered {
            token,
            _not_send: PhantomData,
        }
    }

    /// A guard that enters nothing, for spans that are not recorded.
    pub(crate) fn none() -> Self {
        Entered::new(0)
    }
}

impl Drop for Entered {
    fn drop(&mut self) {
        if self.token == 0 {
            return;
        }
        let token = self.token;
        // The removed position is dropped only after the borrow ends: dropping it may drop the
        // last reference to a segment.
        let removed = STACK.try_with(|stack| {
            let mut entries = stack.entries.try_borrow_mut().ok()?;
            let index = entries.iter().rposition(|(t, _)| *t == token)?;
            // Guards are almost always dropped in order, so the entry is almost always the top.
            if index + 1 == entries.len() {
                return entries.pop().map(|(_, slot)| slot);
            }
            let (_, removed) = entries.remove(index);
            // Dropped out of order: the entry above may be nested on this one's segment.
            let above = &mut entries[index].1;
            let nested = match above {
                Slot::Nested(span_id) => Some(*span_id),
                Slot::Own(_) => None,
            };
            match (removed, nested) {
                (Slot::Own(Position::Span { segment, .. }), Some(span_id)) => {
                    *above = Slot::Own(Position::Span { segment, span_id });
                    None
                }
                (removed, _) => Some(removed),
            }
        });
        drop(removed);
    }
}

impl std::fmt::Debug for Entered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entered").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::reporter::MemoryReporter;

    /// How many references the current span's segment has; 0 outside a span.
    fn segment_references() -> usize {
        with_current(|current| match current {
            Some(Current::Span { segment, .. }) => Arc::strong_count(segment),
            _ => 0,
        })
    }

    #[test]
    fn entering_a_child_of_the_current_span_counts_no_reference_to_their_segment() {
        let tracer = Tracer::new(Config::default(), MemoryReporter::new());
        tracer.in_scope(|| {
            // The parent span's reference, and its entry's.
            let _parent = crate::local_span("parent").entered();
            assert_eq!(segment_references(), 2);
            // The child span's own; its entry adds none.
            let _child = crate::local_span("child").entered();
            assert_eq!(segment_references(), 3);
            assert_eq!(crate::active_ids().map(|ids| ids.span_id), Some(1));

            // A span of another trace is entered with a reference of its own.
            let other = Tracer::new(Config::default(), MemoryReporter::new())
                .in_scope(|| crate::local_span("other"));
            let _other = other.entered();
            assert_eq!(segment_references(), 2);
            assert_eq!(crate::active_ids().map(|ids| ids.span_id), Some(0));
        });
    }
}
