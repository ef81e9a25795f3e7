//! What the `tracing` span bridge adds to a `tracing` span: a plain `Registry` span; the same
//! span with a layer that only keeps a value in each span's extensions (the least a layer that
//! remembers something per span in the registry's way pays); with a layer that keeps it in a
//! map of its own instead; with `SpanBridge` installed; and rust2sky's own local span for
//! comparison. Each row makes, enters, leaves and closes one span inside a request whose segment
//! is current, so the bridged span is recorded (and the segment, holding up to the span limit, is
//! replaced every 200 spans).
//!
//! Run with `cargo bench -p rust2sky --features tracing --bench tracing_bridge`.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use rust2sky::Tracer;
use rust2sky::config::Config;
use rust2sky::integrations::tracing::SpanBridge;
use rust2sky::reporter::MemoryReporter;
use tracing::span::{Attributes, Id};
use tracing_subscriber::layer::Context;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::registry::LookupSpan;

/// Spans per request, so that no segment reaches the span limit (300).
const PER_REQUEST: u64 = 200;

/// Runs `iters` spans made by `span` in requests of [`PER_REQUEST`] spans each.
fn in_requests(tracer: &Tracer, reporter: &MemoryReporter, iters: u64, span: impl Fn()) {
    let mut left = iters;
    while left > 0 {
        let batch = left.min(PER_REQUEST);
        tracer.in_scope(|| {
            let _request = rust2sky::local_span("request").entered();
            for _ in 0..batch {
                span();
            }
        });
        drop(reporter.take_finished());
        left -= batch;
    }
}

/// Keeps a value in each span's extensions: made when the span is, read when it is entered,
/// removed when it closes, as the bridge does with its SkyWalking span.
struct ExtensionsOnly;

struct Kept(u64);

impl<S> tracing_subscriber::Layer<S> for ExtensionsOnly
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, _attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(Kept(1));
        }
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id) {
            black_box(span.extensions().get::<Kept>().map(|kept| kept.0));
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(&id) {
            black_box(span.extensions_mut().remove::<Kept>());
        }
    }
}

/// Keeps a value per span as [`ExtensionsOnly`] does, in a map of its own keyed by span id
/// instead of the registry's extensions: what a bridge that kept its spans itself would pay at
/// least.
#[derive(Default)]
struct OwnMapOnly(std::sync::Mutex<HashMap<u64, Kept, BuildHasherDefault<IdHasher>>>);

/// Span ids are unique while their spans live: they are their own hash.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(byte);
        }
    }

    fn write_u64(&mut self, id: u64) {
        self.0 = id;
    }
}

impl<S> tracing_subscriber::Layer<S> for OwnMapOnly
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, _attrs: &Attributes<'_>, id: &Id, _ctx: Context<'_, S>) {
        if let Ok(mut kept) = self.0.lock() {
            kept.insert(id.into_u64(), Kept(1));
        }
    }

    fn on_enter(&self, id: &Id, _ctx: Context<'_, S>) {
        if let Ok(kept) = self.0.lock() {
            black_box(kept.get(&id.into_u64()).map(|kept| kept.0));
        }
    }

    fn on_close(&self, id: Id, _ctx: Context<'_, S>) {
        if let Ok(mut kept) = self.0.lock() {
            black_box(kept.remove(&id.into_u64()));
        }
    }
}

/// Times `iters` spans of `info_span!("load", id = 7)`, made, entered, left and closed.
fn tracing_span_rows(
    tracer: &Tracer,
    reporter: &MemoryReporter,
    iters: u64,
) -> std::time::Duration {
    let start = std::time::Instant::now();
    in_requests(tracer, reporter, iters, || {
        drop(black_box(tracing::info_span!("load", id = 7).entered()));
    });
    start.elapsed()
}

fn tracing_spans(c: &mut Criterion) {
    let reporter = MemoryReporter::with_capacity(4);
    let tracer = Tracer::new(Config::default(), reporter.clone());
    let mut group = c.benchmark_group("tracing");

    tracing::subscriber::with_default(tracing_subscriber::registry(), || {
        group.bench_function("registry_span", |b| {
            b.iter_custom(|iters| tracing_span_rows(&tracer, &reporter, iters))
        });
    });
    let extensions_only = tracing_subscriber::registry().with(ExtensionsOnly);
    tracing::subscriber::with_default(extensions_only, || {
        group.bench_function("extensions_only_span", |b| {
            b.iter_custom(|iters| tracing_span_rows(&tracer, &reporter, iters))
        });
    });
    let own_map_only = tracing_subscriber::registry().with(OwnMapOnly::default());
    tracing::subscriber::with_default(own_map_only, || {
        group.bench_function("own_map_only_span", |b| {
            b.iter_custom(|iters| tracing_span_rows(&tracer, &reporter, iters))
        });
    });
    let bridged = tracing_subscriber::registry().with(SpanBridge::new());
    tracing::subscriber::with_default(bridged, || {
        group.bench_function("bridged_span", |b| {
            b.iter_custom(|iters| tracing_span_rows(&tracer, &reporter, iters))
        });
    });

    group.bench_function("rust2sky_local_span", |b| {
        b.iter_custom(|iters| {
            let start = std::time::Instant::now();
            in_requests(&tracer, &reporter, iters, || {
                let mut span = rust2sky::local_span("load");
                span.tag("id", "7");
                drop(black_box(span.entered()));
            });
            start.elapsed()
        })
    });
    group.finish();
}

criterion_group!(benches, tracing_spans);
criterion_main!(benches);
