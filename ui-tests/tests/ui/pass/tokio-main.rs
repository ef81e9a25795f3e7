use rust2sky::config::Config;
use rust2sky::reporter::MemoryReporter;
use rust2sky::{FutureExt as _, Tracer, sw_entry, sw_local};

#[sw_local]
async fn price(items: u32) -> u32 {
    tokio::task::yield_now().await;
    items * 3
}

#[sw_entry(name = "job")]
async fn job() -> u32 {
    price(1).await + price(2).await
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let reporter = MemoryReporter::new();
    let tracer = Tracer::new(Config::default(), reporter.clone());
    let total = job().with_tracer(&tracer).await;
    assert_eq!(total, 9);
    let segments = reporter.segments();
    assert_eq!(segments.len(), 1);
    let mut names: Vec<&str> = segments[0]
        .spans
        .iter()
        .map(|span| span.operation_name.as_str())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["job", "price", "price"]);
}
