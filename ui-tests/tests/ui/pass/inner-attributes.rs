use rust2sky::config::Config;
use rust2sky::reporter::MemoryReporter;
use rust2sky::{Tracer, sw_local};

/// Documented, inlined and `#[must_use]`: outer attributes stay on the function.
#[sw_local]
#[inline]
#[must_use]
fn price(items: u32) -> u32 {
    #![allow(unused_variables, clippy::let_and_return)]
    let unused = 1;
    let total = items * 3;
    total
}

#[sw_local]
fn parse(raw: &str) -> Result<u32, std::num::ParseIntError> {
    #![allow(unused_mut)]
    let mut value = raw.parse()?;
    Ok(value)
}

#[sw_local]
async fn later() -> u32 {
    #![allow(unused_variables)]
    let unused = 1;
    2
}

fn main() {
    let reporter = MemoryReporter::new();
    let tracer = Tracer::new(Config::default(), reporter.clone());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let total = tracer.in_scope(|| price(2) + parse("1").unwrap() + runtime.block_on(later()));
    assert_eq!(total, 9);
    assert_eq!(reporter.segments().len(), 3);
}
