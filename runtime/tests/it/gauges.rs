//! A gauge closure that blocks, against the gRPC reporter and a real collector. The meter
//! registry is the process's: no other test of this binary reads meters, so the gauge holding
//! up readings for a while troubles none of them.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rust2sky::Tracer;
use rust2sky::config::Config;
use rust2sky::propagation::NoHeaders;
use rust2sky::reporter::GrpcReporter;
use rust2sky::testing::Collector;

const PATIENCE: Duration = Duration::from_secs(20);

static BLOCKING: AtomicBool = AtomicBool::new(true);
static ENTERED: AtomicBool = AtomicBool::new(false);

#[test]
fn a_gauge_that_blocks_stalls_neither_segments_nor_flush() {
    rust2sky::meter::gauge("blocking_gauge", &[], || {
        ENTERED.store(true, Ordering::SeqCst);
        let started = Instant::now();
        while BLOCKING.load(Ordering::SeqCst) && started.elapsed() < PATIENCE * 2 {
            std::thread::sleep(Duration::from_millis(5));
        }
        1.0
    });
    let collector = Collector::start().unwrap();
    let config = Config::builder()
        .service_name("gauges")
        .backends([collector.backend()])
        .meter_report_interval(Duration::from_secs(1))
        .build_with_env(|_| None)
        .unwrap();
    let reporter = GrpcReporter::start(&config).unwrap();
    let tracer = Tracer::new(config, reporter.clone());

    let started = Instant::now();
    while !ENTERED.load(Ordering::SeqCst) {
        assert!(started.elapsed() < PATIENCE, "the gauge was never read");
        std::thread::sleep(Duration::from_millis(10));
    }
    let skipped_before = rust2sky::diagnostics::counters().meter_reports_skipped;
    tracer.in_scope(|| {
        let _entry = rust2sky::entry_span("GET:/while-a-gauge-blocks", &NoHeaders).entered();
    });
    let flushing = Instant::now();
    assert!(
        tracer.flush(Duration::from_secs(5)),
        "{:?}",
        reporter.stats()
    );
    assert!(flushing.elapsed() < Duration::from_secs(5));
    let segments = collector.wait_for_segments(1, PATIENCE);
    assert_eq!(
        segments[0].spans[0].operation_name,
        "GET:/while-a-gauge-blocks"
    );

    // The stuck reading holds later reports back, and each one skipped is counted.
    std::thread::sleep(Duration::from_millis(2500));
    assert!(rust2sky::diagnostics::counters().meter_reports_skipped > skipped_before);

    BLOCKING.store(false, Ordering::SeqCst);
    rust2sky::meter::gauge("blocking_gauge", &[], || 2.0);
    collector.wait_until(PATIENCE, |received| {
        received
            .meters
            .iter()
            .any(|meter| meter.service == "gauges")
    });
}
