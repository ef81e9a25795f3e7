//! The `metrics` crate's `counter!`, `gauge!` and `histogram!` as rust2sky meters: install a
//! [`SkyWalkingRecorder`] and what the application and its libraries record reaches the OAP with
//! the other meters, labels and all.
//!
//! ```
//! use rust2sky::integrations::metrics::SkyWalkingRecorder;
//!
//! metrics::set_global_recorder(SkyWalkingRecorder::new()).expect("no other recorder yet");
//! metrics::counter!("http.requests", "route" => "/users/{id}").increment(1);
//! metrics::gauge!("pool.connections").set(8.0);
//! metrics::histogram!("http.latency").record(0.042);
//! ```
//!
//! What each becomes:
//!
//! - A name is the meter's name with every character other than an ASCII letter, digit or `_`
//!   made `_` (`http.requests` is `http_requests`), as the OAP's rules can name only those.
//! - A counter is a rust2sky counter; `absolute(n)` raises it to `n`.
//! - A gauge holds the value last set, incremented or decremented.
//! - A histogram counts values in fixed buckets, in the OAP's format: each bucket is named by its
//!   lower bound, and one more counts the values below the first. The bounds are
//!   [`DEFAULT_BUCKETS`] unless [`SkyWalkingRecorder::buckets`] or
//!   [`SkyWalkingRecorder::buckets_for`] say otherwise.
//! - Descriptions and units are not sent: the protocol has no place for them.
//!
//! The series share the meter registry's bound ([`crate::meter::DEFAULT_MAX_SERIES`],
//! `SW_METER_MAX_METER_SIZE`): past it, a new series works for the code that records it but is
//! not reported, and is counted.
//!
//! To export to another system too (Prometheus, say), put both recorders in a [`FanOut`].

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use metrics::{
    Counter, CounterFn, Gauge, GaugeFn, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder,
    SharedString, Unit,
};

use crate::meter;

/// The histogram bounds a [`SkyWalkingRecorder`] uses unless told otherwise: lower bounds, in the
/// unit the application records in. They are the Prometheus clients' default buckets (made for
/// durations in seconds, the `metrics` crate's convention) with `0` in front, so that no
/// non-negative value lands in the bucket below the first bound.
///
/// ```
/// assert_eq!(rust2sky::integrations::metrics::DEFAULT_BUCKETS.len(), 12);
/// ```
pub const DEFAULT_BUCKETS: &[f64] = &[
    0.0, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// A `metrics` recorder that keeps what it records as rust2sky meters, which the reporter sends
/// to the OAP.
///
/// ```
/// use rust2sky::integrations::metrics::SkyWalkingRecorder;
///
/// let recorder = SkyWalkingRecorder::new()
///     .buckets(&[0.0, 10.0, 100.0, 1000.0])
///     .buckets_for("payload.bytes", &[0.0, 1024.0, 65536.0]);
/// metrics::with_local_recorder(&recorder, || {
///     metrics::histogram!("payload.bytes").record(2048.0);
/// });
/// let sizes = rust2sky::meter::histogram("payload_bytes", &[], &[]);
/// assert_eq!(sizes.counts(), [0, 0, 1, 0]);
/// ```
#[derive(Debug, Clone)]
pub struct SkyWalkingRecorder {
    buckets: Arc<[f64]>,
    buckets_by_name: HashMap<String, Arc<[f64]>>,
}

impl Default for SkyWalkingRecorder {
    fn default() -> Self {
        SkyWalkingRecorder {
            buckets: DEFAULT_BUCKETS.into(),
            buckets_by_name: HashMap::new(),
        }
    }
}

impl SkyWalkingRecorder {
    /// A recorder with the [`DEFAULT_BUCKETS`].
    ///
    /// ```
    /// let recorder = rust2sky::integrations::metrics::SkyWalkingRecorder::new();
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// The bounds of every histogram without bounds of its own ([`Self::buckets_for`]); sorted,
    /// NaNs and repeats dropped. A histogram keeps the bounds it was first made with.
    ///
    /// ```
    /// let recorder = rust2sky::integrations::metrics::SkyWalkingRecorder::new()
    ///     .buckets(&[0.0, 5.0, 50.0, 500.0]);
    /// ```
    pub fn buckets(mut self, bounds: &[f64]) -> Self {
        self.buckets = bounds.into();
        self
    }

    /// The bounds of the histograms named `name` (as the code names it, before any `.` becomes
    /// `_`).
    ///
    /// ```
    /// let recorder = rust2sky::integrations::metrics::SkyWalkingRecorder::new()
    ///     .buckets_for("db.rows", &[0.0, 1.0, 10.0, 100.0]);
    /// ```
    pub fn buckets_for(mut self, name: &str, bounds: &[f64]) -> Self {
        self.buckets_by_name.insert(name.to_owned(), bounds.into());
        self
    }

    /// This recorder and `other` together: every value goes to both.
    ///
    /// ```
    /// use rust2sky::integrations::metrics::SkyWalkingRecorder;
    ///
    /// // In place of the no-op recorder, say, a Prometheus exporter's.
    /// let both = SkyWalkingRecorder::new().and(metrics::NoopRecorder);
    /// ```
    pub fn and<R: Recorder>(self, other: R) -> FanOut<Self, R> {
        FanOut::new(self, other)
    }
}

/// A meter's name as the OAP's rules can write it.
fn oap_name(name: &str) -> Cow<'_, str> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || c == '_';
    if name.chars().all(allowed) {
        Cow::Borrowed(name)
    } else {
        Cow::Owned(
            name.chars()
                .map(|c| if allowed(c) { c } else { '_' })
                .collect(),
        )
    }
}

fn with_key<T>(key: &Key, make: impl FnOnce(&str, &[(&str, &str)]) -> T) -> T {
    let name = oap_name(key.name());
    let labels: Vec<(&str, &str)> = key
        .labels()
        .map(|label| (label.key(), label.value()))
        .collect();
    make(&name, &labels)
}

impl Recorder for SkyWalkingRecorder {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        let counter = with_key(key, meter::counter);
        Counter::from_arc(Arc::new(MeterCounter(counter)))
    }

    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::from_arc(Arc::new(MeterLevel(with_key(key, meter::level))))
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        let bounds = self
            .buckets_by_name
            .get(key.name())
            .unwrap_or(&self.buckets);
        let histogram = with_key(key, |name, labels| meter::histogram(name, labels, bounds));
        Histogram::from_arc(Arc::new(MeterHistogram(histogram)))
    }
}

struct MeterCounter(meter::Counter);

impl CounterFn for MeterCounter {
    fn increment(&self, value: u64) {
        self.0.increment(value as f64);
    }

    fn absolute(&self, value: u64) {
        self.0.raise_to(value as f64);
    }
}

struct MeterLevel(meter::Level);

impl GaugeFn for MeterLevel {
    fn increment(&self, value: f64) {
        self.0.add(value);
    }

    fn decrement(&self, value: f64) {
        self.0.add(-value);
    }

    fn set(&self, value: f64) {
        self.0.set(value);
    }
}

struct MeterHistogram(meter::Histogram);

impl HistogramFn for MeterHistogram {
    fn record(&self, value: f64) {
        self.0.record(value);
    }
}

/// Two recorders as one: every meter is registered with both, every value goes to both. For an
/// application that exports its `metrics` to the OAP and to another system too.
///
/// ```
/// use rust2sky::integrations::metrics::{FanOut, SkyWalkingRecorder};
///
/// // The second would be, say, a Prometheus exporter's recorder.
/// let both = FanOut::new(SkyWalkingRecorder::new(), metrics::NoopRecorder);
/// metrics::with_local_recorder(&both, || metrics::counter!("jobs_done").increment(1));
/// assert_eq!(rust2sky::meter::counter("jobs_done", &[]).value(), 1.0);
/// ```
#[derive(Debug, Clone)]
pub struct FanOut<A, B> {
    first: A,
    second: B,
}

impl<A: Recorder, B: Recorder> FanOut<A, B> {
    /// Both recorders, `first` registered with first.
    ///
    /// ```
    /// let both = rust2sky::integrations::metrics::FanOut::new(metrics::NoopRecorder, metrics::NoopRecorder);
    /// ```
    pub fn new(first: A, second: B) -> Self {
        FanOut { first, second }
    }
}

impl<A: Recorder, B: Recorder> Recorder for FanOut<A, B> {
    fn describe_counter(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.first
            .describe_counter(key.clone(), unit, description.clone());
        self.second.describe_counter(key, unit, description);
    }

    fn describe_gauge(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.first
            .describe_gauge(key.clone(), unit, description.clone());
        self.second.describe_gauge(key, unit, description);
    }

    fn describe_histogram(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.first
            .describe_histogram(key.clone(), unit, description.clone());
        self.second.describe_histogram(key, unit, description);
    }

    fn register_counter(&self, key: &Key, metadata: &Metadata<'_>) -> Counter {
        Counter::from_arc(Arc::new(Both(
            self.first.register_counter(key, metadata),
            self.second.register_counter(key, metadata),
        )))
    }

    fn register_gauge(&self, key: &Key, metadata: &Metadata<'_>) -> Gauge {
        Gauge::from_arc(Arc::new(Both(
            self.first.register_gauge(key, metadata),
            self.second.register_gauge(key, metadata),
        )))
    }

    fn register_histogram(&self, key: &Key, metadata: &Metadata<'_>) -> Histogram {
        Histogram::from_arc(Arc::new(Both(
            self.first.register_histogram(key, metadata),
            self.second.register_histogram(key, metadata),
        )))
    }
}

/// The handles two recorders gave for one meter.
struct Both<T>(T, T);

impl CounterFn for Both<Counter> {
    fn increment(&self, value: u64) {
        self.0.increment(value);
        self.1.increment(value);
    }

    fn absolute(&self, value: u64) {
        self.0.absolute(value);
        self.1.absolute(value);
    }
}

impl GaugeFn for Both<Gauge> {
    fn increment(&self, value: f64) {
        self.0.increment(value);
        self.1.increment(value);
    }

    fn decrement(&self, value: f64) {
        self.0.decrement(value);
        self.1.decrement(value);
    }

    fn set(&self, value: f64) {
        self.0.set(value);
        self.1.set(value);
    }
}

impl HistogramFn for Both<Histogram> {
    fn record(&self, value: f64) {
        self.0.record(value);
        self.1.record(value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_what_the_oap_rules_can_write() {
        assert_eq!(oap_name("http_requests"), "http_requests");
        assert_eq!(oap_name("http.requests-total"), "http_requests_total");
        assert_eq!(oap_name("déjà"), "d_j_");
    }

    #[test]
    fn absolute_only_raises_a_counter() {
        let recorder = SkyWalkingRecorder::new();
        metrics::with_local_recorder(&recorder, || {
            let counter = metrics::counter!("unit.metrics.absolute");
            counter.absolute(10);
            counter.absolute(4);
            counter.increment(1);
        });
        assert_eq!(meter::counter("unit_metrics_absolute", &[]).value(), 11.0);
    }
}
