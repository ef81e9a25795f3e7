//! A bounded queue of what waits to be sent (segments, log records, meters...), with counters
//! that always add up: the request path puts items in, a transport's thread takes batches out.
//!
//! Hand-written rather than a channel crate's: a transport needs exact counts of what was
//! queued, in flight, sent, failed and dropped, read at one instant, and a flush that waits for
//! the items queued before it; channels count none of that.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex, MutexGuard};

use super::ReporterStats;
use crate::diagnostics::{self, Problem};

pub(crate) struct Lane<T> {
    state: Mutex<LaneState<T>>,
    /// Signalled whenever items leave the queue for good (sent or failed).
    finished: Condvar,
    /// Wakes the sender when the queue gets its first item.
    pub(crate) wake: tokio::sync::Notify,
    capacity: usize,
    /// What a drop is counted as, and the items' name for the log line.
    dropped: Problem,
    items: &'static str,
}

/// The queue and its counters, under one lock so that they always add up.
struct LaneState<T> {
    queue: VecDeque<T>,
    /// Taken by the sender and not sent or failed yet.
    in_flight: usize,
    accepted: u64,
    dropped_full: u64,
    sent: u64,
    failed: u64,
}

impl<T> Lane<T> {
    pub(crate) fn new(capacity: usize, dropped: Problem, items: &'static str) -> Self {
        Lane {
            state: Mutex::new(LaneState {
                queue: VecDeque::new(),
                in_flight: 0,
                accepted: 0,
                dropped_full: 0,
                sent: 0,
                failed: 0,
            }),
            finished: Condvar::new(),
            wake: tokio::sync::Notify::new(),
            capacity,
            dropped,
            items,
        }
    }

    fn lock(&self) -> MutexGuard<'_, LaneState<T>> {
        self.state.lock()
    }

    /// Queues `item`, or drops and counts it when the queue is full. Never waits.
    pub(crate) fn offer(&self, item: T) {
        let mut state = self.lock();
        if state.queue.len() + state.in_flight >= self.capacity {
            state.dropped_full += 1;
            drop(state);
            let why = format_args!(
                "the reporter's queue of {} {} is full",
                self.capacity, self.items
            );
            diagnostics::record(self.dropped, 1, &why);
            return;
        }
        state.queue.push_back(item);
        state.accepted += 1;
        let first = state.queue.len() == 1;
        drop(state);
        if first {
            self.wake.notify_one();
        }
    }

    pub(crate) fn has_queued(&self) -> bool {
        !self.lock().queue.is_empty()
    }

    /// Takes up to `max` items off the queue; they stay counted as queued until
    /// [`Lane::finish`].
    pub(crate) fn take_batch(&self, max: usize) -> Vec<T> {
        let mut state = self.lock();
        // Moving the items out happens after the lock is released: the callers that report
        // meanwhile wait for a pointer swap, not for a thousand records to be copied.
        let batch = if state.queue.len() <= max {
            std::mem::take(&mut state.queue)
        } else {
            let rest = state.queue.split_off(max);
            std::mem::replace(&mut state.queue, rest)
        };
        state.in_flight += batch.len();
        drop(state);
        Vec::from(batch)
    }

    /// Records the outcome of a batch taken with [`Lane::take_batch`].
    pub(crate) fn finish(&self, count: usize, sent: bool) {
        let mut state = self.lock();
        state.in_flight -= count;
        if sent {
            state.sent += count as u64;
        } else {
            state.failed += count as u64;
        }
        drop(state);
        self.finished.notify_all();
    }

    /// Counts everything still queued or in flight as failed: the background thread is gone.
    pub(crate) fn abandon_rest(&self) {
        let mut state = self.lock();
        let rest = state.queue.len() + state.in_flight;
        state.queue.clear();
        state.in_flight = 0;
        state.failed += rest as u64;
        drop(state);
        self.finished.notify_all();
    }

    /// The counters, read at one instant.
    pub(crate) fn stats(&self) -> ReporterStats {
        let state = self.lock();
        ReporterStats {
            produced: state.accepted + state.dropped_full,
            sent: state.sent,
            dropped_full: state.dropped_full,
            failed: state.failed,
            queued: (state.queue.len() + state.in_flight) as u64,
        }
    }

    /// Waits until every item queued before the call has been sent or has failed, at most until
    /// `deadline` (`None`: no deadline); returns whether that happened with no item failing
    /// meanwhile.
    pub(crate) fn flush(&self, deadline: Option<Instant>) -> bool {
        let mut state = self.lock();
        let target = state.accepted;
        let failed_before = state.failed;
        while state.sent + state.failed < target {
            let left = match deadline {
                Some(deadline) => deadline.saturating_duration_since(Instant::now()),
                None => Duration::from_secs(3600),
            };
            if left.is_zero() {
                return false;
            }
            self.finished.wait_for(&mut state, left);
        }
        state.failed == failed_before
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_add_up() {
        let lane = Lane::new(3, Problem::SegmentDropped, "segments");
        for item in ["a", "b", "c", "d", "e"] {
            lane.offer(item);
        }
        let stats = lane.stats();
        assert_eq!(
            (stats.produced, stats.queued, stats.dropped_full),
            (5, 3, 2)
        );

        let batch = lane.take_batch(2);
        assert_eq!(batch, ["a", "b"]);
        // Items in flight still take room in the queue.
        lane.offer("f");
        assert_eq!(lane.stats().dropped_full, 3);
        lane.finish(2, true);
        lane.offer("g");
        let stats = lane.stats();
        assert_eq!(
            (stats.produced, stats.sent, stats.queued, stats.dropped_full),
            (7, 2, 2, 3)
        );
        assert!(!lane.flush(Some(Instant::now() + Duration::from_millis(10))));

        let batch = lane.take_batch(10);
        assert_eq!(batch, ["c", "g"]);
        lane.finish(1, false);
        lane.finish(1, true);
        let stats = lane.stats();
        assert_eq!(stats.produced, 7);
        assert_eq!(
            stats.produced,
            stats.sent + stats.dropped_full + stats.failed + stats.queued
        );
        assert_eq!((stats.sent, stats.failed, stats.queued), (3, 1, 0));
        assert!(lane.flush(Some(Instant::now())));

        lane.offer("h");
        lane.abandon_rest();
        assert_eq!(lane.stats().failed, 2);
    }
}
