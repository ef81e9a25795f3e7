//! The attribute macros produce the same segments as the manual API.

use std::collections::HashMap;

use rust2sky::proto::v3::SpanType;
use rust2sky::{FutureExt as _, SpanLayer, sw_entry, sw_exit, sw_local};

use crate::spans::{spans, tracer};

#[sw_local]
fn price(items: u32) -> u32 {
    items * 3
}

#[sw_local(name = "parse quantity", tags(input = raw))]
fn parse_quantity(raw: &str) -> Result<u32, std::num::ParseIntError> {
    raw.parse()
}

#[sw_entry(extract = headers, name = format!("GET:{route}"), layer = Http, tags("http.method" = "GET"))]
fn handle(headers: &HashMap<String, String>, route: &str) -> u32 {
    price(2) + parse_quantity("x").unwrap_or(1)
}

#[sw_exit(peer = "users:8080", inject = headers, layer = Http, component = 2)]
async fn fetch_user(id: u64, headers: &mut HashMap<String, String>) -> Result<String, String> {
    tokio::task::yield_now().await;
    if id == 0 {
        return Err("no user 0".to_owned());
    }
    Ok(format!("user {id}"))
}

struct Cart {
    items: u32,
}

impl Cart {
    #[sw_local]
    fn total(&self) -> u32 {
        self.items * 2
    }
}

#[test]
fn sync_macros_record_a_segment_like_the_manual_api() {
    let (service, reporter) = tracer(|config| config);
    let headers = HashMap::new();
    let total = service.in_scope(|| handle(&headers, "/cart") + Cart { items: 2 }.total());
    assert_eq!(total, 7 + 4);
    let segments = reporter.segments();
    let handled = segments
        .iter()
        .find(|s| spans(s)[0].operation_name == "GET:/cart")
        .unwrap();
    let spans = spans(handled);
    assert_eq!(spans[0].span_type(), SpanType::Entry);
    assert_eq!(spans[0].span_layer(), SpanLayer::Http);
    assert_eq!(spans[0].tags[0].key, "http.method");
    assert_eq!(
        (spans[1].operation_name.as_str(), spans[1].parent_span_id),
        ("price", 0)
    );
    assert_eq!(spans[2].operation_name, "parse quantity");
    assert!(spans[2].is_error);
    assert_eq!(spans[2].tags[0].value, "x");
    assert_eq!(spans[2].logs[0].data[1].value, "ParseIntError");
    let cart = segments
        .iter()
        .find(|s| spans_of(s) == ["Cart::total"])
        .is_some();
    assert!(cart);
}

fn spans_of(segment: &rust2sky::reporter::SegmentObject) -> Vec<String> {
    segment
        .spans
        .iter()
        .map(|s| s.operation_name.clone())
        .collect()
}

#[test]
fn async_exit_injects_and_marks_errors() {
    let (service, reporter) = tracer(|config| config);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut headers = HashMap::new();
    let result = runtime.block_on(
        async {
            let _ = fetch_user(1, &mut headers).await;
            fetch_user(0, &mut HashMap::new()).await
        }
        .with_tracer(&service),
    );
    assert!(result.is_err());
    assert!(headers.contains_key("sw8"));
    let segments = reporter.segments();
    assert_eq!(segments.len(), 2);
    let failed = &segments[1].spans[0];
    assert_eq!(failed.operation_name, "fetch_user");
    assert_eq!(failed.peer, "users:8080");
    assert_eq!(failed.component_id, 2);
    assert!(failed.is_error);
    assert_eq!(failed.logs[0].data[2].value, "no user 0");
    assert!(!segments[0].spans[0].is_error);
}
