//! `#[tokio::test]` expands like `#[tokio::main]` on a function other than `main`: a sync function
//! that runs its body on a fresh runtime. trybuild builds pass cases as binaries, where `#[test]`
//! functions are compiled out, so these cases use `#[tokio::main]` on ordinary functions, stacked
//! with the tracing attributes in both orders (`tests/tokio_test.rs` has real `#[tokio::test]`s).

use rust2sky::config::Config;
use rust2sky::reporter::MemoryReporter;
use rust2sky::{Tracer, sw_local};

#[sw_local]
async fn price(items: u32) -> u32 {
    tokio::task::yield_now().await;
    items * 3
}

// The tracing attribute expands first and sees the `async fn`; tokio then runs it.
#[sw_local]
#[tokio::main(flavor = "current_thread")]
async fn traced_then_run() -> u32 {
    price(1).await
}

// tokio expands first, into a sync function; the span covers the whole run.
#[tokio::main(flavor = "current_thread")]
#[sw_local]
async fn run_then_traced() -> Result<u32, String> {
    Err(format!("{}", price(2).await))
}

fn main() {
    let reporter = MemoryReporter::new();
    let tracer = Tracer::new(Config::default(), reporter.clone());
    let (first, second) = tracer.in_scope(|| (traced_then_run(), run_then_traced()));
    assert_eq!((first, second), (3, Err("6".to_owned())));
    let segments = reporter.segments();
    assert_eq!(segments.len(), 2);
    for (segment, outer) in segments.iter().zip(["traced_then_run", "run_then_traced"]) {
        let mut names: Vec<&str> = segment
            .spans
            .iter()
            .map(|span| span.operation_name.as_str())
            .collect();
        names.sort_unstable();
        let mut expected = [outer, "price"];
        expected.sort_unstable();
        assert_eq!(names, expected);
    }
    assert!(segments[1].spans.iter().any(|span| span.is_error));
}
