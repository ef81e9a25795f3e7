use rust2sky::config::Config;
use rust2sky::reporter::MemoryReporter;
use rust2sky::{Tracer, sw_local};

use ::rust2sky as renamed;

mod vendored {
    pub use ::rust2sky as agent;
}

#[sw_local(crate = ::rust2sky)]
fn absolute() -> u32 {
    1
}

#[sw_local(crate = renamed)]
fn by_alias() -> Result<u32, String> {
    Err("no".to_owned())
}

#[renamed::sw_exit(crate = crate::vendored::agent, peer = "users:8080")]
async fn reexported() -> u32 {
    3
}

struct Cart;

impl Cart {
    #[vendored::agent::sw_local(crate = vendored::agent)]
    fn total(&self) -> u32 {
        4
    }
}

fn main() {
    let reporter = MemoryReporter::new();
    let tracer = Tracer::new(Config::default(), reporter.clone());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    tracer.in_scope(|| {
        assert_eq!(absolute(), 1);
        assert!(by_alias().is_err());
        assert_eq!(runtime.block_on(reexported()), 3);
        assert_eq!(Cart.total(), 4);
    });
    let names: Vec<String> = reporter
        .segments()
        .iter()
        .map(|segment| segment.spans[0].operation_name.clone())
        .collect();
    assert_eq!(names, ["absolute", "by_alias", "reexported", "Cart::total"]);
    assert!(reporter.segments()[1].spans[0].is_error);
}
