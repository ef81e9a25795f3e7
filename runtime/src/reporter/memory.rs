//! A reporter that keeps segments in memory, for tests.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use parking_lot::{Condvar, Mutex, MutexGuard};
use rust2sky_proto::v3::SegmentObject;

use super::{FinishedSegment, Reporter};
use crate::diagnostics::{self, Problem};

/// Keeps finished segments in memory so that a test can look at them, field by field.
///
/// Cloning gives another handle to the same segments: give one clone to the tracer and keep the
/// other. It holds at most [`MemoryReporter::DEFAULT_CAPACITY`] segments (or the capacity given to
/// [`MemoryReporter::with_capacity`]); past that, new segments are dropped and counted.
///
/// ```
/// use rust2sky::reporter::MemoryReporter;
/// use rust2sky::{Tracer, config::Config};
///
/// let reporter = MemoryReporter::new();
/// let tracer = Tracer::new(Config::default(), reporter.clone());
/// tracer.in_scope(|| {
///     let _span = rust2sky::local_span("compute").entered();
/// });
/// let segments = reporter.segments();
/// assert_eq!(segments.len(), 1);
/// assert_eq!(segments[0].spans[0].operation_name, "compute");
/// ```
#[derive(Debug, Clone)]
pub struct MemoryReporter {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    segments: Mutex<Vec<FinishedSegment>>,
    arrived: Condvar,
    /// How many threads wait in [`MemoryReporter::wait_for`]; changed under the `segments` lock.
    /// Waking a `Condvar` is a system call even with nobody waiting, which a report should not
    /// pay on every segment.
    waiting: AtomicUsize,
    capacity: usize,
}

impl MemoryReporter {
    /// How many segments [`MemoryReporter::new`] keeps.
    ///
    /// ```
    /// use rust2sky::reporter::MemoryReporter;
    ///
    /// // A load test that finishes more segments than the default keeps asks for more room.
    /// let reporter = MemoryReporter::with_capacity(4 * MemoryReporter::DEFAULT_CAPACITY);
    /// assert!(reporter.segments().is_empty());
    /// ```
    pub const DEFAULT_CAPACITY: usize = 100_000;

    /// An empty reporter that keeps up to [`MemoryReporter::DEFAULT_CAPACITY`] segments.
    ///
    /// ```
    /// assert!(rust2sky::reporter::MemoryReporter::new().segments().is_empty());
    /// ```
    pub fn new() -> Self {
        Self::with_capacity(Self::DEFAULT_CAPACITY)
    }

    /// An empty reporter that keeps up to `capacity` segments.
    ///
    /// ```
    /// let reporter = rust2sky::reporter::MemoryReporter::with_capacity(10);
    /// assert!(reporter.segments().is_empty());
    /// ```
    pub fn with_capacity(capacity: usize) -> Self {
        MemoryReporter {
            shared: Arc::new(Shared {
                segments: Mutex::new(Vec::new()),
                arrived: Condvar::new(),
                waiting: AtomicUsize::new(0),
                capacity,
            }),
        }
    }

    /// A copy of the segments received so far, in the order they finished.
    ///
    /// ```
    /// assert_eq!(rust2sky::reporter::MemoryReporter::new().segments(), vec![]);
    /// ```
    pub fn segments(&self) -> Vec<SegmentObject> {
        self.lock().iter().map(FinishedSegment::to_proto).collect()
    }

    /// Removes and returns the segments received so far.
    ///
    /// ```
    /// let reporter = rust2sky::reporter::MemoryReporter::new();
    /// assert!(reporter.take().is_empty());
    /// ```
    pub fn take(&self) -> Vec<SegmentObject> {
        let taken = self.take_finished();
        taken.iter().map(FinishedSegment::to_proto).collect()
    }

    /// Removes and returns the segments received so far, as the reporter received them: for
    /// tests and benchmarks of code that takes [`FinishedSegment`]s, such as a reporter.
    ///
    /// ```
    /// let reporter = rust2sky::reporter::MemoryReporter::new();
    /// assert!(reporter.take_finished().is_empty());
    /// ```
    pub fn take_finished(&self) -> Vec<FinishedSegment> {
        let mut segments = self.lock();
        // The room stays: a test that takes as it goes should not make every report regrow it.
        let room = Vec::with_capacity(segments.len().min(self.shared.capacity));
        std::mem::replace(&mut *segments, room)
    }

    /// Waits until at least `count` segments have arrived, or `timeout` has passed; returns a copy
    /// of the segments received by then. For tests whose segments finish on other threads.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let reporter = rust2sky::reporter::MemoryReporter::new();
    /// assert!(reporter.wait_for(1, Duration::from_millis(1)).is_empty());
    /// ```
    pub fn wait_for(&self, count: usize, timeout: Duration) -> Vec<SegmentObject> {
        let mut segments = self.lock();
        self.shared.waiting.fetch_add(1, Ordering::Relaxed);
        self.shared.arrived.wait_while_for(
            &mut segments,
            |segments| segments.len() < count,
            timeout,
        );
        self.shared.waiting.fetch_sub(1, Ordering::Relaxed);
        segments.iter().map(FinishedSegment::to_proto).collect()
    }

    fn lock(&self) -> MutexGuard<'_, Vec<FinishedSegment>> {
        self.shared.segments.lock()
    }
}

impl Default for MemoryReporter {
    fn default() -> Self {
        Self::new()
    }
}

impl Reporter for MemoryReporter {
    fn report(&self, segment: FinishedSegment) {
        let mut segments = self.lock();
        if segments.len() >= self.shared.capacity {
            drop(segments);
            let why = format_args!("the memory reporter holds {} already", self.shared.capacity);
            diagnostics::record(Problem::SegmentDropped, 1, &why);
            return;
        }
        segments.push(segment);
        let waiting = self.shared.waiting.load(Ordering::Relaxed) > 0;
        drop(segments);
        if waiting {
            self.shared.arrived.notify_all();
        }
    }
}
