use rust2sky::config::Config;
use rust2sky::reporter::MemoryReporter;
use rust2sky::{Tracer, sw_local};

/// # Safety
/// `ptr` must point at a live `u32`.
#[sw_local]
unsafe fn read(ptr: *const u32) -> u32 {
    unsafe { *ptr }
}

/// # Safety
/// `ptr` must point at a live `u32`.
#[sw_local]
async unsafe fn read_later(ptr: *const u32) -> u32 {
    unsafe { *ptr }
}

fn main() {
    let reporter = MemoryReporter::new();
    let tracer = Tracer::new(Config::default(), reporter.clone());
    let value = 7_u32;
    let read_value = tracer.in_scope(|| unsafe { read(&value) });
    assert_eq!(read_value, 7);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let later = tracer.in_scope(|| runtime.block_on(unsafe { read_later(&value) }));
    assert_eq!(later, 7);
    let names: Vec<String> = reporter
        .segments()
        .iter()
        .map(|segment| segment.spans[0].operation_name.clone())
        .collect();
    assert_eq!(names, ["read", "read_later"]);
}
