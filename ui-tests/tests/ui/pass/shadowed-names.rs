//! A user crate whose names shadow the prelude's and the standard crates': the expansion must
//! use absolute paths.

use rust2sky::config::Config as AgentConfig;
use rust2sky::reporter::MemoryReporter;
use rust2sky::{Tracer, sw_entry, sw_exit, sw_local};

#[derive(Debug, PartialEq)]
struct MyErr;

impl ::std::fmt::Display for MyErr {
    fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
        f.write_str("my error")
    }
}

type Result<T> = ::std::result::Result<T, MyErr>;

#[allow(dead_code)]
enum Option {
    Nothing,
}

#[allow(dead_code)]
struct String;

#[allow(dead_code)]
struct Box;

#[allow(dead_code)]
struct OnceLock;

#[allow(dead_code)]
mod core {}

#[allow(dead_code)]
mod std {}

#[allow(dead_code)]
mod alloc {}

#[allow(dead_code, non_snake_case)]
fn Ok() {}

#[allow(dead_code, non_snake_case)]
fn Some() {}

#[allow(dead_code)]
trait Future {}

#[allow(dead_code)]
trait Display {}

#[allow(dead_code)]
trait Debug {}

#[sw_local]
fn parse(fail: bool) -> Result<u32> {
    if fail {
        return ::std::result::Result::Err(MyErr);
    }
    ::std::result::Result::Ok(1)
}

#[sw_local(tags(fail = fail, debug = ?fail))]
async fn later(fail: bool) -> Result<u32> {
    parse(fail)
}

#[sw_exit(peer = "users:8080", inject = headers)]
fn call(headers: &mut ::std::vec::Vec<(&'static str, ::std::string::String)>) -> usize {
    headers.len()
}

#[sw_entry]
fn handle() -> usize {
    call(&mut ::std::vec::Vec::new())
}

struct Cart;

impl Cart {
    #[sw_local]
    fn total(&self) -> Result<u32> {
        ::std::result::Result::Ok(2)
    }
}

fn main() {
    let reporter = MemoryReporter::new();
    let tracer = Tracer::new(AgentConfig::default(), reporter.clone());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    tracer.in_scope(|| {
        assert_eq!(parse(false), ::std::result::Result::Ok(1));
        assert_eq!(runtime.block_on(later(true)), ::std::result::Result::Err(MyErr));
        assert_eq!(handle(), 1);
        assert_eq!(Cart.total(), ::std::result::Result::Ok(2));
    });
    let segments = reporter.segments();
    assert_eq!(segments.len(), 4);
    let failed = &segments[1].spans;
    assert!(failed.iter().any(|span| span.operation_name == "later" && span.is_error));
}
