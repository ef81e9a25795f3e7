use std::fmt::Display;

use rust2sky::config::Config;
use rust2sky::reporter::MemoryReporter;
use rust2sky::{Tracer, sw_local};

#[sw_local]
fn describe(value: impl Display) -> impl Display {
    format!("<{value}>")
}

#[sw_local]
fn evens(limit: u32) -> impl Iterator<Item = u32> {
    (0..limit).filter(|n| n % 2 == 0)
}

#[sw_local]
fn sum_all(values: impl IntoIterator<Item = u32>) -> Result<u32, String> {
    let total: u32 = values.into_iter().sum();
    if total == 0 {
        return Err("empty".to_owned());
    }
    Ok(total)
}

fn main() {
    let reporter = MemoryReporter::new();
    let tracer = Tracer::new(Config::default(), reporter.clone());
    let (described, even, summed) = tracer.in_scope(|| {
        (
            describe(5).to_string(),
            evens(7).collect::<Vec<_>>(),
            sum_all(vec![1, 2]),
        )
    });
    assert_eq!(described, "<5>");
    assert_eq!(even, [0, 2, 4, 6]);
    assert_eq!(summed, Ok(3));
    let names: Vec<String> = reporter
        .segments()
        .iter()
        .map(|segment| segment.spans[0].operation_name.clone())
        .collect();
    assert_eq!(names, ["describe", "evens", "sum_all"]);
}
