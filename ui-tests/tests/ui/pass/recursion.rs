use rust2sky::config::Config;
use rust2sky::reporter::MemoryReporter;
use rust2sky::{Tracer, sw_local};

#[sw_local]
fn factorial(n: u64) -> u64 {
    if n <= 1 {
        return 1;
    }
    n * factorial(n - 1)
}

#[sw_local]
fn countdown(n: u32) -> Result<u32, String> {
    if n == 0 {
        return Err("done".to_owned());
    }
    countdown(n - 1).or(Ok(n))
}

fn main() {
    let reporter = MemoryReporter::new();
    let tracer = Tracer::new(Config::default(), reporter.clone());
    let (fact, count) = tracer.in_scope(|| (factorial(4), countdown(2)));
    assert_eq!((fact, count), (24, Ok(1)));
    let segments = reporter.segments();
    assert_eq!(segments.len(), 2);
    let spans = &segments[0].spans;
    assert_eq!(spans.len(), 4);
    for span in spans {
        assert_eq!(span.operation_name, "factorial");
    }
    // Each call is a child of the one that made it.
    let mut parents: Vec<(i32, i32)> = spans
        .iter()
        .map(|span| (span.span_id, span.parent_span_id))
        .collect();
    parents.sort();
    assert_eq!(parents, [(0, -1), (1, 0), (2, 1), (3, 2)]);
    let errors: Vec<bool> = segments[1].spans.iter().map(|span| span.is_error).collect();
    assert_eq!(errors.iter().filter(|error| **error).count(), 1);
}
