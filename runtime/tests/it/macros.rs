//! The attribute macros produce the same segments as the manual API, field by field.

use std::collections::HashMap;

use rust2sky::proto::v3::SegmentObject;
use rust2sky::reporter::MemoryReporter;
use rust2sky::{FutureExt as _, SpanLayer, Tracer, sw_entry, sw_exit, sw_local};

use crate::spans::tracer;

/// A segment with what differs between two runs (ids, times) blanked out.
fn comparable(mut segment: SegmentObject) -> SegmentObject {
    segment.trace_segment_id.clear();
    if !segment.spans[0].refs.is_empty() {
        // a trace id from an incoming header is the same in both runs; a new one is not
    } else {
        segment.trace_id.clear();
    }
    segment.spans.sort_by_key(|span| span.span_id);
    for span in &mut segment.spans {
        span.start_time = 0;
        span.end_time = 0;
        for log in &mut span.logs {
            log.time = 0;
        }
    }
    segment
}

/// Runs `traced` and `manual` under fresh tracers and returns their one segment each.
fn both(traced: impl FnOnce(), manual: impl FnOnce()) -> (SegmentObject, SegmentObject) {
    let run = |f: Box<dyn FnOnce() + '_>| {
        let (service, reporter): (Tracer, MemoryReporter) = tracer(|config| config);
        service.in_scope(f);
        let mut segments = reporter.take();
        assert_eq!(segments.len(), 1, "{segments:#?}");
        comparable(segments.remove(0))
    };
    (run(Box::new(traced)), run(Box::new(manual)))
}

#[sw_local(name = "price cart", tags(items = items.len(), first = ?items.first()), layer = Cache, component = 7)]
fn price(items: &[u32]) -> u32 {
    items.iter().sum()
}

fn price_by_hand(items: &[u32]) -> u32 {
    let mut span = rust2sky::local_span("price cart");
    span.set_layer(SpanLayer::Cache);
    span.set_component(7);
    span.tag("items", items.len().to_string());
    span.tag("first", format!("{:?}", items.first()));
    let _span = span.entered();
    items.iter().sum()
}

#[test]
fn sw_local_records_what_the_manual_api_records() {
    let (traced, manual) = both(
        || assert_eq!(price(&[1, 2, 3]), 6),
        || assert_eq!(price_by_hand(&[1, 2, 3]), 6),
    );
    assert_eq!(traced, manual);
    assert_eq!(traced.spans[0].tags[1].value, "Some(1)");
}

const CALLER_SW8: &str =
    "1-dHJhY2UtMQ==-c2VnbWVudC0x-3-b3JkZXJz-b3JkZXJzLTE=-R0VUOi9vcmRlcnM=-Y2FydDo4MA==";

#[sw_entry(extract = headers, name = format!("GET:{route}"), layer = Http, tags("http.method" = "GET"))]
fn handle(headers: &HashMap<String, String>, route: &str) -> Result<u32, std::num::ParseIntError> {
    let count = price(&[1, 2]);
    let extra: u32 = route.trim_start_matches("/n/").parse()?;
    Ok(count + extra)
}

fn handle_by_hand(
    headers: &HashMap<String, String>,
    route: &str,
) -> Result<u32, std::num::ParseIntError> {
    let mut span = rust2sky::entry_span(format!("GET:{route}"), headers);
    span.set_layer(SpanLayer::Http);
    span.tag("http.method", "GET");
    let mut span = span.entered();
    let result = (|| {
        let count = price_by_hand(&[1, 2]);
        let extra: u32 = route.trim_start_matches("/n/").parse()?;
        Ok(count + extra)
    })();
    if let Err(error) = &result {
        span.error("ParseIntError", error);
    }
    result
}

#[test]
fn sw_entry_records_what_the_manual_api_records() {
    let headers = HashMap::from([("sw8".to_owned(), CALLER_SW8.to_owned())]);
    let (traced, manual) = both(
        || assert!(handle(&headers, "/n/x").is_err()),
        || assert!(handle_by_hand(&headers, "/n/x").is_err()),
    );
    assert_eq!(traced, manual);
    let entry = &traced.spans[0];
    assert_eq!(entry.operation_name, "GET:/n/x");
    assert_eq!(entry.refs[0].parent_trace_segment_id, "segment-1");
    assert!(entry.is_error);
    assert_eq!(entry.logs[0].data[2].value, "invalid digit found in string");
    assert_eq!(traced.spans[1].operation_name, "price cart");
    assert_eq!(traced.spans[1].parent_span_id, 0);
}

#[sw_exit(peer = "users:8080", inject = headers, layer = Http, component = 2, err(Debug))]
async fn fetch_user(id: u64, headers: &mut HashMap<String, String>) -> Result<String, String> {
    tokio::task::yield_now().await;
    if id == 0 {
        return Err("no user 0".to_owned());
    }
    Ok(format!("user {id}"))
}

async fn fetch_user_by_hand(
    id: u64,
    headers: &mut HashMap<String, String>,
) -> Result<String, String> {
    let mut span = rust2sky::exit_span("fetch_user", "users:8080", headers);
    span.set_layer(SpanLayer::Http);
    span.set_component(2);
    // No child spans here, so the span need not be current while the body runs.
    let result = async {
        tokio::task::yield_now().await;
        if id == 0 {
            return Err("no user 0".to_owned());
        }
        Ok(format!("user {id}"))
    }
    .await;
    if let Err(error) = &result {
        span.error("String", &format_args!("{error:?}"));
    }
    result
}

#[test]
fn sw_exit_records_what_the_manual_api_records_and_injects() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut traced_headers = HashMap::new();
    let mut manual_headers = HashMap::new();
    let (traced, manual) = both(
        || {
            assert!(
                runtime
                    .block_on(fetch_user(0, &mut traced_headers))
                    .is_err()
            )
        },
        || {
            assert!(
                runtime
                    .block_on(fetch_user_by_hand(0, &mut manual_headers))
                    .is_err()
            )
        },
    );
    assert_eq!(traced, manual);
    let exit = &traced.spans[0];
    assert_eq!(exit.peer, "users:8080");
    assert_eq!(exit.logs[0].data[2].value, "\"no user 0\"", "err(Debug)");
    let sent = rust2sky::propagation::Sw8Header::decode(&traced_headers["sw8"]).unwrap();
    assert_eq!(sent.target_address, "users:8080");
    assert_eq!(sent.parent_endpoint, "fetch_user");
}

struct Cart {
    items: Vec<u32>,
}

impl Cart {
    #[sw_local]
    fn total(&self) -> u32 {
        self.items.iter().sum()
    }

    #[sw_local(err)]
    async fn checkout(&mut self) -> std::io::Result<u32> {
        let total = self.total();
        self.items.clear();
        Ok(total)
    }
}

#[test]
fn methods_are_named_after_their_type_and_nest() {
    let (service, reporter) = tracer(|config| config);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut cart = Cart { items: vec![2, 3] };
    let total = runtime.block_on(cart.checkout().with_tracer(&service));
    assert_eq!(total.unwrap(), 5);
    let segment = reporter.take().remove(0);
    let mut names: Vec<(i32, String)> = segment
        .spans
        .iter()
        .map(|span| (span.parent_span_id, span.operation_name.clone()))
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            (-1, "Cart::checkout".to_owned()),
            (0, "Cart::total".to_owned())
        ]
    );
}

#[sw_exit(peer = format!("{host}:80"), name = "GET:/status")]
fn status(host: &str) -> Vec<(&'static str, String)> {
    rust2sky::outgoing_headers()
}

#[test]
fn an_exit_body_can_read_its_outgoing_headers() {
    let (service, reporter) = tracer(|config| config.service_name("probe"));
    let headers = service.in_scope(|| status("health"));
    let segment = reporter.take().remove(0);
    assert_eq!(headers[0].0, "sw8");
    let sent = rust2sky::propagation::Sw8Header::decode(&headers[0].1).unwrap();
    assert_eq!(sent.target_address, "health:80");
    assert_eq!(sent.parent_segment_id, segment.trace_segment_id);
    assert_eq!(sent.parent_service, "probe");
}

#[sw_local]
async fn slow_step() {
    std::future::pending::<()>().await;
}

#[sw_local]
fn explode() {
    panic!("boom");
}

#[test]
fn cancelled_and_panicking_functions_end_their_spans() {
    let (service, reporter) = tracer(|config| config);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let timed_out = runtime.block_on(
        async { tokio::time::timeout(std::time::Duration::from_millis(5), slow_step()).await }
            .with_tracer(&service),
    );
    assert!(timed_out.is_err());
    let segment = reporter.take().remove(0);
    assert_eq!(segment.spans[0].logs[0].data[0].value, "cancelled");

    let panicked =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| service.in_scope(explode)));
    assert!(panicked.is_err());
    let segment = reporter.take().remove(0);
    assert!(segment.spans[0].is_error);
    assert_eq!(segment.spans[0].logs[0].data[1].value, "panic");
}

/// A value whose `Display` is its own, unlike its `AsRef<str>` would be.
struct Money(i64);

impl std::fmt::Display for Money {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{:02} EUR", self.0 / 100, self.0 % 100)
    }
}

#[sw_local(tags(
    owned = name.clone(), borrowed = name.as_str(), literal = "fixed",
    negative = delta, small = 7u8, big = u128::MAX,
    money = Money(1250), shown = %Money(5), floating = 1.5f64,
    debugged = ?name,
))]
fn tagged(name: String, delta: i64) {
    let _ = (name, delta);
}

#[test]
fn tag_values_of_every_kind_read_as_their_display() {
    let (service, reporter) = crate::spans::tracer(|config| config);
    service.in_scope(|| tagged("ada".to_owned(), -42));
    let segment = reporter.take().remove(0);
    let tags: Vec<(&str, &str)> = segment.spans[0]
        .tags
        .iter()
        .map(|tag| (tag.key.as_str(), tag.value.as_str()))
        .collect();
    let max = u128::MAX.to_string();
    assert_eq!(
        tags,
        [
            ("owned", "ada"),
            ("borrowed", "ada"),
            ("literal", "fixed"),
            ("negative", "-42"),
            ("small", "7"),
            ("big", max.as_str()),
            ("money", "12.50 EUR"),
            ("shown", "0.05 EUR"),
            ("floating", "1.5"),
            ("debugged", "\"ada\""),
        ]
    );
}
