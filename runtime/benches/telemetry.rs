//! What a log record and a meter update cost the thread that makes them.
//!
//! Run with `cargo bench -p rust2sky --features testing,log --bench telemetry`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};

#[path = "support/rounds.rs"]
mod rounds;
use log::Log as _;
use rounds::in_rounds;
use rust2sky::config::Config;
use rust2sky::logging::SkyWalkingLogger;
use rust2sky::propagation::NoHeaders;
use rust2sky::reporter::{GrpcReporter, MemoryReporter, Reporter as _, Transport as _};
use rust2sky::testing::Collector;
use rust2sky::{Tracer, meter};

/// Records are made in rounds of this many, and the queue drained between rounds (untimed), so
/// that every timed record is really queued, not dropped.
const ROUND: u64 = 10_000;

fn log_record(c: &mut Criterion) {
    let collector = Collector::start().expect("a collector");
    let config = Config::builder()
        .backends([collector.backend()])
        .max_send_queue_size(2 * ROUND as usize)
        .build_with_env(|_| None)
        .expect("a valid configuration");
    let reporter = GrpcReporter::start(&config).expect("the reporter starts");
    let logger = SkyWalkingLogger::new(reporter.clone());
    let tracer = Tracer::new(Config::default(), MemoryReporter::new());
    tracer.in_scope(|| {
        let _request = rust2sky::entry_span("GET:/cart", &NoHeaders).entered();
        c.bench_function("log/warn_in_a_span", |b| {
            b.iter_custom(|iters| {
                in_rounds(iters, ROUND, |calls| {
                    let start = Instant::now();
                    for _ in 0..calls {
                        logger.log(
                            &log::Record::builder()
                                .level(log::Level::Warn)
                                .target("checkout")
                                .args(format_args!("cart {} is empty", black_box(7)))
                                .build(),
                        );
                    }
                    let time = start.elapsed();
                    assert!(
                        reporter.flush(Duration::from_secs(60)),
                        "the collector took them"
                    );
                    collector.clear();
                    time
                })
            })
        });
    });
    assert_eq!(
        reporter.transport_stats().logs.dropped_full,
        0,
        "every timed record was queued"
    );
}

fn meters(c: &mut Criterion) {
    let counter = meter::counter("bench_orders_total", &[("region", "eu")]);
    c.bench_function("meter/counter_increment", |b| {
        b.iter(|| counter.increment(black_box(1.0)))
    });
    let histogram = meter::histogram(
        "bench_latency_ms",
        &[],
        &[0.0, 5.0, 10.0, 50.0, 100.0, 500.0],
    );
    c.bench_function("meter/histogram_record", |b| {
        b.iter(|| histogram.record(black_box(42.0)))
    });
}

criterion_group!(benches, log_record, meters);
criterion_main!(benches);
