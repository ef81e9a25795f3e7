//! The tower layers: what the entry layer adds to a request a server handles, and the exit layer
//! to a request a client sends, around services that answer at once.
//!
//! Run with `cargo bench -p rust2sky --features tower --bench middleware`.

use std::future::Future;
use std::hint::black_box;
use std::task::{Context, Poll, Waker};

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use http::{Request, Response};
use rust2sky::Tracer;
use rust2sky::config::Config;
use rust2sky::integrations::tower::{EntryLayer, ExitLayer};
use rust2sky::reporter::{FinishedSegment, Reporter};
use tower::{Layer as _, Service, ServiceExt as _};

/// The caller's context, as in the spans bench.
const SW8: &str = "1-M2YyYzlhMWJlNGQ1NGMwZjlhN2U2YjVkNGMzYjJhMTkuMS4xNzM1Njg5NjAwMDEyMDAwMA==-M2YyYzlhMWJlNGQ1NGMwZjlhN2U2YjVkNGMzYjJhMTkuMS4xNzM1Njg5NjAwMDEyMDAwMQ==-2-b3JkZXItc2VydmljZQ==-OGE3YjZjNWQ0ZTNmNDBhMWIyYzNkNGU1ZjZhN2I4YzlAMTAuMC4wLjEy-R0VUOi9hcGkvb3JkZXJzL3tpZH0=-aW52ZW50b3J5OjgwODA=";

/// Drops each segment where it ends: its records go back to this thread's pool, so that the rows
/// measure the layers rather than a hand-off.
struct Dropping;

impl Reporter for Dropping {
    fn report(&self, segment: FinishedSegment) {
        drop(black_box(segment));
    }
}

/// Polls a future that is ready at once, as the services below are.
fn ready<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => unreachable!("the bench's services answer at once"),
    }
}

fn answer(_request: Request<()>) -> std::future::Ready<Result<Response<()>, String>> {
    std::future::ready(Ok(Response::new(())))
}

/// One request through `service`, by name, for callgrind's `--toggle-collect`.
#[inline(never)]
fn handle<S>(service: &mut S, request: Request<()>) -> Response<()>
where
    S: Service<Request<()>, Response = Response<()>>,
    S::Error: std::fmt::Debug,
{
    ready(service.call(request)).expect("the bench's services do not fail")
}

fn layers(c: &mut Criterion) {
    let tracer = Tracer::new(Config::default(), Dropping);
    let mut group = c.benchmark_group("tower");

    let mut server = EntryLayer::new()
        .with_tracer(tracer.clone())
        .layer(tower::service_fn(answer));
    ready(server.ready()).expect("always ready");
    let incoming = || {
        Request::get("http://shop:8080/api/orders/7")
            .header("sw8", SW8)
            .body(())
            .expect("a valid request")
    };
    group.bench_function("entry_request", |b| {
        b.iter_batched(
            incoming,
            |request| handle(&mut server, request),
            BatchSize::SmallInput,
        )
    });

    let mut client = ExitLayer::new().layer(tower::service_fn(answer));
    ready(client.ready()).expect("always ready");
    let outgoing = || {
        Request::post("http://inventory:8080/reserve/7")
            .body(())
            .expect("a valid request")
    };
    group.bench_function("exit_request", |b| {
        b.iter_batched(
            outgoing,
            |request| tracer.in_scope(|| handle(&mut client, request)),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, layers);
criterion_main!(benches);
