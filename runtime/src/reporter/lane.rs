//! A bounded queue of what waits to be sent (segments, log records, meters...), with counters
//! that always add up: the request path puts items in, a transport's thread takes them out.
//!
//! Hand-written rather than a channel crate's: a transport needs exact counts of what was
//! queued, in flight, sent, failed and dropped, read at one instant, a bound in bytes as well as
//! in items, and a flush that waits for the items queued before it; channels count none of that.
//!
//! A lane is striped: each thread that reports queues into a stripe of its own, as far as there
//! are stripes (one a core), so that threads reporting at once do not take the same lock and
//! write the same cache lines on every request (`report/handoff/2_thread` in BENCHMARKS.md). The
//! bounds stay exact: each stripe has a share of the lane's room, in items and in bytes, and a
//! stripe whose share is used up takes unused share from the others, all stripes locked, before
//! it drops anything. What one thread queues is taken in the order it came.

use std::cell::Cell;
use std::collections::VecDeque;
use std::num::NonZero;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crossbeam_utils::CachePadded;
use parking_lot::{Condvar, Mutex, MutexGuard};

use super::ReporterStats;
use super::doorbell::{Doorbell, Pace};
use crate::diagnostics::{self, Problem};

/// The most stripes a lane has: beyond this many cores, threads share stripes, and what the
/// sender reads each look (every stripe) stays small.
const MAX_STRIPES: usize = 32;

/// How many items the sender takes from one stripe in a row before it looks at the next: a
/// thread that reports without pause does not keep the others' items waiting.
const STREAK: usize = 64;

/// How many items' room an emptied stripe keeps at least (see [`Lane::spare_room`]).
const SPARE_ROOM: usize = 1024;

/// Gives each thread that reports the stripe it queues into.
static NEXT_THREAD: AtomicUsize = AtomicUsize::new(0);

/// What [`THREAD`] holds until the thread first reports.
const UNNUMBERED: usize = usize::MAX;

thread_local! {
    /// This thread's number among those that have reported, which picks its stripe. A `const`
    /// cell with no destructor: reading it is one load, with nothing to initialize or register.
    static THREAD: Cell<usize> = const { Cell::new(UNNUMBERED) };
}

/// One stripe a core, as a power of two, at most [`MAX_STRIPES`]: for a lane that request
/// threads report into.
pub(crate) fn stripes_per_core() -> usize {
    std::thread::available_parallelism()
        .map_or(1, NonZero::get)
        .min(MAX_STRIPES)
        .next_power_of_two()
}

pub(crate) struct Lane<T> {
    /// A power of two of them.
    stripes: Box<[CachePadded<Mutex<Stripe<T>>>]>,
    /// How many stripes there are, less one: a thread's number masked with it is its stripe.
    mask: usize,
    /// How many items' room a stripe emptied by the sender keeps: its first share of the
    /// capacity, or [`SPARE_ROOM`] if more. After a backlog (a collector away for a while) each
    /// stripe that held much of it would otherwise keep that room for good, up to the whole
    /// lane's in every stripe; keeping less would make a busy thread's stripe grow again, a copy
    /// of the queue at a time, on the request path, after every look of the sender.
    spare_room: usize,
    /// Lock order: `taken` before a stripe, never the other way round.
    taken: Mutex<Taken>,
    /// How many times items have left the lane for good (sent or failed), signalled by
    /// `finished`: what a flush waits on.
    finishes: Mutex<u64>,
    finished: Condvar,
    /// Wakes the sender, when it sleeps, as an item comes.
    pub(crate) doorbell: Doorbell,
    /// Set, with every stripe locked, when the whole lane was found full in items; cleared when
    /// items leave. While it is set, an offer whose stripe has no share left is dropped without
    /// locking every stripe: with the collector away, each request pays one lock, as with a
    /// lane of one stripe, not one a stripe.
    full_of_items: AtomicBool,
    capacity: usize,
    /// The most the queued items may weigh together, by `weigh`.
    max_bytes: usize,
    weigh: fn(&T) -> usize,
    /// What a drop is counted as, and the items' name for the log line.
    dropped: Problem,
    items: &'static str,
}

/// One stripe's queue and counters, under one lock so that they always add up; the lane's
/// counters are the sums of its stripes'.
struct Stripe<T> {
    /// Each item with its weight, so that taking it off gives back exactly what it took.
    queue: VecDeque<(T, usize)>,
    queued_bytes: usize,
    /// Taken from this stripe by the sender and not sent or failed yet.
    in_flight: usize,
    /// This stripe's share of the lane's room: items queued or in flight, and bytes queued. The
    /// shares of all stripes add up to the lane's bounds, and each holds at most its share.
    share_items: usize,
    share_bytes: usize,
    accepted: u64,
    dropped_full: u64,
    sent: u64,
    failed: u64,
    /// The sender is gone: nothing is queued any more, and flush has nothing to wait for.
    closed: bool,
}

impl<T> Stripe<T> {
    fn used_items(&self) -> usize {
        self.queue.len() + self.in_flight
    }

    fn has_room_for(&self, weight: usize) -> bool {
        self.used_items() < self.share_items
            && self.queued_bytes.saturating_add(weight) <= self.share_bytes
    }
}

/// The sender's side: which stripes the items in flight came from.
#[derive(Default)]
struct Taken {
    /// Runs of items taken from one stripe, oldest first: [`Lane::finish`] gives their room back
    /// to the stripes in this order.
    runs: VecDeque<(usize, usize)>,
    /// The stripe to take from next, and how many were taken from it in a row.
    next: usize,
    streak: usize,
}

impl Taken {
    fn record(&mut self, stripe: usize, count: usize) {
        match self.runs.back_mut() {
            Some((last, run)) if *last == stripe => *run += count,
            _ => self.runs.push_back((stripe, count)),
        }
    }
}

/// Why an offer found no room.
enum Full {
    Items,
    Bytes,
}

impl<T> Lane<T> {
    /// A lane of at most `capacity` items weighing at most `max_bytes` together, in `stripes`
    /// stripes (rounded up to a power of two): [`stripes_per_core`] for items request threads
    /// report, one for those the reporter's own threads make.
    pub(crate) fn new(
        capacity: usize,
        max_bytes: usize,
        stripes: usize,
        weigh: fn(&T) -> usize,
        dropped: Problem,
        items: &'static str,
    ) -> Self {
        let count = stripes.clamp(1, MAX_STRIPES).next_power_of_two();
        // The first stripes take what does not divide evenly.
        let share = |total: usize, index: usize| total / count + usize::from(index < total % count);
        let stripes = (0..count)
            .map(|index| {
                CachePadded::new(Mutex::new(Stripe {
                    queue: VecDeque::new(),
                    queued_bytes: 0,
                    in_flight: 0,
                    share_items: share(capacity, index),
                    share_bytes: share(max_bytes, index),
                    accepted: 0,
                    dropped_full: 0,
                    sent: 0,
                    failed: 0,
                    closed: false,
                }))
            })
            .collect();
        Lane {
            stripes,
            mask: count - 1,
            spare_room: (capacity / count).max(SPARE_ROOM),
            taken: Mutex::default(),
            finishes: Mutex::new(0),
            finished: Condvar::new(),
            doorbell: Doorbell::default(),
            full_of_items: AtomicBool::new(false),
            capacity,
            max_bytes,
            weigh,
            dropped,
            items,
        }
    }

    /// The stripe the calling thread queues into.
    fn home_stripe(&self) -> usize {
        let thread = THREAD.try_with(|thread| match thread.get() {
            UNNUMBERED => {
                let number = NEXT_THREAD.fetch_add(1, Ordering::Relaxed) & (MAX_STRIPES - 1);
                thread.set(number);
                number
            }
            number => number,
        });
        thread.unwrap_or(0) & self.mask
    }

    fn lock_all(&self) -> Vec<MutexGuard<'_, Stripe<T>>> {
        self.stripes.iter().map(|stripe| stripe.lock()).collect()
    }

    /// Queues `item`, or drops and counts it when the lane is full, in items or in bytes.
    /// Never waits for the sender. Once the lane is closed, the item counts as failed at once.
    pub(crate) fn offer(&self, item: T) {
        self.offer_into(self.home_stripe(), item);
    }

    // Inlined: a segment is large enough that moving it into another call costs a copy.
    #[inline(always)]
    fn offer_into(&self, home: usize, item: T) {
        let weight = (self.weigh)(&item);
        let mut stripe = self.stripes[home].lock();
        // The lock is let go before ringing and logging, and before a dropped item is freed
        // (its records go back to the pool then): those happen after each branch.
        let queued = if stripe.closed {
            stripe.accepted += 1;
            stripe.failed += 1;
            drop(stripe);
            Err(None)
        } else if stripe.has_room_for(weight) {
            stripe.queue.push_back((item, weight));
            stripe.queued_bytes += weight;
            stripe.accepted += 1;
            drop(stripe);
            Ok(())
        } else if self.full_of_items.load(Ordering::SeqCst) {
            stripe.dropped_full += 1;
            drop(stripe);
            Err(Some(Full::Items))
        } else {
            drop(stripe);
            self.offer_with_more_share(home, item, weight)
        };
        match queued {
            Ok(()) => self.doorbell.ring(),
            Err(None) => {
                let why = format_args!("the reporter has stopped; no more {} are sent", self.items);
                diagnostics::record(self.dropped, 1, &why);
            }
            Err(Some(Full::Items)) => {
                let why = format_args!(
                    "the reporter's queue of {} {} is full",
                    self.capacity, self.items
                );
                diagnostics::record(self.dropped, 1, &why);
            }
            Err(Some(Full::Bytes)) => {
                let why = format_args!(
                    "the reporter's queue of {} would hold more than its {} bytes",
                    self.items, self.max_bytes
                );
                diagnostics::record(self.dropped, 1, &why);
            }
        }
    }

    /// Queues `item` into stripe `home`, whose share is used up, after moving to it share the
    /// other stripes do not use; or counts it dropped (`Some`) when the whole lane is full, or
    /// failed (`None`) when it is closed.
    #[cold]
    fn offer_with_more_share(
        &self,
        home: usize,
        item: T,
        weight: usize,
    ) -> Result<(), Option<Full>> {
        // `item`, a parameter, is dropped after `stripes`: a dropped item is freed unlocked.
        let mut stripes = self.lock_all();
        if stripes[home].closed {
            stripes[home].accepted += 1;
            stripes[home].failed += 1;
            return Err(None);
        }
        let used_items: usize = stripes.iter().map(|stripe| stripe.used_items()).sum();
        let used_bytes: usize = stripes.iter().map(|stripe| stripe.queued_bytes).sum();
        let full = if used_items >= self.capacity {
            // Under every stripe's lock: a finish that gives room back clears it after this.
            self.full_of_items.store(true, Ordering::SeqCst);
            Some(Full::Items)
        } else if used_bytes.saturating_add(weight) > self.max_bytes {
            Some(Full::Bytes)
        } else {
            None
        };
        if let Some(full) = full {
            stripes[home].dropped_full += 1;
            return Err(Some(full));
        }
        let mut needed_items =
            (stripes[home].used_items() + 1).saturating_sub(stripes[home].share_items);
        let mut needed_bytes = (stripes[home].queued_bytes.saturating_add(weight))
            .saturating_sub(stripes[home].share_bytes);
        for other in (0..stripes.len()).filter(|&other| other != home) {
            if needed_items == 0 && needed_bytes == 0 {
                break;
            }
            // Half of what the other stripe does not use, or what is needed if that is more:
            // the next offers from this thread then find room without locking every stripe.
            let free_items = stripes[other]
                .share_items
                .saturating_sub(stripes[other].used_items());
            let moved_items = needed_items.max(free_items / 2).min(free_items);
            let free_bytes = stripes[other]
                .share_bytes
                .saturating_sub(stripes[other].queued_bytes);
            let moved_bytes = needed_bytes.max(free_bytes / 2).min(free_bytes);
            stripes[other].share_items -= moved_items;
            stripes[other].share_bytes -= moved_bytes;
            stripes[home].share_items += moved_items;
            stripes[home].share_bytes += moved_bytes;
            needed_items = needed_items.saturating_sub(moved_items);
            needed_bytes = needed_bytes.saturating_sub(moved_bytes);
        }
        let stripe = &mut stripes[home];
        stripe.queue.push_back((item, weight));
        stripe.queued_bytes += weight;
        stripe.accepted += 1;
        Ok(())
    }

    /// Returns once an item is queued, looking at the pace of [`Pace::SENDER`] for a while
    /// after `last_taken`, when the sender last took items.
    pub(crate) async fn wait_for_items(&self, last_taken: Option<Instant>) {
        Pace::SENDER
            .until([&self.doorbell], || self.has_queued(), last_taken)
            .await;
    }

    pub(crate) fn has_queued(&self) -> bool {
        self.stripes
            .iter()
            .any(|stripe| !stripe.lock().queue.is_empty())
    }

    /// Takes the oldest item of a stripe off the queue, taking from one stripe after another;
    /// it stays counted as queued until [`Lane::finish`].
    pub(crate) fn take_one(&self) -> Option<T> {
        let mut taken = self.taken.lock();
        let mask = self.mask;
        for step in 0..self.stripes.len() {
            let index = (taken.next + step) & mask;
            let mut stripe = self.stripes[index].lock();
            let Some((item, weight)) = stripe.queue.pop_front() else {
                continue;
            };
            stripe.queued_bytes -= weight;
            stripe.in_flight += 1;
            // Only when it holds twice that: a queue grows by doubling.
            if stripe.queue.is_empty() && stripe.queue.capacity() > 2 * self.spare_room {
                stripe.queue.shrink_to(self.spare_room);
            }
            drop(stripe);
            taken.record(index, 1);
            taken.streak = if step == 0 { taken.streak + 1 } else { 1 };
            taken.next = index;
            if taken.streak >= STREAK {
                taken.next = (index + 1) & mask;
                taken.streak = 0;
            }
            return Some(item);
        }
        None
    }

    /// Takes up to `max` items off the queue, one stripe after another; they stay counted as
    /// queued until [`Lane::finish`].
    pub(crate) fn take_batch(&self, max: usize) -> Vec<T> {
        let mut taken = self.taken.lock();
        let mask = self.mask;
        let start = taken.next;
        let mut batches = Vec::new();
        let mut left = max;
        for step in 0..self.stripes.len() {
            if left == 0 {
                break;
            }
            let index = (start + step) & mask;
            let mut stripe = self.stripes[index].lock();
            // Moving the items out happens after the lock is released: the callers that report
            // meanwhile wait for a pointer swap, not for a thousand records to be copied.
            let batch = if stripe.queue.len() <= left {
                std::mem::take(&mut stripe.queue)
            } else {
                let rest = stripe.queue.split_off(left);
                std::mem::replace(&mut stripe.queue, rest)
            };
            if batch.is_empty() {
                continue;
            }
            let weight: usize = batch.iter().map(|(_, weight)| weight).sum();
            stripe.queued_bytes -= weight;
            stripe.in_flight += batch.len();
            drop(stripe);
            taken.record(index, batch.len());
            left -= batch.len();
            batches.push(batch);
        }
        taken.next = (start + 1) & mask;
        taken.streak = 0;
        drop(taken);
        batches
            .into_iter()
            .flatten()
            .map(|(item, _)| item)
            .collect()
    }

    /// Records the outcome of `count` items taken with [`Lane::take_one`] or
    /// [`Lane::take_batch`]. The room they took goes back to the stripes in the order the items
    /// were taken: a sender that finishes them in another order (Kafka's, a request per
    /// partition) gives it back to other stripes for a while, and all of it once every item
    /// taken is finished.
    pub(crate) fn finish(&self, count: usize, sent: bool) {
        if count == 0 {
            return;
        }
        let mut taken = self.taken.lock();
        let mut left = count;
        // After `abandon_rest` nothing is in flight any more, and no run is left.
        while left > 0
            && let Some((index, run)) = taken.runs.front_mut()
        {
            let finished = left.min(*run);
            let index = *index;
            *run -= finished;
            if *run == 0 {
                taken.runs.pop_front();
            }
            left -= finished;
            let mut stripe = self.stripes[index].lock();
            // Saturating, and not counted: `abandon_rest` may have counted these already.
            stripe.in_flight = stripe.in_flight.saturating_sub(finished);
            if stripe.closed {
            } else if sent {
                stripe.sent += finished as u64;
            } else {
                stripe.failed += finished as u64;
            }
        }
        drop(taken);
        self.signal_finished();
    }

    /// Called once items have left the lane: they leave room behind.
    fn signal_finished(&self) {
        self.full_of_items.store(false, Ordering::SeqCst);
        *self.finishes.lock() += 1;
        self.finished.notify_all();
    }

    /// Counts everything queued (not in flight) as failed, and returns how many that was: the
    /// collector cannot take these.
    pub(crate) fn fail_queued(&self) -> usize {
        let mut count = 0;
        for stripe in self.stripes.iter() {
            let failed = {
                let mut stripe = stripe.lock();
                let failed = std::mem::take(&mut stripe.queue);
                stripe.queued_bytes = 0;
                stripe.failed += failed.len() as u64;
                failed
            };
            count += failed.len();
            // Freed with the lock let go: a queue of thousands of segments takes milliseconds to
            // free, which request threads offering to this stripe would otherwise wait out.
            drop(failed);
        }
        self.signal_finished();
        count
    }

    /// Counts everything still queued or in flight as failed, and every item offered from now
    /// on: the background thread is gone.
    pub(crate) fn abandon_rest(&self) {
        let abandoned: Vec<VecDeque<(T, usize)>> = self
            .lock_all()
            .iter_mut()
            .map(|stripe| {
                stripe.failed += stripe.used_items() as u64;
                stripe.queued_bytes = 0;
                stripe.in_flight = 0;
                stripe.closed = true;
                std::mem::take(&mut stripe.queue)
            })
            .collect();
        self.taken.lock().runs.clear();
        self.signal_finished();
        // Freed with the locks let go, as in `fail_queued`.
        drop(abandoned);
    }

    /// The counters, read at one instant.
    pub(crate) fn stats(&self) -> ReporterStats {
        let stripes = self.lock_all();
        let sum = |count: fn(&Stripe<T>) -> u64| stripes.iter().map(|stripe| count(stripe)).sum();
        let (accepted, dropped_full) = (sum(|s| s.accepted), sum(|s| s.dropped_full));
        ReporterStats {
            produced: accepted + dropped_full,
            sent: sum(|s| s.sent),
            dropped_full,
            failed: sum(|s| s.failed),
            queued: sum(|s| s.used_items() as u64),
            queued_bytes: sum(|s| s.queued_bytes as u64),
            stopped: stripes[0].closed,
        }
    }

    /// Waits until every item queued before the call has been sent or has failed, at most until
    /// `deadline` (`None`: no deadline); returns whether that happened with no item failing
    /// meanwhile. Once the lane is closed, returns `false` at once.
    pub(crate) fn flush(&self, deadline: Option<Instant>) -> bool {
        let before = self.stats();
        if before.stopped {
            return false;
        }
        let target = before.produced - before.dropped_full;
        loop {
            // Read before the counts: a finish after them changes it, and the wait sees that.
            let finishes = *self.finishes.lock();
            let now = self.stats();
            if now.sent + now.failed >= target {
                return now.failed == before.failed;
            }
            let left = match deadline {
                Some(deadline) => deadline.saturating_duration_since(Instant::now()),
                None => Duration::from_secs(3600),
            };
            if left.is_zero() {
                return false;
            }
            let mut seen = self.finishes.lock();
            if *seen == finishes {
                self.finished.wait_for(&mut seen, left);
            }
        }
    }
}
#[cfg(test)]
mod tests {
    use std::sync::OnceLock;
    use std::sync::atomic::AtomicUsize;

    use super::*;

    /// An item that, when freed, notes whether a stripe of [`PROBED`] was locked at that moment.
    struct Probe;

    static PROBED: OnceLock<Lane<Probe>> = OnceLock::new();
    static PROBES_FREED: AtomicUsize = AtomicUsize::new(0);
    static PROBES_FREED_UNDER_A_LOCK: AtomicUsize = AtomicUsize::new(0);

    impl Drop for Probe {
        fn drop(&mut self) {
            let Some(lane) = PROBED.get() else { return };
            if lane
                .stripes
                .iter()
                .any(|stripe| stripe.try_lock().is_none())
            {
                PROBES_FREED_UNDER_A_LOCK.fetch_add(1, Ordering::SeqCst);
            }
            PROBES_FREED.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn failed_and_abandoned_items_are_freed_with_no_stripe_locked() {
        let lane = PROBED.get_or_init(|| {
            Lane::new(
                64,
                usize::MAX,
                4,
                |_| 0,
                Problem::SegmentDropped,
                "segments",
            )
        });
        for _ in 0..10 {
            lane.offer(Probe);
        }
        assert_eq!(lane.fail_queued(), 10);
        for _ in 0..5 {
            lane.offer(Probe);
        }
        lane.abandon_rest();
        // Offered to a closed lane: failed at once.
        lane.offer(Probe);
        assert_eq!(lane.stats().failed, 16);
        assert_eq!(PROBES_FREED.load(Ordering::SeqCst), 16);
        assert_eq!(PROBES_FREED_UNDER_A_LOCK.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn counters_add_up() {
        let lane = Lane::new(3, usize::MAX, 1, |_| 0, Problem::SegmentDropped, "segments");
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
    fn one_thread_may_fill_the_whole_lane_and_its_items_come_in_order() {
        // Four stripes with a share of 2 items and 25 bytes each.
        let lane = Lane::new(
            8,
            100,
            4,
            |item: &usize| *item,
            Problem::SegmentDropped,
            "segments",
        );
        for item in [40, 40, 40, 1, 1, 1, 1, 1, 1, 1] {
            lane.offer(item);
        }
        let stats = lane.stats();
        assert_eq!(
            (
                stats.produced,
                stats.queued,
                stats.queued_bytes,
                stats.dropped_full
            ),
            (10, 8, 86, 2),
            "the third 40 and the last 1 find no room: {stats:?}"
        );
        assert_eq!(lane.take_batch(100), [40, 40, 1, 1, 1, 1, 1, 1]);
        lane.finish(8, true);
        for _ in 0..8 {
            lane.offer(12);
        }
        assert_eq!(lane.stats().queued, 8, "all the room came back");
    }

    #[test]
    fn a_stripe_emptied_after_a_backlog_gives_its_memory_back() {
        let lane = Lane::new(
            100_000,
            usize::MAX,
            4,
            |_| 0,
            Problem::SegmentDropped,
            "segments",
        );
        for item in 0..100_000 {
            lane.offer_into(2, item);
        }
        assert_eq!(lane.stats().queued, 100_000);
        let taken = std::iter::from_fn(|| lane.take_one()).count();
        lane.finish(taken, true);
        assert_eq!(taken, 100_000);
        // As much as the stripe's first share: a quarter.
        let room = lane.stripes[2].lock().queue.capacity();
        assert!(room <= 25_000, "{room}");
    }

    #[test]
    fn a_full_lane_takes_items_again_once_room_comes_back() {
        let lane = Lane::new(4, usize::MAX, 4, |_| 0, Problem::SegmentDropped, "segments");
        for item in 0..4 {
            lane.offer_into(0, item);
        }
        // Found full with every stripe locked, then dropped at once.
        lane.offer_into(1, 4);
        lane.offer_into(1, 5);
        assert_eq!(lane.stats().dropped_full, 2);
        assert!(lane.full_of_items.load(Ordering::SeqCst));
        let taken = std::iter::from_fn(|| lane.take_one()).count();
        lane.offer_into(1, 6);
        assert_eq!(
            lane.stats().dropped_full,
            3,
            "items in flight still take room"
        );
        lane.finish(taken, true);
        lane.offer_into(1, 7);
        lane.offer_into(3, 8);
        let stats = lane.stats();
        assert_eq!((stats.queued, stats.dropped_full), (2, 3), "{stats:?}");
        for item in 9..12 {
            lane.offer_into(2, item);
        }
        assert_eq!(lane.stats().dropped_full, 4);
        assert_eq!(lane.fail_queued(), 4);
        lane.offer_into(1, 12);
        assert_eq!(
            lane.stats().queued,
            1,
            "failing the queued items gave their room back"
        );
    }

    #[test]
    fn room_given_back_in_another_order_all_comes_back() {
        let lane = Lane::new(8, usize::MAX, 4, |_| 0, Problem::SegmentDropped, "segments");
        for (stripe, item) in [(0, "a"), (0, "b"), (0, "c"), (1, "d"), (1, "e"), (1, "f")] {
            lane.offer_into(stripe, item);
        }
        let taken: Vec<_> = std::iter::from_fn(|| lane.take_one()).collect();
        assert_eq!(taken, ["a", "b", "c", "d", "e", "f"]);
        // Two requests, a partition each, each with items of both stripes.
        lane.finish(2, true);
        lane.finish(4, false);
        let stats = lane.stats();
        assert_eq!((stats.sent, stats.failed, stats.queued), (2, 4, 0));
        for item in ["g", "h", "i", "j", "k", "l", "m", "n", "o"] {
            lane.offer_into(3, item);
        }
        let stats = lane.stats();
        assert_eq!((stats.queued, stats.dropped_full), (8, 1), "{stats:?}");
    }

    #[test]
    fn threads_reporting_at_once_stay_within_the_bounds_and_the_counts_add_up() {
        const THREADS: usize = 4;
        const EACH: u64 = 20_000;
        // An item is its thread and its number there; it weighs 0 to 19 bytes.
        let lane: Lane<(usize, u64)> = Lane::new(
            50,
            400,
            4,
            |&(_, number)| (number % 20) as usize,
            Problem::SegmentDropped,
            "segments",
        );
        let reporting = AtomicUsize::new(THREADS);
        let check = |stats: ReporterStats| {
            assert!(stats.queued <= 50, "{stats:?}");
            assert!(stats.queued_bytes <= 400, "{stats:?}");
            assert_eq!(
                stats.produced,
                stats.sent + stats.dropped_full + stats.failed + stats.queued,
                "{stats:?}"
            );
        };
        std::thread::scope(|scope| {
            for thread in 0..THREADS {
                let (lane, reporting) = (&lane, &reporting);
                scope.spawn(move || {
                    for number in 0..EACH {
                        lane.offer((thread, number));
                    }
                    reporting.fetch_sub(1, Ordering::Relaxed);
                });
            }
            scope.spawn(|| {
                while reporting.load(Ordering::Relaxed) > 0 {
                    check(lane.stats());
                }
            });
            // The sender, as the gRPC and Kafka ones: one at a time or in batches, each thread's
            // items in the order they came, outcomes told in another order now and then.
            let mut last = [None; THREADS];
            let mut in_flight = 0;
            let mut round = 0_u64;
            while reporting.load(Ordering::Relaxed) > 0 || lane.has_queued() || in_flight > 0 {
                round += 1;
                let taken = if round.is_multiple_of(2) {
                    lane.take_batch(7)
                } else {
                    std::iter::from_fn(|| lane.take_one()).take(5).collect()
                };
                for (thread, number) in taken {
                    assert!(
                        last[thread] < Some(number),
                        "thread {thread}: {number} after {:?}",
                        last[thread]
                    );
                    last[thread] = Some(number);
                    in_flight += 1;
                }
                if !round.is_multiple_of(3) {
                    let first = in_flight / 2;
                    lane.finish(first, true);
                    lane.finish(in_flight - first, !round.is_multiple_of(5));
                    in_flight = 0;
                }
            }
        });
        let stats = lane.stats();
        check(stats);
        assert_eq!(stats.produced, THREADS as u64 * EACH);
        assert_eq!(stats.queued, 0);
        assert!(stats.sent > 0 && stats.failed > 0, "{stats:?}");
        assert!(
            stats.dropped_full > 0,
            "the lane was full at times: {stats:?}"
        );
        assert!(lane.flush(Some(Instant::now())));
    }

    #[test]
    fn a_closed_lane_fails_what_comes_and_flush_says_so_at_once() {
        let lane = Lane::new(
            10,
            usize::MAX,
            1,
            |_| 0,
            Problem::SegmentDropped,
            "segments",
        );
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
            1,
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
