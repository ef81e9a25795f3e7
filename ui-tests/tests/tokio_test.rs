//! `#[tokio::test]` functions calling traced async functions, and traced themselves. trybuild's
//! pass cases are binaries, where `#[test]` is compiled out, so these live here.

use rust2sky::config::Config;
use rust2sky::reporter::MemoryReporter;
use rust2sky::{FutureExt as _, Tracer, sw_local};

#[sw_local]
async fn price(items: u32) -> u32 {
    tokio::task::yield_now().await;
    items * 3
}

#[tokio::test]
async fn a_test_calls_a_traced_async_fn() {
    let reporter = MemoryReporter::new();
    let tracer = Tracer::new(Config::default(), reporter.clone());
    assert_eq!(price(2).with_tracer(&tracer).await, 6);
    let segments = reporter.segments();
    assert_eq!(segments.len(), 1);
    assert_eq!(segments[0].spans[0].operation_name, "price");
}

// The tracing attribute expands first and sees an `async fn`; tokio then runs it as a test.
#[sw_local]
#[tokio::test]
async fn a_traced_test() {
    assert_eq!(price(1).await, 3);
}

// tokio expands first, into a sync test function; the span covers the runtime.
#[tokio::test]
#[sw_local]
async fn a_test_traced_inside() {
    assert_eq!(price(1).await, 3);
}
