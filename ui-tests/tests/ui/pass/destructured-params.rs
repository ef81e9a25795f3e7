use rust2sky::config::Config;
use rust2sky::reporter::MemoryReporter;
use rust2sky::{Tracer, sw_local};

struct Point {
    x: u32,
    y: u32,
}

#[sw_local(tags(a = a, b = b))]
fn add((a, b): (u32, u32)) -> u32 {
    a + b
}

#[sw_local(tags(x = x))]
fn manhattan(Point { x, y }: Point, [first, _]: [u32; 2]) -> u32 {
    x + y + first
}

#[sw_local]
fn checked_add((a, b): (u32, u32), _: ()) -> Result<u32, String> {
    a.checked_add(b).ok_or_else(|| "overflow".to_owned())
}

#[sw_local]
async fn later(mut total: u32, (a, b): (u32, u32)) -> u32 {
    total += a + b;
    total
}

fn main() {
    let reporter = MemoryReporter::new();
    let tracer = Tracer::new(Config::default(), reporter.clone());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let results = tracer.in_scope(|| {
        (
            add((1, 2)),
            manhattan(Point { x: 1, y: 2 }, [3, 4]),
            checked_add((u32::MAX, 1), ()),
            runtime.block_on(later(1, (2, 3))),
        )
    });
    assert_eq!(results, (3, 6, Err("overflow".to_owned()), 6));
    let segments = reporter.segments();
    assert_eq!(segments[0].spans[0].tags[1].value, "2");
    assert_eq!(segments[1].spans[0].tags[0].value, "1");
    assert!(segments[2].spans[0].is_error);
}
