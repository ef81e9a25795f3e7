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
use crate::segment::{Segment, UnsampledTrace};
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
    Unsampled(Arc<UnsampledTrace>, Option<Arc<str>>),
    /// At the start of a continuation on another thread or task: the next span opens a new
    /// segment that refers back to the captured one.
    Continuation(Arc<Snapshot>),
}

impl Position {
    /// The tracer that spans at this position report to.
    pub(crate) fn tracer(&self) -> &Tracer {
        match self {
            Position::Tracer(tracer) => tracer,
            Position::Span { segment, .. } => &segment.tracer,
            Position::Unsampled(trace, _) => &trace.tracer,
            Position::Continuation(snapshot) => snapshot.tracer(),
        }
    }
}

struct Stack {
    entries: RefCell<Vec<(u64, Position)>>,
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
pub(crate) fn with_current<R: Default>(f: impl FnOnce(Option<&Position>) -> R) -> R {
    STACK
        .try_with(|stack| match stack.entries.try_borrow() {
            Ok(entries) => f(entries.last().map(|(_, position)| position)),
            Err(_) => R::default(),
        })
        .unwrap_or_default()
}

/// Entries that a future's poll pushed and did not pop, kept with the future until its next poll.
#[derive(Default)]
pub(crate) struct Parked(Vec<(u64, Position)>);

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
                self.parked.0.extend(entries.drain(mark..));
            }
        });
    }
}

/// Makes `position` current until the guard is dropped.
pub(crate) fn enter(position: Position) -> Entered {
    let token = STACK.try_with(|stack| {
        let token = stack.next_token.get();
        let mut entries = stack.entries.try_borrow_mut().map_err(|_| Refused::Busy)?;
        if entries.len() >= MAX_DEPTH {
            return Err(Refused::TooDeep);
        }
        stack.next_token.set(token.wrapping_add(1));
        entries.push((token, position));
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
                entries.pop().map(|(_, position)| position)
            } else {
                Some(entries.remove(index).1)
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
