use std::future::Future;

use rust2sky::config::Config;
use rust2sky::reporter::MemoryReporter;
use rust2sky::{FutureExt as _, Tracer, sw_exit, sw_local};

#[sw_local]
async fn price(items: u32) -> u32 {
    tokio::task::yield_now().await;
    items * 3
}

#[sw_local]
async fn borrowed<'a>(name: &'a str, _other: &str) -> &'a str {
    tokio::task::yield_now().await;
    name
}

#[sw_exit(peer = "users:8080")]
async fn fetch_user(id: u64) -> Result<String, String> {
    tokio::task::yield_now().await;
    if id == 0 {
        return Err("no user 0".to_owned());
    }
    Ok(format!("user {id}"))
}

#[sw_local]
async fn unit() {
    tokio::task::yield_now().await;
}

fn assert_send<F: Future + Send>(future: F) -> F {
    future
}

fn main() {
    let reporter = MemoryReporter::new();
    let tracer = Tracer::new(Config::default(), reporter.clone());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let (total, name, user, missing) = runtime.block_on(
        assert_send(async {
            unit().await;
            (
                price(2).await,
                borrowed("cart", "other").await,
                fetch_user(1).await,
                fetch_user(0).await,
            )
        })
        .with_tracer(&tracer),
    );
    assert_eq!((total, name), (6, "cart"));
    assert_eq!(user, Ok("user 1".to_owned()));
    assert_eq!(missing, Err("no user 0".to_owned()));

    let segments = reporter.segments();
    let names: Vec<&str> = segments
        .iter()
        .map(|segment| segment.spans[0].operation_name.as_str())
        .collect();
    assert_eq!(names, ["unit", "price", "borrowed", "fetch_user", "fetch_user"]);
    assert!(!segments[3].spans[0].is_error);
    let failed = &segments[4].spans[0];
    assert!(failed.is_error);
    assert_eq!(failed.peer, "users:8080");
    assert_eq!(failed.logs[0].data[2].value, "no user 0");
}
