use std::fmt::Display;

use rust2sky::config::Config;
use rust2sky::reporter::MemoryReporter;
use rust2sky::{Tracer, sw_local};

#[sw_local(tags(first = first))]
fn join<T, U>(first: T, rest: &[U]) -> String
where
    T: Display,
    U: Display + Clone,
{
    let mut out = first.to_string();
    for item in rest {
        out.push_str(&item.to_string());
    }
    out
}

#[sw_local]
fn largest<'a, T: PartialOrd + ?Sized>(a: &'a T, b: &'a T) -> &'a T {
    if a > b { a } else { b }
}

#[sw_local]
fn sum<const N: usize>(values: [u32; N]) -> u32 {
    values.iter().sum()
}

fn main() {
    let reporter = MemoryReporter::new();
    let tracer = Tracer::new(Config::default(), reporter.clone());
    let (joined, larger, total) =
        tracer.in_scope(|| (join(1, &["a", "b"]), largest("x", "y"), sum([1, 2, 3])));
    assert_eq!((joined.as_str(), larger, total), ("1ab", "y", 6));
    let segments = reporter.segments();
    assert_eq!(segments.len(), 3);
    assert_eq!(segments[0].spans[0].operation_name, "join");
    assert_eq!(segments[0].spans[0].tags[0].value, "1");
}
