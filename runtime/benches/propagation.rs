//! The header codecs and id generation: the work an instrumented request does on every hop.
//!
//! Run with `cargo bench -p rust2sky --bench propagation`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use rust2sky::id::Id;
use rust2sky::propagation::{Correlation, CorrelationLimits, Sw8Header};

/// The protocol notes' worked example: a realistic header of 277 characters.
const SW8: &str = "1-M2YyYzlhMWJlNGQ1NGMwZjlhN2U2YjVkNGMzYjJhMTkuMS4xNzM1Njg5NjAwMDEyMDAwMA==-M2YyYzlhMWJlNGQ1NGMwZjlhN2U2YjVkNGMzYjJhMTkuMS4xNzM1Njg5NjAwMDEyMDAwMQ==-2-b3JkZXItc2VydmljZQ==-OGE3YjZjNWQ0ZTNmNDBhMWIyYzNkNGU1ZjZhN2I4YzlAMTAuMC4wLjEy-R0VUOi9hcGkvb3JkZXJzL3tpZH0=-aW52ZW50b3J5OjgwODA=";
const CORRELATION: &str = "dGVuYW50:YWNtZQ==,cmVnaW9u:ZXUtd2VzdC0x";

fn sw8(c: &mut Criterion) {
    c.bench_function("sw8/decode", |b| {
        b.iter(|| Sw8Header::decode(black_box(SW8)))
    });
    let header = Sw8Header::decode(SW8).expect("the example is valid");
    c.bench_function("sw8/encode", |b| b.iter(|| black_box(&header).encode()));
}

fn correlation(c: &mut Criterion) {
    let limits = CorrelationLimits::default();
    c.bench_function("correlation/decode", |b| {
        b.iter(|| Correlation::decode(black_box(CORRELATION), limits))
    });
    let correlation = Correlation::decode(CORRELATION, limits).correlation;
    c.bench_function("correlation/encode", |b| {
        b.iter(|| black_box(&correlation).encode())
    });
}

fn id(c: &mut Criterion) {
    c.bench_function("id/generate", |b| b.iter(Id::generate));
    c.bench_function("id/generate_and_format", |b| {
        b.iter(|| Id::generate().to_string())
    });
}

criterion_group!(benches, sw8, correlation, id);
criterion_main!(benches);
