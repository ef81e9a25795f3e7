//! Meters to the collector: the application's counters, gauges and histograms, the process
//! figures and the agent's own counts, every report interval.

use std::time::Duration;

use rust2sky::Tracer;
use rust2sky::config::Config;
use rust2sky::meter;
use rust2sky::proto::v3::meter_data::Metric;
use rust2sky::proto::v3::{Label, MeterData, MeterHistogram, MeterSingleValue};
use rust2sky::reporter::{GrpcReporter, Reporter as _};
use rust2sky::testing::{Collector, Received};

const PATIENCE: Duration = Duration::from_secs(20);

pub(crate) fn label(name: &str, value: &str) -> Label {
    Label {
        name: name.to_owned(),
        value: value.to_owned(),
    }
}

/// A histogram's buckets as (negative infinity?, lower bound, count).
pub(crate) fn buckets(histogram: &MeterHistogram) -> Vec<(bool, f64, i64)> {
    histogram
        .values
        .iter()
        .map(|bucket| (bucket.is_negative_infinity, bucket.bucket, bucket.count))
        .collect()
}

pub(crate) fn single<'a>(
    meters: &'a [MeterData],
    name: &str,
    labels: &[Label],
) -> Option<&'a MeterSingleValue> {
    meters.iter().rev().find_map(|meter| match &meter.metric {
        Some(Metric::SingleValue(single)) if single.name == name && single.labels == labels => {
            Some(single)
        }
        _ => None,
    })
}

fn histogram<'a>(meters: &'a [MeterData], name: &str) -> Option<&'a MeterHistogram> {
    meters.iter().rev().find_map(|meter| match &meter.metric {
        Some(Metric::Histogram(histogram)) if histogram.name == name => Some(histogram),
        _ => None,
    })
}

#[test]
fn meters_arrive_with_their_values_and_labels() {
    let collector = Collector::start().unwrap();
    let config = Config::builder()
        .service_name("payments")
        .instance_name("payments-1")
        .backends([collector.backend()])
        .meter_report_interval(Duration::from_millis(200))
        .build_with_env(|_| None)
        .unwrap();
    let reporter = GrpcReporter::start(&config).unwrap();

    let orders = meter::counter("it_orders_total", &[("region", "eu"), ("channel", "web")]);
    orders.increment(1.0);
    orders.increment(2.5);
    meter::gauge("it_open_carts", &[], || 42.0);
    let latency = meter::histogram("it_checkout_latency_ms", &[], &[0.0, 10.0, 100.0]);
    for value in [5.0, 7.0, 50.0, 500.0] {
        latency.record(value);
    }
    let tracer = Tracer::new(config.clone(), reporter.clone());
    tracer.in_scope(|| drop(rust2sky::local_span("checkout")));
    assert!(reporter.flush(PATIENCE));

    // Labels go out sorted by name, whatever order the code gave them in.
    let labels = [label("channel", "web"), label("region", "eu")];
    let received: Received = collector.wait_until(PATIENCE, |received| {
        single(&received.meters, "it_orders_total", &labels).is_some()
            && single(
                &received.meters,
                "instance_rust_agent_segments",
                &[label("outcome", "sent")],
            )
            .is_some_and(|sent| sent.value == 1.0)
            // A report arrives one reading at a time: wait for its last.
            && single(&received.meters, "instance_rust_agent_meter_series_refused", &[]).is_some()
    });
    let meters = &received.meters;

    let counter = single(meters, "it_orders_total", &labels).expect("the counter arrives");
    assert_eq!(counter.value, 3.5);
    let gauge = single(meters, "it_open_carts", &[]).expect("the gauge arrives");
    assert_eq!(gauge.value, 42.0);
    let histogram = histogram(meters, "it_checkout_latency_ms").expect("the histogram arrives");
    let buckets = buckets(histogram);
    assert_eq!(
        buckets,
        [
            (true, 0.0, 0),
            (false, 0.0, 2),
            (false, 10.0, 1),
            (false, 100.0, 1)
        ]
    );

    let every = meters
        .iter()
        .all(|meter| meter.service == "payments" && meter.service_instance == "payments-1");
    assert!(every, "every reading names its service and instance");
    assert!(meters.iter().all(|meter| meter.timestamp > 0));

    let threads = single(meters, "instance_rust_process_threads", &[]).expect("process figures");
    assert!(
        threads.value >= 2.0,
        "this test's thread and the reporter's"
    );
    let memory = single(meters, "instance_rust_process_resident_memory_bytes", &[]).unwrap();
    assert!(memory.value > 1_000_000.0);
    let produced = single(
        meters,
        "instance_rust_agent_segments",
        &[label("outcome", "produced")],
    );
    assert_eq!(produced.map(|produced| produced.value), Some(1.0));
    let series = single(meters, "instance_rust_agent_meter_series", &[]).unwrap();
    assert!(series.value >= 3.0, "this test's three meters at least");
    let refused = single(meters, "instance_rust_agent_meter_series_refused", &[]).unwrap();
    assert_eq!(refused.value, 0.0);
}

#[test]
fn a_tokio_runtime_reports_its_workers_tasks_queue_and_busy_share() {
    let collector = Collector::start().unwrap();
    let config = Config::builder()
        .service_name("tokio-meters")
        .backends([collector.backend()])
        .meter_report_interval(Duration::from_millis(200))
        .build_with_env(|_| None)
        .unwrap();
    let _reporter = GrpcReporter::start(&config).unwrap();

    // Nothing runs this runtime: tasks spawned onto it wait in its global queue.
    let idle = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    for _ in 0..4 {
        drop(idle.spawn(async {}));
    }
    meter::tokio_runtime(idle.handle(), "it-idle");
    // Two workers, one kept busy for a while, three tasks that never finish.
    let pool = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap();
    meter::tokio_runtime(pool.handle(), "it-pool");
    for _ in 0..3 {
        drop(pool.spawn(std::future::pending::<()>()));
    }
    // Busy in short stretches with a pause between, so that the worker parks often: tokio adds
    // up a worker's busy time when it parks, and the other tests' reporters in this process read
    // the same gauge (each reading starts the next share), so one long stretch could come as a
    // single step that another reporter reads first.
    drop(pool.spawn(async {
        let start = std::time::Instant::now();
        while start.elapsed() < Duration::from_millis(1500) {
            let stretch = std::time::Instant::now();
            while stretch.elapsed() < Duration::from_millis(20) {
                std::hint::spin_loop();
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }));

    let idle_labels = [label("runtime", "it-idle")];
    let pool_labels = [label("runtime", "it-pool")];
    let figure = |meters: &[MeterData], name: &str, labels: &[Label]| {
        single(meters, name, labels).map(|single| single.value)
    };
    let received = collector.wait_until(PATIENCE, |received| {
        let meters = &received.meters;
        let busy = meters.iter().any(|meter| match &meter.metric {
            Some(Metric::SingleValue(single)) => {
                single.name == "instance_rust_tokio_busy_ratio"
                    && single.labels == pool_labels
                    && single.value > 0.0
            }
            _ => false,
        });
        busy && figure(meters, "instance_rust_tokio_alive_tasks", &pool_labels) == Some(3.0)
    });
    let meters = &received.meters;
    let figure = |name: &str, labels: &[Label]| figure(meters, name, labels);
    assert_eq!(
        figure("instance_rust_tokio_workers", &idle_labels),
        Some(1.0)
    );
    assert_eq!(
        figure("instance_rust_tokio_alive_tasks", &idle_labels),
        Some(4.0)
    );
    assert_eq!(
        figure("instance_rust_tokio_global_queue_depth", &idle_labels),
        Some(4.0)
    );
    assert_eq!(
        figure("instance_rust_tokio_workers", &pool_labels),
        Some(2.0)
    );
    assert_eq!(
        figure("instance_rust_tokio_alive_tasks", &pool_labels),
        Some(3.0)
    );
    let busiest = meters
        .iter()
        .filter_map(|meter| match &meter.metric {
            Some(Metric::SingleValue(single))
                if single.name == "instance_rust_tokio_busy_ratio"
                    && single.labels == pool_labels =>
            {
                Some(single.value)
            }
            _ => None,
        })
        .fold(0.0, f64::max);
    assert!(
        busiest > 0.0 && busiest <= 100.0,
        "one of two workers busy: {busiest}"
    );
}
