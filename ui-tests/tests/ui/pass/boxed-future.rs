use std::future::Future;
use std::pin::Pin;

use rust2sky::config::Config;
use rust2sky::reporter::MemoryReporter;
use rust2sky::{FutureExt as _, Tracer, sw_local};

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

#[sw_local]
fn price(items: u32) -> BoxFuture<'static, u32> {
    let factor = 3;
    Box::pin(async move {
        tokio::task::yield_now().await;
        items * factor
    })
}

#[sw_local]
fn fails(items: u32) -> Pin<Box<dyn Future<Output = Result<u32, String>>>> {
    std::boxed::Box::pin(async move {
        if items == 0 {
            return Err("nothing".to_owned());
        }
        Ok(items)
    })
}

fn main() {
    let reporter = MemoryReporter::new();
    let tracer = Tracer::new(Config::default(), reporter.clone());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let results = runtime
        .block_on(async { (price(2).await, fails(0).await, fails(1).await) }.with_tracer(&tracer));
    assert_eq!(results, (6, Err("nothing".to_owned()), Ok(1)));
    let segments = reporter.segments();
    let names: Vec<&str> = segments
        .iter()
        .map(|segment| segment.spans[0].operation_name.as_str())
        .collect();
    assert_eq!(names, ["price", "fails", "fails"]);
    assert!(segments[1].spans[0].is_error);
    assert!(!segments[2].spans[0].is_error);
}
