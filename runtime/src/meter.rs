//! Meters: counters, gauges and histograms with labels, which the [`GrpcReporter`] sends to the
//! OAP (`MeterReportService/collect`) every [`Config::meter_report_interval`], together with the
//! process's own figures.
//!
//! Meters live in one registry per process, as the official agents' `MeterFactory`: asking again
//! for a meter with the same name and labels, in any order, gives the same meter (its labels are
//! reported sorted by name). Finding one is a hash lookup under a shared lock; updating one is a
//! few atomic operations, with no lock and no allocation, so a meter used on a request path is
//! best asked for once and its handle kept. The registry keeps at most
//! [`DEFAULT_MAX_SERIES`] series (`SW_METER_MAX_METER_SIZE`): labels made from request data
//! cannot grow it without bound.
//!
//! ```
//! use rust2sky::meter;
//!
//! let orders = meter::counter("orders_total", &[("region", "eu")]);
//! orders.increment(1.0);
//! let latency = meter::histogram("checkout_latency_ms", &[], &[0.0, 10.0, 100.0, 1000.0]);
//! latency.record(42.0);
//! meter::gauge("cart_items", &[], || 3.0);
//! assert_eq!(meter::counter("orders_total", &[("region", "eu")]).value(), 1.0);
//! ```
//!
//! The process figures, on Linux (read from `/proc/self`; none elsewhere), and the agent's own.
//! These names are stable (a rename is a breaking change): the OAP's rules for them, and the
//! dashboards that show them, are in the repository's `oap/` folder (the README's "Seeing
//! rust2sky's meters in the OAP").
//!
//! | name | what |
//! |---|---|
//! | `instance_rust_process_cpu_utilization` | CPU time used since the previous report, in % of one core |
//! | `instance_rust_process_resident_memory_bytes` | resident memory |
//! | `instance_rust_process_threads` | threads |
//! | `instance_rust_process_open_fds` | open file descriptors |
//! | `instance_rust_tokio_workers` | worker threads of a tokio runtime given to [`tokio_runtime`], labelled `runtime` |
//! | `instance_rust_tokio_alive_tasks` | its tasks not yet finished, labelled `runtime` |
//! | `instance_rust_tokio_global_queue_depth` | its tasks waiting in the global (injection) queue, labelled `runtime` |
//! | `instance_rust_tokio_busy_ratio` | the share of its workers' time spent busy since the previous report, in %, labelled `runtime` (targets with 64-bit atomics) |
//! | `instance_rust_agent_segments` | segments given to the reporter, labelled `outcome` = `produced`, `sent`, `dropped`, `failed` or `queued` |
//! | `instance_rust_agent_logs` | log records given to the reporter, with the same labels |
//! | `instance_rust_agent_meter_series` | meter series the registry keeps |
//! | `instance_rust_agent_meter_series_refused` | meter series not kept because the registry was full, since the process started |
//!
//! [`GrpcReporter`]: crate::reporter::GrpcReporter
//! [`Config::meter_report_interval`]: crate::config::Config::meter_report_interval

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use parking_lot::{Mutex, RwLock};
use rust2sky_proto::v3::meter_data::Metric;
use rust2sky_proto::v3::{Label, MeterBucketValue, MeterData, MeterHistogram, MeterSingleValue};

use crate::diagnostics::{self, Problem};

/// A value that only goes up, such as a number of orders.
///
/// ```
/// let retries = rust2sky::meter::counter("payment_retries", &[("bank", "acme")]);
/// retries.increment(1.0);
/// ```
#[derive(Clone)]
pub struct Counter {
    value: Arc<AtomicF64>,
}

impl Counter {
    /// Adds `by` (a negative or NaN `by` is ignored: a counter only goes up).
    ///
    /// ```
    /// let bytes = rust2sky::meter::counter("bytes_sent", &[]);
    /// bytes.increment(512.0);
    /// bytes.increment(-1.0); // ignored
    /// assert_eq!(bytes.value(), 512.0);
    /// ```
    pub fn increment(&self, by: f64) {
        if by > 0.0 {
            self.value.add(by);
        }
    }

    /// Raises the value to `value` if it is below (a counter kept elsewhere, read as a total).
    #[cfg(feature = "metrics")]
    pub(crate) fn raise_to(&self, value: f64) {
        let _ = self
            .value
            .0
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
                (value > f64::from_bits(bits)).then(|| value.to_bits())
            });
    }

    /// The current value.
    ///
    /// ```
    /// assert_eq!(rust2sky::meter::counter("never_incremented", &[]).value(), 0.0);
    /// ```
    pub fn value(&self) -> f64 {
        self.value.get()
    }
}

/// A value read when the meters are reported, from a closure: a queue's length, a pool's size.
///
/// ```
/// let gauge = rust2sky::meter::gauge("open_carts", &[], || 12.0);
/// assert_eq!(gauge.value(), 12.0);
/// ```
#[derive(Clone)]
pub struct Gauge {
    read: Arc<dyn Fn() -> f64 + Send + Sync>,
}

impl Gauge {
    /// Reads the value now.
    ///
    /// ```
    /// let gauge = rust2sky::meter::gauge("answer", &[], || 42.0);
    /// assert_eq!(gauge.value(), 42.0);
    /// ```
    pub fn value(&self) -> f64 {
        (self.read)()
    }
}

/// Counts of values in fixed buckets, such as request latencies.
///
/// Each bucket is named by its lower bound, as SkyWalking reports them: a value goes into the
/// last bucket whose bound is not above it; values under the first bound go into a bucket that
/// starts at minus infinity.
///
/// ```
/// let latency = rust2sky::meter::histogram("db_latency_ms", &[], &[0.0, 5.0, 50.0]);
/// latency.record(3.0);
/// latency.record(70.0);
/// assert_eq!(latency.counts(), [0, 1, 0, 1]); // (-inf, 0), [0, 5), [5, 50), [50, +inf)
/// ```
#[derive(Clone)]
pub struct Histogram {
    inner: Arc<HistogramInner>,
}

struct HistogramInner {
    /// Lower bounds, ascending.
    bounds: Vec<f64>,
    /// One more than `bounds`: the first counts values below the first bound.
    counts: Vec<AtomicU64>,
}

impl Histogram {
    /// Counts `value` in its bucket (a NaN is ignored).
    ///
    /// ```
    /// let sizes = rust2sky::meter::histogram("payload_bytes", &[], &[0.0, 1024.0]);
    /// sizes.record(2048.0);
    /// assert_eq!(sizes.counts(), [0, 0, 1]);
    /// ```
    pub fn record(&self, value: f64) {
        if value.is_nan() {
            return;
        }
        let bucket = self.inner.bounds.partition_point(|bound| *bound <= value);
        self.inner.counts[bucket].fetch_add(1, Ordering::Relaxed);
    }

    /// The counts: first of values below the first bound, then one per bound.
    ///
    /// ```
    /// let empty = rust2sky::meter::histogram("unused_histogram", &[], &[1.0]);
    /// assert_eq!(empty.counts(), [0, 0]);
    /// ```
    pub fn counts(&self) -> Vec<u64> {
        self.inner
            .counts
            .iter()
            .map(|count| count.load(Ordering::Relaxed))
            .collect()
    }
}

/// The counter with this name and labels, made the first time it is asked for.
///
/// A meter of another kind with the same name and labels is left alone: the counter returned
/// then is a new one that is not reported, so the mistake cannot corrupt the other's figures.
///
/// ```
/// let a = rust2sky::meter::counter("logins", &[("method", "sso")]);
/// let b = rust2sky::meter::counter("logins", &[("method", "sso")]);
/// a.increment(1.0);
/// assert_eq!(b.value(), 1.0);
/// ```
pub fn counter(name: &str, labels: &[(&str, &str)]) -> Counter {
    let counter = || Counter {
        value: Arc::new(AtomicF64::default()),
    };
    let found = registry().find_or_add(name, labels, || Kind::Counter(counter()));
    match found {
        Kind::Counter(existing) => existing,
        _ => counter(),
    }
}

/// Registers a gauge read from `read` at each report. A gauge with the same name and labels is
/// replaced, so that a restarted component can register its closure again.
///
/// `read` should return at once (read an atomic, a length). The reporter reads the gauges on a
/// thread of their own, so one that blocks does not hold up segments or `flush`; but a reading
/// that takes longer than a second skips that report (counted in
/// [`Counters::meter_reports_skipped`](crate::diagnostics::Counters::meter_reports_skipped)),
/// and no meters are reported until the blocked closure returns.
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicUsize, Ordering};
///
/// let connections = Arc::new(AtomicUsize::new(3));
/// let seen = Arc::clone(&connections);
/// rust2sky::meter::gauge("db_connections", &[("pool", "main")], move || seen.load(Ordering::Relaxed) as f64);
/// ```
pub fn gauge(
    name: &str,
    labels: &[(&str, &str)],
    read: impl Fn() -> f64 + Send + Sync + 'static,
) -> Gauge {
    let gauge = Gauge {
        read: Arc::new(read),
    };
    registry().replace(name, labels, Kind::Gauge(gauge.clone()));
    gauge
}

/// The histogram with this name and labels, made the first time it is asked for with these
/// bucket bounds (sorted here; NaNs and repeats dropped). Asking again gives the same histogram,
/// with the bounds it was made with.
///
/// ```
/// let latency = rust2sky::meter::histogram("render_ms", &[], &[100.0, 10.0, 1.0]);
/// latency.record(20.0);
/// assert_eq!(latency.counts(), [0, 0, 1, 0]); // bounds 1, 10, 100
/// ```
pub fn histogram(name: &str, labels: &[(&str, &str)], bounds: &[f64]) -> Histogram {
    let histogram = || {
        let mut bounds: Vec<f64> = bounds.iter().copied().filter(|b| !b.is_nan()).collect();
        bounds.sort_by(f64::total_cmp);
        bounds.dedup();
        let counts = (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect();
        Histogram {
            inner: Arc::new(HistogramInner { bounds, counts }),
        }
    };
    match registry().find_or_add(name, labels, || Kind::Histogram(histogram())) {
        Kind::Histogram(existing) => existing,
        _ => histogram(),
    }
}

/// Registers gauges of a tokio runtime's stable metrics, labelled `runtime` = `name`:
/// `instance_rust_tokio_workers`, `instance_rust_tokio_alive_tasks`,
/// `instance_rust_tokio_global_queue_depth` and, where the target has 64-bit atomics,
/// `instance_rust_tokio_busy_ratio` (the share of the workers' time spent busy since the
/// previous report, in %). They need no `tokio_unstable`.
///
/// Calling it again with the same name replaces that runtime's gauges. The gauges keep a clone
/// of `handle`; after the runtime shuts down they read what it last had.
///
/// ```
/// let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// // Reported with the other meters from now on, labelled `runtime` = `main`.
/// rust2sky::meter::tokio_runtime(runtime.handle(), "main");
/// ```
pub fn tokio_runtime(handle: &tokio::runtime::Handle, name: &str) {
    let labels = [("runtime", name)];
    let read = |figure: fn(&tokio::runtime::RuntimeMetrics) -> usize| {
        let handle = handle.clone();
        move || figure(&handle.metrics()) as f64
    };
    gauge(
        "instance_rust_tokio_workers",
        &labels,
        read(tokio::runtime::RuntimeMetrics::num_workers),
    );
    gauge(
        "instance_rust_tokio_alive_tasks",
        &labels,
        read(tokio::runtime::RuntimeMetrics::num_alive_tasks),
    );
    gauge(
        "instance_rust_tokio_global_queue_depth",
        &labels,
        read(tokio::runtime::RuntimeMetrics::global_queue_depth),
    );
    #[cfg(target_has_atomic = "64")]
    {
        let handle = handle.clone();
        let busy = BusyRatio::new(&handle.metrics());
        gauge("instance_rust_tokio_busy_ratio", &labels, move || {
            busy.read(&handle.metrics())
        });
    }
}

/// The share of a runtime's worker time spent busy between two readings.
#[cfg(target_has_atomic = "64")]
struct BusyRatio {
    /// The workers' busy time summed, and when it was read: at registration, then at each
    /// report.
    last: Mutex<(std::time::Duration, Instant)>,
}

#[cfg(target_has_atomic = "64")]
impl BusyRatio {
    fn new(metrics: &tokio::runtime::RuntimeMetrics) -> Self {
        BusyRatio {
            last: Mutex::new((busy_time(metrics), Instant::now())),
        }
    }

    fn read(&self, metrics: &tokio::runtime::RuntimeMetrics) -> f64 {
        let busy = busy_time(metrics);
        let now = Instant::now();
        let mut last = self.last.lock();
        let (last_busy, last_time) = *last;
        *last = (busy, now);
        let available = now.duration_since(last_time).as_secs_f64() * metrics.num_workers() as f64;
        if available > 0.0 {
            (busy.saturating_sub(last_busy).as_secs_f64() / available * 100.0).min(100.0)
        } else {
            0.0
        }
    }
}

#[cfg(target_has_atomic = "64")]
fn busy_time(metrics: &tokio::runtime::RuntimeMetrics) -> std::time::Duration {
    (0..metrics.num_workers())
        .map(|worker| metrics.worker_total_busy_duration(worker))
        .sum()
}

/// Every registered meter's current value, as the OAP takes them (service, instance and time
/// left for the reporter to fill in).
pub(crate) fn collect() -> Vec<MeterData> {
    let meters = registry().meters();
    meters
        .into_iter()
        .filter_map(|meter| match meter.kind {
            Kind::Counter(counter) => Some(single(&meter.name, &meter.labels, counter.value())),
            #[cfg(feature = "metrics")]
            Kind::Level(level) => Some(single(&meter.name, &meter.labels, level.get())),
            // A gauge runs the application's closure on the reporter's thread: one that panics
            // is left out of the report, and must not take the reporter down with it.
            Kind::Gauge(gauge) => {
                match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| gauge.value())) {
                    Ok(value) => Some(single(&meter.name, &meter.labels, value)),
                    Err(_) => {
                        log::warn!(
                            target: "rust2sky",
                            "the gauge {:?} panicked when read; it is left out of this report",
                            meter.name
                        );
                        None
                    }
                }
            }
            Kind::Histogram(histogram) => {
                let counts = histogram.counts();
                let mut values = vec![MeterBucketValue {
                    bucket: 0.0,
                    count: i64::try_from(counts[0]).unwrap_or(i64::MAX),
                    is_negative_infinity: true,
                }];
                values.extend(histogram.inner.bounds.iter().zip(&counts[1..]).map(
                    |(bound, count)| MeterBucketValue {
                        bucket: *bound,
                        count: i64::try_from(*count).unwrap_or(i64::MAX),
                        is_negative_infinity: false,
                    },
                ));
                Some(MeterData {
                    metric: Some(Metric::Histogram(MeterHistogram {
                        name: meter.name.clone(),
                        labels: meter.labels.clone(),
                        values,
                    })),
                    ..MeterData::default()
                })
            }
        })
        .collect()
}

/// A single-value meter reading.
pub(crate) fn single(name: &str, labels: &[Label], value: f64) -> MeterData {
    MeterData {
        metric: Some(Metric::SingleValue(MeterSingleValue {
            name: name.to_owned(),
            labels: labels.to_vec(),
            value,
        })),
        ..MeterData::default()
    }
}

/// A label, as the protocol has it.
pub(crate) fn label(name: &str, value: &str) -> Label {
    Label {
        name: name.to_owned(),
        value: value.to_owned(),
    }
}

/// The process's own figures, with the CPU share measured between two calls.
#[derive(Debug, Default)]
pub(crate) struct ProcessMeters {
    last_cpu: Option<(u64, Instant)>,
}

/// Linux's clock ticks per second for `/proc` CPU times (`USER_HZ`), 100 on every architecture
/// Rust targets.
const TICKS_PER_SECOND: f64 = 100.0;

impl ProcessMeters {
    pub(crate) fn collect(&mut self) -> Vec<MeterData> {
        let mut meters = Vec::new();
        let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
            return meters;
        };
        // The fields after the command name, which is in parentheses and may hold spaces.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest.split_whitespace().collect())
            .unwrap_or_default();
        let field = |index: usize| fields.get(index).and_then(|f| f.parse::<u64>().ok());
        // utime and stime are the 14th and 15th fields, num_threads the 20th; `fields` starts
        // at the 3rd.
        if let (Some(user), Some(system)) = (field(11), field(12)) {
            let now = Instant::now();
            let ticks = user + system;
            if let Some((last_ticks, last_time)) = self.last_cpu {
                let seconds = now.duration_since(last_time).as_secs_f64();
                if seconds > 0.0 {
                    let used = ticks.saturating_sub(last_ticks) as f64 / TICKS_PER_SECOND;
                    meters.push(single(
                        "instance_rust_process_cpu_utilization",
                        &[],
                        used / seconds * 100.0,
                    ));
                }
            }
            self.last_cpu = Some((ticks, now));
        }
        if let Some(threads) = field(17) {
            meters.push(single("instance_rust_process_threads", &[], threads as f64));
        }
        let resident_pages = std::fs::read_to_string("/proc/self/statm")
            .ok()
            .and_then(|statm| statm.split_whitespace().nth(1)?.parse::<u64>().ok());
        if let Some(pages) = resident_pages {
            // 4 KiB pages: the page size of every Linux target but a few arm64 and ppc64 setups.
            meters.push(single(
                "instance_rust_process_resident_memory_bytes",
                &[],
                (pages * 4096) as f64,
            ));
        }
        if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
            meters.push(single(
                "instance_rust_process_open_fds",
                &[],
                fds.count() as f64,
            ));
        }
        meters
    }
}

/// An `f64` updated atomically, as its bits.
#[derive(Default)]
struct AtomicF64(AtomicU64);

impl AtomicF64 {
    fn add(&self, by: f64) {
        let _ = self
            .0
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
                Some((f64::from_bits(bits) + by).to_bits())
            });
    }

    fn get(&self) -> f64 {
        f64::from_bits(self.0.load(Ordering::Relaxed))
    }
}

#[derive(Clone)]
enum Kind {
    Counter(Counter),
    Gauge(Gauge),
    Histogram(Histogram),
    /// A gauge that holds the value last set, as the `metrics` crate's gauges are.
    #[cfg(feature = "metrics")]
    Level(Level),
}

/// A gauge that holds the value last set or moved to.
#[derive(Clone, Default)]
#[cfg(feature = "metrics")]
pub(crate) struct Level(Arc<AtomicF64>);

#[cfg(feature = "metrics")]
impl Level {
    pub(crate) fn set(&self, value: f64) {
        self.0.0.store(value.to_bits(), Ordering::Relaxed);
    }

    pub(crate) fn add(&self, by: f64) {
        self.0.add(by);
    }

    pub(crate) fn get(&self) -> f64 {
        self.0.get()
    }
}

/// The settable gauge with this name and labels, made the first time it is asked for; one
/// not kept in the registry (full, or the name taken by another kind) works but is not
/// reported.
#[cfg(feature = "metrics")]
pub(crate) fn level(name: &str, labels: &[(&str, &str)]) -> Level {
    match registry().find_or_add(name, labels, || Kind::Level(Level::default())) {
        Kind::Level(existing) => existing,
        _ => Level::default(),
    }
}

#[derive(Clone)]
struct Registered {
    name: String,
    /// Sorted, so that the order a caller gives them in does not make another series.
    labels: Vec<Label>,
    kind: Kind,
}

/// The registry: series by the hash of their name and sorted labels, so that finding one costs
/// the same with ten series as with ten thousand; a bucket holds more than one only when two
/// keys' hashes collide.
struct Registry {
    hasher: RandomState,
    series: RwLock<Series>,
    /// How many series the registry keeps; see [`DEFAULT_MAX_SERIES`].
    max_series: AtomicUsize,
}

#[derive(Default)]
struct Series {
    by_hash: HashMap<u64, Vec<Registered>>,
    count: usize,
}

/// How many meter series (a name with one set of labels) the registry keeps unless
/// [`Config::meter_max_series`] says otherwise, the same bound for meters made here and for
/// those the `metrics` crate records.
///
/// Labels often come from request data (a route, a status, a customer); without a bound, every
/// new value would be kept and reported for the life of the process. A meter asked for when
/// the registry is full still works for its caller but is not reported; each one is counted in
/// [`diagnostics::Counters::meter_series_refused`], reported as
/// `instance_rust_agent_meter_series_refused`, and warned about at most every 30 seconds.
///
/// ```
/// assert_eq!(rust2sky::meter::DEFAULT_MAX_SERIES, 10_000);
/// ```
///
/// [`Config::meter_max_series`]: crate::config::Config::meter_max_series
/// [`diagnostics::Counters::meter_series_refused`]: crate::diagnostics::Counters::meter_series_refused
pub const DEFAULT_MAX_SERIES: usize = 10_000;

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| Registry::new(DEFAULT_MAX_SERIES))
}

/// Sets how many series the registry keeps from now on: the reporter applies
/// [`Config::meter_max_series`] when it starts. Series already kept stay.
///
/// [`Config::meter_max_series`]: crate::config::Config::meter_max_series
pub(crate) fn set_max_series(max: usize) {
    registry().max_series.store(max.max(1), Ordering::Relaxed);
}

/// How many series the registry keeps now.
pub(crate) fn series_count() -> usize {
    registry().series.read().count
}

/// A series' name and labels as a caller gives them, labels sorted.
struct Key<'a> {
    name: &'a str,
    labels: Vec<(&'a str, &'a str)>,
}

impl<'a> Key<'a> {
    fn new(name: &'a str, labels: &[(&'a str, &'a str)]) -> Self {
        let mut labels = labels.to_vec();
        labels.sort_unstable();
        Key { name, labels }
    }

    fn matches(&self, meter: &Registered) -> bool {
        meter.name == self.name
            && meter.labels.len() == self.labels.len()
            && meter
                .labels
                .iter()
                .zip(&self.labels)
                .all(|(label, (key, value))| label.name == *key && label.value == *value)
    }

    fn register(&self, kind: Kind) -> Registered {
        Registered {
            name: self.name.to_owned(),
            labels: self
                .labels
                .iter()
                .map(|(key, value)| label(key, value))
                .collect(),
            kind,
        }
    }
}

impl Registry {
    fn new(max_series: usize) -> Self {
        Registry {
            hasher: RandomState::new(),
            series: RwLock::new(Series::default()),
            max_series: AtomicUsize::new(max_series),
        }
    }

    fn hash(&self, key: &Key<'_>) -> u64 {
        self.hasher.hash_one((key.name, &key.labels))
    }

    /// The meter registered under `name` and `labels`, or `make()` registered there if the
    /// registry has room.
    fn find_or_add(
        &self,
        name: &str,
        labels: &[(&str, &str)],
        make: impl FnOnce() -> Kind,
    ) -> Kind {
        let key = Key::new(name, labels);
        let hash = self.hash(&key);
        // Meters are asked for far more often than made: most calls take the shared lock only.
        let found = |series: &Series| {
            series
                .by_hash
                .get(&hash)?
                .iter()
                .find(|meter| key.matches(meter))
                .map(|meter| meter.kind.clone())
        };
        if let Some(kind) = found(&self.series.read()) {
            return kind;
        }
        let mut series = self.series.write();
        if let Some(kind) = found(&series) {
            return kind;
        }
        let kind = make();
        if series.count >= self.max_series.load(Ordering::Relaxed) {
            drop(series);
            refuse(name);
            return kind;
        }
        series
            .by_hash
            .entry(hash)
            .or_default()
            .push(key.register(kind.clone()));
        series.count += 1;
        kind
    }

    /// Puts `kind` under `name` and `labels` in place of what is there, or adds it if the
    /// registry has room.
    fn replace(&self, name: &str, labels: &[(&str, &str)], kind: Kind) {
        let key = Key::new(name, labels);
        let hash = self.hash(&key);
        let mut series = self.series.write();
        let existing = series
            .by_hash
            .get_mut(&hash)
            .and_then(|bucket| bucket.iter_mut().find(|meter| key.matches(meter)));
        if let Some(meter) = existing {
            meter.kind = kind;
            return;
        }
        if series.count >= self.max_series.load(Ordering::Relaxed) {
            drop(series);
            refuse(name);
            return;
        }
        series
            .by_hash
            .entry(hash)
            .or_default()
            .push(key.register(kind));
        series.count += 1;
    }

    /// A copy of every series, so that gauges are read without the lock held.
    fn meters(&self) -> Vec<Registered> {
        let series = self.series.read();
        series.by_hash.values().flatten().cloned().collect()
    }
}

/// Counts a series the registry had no room for.
fn refuse(name: &str) {
    diagnostics::record(Problem::MeterSeriesRefused, 1, &format_args!("{name:?}"));
}

impl fmt::Debug for Counter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Counter")
            .field("value", &self.value())
            .finish()
    }
}

impl fmt::Debug for Gauge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gauge").finish_non_exhaustive()
    }
}

impl fmt::Debug for Histogram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Histogram")
            .field("bounds", &self.inner.bounds)
            .field("counts", &self.counts())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find<'a>(meters: &'a [MeterData], name: &str) -> Option<&'a Metric> {
        meters.iter().find_map(|meter| match &meter.metric {
            Some(Metric::SingleValue(single)) if single.name == name => meter.metric.as_ref(),
            Some(Metric::Histogram(histogram)) if histogram.name == name => meter.metric.as_ref(),
            _ => None,
        })
    }

    #[test]
    fn collected_meters_are_what_the_oap_reads() {
        counter("unit_counter", &[("k", "v")]).increment(2.5);
        gauge("unit_gauge", &[], || 7.0);
        let histogram = histogram("unit_histogram", &[], &[10.0, 0.0]);
        histogram.record(-1.0);
        histogram.record(0.0);
        histogram.record(15.0);
        let meters = collect();

        let Some(Metric::SingleValue(counter)) = find(&meters, "unit_counter") else {
            panic!("no counter in {meters:?}");
        };
        assert_eq!(counter.value, 2.5);
        assert_eq!(counter.labels, [label("k", "v")]);
        let Some(Metric::SingleValue(gauge)) = find(&meters, "unit_gauge") else {
            panic!("no gauge in {meters:?}");
        };
        assert_eq!(gauge.value, 7.0);
        let Some(Metric::Histogram(histogram)) = find(&meters, "unit_histogram") else {
            panic!("no histogram in {meters:?}");
        };
        let buckets: Vec<(bool, f64, i64)> = histogram
            .values
            .iter()
            .map(|bucket| (bucket.is_negative_infinity, bucket.bucket, bucket.count))
            .collect();
        assert_eq!(buckets, [(true, 0.0, 1), (false, 0.0, 1), (false, 10.0, 1)]);
    }

    #[test]
    fn a_name_taken_by_another_kind_is_not_corrupted() {
        let gauge = gauge("unit_taken", &[], || 1.0);
        let stray = counter("unit_taken", &[]);
        stray.increment(5.0);
        assert_eq!(gauge.value(), 1.0);
        let meters = collect();
        let Some(Metric::SingleValue(reported)) = find(&meters, "unit_taken") else {
            panic!("the gauge is reported");
        };
        assert_eq!(reported.value, 1.0);
    }

    #[test]
    fn a_gauge_that_panics_is_left_out() {
        gauge("unit_panicking_gauge", &[], || {
            panic!("the application's bug")
        });
        gauge("unit_fine_gauge", &[], || 2.0);
        let meters = collect();
        assert!(find(&meters, "unit_panicking_gauge").is_none());
        assert!(find(&meters, "unit_fine_gauge").is_some());
    }

    fn new_counter() -> Kind {
        Kind::Counter(Counter {
            value: Arc::new(AtomicF64::default()),
        })
    }

    fn names(registry: &Registry) -> Vec<String> {
        let mut names: Vec<String> = registry
            .meters()
            .into_iter()
            .map(|meter| meter.name)
            .collect();
        names.sort();
        names
    }

    #[test]
    fn the_registry_keeps_at_most_its_limit_of_series_and_counts_the_rest() {
        let registry = Registry::new(3);
        let refused_before = diagnostics::counters().meter_series_refused;
        for user in 0..10 {
            let Kind::Counter(counter) =
                registry.find_or_add("logins", &[("user", &user.to_string())], new_counter)
            else {
                panic!("a counter");
            };
            // A refused meter still works for its caller.
            counter.increment(1.0);
            assert_eq!(counter.value(), 1.0);
        }
        registry.replace("queue", &[], Kind::Gauge(gauge_of(1.0)));
        assert_eq!(names(&registry), ["logins", "logins", "logins"]);
        assert_eq!(registry.series.read().count, 3);
        let refused = diagnostics::counters().meter_series_refused - refused_before;
        assert!(
            refused >= 8,
            "7 counters and a gauge refused, {refused} counted"
        );

        // A series already kept is still found, and a gauge kept is still replaced.
        let Kind::Counter(first) = registry.find_or_add("logins", &[("user", "0")], new_counter)
        else {
            panic!("a counter");
        };
        assert_eq!(first.value(), 1.0);
        let registry = Registry::new(1);
        registry.replace("queue", &[], Kind::Gauge(gauge_of(1.0)));
        registry.replace("queue", &[], Kind::Gauge(gauge_of(2.0)));
        let [meter] = &registry.meters()[..] else {
            panic!("one series");
        };
        let Kind::Gauge(gauge) = &meter.kind else {
            panic!("a gauge");
        };
        assert_eq!(gauge.value(), 2.0);
    }

    fn gauge_of(value: f64) -> Gauge {
        Gauge {
            read: Arc::new(move || value),
        }
    }

    #[test]
    fn labels_in_another_order_are_the_same_series() {
        let registry = Registry::new(10);
        let Kind::Counter(a) = registry.find_or_add(
            "orders",
            &[("region", "eu"), ("channel", "web")],
            new_counter,
        ) else {
            panic!("a counter");
        };
        let Kind::Counter(b) = registry.find_or_add(
            "orders",
            &[("channel", "web"), ("region", "eu")],
            new_counter,
        ) else {
            panic!("a counter");
        };
        a.increment(2.0);
        assert_eq!(b.value(), 2.0);
        let meters = registry.meters();
        assert_eq!(meters.len(), 1);
        assert_eq!(
            meters[0].labels,
            [label("channel", "web"), label("region", "eu")]
        );
        // Another value, another name or one label fewer is another series.
        registry.find_or_add(
            "orders",
            &[("region", "us"), ("channel", "web")],
            new_counter,
        );
        registry.find_or_add(
            "refunds",
            &[("region", "eu"), ("channel", "web")],
            new_counter,
        );
        registry.find_or_add("orders", &[("region", "eu")], new_counter);
        assert_eq!(registry.series.read().count, 4);
    }

    #[test]
    fn a_tokio_runtime_shut_down_is_still_read_without_a_panic() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        tokio_runtime(runtime.handle(), "unit-dropped");
        drop(runtime);
        let meters = collect();
        let labels = [label("runtime", "unit-dropped")];
        let read = |name: &str| {
            meters.iter().find_map(|meter| match &meter.metric {
                Some(Metric::SingleValue(single))
                    if single.name == name && single.labels == labels =>
                {
                    Some(single.value)
                }
                _ => None,
            })
        };
        assert_eq!(read("instance_rust_tokio_workers"), Some(1.0));
        assert_eq!(read("instance_rust_tokio_alive_tasks"), Some(0.0));
        if cfg!(target_has_atomic = "64") {
            assert!(read("instance_rust_tokio_busy_ratio").is_some());
        }
    }

    #[test]
    fn process_meters_on_linux() {
        let mut process = ProcessMeters::default();
        let first = process.collect();
        if cfg!(target_os = "linux") {
            let names: Vec<&str> = first
                .iter()
                .filter_map(|meter| match &meter.metric {
                    Some(Metric::SingleValue(single)) => Some(single.name.as_str()),
                    _ => None,
                })
                .collect();
            assert!(
                names.contains(&"instance_rust_process_threads"),
                "{names:?}"
            );
            assert!(names.contains(&"instance_rust_process_resident_memory_bytes"));
            assert!(names.contains(&"instance_rust_process_open_fds"));
            std::thread::sleep(std::time::Duration::from_millis(20));
            let second = process.collect();
            assert!(find(&second, "instance_rust_process_cpu_utilization").is_some());
        }
    }
}
