//! The gRPC reporter: what `report()` costs the thread that ends a segment, and how many segments
//! a second it delivers to a collector on 127.0.0.1; and what `report()` costs while the
//! collector is away and the queue is full.
//!
//! Run with `cargo bench -p rust2sky --features testing --bench reporter`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

#[path = "support/rounds.rs"]
mod rounds;
use rounds::in_rounds;
use rust2sky::config::Config;
use rust2sky::propagation::NoHeaders;
use rust2sky::reporter::{FinishedSegment, GrpcReporter, MemoryReporter, Reporter};
use rust2sky::testing::Collector;
use rust2sky::{Tracer, tags};

/// Segments are reported in rounds of this many, and the queue drained between rounds (untimed),
/// so that every timed `report()` is a real hand-off into the queue, not a drop.
const ROUND: u64 = 10_000;

/// A segment of the shape a web request makes: an entry span with two tags and an exit span.
fn request_segment() -> FinishedSegment {
    let memory = MemoryReporter::new();
    let tracer = Tracer::new(Config::default(), memory.clone());
    tracer.in_scope(|| {
        let mut entry = rust2sky::entry_span("GET:/users/{id}", &NoHeaders).entered();
        entry
            .tag(tags::HTTP_METHOD, "GET")
            .tag(tags::URL, "http://users:8080/users/7");
        let _exit = rust2sky::exit_span("SELECT users", "db:5432", &mut NoHeaders);
    });
    memory.take_finished().remove(0)
}

/// A reporter to a collector on 127.0.0.1 that counts segments without keeping them; the
/// collector runs as long as it is held.
fn reporter_to_collector() -> (Collector, GrpcReporter) {
    let collector = Collector::builder()
        .keep_last(0)
        .start()
        .expect("a collector");
    let config = Config::builder()
        .backends([collector.backend()])
        .max_send_queue_size(4 * ROUND as usize)
        .build_with_env(|_| None)
        .expect("a valid configuration");
    let reporter = GrpcReporter::start(&config).expect("the reporter starts");
    (collector, reporter)
}

/// Times `threads` threads each reporting `per_thread` clones of `segment` at once; returns the
/// slowest thread's time.
fn report_from(
    reporter: &GrpcReporter,
    segment: &FinishedSegment,
    threads: u64,
    per_thread: u64,
) -> Duration {
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let segments: Vec<FinishedSegment> =
                        (0..per_thread).map(|_| segment.clone()).collect();
                    let start = Instant::now();
                    for segment in segments {
                        reporter.report(black_box(segment));
                    }
                    start.elapsed()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().expect("a reporting thread"))
            .max()
            .unwrap_or_default()
    })
}

fn handoff(c: &mut Criterion) {
    let (_collector, reporter) = reporter_to_collector();
    let segment = request_segment();
    let mut group = c.benchmark_group("report");
    for threads in [1, 2] {
        group.bench_function(format!("handoff/{threads}_thread"), |b| {
            b.iter_custom(|iters| {
                in_rounds(iters, ROUND, |calls| {
                    // The time each caller sees per call while `threads` threads report at once.
                    let time = report_from(&reporter, &segment, threads, calls);
                    assert!(
                        reporter.flush(Duration::from_secs(60)),
                        "the collector took it"
                    );
                    time
                })
            })
        });
    }
    group.finish();
    assert_eq!(
        reporter.stats().dropped_full,
        0,
        "every timed call was a hand-off"
    );
}

fn delivery(c: &mut Criterion) {
    let (_collector, reporter) = reporter_to_collector();
    let segment = request_segment();
    let mut group = c.benchmark_group("report");
    group.throughput(Throughput::Elements(1));
    group.bench_function("delivered_to_loopback_collector", |b| {
        b.iter_custom(|iters| {
            in_rounds(iters, ROUND, |calls| {
                let segments: Vec<FinishedSegment> = (0..calls).map(|_| segment.clone()).collect();
                let start = Instant::now();
                for segment in segments {
                    reporter.report(segment);
                }
                assert!(
                    reporter.flush(Duration::from_secs(60)),
                    "the collector took it"
                );
                start.elapsed()
            })
        })
    });
    group.finish();
}

/// `report()` at the pace of a service that is not saturated: one segment every 50 µs, and one
/// every millisecond, so that the queue is empty at each call, as it mostly is in a service (a
/// sender that sleeps on it must then be woken). Only the calls are timed (with the two clock
/// reads each takes).
fn handoff_spaced(c: &mut Criterion) {
    let (_collector, reporter) = reporter_to_collector();
    let segment = request_segment();
    let mut group = c.benchmark_group("report");
    for every_us in [50, 1000] {
        group.bench_function(format!("handoff_every_{every_us}us"), |b| {
            b.iter_custom(|iters| {
                let mut timed = Duration::ZERO;
                for _ in 0..iters {
                    let segment = segment.clone();
                    let pause = Instant::now();
                    while pause.elapsed() < Duration::from_micros(every_us) {
                        std::hint::spin_loop();
                    }
                    let start = Instant::now();
                    reporter.report(black_box(segment));
                    timed += start.elapsed();
                }
                timed
            })
        });
    }
    group.finish();
}

/// `report()` while the collector is away and the queue is full, from one thread and from two
/// at once: each segment is counted and dropped, which is what every request pays until the
/// collector is back.
fn dropped_when_full(c: &mut Criterion) {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port");
    let config = Config::builder()
        .backends([closed.to_string()])
        .max_send_queue_size(16)
        .build_with_env(|_| None)
        .expect("a valid configuration");
    let reporter = GrpcReporter::start(&config).expect("the reporter starts");
    let segment = request_segment();
    // Fill the queue first.
    report_from(&reporter, &segment, 1, 16);
    let mut group = c.benchmark_group("report");
    for threads in [1, 2] {
        group.bench_function(format!("dropped_when_full/{threads}_thread"), |b| {
            b.iter_custom(|iters| {
                in_rounds(iters, ROUND, |calls| {
                    report_from(&reporter, &segment, threads, calls)
                })
            })
        });
    }
    group.finish();
    let stats = reporter.stats();
    assert!(
        stats.dropped_full > stats.produced / 2,
        "the timed calls met a full queue: {stats:?}"
    );
}

criterion_group!(
    benches,
    handoff,
    handoff_spaced,
    delivery,
    dropped_when_full
);
criterion_main!(benches);
