use std::collections::HashMap;

use rust2sky::config::Config;
use rust2sky::proto::v3::SpanType;
use rust2sky::reporter::MemoryReporter;
use rust2sky::{SpanLayer, Tracer, sw_entry, sw_exit, sw_local};

#[sw_local]
fn price(items: u32) -> u32 {
    items * 3
}

#[sw_local(name = "price with tax", tags(items = items, "cart.size" = %items, raw = ?label), layer = Cache, component = 7)]
fn price_with_tax(items: u32, label: &str) -> u32 {
    let _ = label;
    price(items) + 1
}

#[sw_exit(peer = "users:8080", inject = headers, layer = Http, component = 2)]
fn fetch_user(headers: &mut HashMap<String, String>) -> u32 {
    headers.len() as u32
}

#[sw_entry(extract = headers, name = format!("GET:{route}"), layer = Http, tags("http.method" = "GET"))]
fn handle(headers: &HashMap<String, String>, route: &str) -> u32 {
    let mut outgoing = HashMap::new();
    price_with_tax(2, "two") + fetch_user(&mut outgoing)
}

fn main() {
    let reporter = MemoryReporter::new();
    let tracer = Tracer::new(Config::default(), reporter.clone());
    let total = tracer.in_scope(|| handle(&HashMap::new(), "/cart"));
    // 2 * 3 + 1, plus the sw8 headers the exit span wrote.
    assert!(total > 7, "{total}");

    let segments = reporter.segments();
    assert_eq!(segments.len(), 1);
    let spans = &segments[0].spans;
    let find = |name: &str| {
        spans
            .iter()
            .find(|span| span.operation_name == name)
            .unwrap_or_else(|| panic!("no span {name:?} in {spans:#?}"))
    };
    let entry = find("GET:/cart");
    assert_eq!(entry.span_type(), SpanType::Entry);
    assert_eq!(entry.span_layer(), SpanLayer::Http);
    assert_eq!(
        (entry.tags[0].key.as_str(), entry.tags[0].value.as_str()),
        ("http.method", "GET")
    );

    let local = find("price with tax");
    assert_eq!(local.span_type(), SpanType::Local);
    assert_eq!(local.parent_span_id, entry.span_id);
    assert_eq!(local.span_layer(), SpanLayer::Cache);
    assert_eq!(local.component_id, 7);
    let tags: Vec<(&str, &str)> = local
        .tags
        .iter()
        .map(|tag| (tag.key.as_str(), tag.value.as_str()))
        .collect();
    assert_eq!(tags, [("items", "2"), ("cart.size", "2"), ("raw", "\"two\"")]);
    assert_eq!(find("price").parent_span_id, local.span_id);

    let exit = find("fetch_user");
    assert_eq!(exit.span_type(), SpanType::Exit);
    assert_eq!(exit.peer, "users:8080");
    assert_eq!(exit.component_id, 2);
}
