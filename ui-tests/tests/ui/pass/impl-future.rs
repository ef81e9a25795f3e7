use std::future::Future;

use rust2sky::config::Config;
use rust2sky::reporter::MemoryReporter;
use rust2sky::{FutureExt as _, Tracer, sw_local};

#[sw_local]
fn price(items: u32) -> impl Future<Output = u32> {
    async move {
        tokio::task::yield_now().await;
        items * 3
    }
}

#[sw_local]
fn ready(value: u32) -> impl Future<Output = u32> + Send + 'static {
    std::future::ready(value)
}

#[sw_local(err)]
fn parse(raw: String) -> impl Future<Output = Result<u32, std::num::ParseIntError>> {
    async move { raw.parse() }
}

struct Cart {
    items: u32,
}

impl Cart {
    #[sw_local]
    fn total(&self) -> impl Future<Output = u32> + '_ {
        async move { self.items * 2 }
    }
}

fn main() {
    let reporter = MemoryReporter::new();
    let tracer = Tracer::new(Config::default(), reporter.clone());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let cart = Cart { items: 4 };
    let results = runtime.block_on(
        async {
            (
                price(2).await,
                ready(1).await,
                parse("x".to_owned()).await.is_err(),
                cart.total().await,
            )
        }
        .with_tracer(&tracer),
    );
    assert_eq!(results, (6, 1, true, 8));
    let segments = reporter.segments();
    let names: Vec<&str> = segments
        .iter()
        .map(|segment| segment.spans[0].operation_name.as_str())
        .collect();
    assert_eq!(names, ["price", "ready", "parse", "Cart::total"]);
    assert!(segments[2].spans[0].is_error);
    assert_eq!(segments[2].spans[0].logs[0].data[1].value, "ParseIntError");
}
