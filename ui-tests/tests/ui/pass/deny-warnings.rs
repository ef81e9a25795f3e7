//! Strict user code: the expansion must not trigger any lint the user denies.

#![deny(warnings)]
#![deny(clippy::all, clippy::pedantic)]
#![deny(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    unused,
    unused_qualifications,
    unused_results,
    rust_2018_idioms,
    unsafe_code,
    trivial_casts,
    trivial_numeric_casts,
    single_use_lifetimes,
    variant_size_differences,
    let_underscore_drop,
    unit_bindings
)]

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;

use rust2sky::config::Config;
use rust2sky::reporter::MemoryReporter;
use rust2sky::{FutureExt as _, Tracer, sw_entry, sw_exit, sw_local};

#[sw_local]
fn price(items: u32) -> u32 {
    items * 3
}

#[sw_local(tags(raw = raw))]
fn parse(raw: &str) -> Result<u32, std::num::ParseIntError> {
    raw.parse()
}

#[sw_local(err(Debug))]
fn nothing() -> Result<(), String> {
    Ok(())
}

#[sw_local]
fn unit() {}

#[sw_entry(extract = headers, layer = Http)]
fn handle(headers: &HashMap<String, String>) -> u32 {
    price(2) + parse("1").unwrap_or(0)
}

#[sw_exit(peer = "users:8080", inject = headers, component = 2)]
async fn fetch(headers: &mut HashMap<String, String>) -> Result<u32, String> {
    Ok(u32::try_from(headers.len()).map_err(|error| error.to_string())?)
}

#[sw_local]
fn later(items: u32) -> impl Future<Output = u32> {
    async move { items }
}

#[sw_local]
fn boxed(items: u32) -> Pin<Box<dyn Future<Output = u32> + Send>> {
    Box::pin(async move { items })
}

/// A cart.
#[derive(Debug)]
pub struct Cart {
    items: u32,
}

impl Cart {
    #[sw_local]
    fn total(&self) -> u32 {
        self.items
    }

    #[sw_local]
    fn checked(&mut self) -> Result<u32, String> {
        self.items += 1;
        Ok(self.items)
    }
}

fn main() {
    let reporter = MemoryReporter::new();
    let tracer = Tracer::new(Config::default(), reporter.clone());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut cart = Cart { items: 1 };
    let total = tracer.in_scope(|| {
        unit();
        nothing().unwrap();
        handle(&HashMap::new()) + cart.total() + cart.checked().unwrap()
    });
    assert_eq!(total, 7 + 1 + 2);
    let mut headers = HashMap::new();
    let fetched = runtime.block_on(
        async { fetch(&mut headers).await.unwrap() + later(1).await + boxed(1).await }
            .with_tracer(&tracer),
    );
    // One header (sw8) was written by the time the body ran.
    assert_eq!(fetched, 1 + 1 + 1);
    assert_eq!(reporter.segments().len(), 8);
}
