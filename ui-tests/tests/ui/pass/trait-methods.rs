//! A default trait method's span is named after the type it is called on, though every
//! implementing type shares the one function (and its `static` name cache): `Tile.area()` was
//! once recorded as `Square::area`.

use rust2sky::config::Config;
use rust2sky::reporter::MemoryReporter;
use rust2sky::{FutureExt as _, Tracer, sw_local};

trait Shape {
    fn side(&self) -> u32;

    // A default method: `Self` is the implementing type.
    #[sw_local]
    fn area(&self) -> u32 {
        self.side() * self.side()
    }

    // A native `async fn` in a trait.
    #[sw_local]
    async fn later(&self) -> u32 {
        self.side()
    }

    #[sw_local]
    fn unit() -> u32
    where
        Self: Sized,
    {
        1
    }
}

struct Square;
struct Tile;

impl Shape for Square {
    #[sw_local]
    fn side(&self) -> u32 {
        2
    }
}

impl Shape for Tile {
    fn side(&self) -> u32 {
        3
    }
}

fn main() {
    let reporter = MemoryReporter::new();
    let tracer = Tracer::new(Config::default(), reporter.clone());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let areas = tracer.in_scope(|| (Square.area(), Tile.area(), Square::unit()));
    assert_eq!(areas, (4, 9, 1));
    let later = runtime.block_on(async { Tile.later().await }.with_tracer(&tracer));
    assert_eq!(later, 3);
    let segments = reporter.segments();
    let roots: Vec<&str> = segments
        .iter()
        .map(|segment| {
            segment
                .spans
                .iter()
                .find(|span| span.parent_span_id == -1)
                .map(|span| span.operation_name.as_str())
                .unwrap_or_default()
        })
        .collect();
    // Each implementing type names its own spans, even through the one default method.
    assert_eq!(roots, ["Square::area", "Tile::area", "unit", "Tile::later"]);
}
