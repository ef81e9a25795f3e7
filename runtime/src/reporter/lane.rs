//! A bounded queue of what waits to be sent (segments, log records, meters...), with counters
//! that always add up: the request path puts items in, a transport's thread takes them out.
//!
//! Hand-written rather than a channel crate's: a transport needs exact counts of what was
//! queued, in flight, sent, failed and dropped, read at one instant, a bound in bytes as well as
//! in items, and a flush that waits for the items queued before it; channels count none of that.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex, MutexGuard};

use super::ReporterStats;
use super::doorbell::{Doorbell, Pace};
use crate::diagnostics::{self, Problem};

pub(crate) struct Lane<T> {
    state: Mutex<LaneState<T>>,
    /// Signalled whenever items leave the queue for good (sent or failed).
    finished: Condvar,
    /// Wakes the sender, when it sleeps, as an item comes.
    pub(crate) doorbell: Doorbell,
    capacity: usize,
    /// The most the queued items may weigh together, by `weigh`.
    max_bytes: usize,
    weigh: fn(&T) -> usize,
    /// What a drop is counted as, and the items' name for the log line.
    dropped: Problem,
    items: &'static str,
}

/// The queue and its counters, under one lock so that they always add up.
struct LaneState<T> {
    /// Each item with its weight, so that taking it off gives back exactly what it took.
    queue: VecDeque<(T, usize)>,
    queued_bytes: usize,
    /// Taken by the sender and not sent or failed yet.
    in_flight: usize,
    accepted: u64,
    dropped_full: u64,
    sent: u64,
    failed: u64,
    /// The sender is gone: nothing is queued any more, and flush has nothing to wait for.
    closed: bool,
}

impl<T> Lane<T> {
    /// A lane of at most `capacity` items weighing at most `max_bytes` together.
    pub(crate) fn new(
        capacity: usize,
        max_bytes: usize,
        weigh: fn(&T) -> usize,
        dropped: Problem,
        items: &'static str,
    ) -> Self {
        Lane {
            state: Mutex::new(LaneState {
                queue: VecDeque::new(),
                queued_bytes: 0,
                in_flight: 0,
                accepted: 0,
                dropped_full: 0,
                sent: 0,
                failed: 0,
                closed: false,
            }),
            finished: Condvar::new(),
            doorbell: Doorbell::default(),
            capacity,
            max_bytes,
            weigh,
            dropped,
            items,
        }
    }

    fn lock(&self) -> MutexGuard<'_, LaneState<T>> {
        self.state.lock()
    }

    /// Queues `item`, or drops and counts it when the queue is full, in items or in bytes.
    /// Never waits. Once the lane is closed, the item counts as failed at once.
    pub(crate) fn offer(&self, item: T) {
        let weight = (self.weigh)(&item);
        let mut state = self.lock();
        if state.closed {
            state.accepted += 1;
            state.failed += 1;
            drop(state);
            let why = format_args!("the reporter has stopped; no more {} are sent", self.items);
            diagnostics::record(self.dropped, 1, &why);
            return;
        }
        let full_items = state.queue.len() + state.in_flight >= self.capacity;
        let full_bytes = state.queued_bytes.saturating_add(weight) > self.max_bytes;
        if full_items || full_bytes {
            state.dropped_full += 1;
            drop(state);
            if full_items {
                let why = format_args!(
                    "the reporter's queue of {} {} is full",
                    self.capacity, self.items
                );
                diagnostics::record(self.dropped, 1, &why);
            } else {
                let why = format_args!(
                    "the reporter's queue of {} would hold more than its {} bytes",
                    self.items, self.max_bytes
                );
                diagnostics::record(self.dropped, 1, &why);
            }
            return;
        }
        state.queue.push_back((item, weight));
        state.queued_bytes += weight;
        state.accepted += 1;
        drop(state);
        self.doorbell.ring();
    }

    /// Returns once an item is queued, looking at the pace of [`Pace::SENDER`] for a while
    /// after `last_taken`, when the sender last took items.
    pub(crate) async fn wait_for_items(&self, last_taken: Option<Instant>) {
        Pace::SENDER
            .until([&self.doorbell], || self.has_queued(), last_taken)
            .await;
    }

    pub(crate) fn has_queued(&self) -> bool {
        !self.lock().queue.is_empty()
    }

    /// Takes the oldest item off the queue; it stays counted as queued until [`Lane::finish`].
    pub(crate) fn take_one(&self) -> Option<T> {
        let mut state = self.lock();
        let (item, weight) = state.queue.pop_front()?;
        state.queued_bytes -= weight;
        state.in_flight += 1;
        Some(item)
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
        let weight: usize = batch.iter().map(|(_, weight)| weight).sum();
        state.queued_bytes -= weight;
        state.in_flight += batch.len();
        drop(state);
        batch.into_iter().map(|(item, _)| item).collect()
    }

    /// Records the outcome of `count` items taken with [`Lane::take_one`] or
    /// [`Lane::take_batch`].
    pub(crate) fn finish(&self, count: usize, sent: bool) {
        if count == 0 {
            return;
        }
        let mut state = self.lock();
        // Saturating: after `abandon_rest` nothing is in flight any more.
        state.in_flight = state.in_flight.saturating_sub(count);
        if state.closed {
            // `abandon_rest` counted these already.
        } else if sent {
            state.sent += count as u64;
        } else {
            state.failed += count as u64;
        }
        drop(state);
        self.finished.notify_all();
    }

    /// Counts everything queued (not in flight) as failed, and returns how many that was: the
    /// collector cannot take these.
    pub(crate) fn fail_queued(&self) -> usize {
        let mut state = self.lock();
        let count = state.queue.len();
        state.queue.clear();
        state.queued_bytes = 0;
        state.failed += count as u64;
        drop(state);
        self.finished.notify_all();
        count
    }

    /// Counts everything still queued or in flight as failed, and every item offered from now
    /// on: the background thread is gone.
    pub(crate) fn abandon_rest(&self) {
        let mut state = self.lock();
        let rest = state.queue.len() + state.in_flight;
        state.queue.clear();
        state.queued_bytes = 0;
        state.in_flight = 0;
        state.failed += rest as u64;
        state.closed = true;
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
            queued_bytes: state.queued_bytes as u64,
            stopped: state.closed,
        }
    }

    /// Waits until every item queued before the call has been sent or has failed, at most until
    /// `deadline` (`None`: no deadline); returns whether that happened with no item failing
    /// meanwhile. Once the lane is closed, returns `false` at once.
    pub(crate) fn flush(&self, deadline: Option<Instant>) -> bool {
        let mut state = self.lock();
        if state.closed {
            return false;
        }
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
        let lane = Lane::new(3, usize::MAX, |_| 0, Problem::SegmentDropped, "segments");
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

    #[test]
    fn a_closed_lane_fails_what_comes_and_flush_says_so_at_once() {
        let lane = Lane::new(10, usize::MAX, |_| 0, Problem::SegmentDropped, "segments");
        lane.offer(1);
        let _in_flight = lane.take_one();
        lane.offer(2);
        lane.abandon_rest();
        lane.offer(3);
        let stats = lane.stats();
        assert!(stats.stopped);
        assert_eq!((stats.produced, stats.failed, stats.queued), (3, 3, 0));
        let started = Instant::now();
        assert!(!lane.flush(None));
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn the_queue_holds_at_most_its_bytes() {
        let lane = Lane::new(
            100,
            10,
            |item: &&str| item.len(),
            Problem::LogDropped,
            "logs",
        );
        for item in ["aaaa", "bbbb", "cccc", "d", "dd"] {
            lane.offer(item);
        }
        let stats = lane.stats();
        assert_eq!(
            (stats.queued, stats.queued_bytes, stats.dropped_full),
            (3, 9, 2)
        );
        // Taken items no longer weigh on the queue: their bytes went to the wire.
        assert_eq!(lane.take_one(), Some("aaaa"));
        lane.offer("eeee");
        assert_eq!(lane.stats().queued_bytes, 9);
        assert_eq!(lane.fail_queued(), 3);
        let stats = lane.stats();
        assert_eq!((stats.queued, stats.queued_bytes, stats.failed), (1, 0, 3));
    }
}
