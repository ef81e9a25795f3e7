//! Counters of the bad input rust2sky ignored so that the host application could go on.
//!
//! The agent never fails a request because of a malformed header. It leaves the header out, counts
//! it here, and writes at most one warning per kind of problem every 30 seconds through the `log`
//! crate (target `rust2sky`), saying how many were ignored since the last warning. Whatever logger
//! the application installs (`env_logger`, `tracing`'s log bridge, ...) receives them.
//!
//! ```
//! let before = rust2sky::diagnostics::counters();
//! rust2sky::propagation::IncomingHeaders::extract(
//!     |_name| Some("garbage"),
//!     rust2sky::propagation::CorrelationLimits::default(),
//! );
//! let after = rust2sky::diagnostics::counters();
//! assert!(after.malformed_sw8 > before.malformed_sw8);
//! ```

use std::fmt;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The least time between two warnings about the same kind of problem.
///
/// ```
/// use std::time::Duration;
///
/// // However many bad headers arrive, each kind of problem is logged at most this often.
/// assert_eq!(rust2sky::diagnostics::LOG_INTERVAL, Duration::from_secs(30));
/// ```
pub const LOG_INTERVAL: Duration = Duration::from_secs(30);

/// A snapshot of the counters, each counting since the process started.
///
/// ```
/// let counters = rust2sky::diagnostics::counters();
/// println!("{} malformed sw8 headers ignored so far", counters.malformed_sw8);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Counters {
    /// `sw8` headers ignored because they were malformed.
    pub malformed_sw8: u64,
    /// `sw8-correlation` entries ignored because they were malformed.
    pub malformed_correlation: u64,
    /// `sw8-correlation` entries dropped because they were over the limits.
    pub correlation_over_limit: u64,
    /// `sw8-x` headers ignored because they were malformed.
    pub malformed_sw8x: u64,
    /// Contexts not entered because a thread already had too many nested ones.
    pub context_overflow: u64,
    /// Contexts not entered because the thread's context stack could not be used: the thread was
    /// exiting and had destroyed it already, or it was being changed at that instant (a context
    /// entered from a destructor that ran during a change).
    pub context_unavailable: u64,
    /// Outgoing headers an [`Injector`](crate::propagation::Injector) skipped because the carrier
    /// refused their name or value (an invalid header name, a `-bin` gRPC metadata key).
    pub headers_not_written: u64,
    /// Finished segments the reporter refused (its buffer was full or it was gone).
    pub segments_dropped: u64,
    /// Log records the reporter refused (its buffer was full).
    pub logs_dropped: u64,
    /// Span names, tags, logs or log fields left out because their segment held its limit of
    /// text (1 MiB) or of tags and logs (65,536): a span tagged in a loop, say.
    pub span_text_dropped: u64,
    /// Meter reports the reporter refused (its buffer was full).
    pub meter_reports_dropped: u64,
    /// Instance properties and keepAlive messages the reporter refused (its buffer was full).
    pub management_dropped: u64,
    /// Meter reports skipped because reading the meters overran its budget: a gauge closure
    /// that blocks (see [`crate::meter::gauge`]).
    pub meter_reports_skipped: u64,
    /// Meters made but not reported because the registry held its limit of series
    /// ([`meter::DEFAULT_MAX_SERIES`](crate::meter::DEFAULT_MAX_SERIES) by default).
    pub meter_series_refused: u64,
}

/// Reads the counters.
///
/// ```
/// assert!(rust2sky::diagnostics::counters().malformed_sw8 < u64::MAX);
/// ```
pub fn counters() -> Counters {
    let read = |problem: Problem| STATE[problem as usize].total.load(Ordering::Relaxed);
    Counters {
        malformed_sw8: read(Problem::MalformedSw8),
        malformed_correlation: read(Problem::MalformedCorrelation),
        correlation_over_limit: read(Problem::CorrelationOverLimit),
        malformed_sw8x: read(Problem::MalformedSw8x),
        context_overflow: read(Problem::ContextOverflow),
        context_unavailable: read(Problem::ContextUnavailable),
        headers_not_written: read(Problem::HeaderNotWritten),
        segments_dropped: read(Problem::SegmentDropped),
        logs_dropped: read(Problem::LogDropped),
        span_text_dropped: read(Problem::SpanTextDropped),
        meter_reports_dropped: read(Problem::MeterReportDropped),
        management_dropped: read(Problem::ManagementDropped),
        meter_reports_skipped: read(Problem::MeterReportSkipped),
        meter_series_refused: read(Problem::MeterSeriesRefused),
    }
}

/// A kind of problem the agent counts and warns about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Problem {
    MalformedSw8,
    MalformedCorrelation,
    CorrelationOverLimit,
    MalformedSw8x,
    ContextOverflow,
    ContextUnavailable,
    HeaderNotWritten,
    SegmentDropped,
    LogDropped,
    SpanTextDropped,
    MeterReportDropped,
    ManagementDropped,
    MeterReportSkipped,
    MeterSeriesRefused,
}

impl Problem {
    const fn describe(self) -> &'static str {
        match self {
            Problem::MalformedSw8 => "malformed sw8 headers ignored",
            Problem::MalformedCorrelation => "malformed sw8-correlation entries ignored",
            Problem::CorrelationOverLimit => "sw8-correlation entries dropped",
            Problem::MalformedSw8x => "malformed sw8-x headers ignored",
            Problem::ContextOverflow => {
                "contexts not entered because the thread had too many nested ones"
            }
            Problem::ContextUnavailable => {
                "contexts not entered because the thread's context stack was destroyed or busy"
            }
            Problem::HeaderNotWritten => {
                "outgoing headers not written because their carrier refused the name or value"
            }
            Problem::SegmentDropped => "finished segments dropped by the reporter",
            Problem::LogDropped => "log records dropped by the reporter",
            Problem::SpanTextDropped => "span strings dropped because their segment was full",
            Problem::MeterReportDropped => "meter reports dropped by the reporter",
            Problem::ManagementDropped => {
                "instance properties and keepAlive messages dropped by the reporter"
            }
            Problem::MeterReportSkipped => "meter reports skipped because a reading overran",
            Problem::MeterSeriesRefused => {
                "new meter series not reported because the meter registry was full"
            }
        }
    }
}

struct ProblemState {
    total: AtomicU64,
    /// How many were counted since the last warning.
    unreported: AtomicU64,
    /// When the last warning went out, in milliseconds since [`epoch`]; `u64::MAX` before the first.
    last_warning_ms: AtomicU64,
}

impl ProblemState {
    const fn new() -> Self {
        ProblemState {
            total: AtomicU64::new(0),
            unreported: AtomicU64::new(0),
            last_warning_ms: AtomicU64::new(u64::MAX),
        }
    }
}

/// One slot per [`Problem`], indexed by its discriminant.
static STATE: [ProblemState; Problem::MeterSeriesRefused as usize + 1] =
    [const { ProblemState::new() }; Problem::MeterSeriesRefused as usize + 1];

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// Counts `count` occurrences of `problem` without a warning: for where the log may not be
/// usable, such as a thread's exit, when loggers' own thread-locals may be gone.
pub(crate) fn count_quietly(problem: Problem, count: usize) {
    let count = count as u64;
    STATE[problem as usize]
        .total
        .fetch_add(count, Ordering::Relaxed);
}

/// Counts `count` occurrences of `problem` and warns about it if none was logged in the last
/// [`LOG_INTERVAL`]; `detail` says what was wrong with the latest one.
pub(crate) fn record(problem: Problem, count: usize, detail: &dyn fmt::Display) {
    let count = count as u64;
    let state = &STATE[problem as usize];
    state.total.fetch_add(count, Ordering::Relaxed);
    state.unreported.fetch_add(count, Ordering::Relaxed);

    let now_ms = u64::try_from(epoch().elapsed().as_millis()).unwrap_or(u64::MAX - 1);
    let last = state.last_warning_ms.load(Ordering::Relaxed);
    let due = last == u64::MAX || now_ms.saturating_sub(last) >= LOG_INTERVAL.as_millis() as u64;
    // Only the thread that wins the exchange writes the warning, so a flood of bad headers on many
    // threads still gives one line per interval.
    if due
        && state
            .last_warning_ms
            .compare_exchange(last, now_ms, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        let unreported = state.unreported.swap(0, Ordering::Relaxed);
        log::warn!(
            target: "rust2sky",
            "{unreported} {} since the last report (latest: {detail}); the requests went on without them",
            problem.describe()
        );
    }
}
