//! What the attribute macros add over the same work written with the manual API.
//!
//! Run with `cargo bench -p rust2sky --bench macros`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use rust2sky::config::Config;
use rust2sky::reporter::{FinishedSegment, Reporter};
use rust2sky::{FutureExt as _, Tracer, sw_local};

// `inline(never)` on all four: callgrind counts the instructions of a function only if it is one
// (BENCHMARKS.md compares them that way).
#[sw_local]
#[inline(never)]
fn traced(x: u64) -> u64 {
    black_box(x) + 1
}

#[inline(never)]
fn by_hand(x: u64) -> u64 {
    let _span = rust2sky::local_span("by_hand").entered();
    black_box(x) + 1
}

#[sw_local]
#[inline(never)]
async fn traced_async(x: u64) -> u64 {
    black_box(x) + 1
}

#[inline(never)]
async fn by_hand_async(x: u64) -> u64 {
    async move { black_box(x) + 1 }
        .in_span(rust2sky::local_span("by_hand_async"))
        .await
}

// With tags: a string and a number, as a handler tags its route and an id.
#[sw_local(tags(route = route, user = user))]
#[inline(never)]
fn traced_tags(route: &str, user: u64) -> u64 {
    black_box(user) + 1
}

#[inline(never)]
fn by_hand_tags(route: &str, user: u64) -> u64 {
    let mut span = rust2sky::local_span("by_hand_tags");
    span.tag("route", route)
        .tag("user", itoa::Buffer::new().format(user));
    let _span = span.entered();
    black_box(user) + 1
}

/// Polls a future that never waits, without a runtime's overhead in the measurement.
#[inline(never)]
fn run<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut context = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
    }
}

/// Drops segments, so that both sides of each comparison pay the same, flat reporting cost.
struct Discard;

impl Reporter for Discard {
    fn report(&self, segment: FinishedSegment) {
        drop(black_box(segment));
    }
}

fn macros(c: &mut Criterion) {
    let tracer = Tracer::new(Config::default(), Discard);
    tracer.in_scope(|| {
        // Each call is a whole segment of one span, reported and dropped.
        let mut group = c.benchmark_group("macro_vs_manual");
        group.bench_function("sync/macro", |b| b.iter(|| traced(black_box(1))));
        group.bench_function("sync/manual", |b| b.iter(|| by_hand(black_box(1))));
        group.bench_function("tags/macro", |b| {
            b.iter(|| traced_tags(black_box("GET:/users/{id}"), black_box(7)))
        });
        group.bench_function("tags/manual", |b| {
            b.iter(|| by_hand_tags(black_box("GET:/users/{id}"), black_box(7)))
        });
        group.bench_function("async/macro", |b| {
            b.iter(|| run(traced_async(black_box(1))))
        });
        group.bench_function("async/manual", |b| {
            b.iter(|| run(by_hand_async(black_box(1))))
        });
        group.finish();
    });
}

criterion_group!(benches, macros);
criterion_main!(benches);
