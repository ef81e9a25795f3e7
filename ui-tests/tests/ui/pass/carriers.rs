use std::collections::HashMap;

use rust2sky::config::Config;
use rust2sky::propagation::NoHeaders;
use rust2sky::reporter::MemoryReporter;
use rust2sky::{Tracer, sw_entry, sw_exit};

const PARENT: &str = "1-dHJhY2U=-c2VnbWVudA==-3-b3JkZXJz-b3JkZXJzLTE=-R0VUOi9vcmRlcnM=-Y2FydDo4MA==";

#[sw_entry(extract = headers)]
fn from_map(headers: HashMap<String, String>) {
    let _ = headers;
}

#[sw_entry(extract = headers)]
fn from_map_ref(headers: &HashMap<String, String>) {
    let _ = headers;
}

#[sw_entry(extract = headers)]
fn from_header_map(headers: &http::HeaderMap) {
    let _ = headers;
}

#[sw_entry(extract = metadata)]
fn from_metadata(metadata: &tonic::metadata::MetadataMap) {
    let _ = metadata;
}

#[sw_entry(extract = |name: &str| (name == "sw8").then(|| PARENT.to_owned()))]
fn from_closure() {}

#[sw_entry(extract = lookup)]
fn from_fn_param(lookup: impl Fn(&str) -> Option<String>) {
    let _ = lookup("x");
}

#[sw_entry(extract = NoHeaders)]
fn from_nothing() {}

#[sw_entry(extract = request.headers())]
fn from_method_call(request: &http::Request<()>) {
    let _ = request;
}

#[sw_exit(peer = "users:8080", inject = headers)]
fn into_map(headers: &mut HashMap<String, String>) {
    let _ = headers;
}

#[sw_exit(peer = "users:8080", inject = headers)]
fn into_vec(headers: &mut Vec<(&'static str, String)>) {
    let _ = headers;
}

#[sw_exit(peer = "users:8080", inject = headers)]
fn into_header_map(headers: &mut http::HeaderMap) {
    let _ = headers;
}

#[sw_exit(peer = "users:8080", inject = metadata)]
fn into_metadata(metadata: &mut tonic::metadata::MetadataMap) {
    let _ = metadata;
}

#[sw_exit(peer = "users:8080", inject = sink)]
fn into_closure(sink: &mut impl FnMut(&'static str, String)) {
    let _ = sink;
}

#[sw_exit(peer = "users:8080", inject = sink)]
fn into_dyn_closure(sink: &mut dyn FnMut(&'static str, String)) {
    let _ = sink;
}

#[sw_exit(peer = "users:8080", inject = sink)]
fn into_dyn_send_closure(sink: &mut (dyn FnMut(&'static str, String) + Send)) {
    let _ = sink;
}

#[sw_exit(peer = "users:8080", inject = carrier)]
fn into_dyn_injector(carrier: &mut dyn rust2sky::propagation::Injector) {
    let _ = carrier;
}

#[sw_exit(peer = "users:8080", inject = request.headers_mut())]
fn into_request(request: &mut http::Request<()>) {
    let _ = request;
}

#[sw_exit(peer = "users:8080", inject = &mut NoHeaders)]
fn into_nothing() {}

fn main() {
    let reporter = MemoryReporter::new();
    let tracer = Tracer::new(Config::default(), reporter.clone());
    let mut map = HashMap::new();
    let mut vec = Vec::new();
    let mut header_map = http::HeaderMap::new();
    let mut metadata = tonic::metadata::MetadataMap::new();
    let mut sunk = Vec::new();
    let mut dyn_sunk = Vec::new();
    let mut dyn_send_sunk = Vec::new();
    let mut dyn_map = HashMap::new();
    let mut manual_sunk = Vec::new();
    let mut request = http::Request::new(());
    tracer.in_scope(|| {
        let parent = HashMap::from([("sw8".to_owned(), PARENT.to_owned())]);
        from_map(parent.clone());
        from_map_ref(&parent);
        from_header_map(&http::HeaderMap::new());
        from_metadata(&tonic::metadata::MetadataMap::new());
        from_closure();
        from_fn_param(|_| None);
        from_nothing();
        from_method_call(&http::Request::new(()));

        into_map(&mut map);
        into_vec(&mut vec);
        into_header_map(&mut header_map);
        into_metadata(&mut metadata);
        into_closure(&mut |key, _| sunk.push(key));
        into_dyn_closure(&mut |key, _| dyn_sunk.push(key));
        into_dyn_send_closure(&mut |key, _| dyn_send_sunk.push(key));
        into_dyn_injector(&mut dyn_map);
        // The manual API takes the same unsized carriers.
        let closure: &mut dyn FnMut(&'static str, String) = &mut |key, _| manual_sunk.push(key);
        drop(rust2sky::exit_span("GET:/", "users:8080", closure));
        into_request(&mut request);
        into_nothing();
    });
    assert!(map.contains_key("sw8"));
    assert!(vec.iter().any(|(key, _)| *key == "sw8"));
    assert!(header_map.contains_key("sw8"));
    assert!(metadata.get("sw8").is_some());
    assert!(sunk.contains(&"sw8"));
    assert!(dyn_sunk.contains(&"sw8"));
    assert!(dyn_send_sunk.contains(&"sw8"));
    assert!(dyn_map.contains_key("sw8"));
    assert!(manual_sunk.contains(&"sw8"));
    assert!(request.headers().contains_key("sw8"));

    let segments = reporter.segments();
    assert_eq!(segments.len(), 19);
    // The entries that got an sw8 header continue the caller's trace.
    for index in [0, 1, 4] {
        assert_eq!(segments[index].trace_id, "trace", "segment {index}");
    }
    assert_ne!(segments[2].trace_id, "trace");
}
