//! The `metrics` crate's macros through `SkyWalkingRecorder` to the collector, and through a
//! `FanOut` to a second recorder at the same time.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use metrics::{
    Counter, CounterFn, Gauge, GaugeFn, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder,
    SharedString, Unit,
};
use rust2sky::config::Config;
use rust2sky::integrations::metrics::SkyWalkingRecorder;
use rust2sky::proto::v3::meter_data::Metric;
use rust2sky::proto::v3::{Label, MeterData};
use rust2sky::reporter::GrpcReporter;
use rust2sky::testing::Collector;

use crate::meters::label;

const PATIENCE: Duration = Duration::from_secs(20);

/// A second recorder, as a Prometheus exporter would be: it writes down what reaches it.
#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<String>>>);

struct SeenMeter {
    name: String,
    seen: Seen,
}

impl SeenMeter {
    fn note(&self, what: String) {
        self.seen
            .0
            .lock()
            .unwrap()
            .push(format!("{} {what}", self.name));
    }
}

impl CounterFn for SeenMeter {
    fn increment(&self, value: u64) {
        self.note(format!("+{value}"));
    }
    fn absolute(&self, value: u64) {
        self.note(format!("={value}"));
    }
}

impl GaugeFn for SeenMeter {
    fn increment(&self, value: f64) {
        self.note(format!("+{value}"));
    }
    fn decrement(&self, value: f64) {
        self.note(format!("-{value}"));
    }
    fn set(&self, value: f64) {
        self.note(format!("={value}"));
    }
}

impl HistogramFn for SeenMeter {
    fn record(&self, value: f64) {
        self.note(format!("<-{value}"));
    }
}

impl Seen {
    fn meter(&self, key: &Key) -> Arc<SeenMeter> {
        Arc::new(SeenMeter {
            name: key.name().to_owned(),
            seen: self.clone(),
        })
    }
}

impl Recorder for Seen {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        Counter::from_arc(self.meter(key))
    }
    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::from_arc(self.meter(key))
    }
    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::from_arc(self.meter(key))
    }
}

fn single(meters: &[MeterData], name: &str, labels: &[Label]) -> Option<f64> {
    crate::meters::single(meters, name, labels).map(|single| single.value)
}

#[test]
fn counters_gauges_and_histograms_reach_the_collector_and_the_other_recorder() {
    let collector = Collector::start().unwrap();
    let config = Config::builder()
        .service_name("metrics-crate")
        .backends([collector.backend()])
        .meter_report_interval(Duration::from_millis(200))
        .build_with_env(|_| None)
        .unwrap();
    let _reporter = GrpcReporter::start(&config).unwrap();

    let seen = Seen::default();
    let recorder = SkyWalkingRecorder::new()
        .buckets_for("it.metrics.latency_ms", &[100.0, 0.0, 10.0])
        .and(seen.clone());
    metrics::with_local_recorder(&recorder, || {
        let orders = metrics::counter!("it.metrics.orders", "region" => "eu", "channel" => "web");
        orders.increment(3);
        // Asked for again, by the macro, as code on a request path does: the same series.
        metrics::counter!("it.metrics.orders", "channel" => "web", "region" => "eu").increment(2);
        metrics::counter!("it.metrics.orders", "region" => "us", "channel" => "web").increment(7);
        let pool = metrics::gauge!("it.metrics.pool", "pool" => "main");
        pool.set(5.0);
        pool.increment(2.0);
        pool.decrement(1.0);
        let latency = metrics::histogram!("it.metrics.latency_ms", "route" => "/users/{id}");
        for value in [-1.0, 0.0, 5.0, 9.9, 10.0, 250.0] {
            latency.record(value);
        }
        metrics::histogram!("it.metrics.default_seconds").record(0.3);
    });

    let eu = [label("channel", "web"), label("region", "eu")];
    let received = collector.wait_until(PATIENCE, |received| {
        single(&received.meters, "it_metrics_orders", &eu).is_some()
            && single(
                &received.meters,
                "instance_rust_agent_meter_series_refused",
                &[],
            )
            .is_some()
    });
    let meters = &received.meters;
    assert_eq!(single(meters, "it_metrics_orders", &eu), Some(5.0));
    let us = [label("channel", "web"), label("region", "us")];
    assert_eq!(single(meters, "it_metrics_orders", &us), Some(7.0));
    assert_eq!(
        single(meters, "it_metrics_pool", &[label("pool", "main")]),
        Some(6.0)
    );

    let histogram = |name: &str| {
        meters
            .iter()
            .rev()
            .find_map(|meter| match &meter.metric {
                Some(Metric::Histogram(histogram)) if histogram.name == name => Some(histogram),
                _ => None,
            })
            .unwrap_or_else(|| panic!("{name} arrives"))
    };
    let latency = histogram("it_metrics_latency_ms");
    assert_eq!(latency.labels, [label("route", "/users/{id}")]);
    let buckets = crate::meters::buckets(latency);
    // Lower bounds, as the OAP reads them: [0, 10) holds 0, 5 and 9.9; 10 starts its own.
    assert_eq!(
        buckets,
        [
            (true, 0.0, 1),
            (false, 0.0, 3),
            (false, 10.0, 1),
            (false, 100.0, 1)
        ]
    );
    let default = histogram("it_metrics_default_seconds");
    let bounds: Vec<f64> = default
        .values
        .iter()
        .filter(|bucket| !bucket.is_negative_infinity)
        .map(|bucket| bucket.bucket)
        .collect();
    assert_eq!(bounds, rust2sky::integrations::metrics::DEFAULT_BUCKETS);
    let counted: Vec<(f64, i64)> = default
        .values
        .iter()
        .filter(|bucket| bucket.count > 0)
        .map(|bucket| (bucket.bucket, bucket.count))
        .collect();
    assert_eq!(counted, [(0.25, 1)]);

    let seen = seen.0.lock().unwrap().clone();
    assert_eq!(
        seen,
        [
            "it.metrics.orders +3",
            "it.metrics.orders +2",
            "it.metrics.orders +7",
            "it.metrics.pool =5",
            "it.metrics.pool +2",
            "it.metrics.pool -1",
            "it.metrics.latency_ms <--1",
            "it.metrics.latency_ms <-0",
            "it.metrics.latency_ms <-5",
            "it.metrics.latency_ms <-9.9",
            "it.metrics.latency_ms <-10",
            "it.metrics.latency_ms <-250",
            "it.metrics.default_seconds <-0.3",
        ]
    );
}
