//! Spans and segments, checked field by field as OAP would read them.

use std::collections::HashMap;

use rust2sky::config::{Config, ConfigBuilder};
use rust2sky::propagation::NoHeaders;
use rust2sky::propagation::{Sw8Header, Sw8x};
use rust2sky::proto::v3::SegmentObject;
use rust2sky::proto::v3::{RefType, SpanObject, SpanType};
use rust2sky::reporter::MemoryReporter;
use rust2sky::{SpanLayer, Tracer, component, tags};

/// A tracer for one test, with the reporter it reports to.
pub(crate) fn tracer(
    configure: impl FnOnce(ConfigBuilder) -> ConfigBuilder,
) -> (Tracer, MemoryReporter) {
    let config = configure(Config::builder().instance_name("instance-1"))
        .build_with_env(|_| None)
        .expect("test config is valid");
    let reporter = MemoryReporter::new();
    (Tracer::new(config, reporter.clone()), reporter)
}

/// The spans of a segment in id order.
pub(crate) fn spans(segment: &SegmentObject) -> Vec<&SpanObject> {
    let mut spans: Vec<&SpanObject> = segment.spans.iter().collect();
    spans.sort_by_key(|span| span.span_id);
    spans
}

/// Each span's name and parent span id, in id order: the shape of a segment's tree.
pub(crate) fn tree(segment: &SegmentObject) -> Vec<(&str, i32)> {
    spans(segment)
        .into_iter()
        .map(|span| (span.operation_name.as_str(), span.parent_span_id))
        .collect()
}

fn only_segment(reporter: &MemoryReporter) -> SegmentObject {
    let mut segments = reporter.take();
    assert_eq!(segments.len(), 1, "{segments:#?}");
    segments.remove(0)
}

const CALLER_SW8: &str = "1-M2YyYzlhMWJlNGQ1NGMwZjlhN2U2YjVkNGMzYjJhMTkuMS4xNzM1Njg5NjAwMDEyMDAwMA==-M2YyYzlhMWJlNGQ1NGMwZjlhN2U2YjVkNGMzYjJhMTkuMS4xNzM1Njg5NjAwMDEyMDAwMQ==-2-b3JkZXItc2VydmljZQ==-OGE3YjZjNWQ0ZTNmNDBhMWIyYzNkNGU1ZjZhN2I4YzlAMTAuMC4wLjEy-R0VUOi9hcGkvb3JkZXJzL3tpZH0=-aW52ZW50b3J5OjgwODA=";

#[test]
fn a_five_span_request_is_one_segment_with_every_field_right() {
    let (tracer, reporter) = tracer(|config| config.service_name("inventory"));
    let incoming = HashMap::from([("sw8".to_owned(), CALLER_SW8.to_owned())]);
    let mut outgoing = HashMap::new();

    tracer.in_scope(|| {
        let mut request = rust2sky::entry_span("GET:/stock/{sku}", &incoming).entered();
        request
            .tag(tags::HTTP_METHOD, "GET")
            .set_layer(SpanLayer::Http)
            .set_component(component::HTTP);
        {
            let _check = rust2sky::local_span("check stock").entered();
            let _cache = rust2sky::local_span("read cache").entered();
        }
        let _reserve = rust2sky::local_span("reserve").entered();
        let mut call = rust2sky::exit_span("POST:/reserve", "warehouse:9000", &mut outgoing);
        call.set_layer(SpanLayer::Http);
        call.tag(tags::HTTP_STATUS_CODE, "200");
    });

    let segment = only_segment(&reporter);
    assert_eq!(
        segment.trace_id,
        "3f2c9a1be4d54c0f9a7e6b5d4c3b2a19.1.17356896000120000"
    );
    assert_eq!(segment.service, "inventory");
    assert_eq!(segment.service_instance, "instance-1");
    assert!(!segment.is_size_limited);
    let segment_id = segment.trace_segment_id.clone();
    assert_eq!(segment_id.split('.').count(), 3, "{segment_id}");

    let spans = spans(&segment);
    let summary: Vec<(i32, i32, SpanType, &str)> = spans
        .iter()
        .map(|s| {
            (
                s.span_id,
                s.parent_span_id,
                s.span_type(),
                s.operation_name.as_str(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (0, -1, SpanType::Entry, "GET:/stock/{sku}"),
            (1, 0, SpanType::Local, "check stock"),
            (2, 1, SpanType::Local, "read cache"),
            (3, 0, SpanType::Local, "reserve"),
            (4, 3, SpanType::Exit, "POST:/reserve"),
        ]
    );

    let entry = spans[0];
    assert_eq!(entry.span_layer(), SpanLayer::Http);
    assert_eq!(entry.component_id, component::HTTP);
    assert_eq!(entry.tags[0].key, "http.method");
    assert_eq!(entry.tags[0].value, "GET");
    assert_eq!(entry.refs.len(), 1);
    let caller = &entry.refs[0];
    assert_eq!(caller.ref_type(), RefType::CrossProcess);
    assert_eq!(caller.trace_id, segment.trace_id);
    assert_eq!(
        caller.parent_trace_segment_id,
        "3f2c9a1be4d54c0f9a7e6b5d4c3b2a19.1.17356896000120001"
    );
    assert_eq!(caller.parent_span_id, 2);
    assert_eq!(caller.parent_service, "order-service");
    assert_eq!(
        caller.parent_service_instance,
        "8a7b6c5d4e3f40a1b2c3d4e5f6a7b8c9@10.0.0.12"
    );
    assert_eq!(caller.parent_endpoint, "GET:/api/orders/{id}");
    assert_eq!(caller.network_address_used_at_peer, "inventory:8080");

    let exit = spans[4];
    assert_eq!(exit.peer, "warehouse:9000");
    assert_eq!(exit.tags[0].key, "http.status_code");
    for span in &spans {
        assert!(span.start_time > 1_700_000_000_000, "{span:?}");
        assert!(span.end_time >= span.start_time, "{span:?}");
        assert!(!span.is_error);
        assert!(!span.skip_analysis);
        if span.span_id > 0 {
            assert!(span.refs.is_empty());
        }
    }

    // The exit span's header names this segment, the exit span and the entry endpoint.
    let sent = Sw8Header::decode(&outgoing["sw8"]).unwrap();
    assert_eq!(
        sent,
        Sw8Header {
            sampled: true,
            trace_id: segment.trace_id.clone(),
            parent_segment_id: segment_id,
            parent_span_id: 4,
            parent_service: "inventory".into(),
            parent_service_instance: "instance-1".into(),
            parent_endpoint: "GET:/stock/{sku}".into(),
            target_address: "warehouse:9000".into(),
        }
    );
    assert!(!outgoing.contains_key("sw8-correlation"));
}

#[test]
fn a_call_between_two_services_links_their_segments() {
    let (frontend, frontend_spans) = tracer(|config| config.service_name("frontend"));
    let (backend, backend_spans) =
        tracer(|config| config.service_name("backend").instance_name("backend-7"));

    let mut headers = http::HeaderMap::new();
    frontend.in_scope(|| {
        let _page = rust2sky::local_span("render page").entered();
        let _call = rust2sky::exit_span("GET:/api/items", "backend:8080", &mut headers);
        rust2sky::set_correlation("tenant", "acme").unwrap();
    });
    backend.in_scope(|| {
        let _handler = rust2sky::entry_span("GET:/api/items", &headers).entered();
        assert_eq!(rust2sky::correlation("tenant"), None); // set after the call was made
    });

    let caller = only_segment(&frontend_spans);
    let callee = only_segment(&backend_spans);
    assert_eq!(callee.trace_id, caller.trace_id);
    assert_ne!(callee.trace_segment_id, caller.trace_segment_id);
    let reference = &spans(&callee)[0].refs[0];
    assert_eq!(reference.ref_type(), RefType::CrossProcess);
    assert_eq!(reference.trace_id, caller.trace_id);
    assert_eq!(reference.parent_trace_segment_id, caller.trace_segment_id);
    assert_eq!(reference.parent_span_id, 1, "the caller's exit span");
    assert_eq!(reference.parent_service, "frontend");
    assert_eq!(reference.parent_service_instance, "instance-1");
    // The caller has no entry span, so its endpoint is its first span's name.
    assert_eq!(reference.parent_endpoint, "render page");
    assert_eq!(reference.network_address_used_at_peer, "backend:8080");
    assert_eq!(
        spans(&caller)[1].peer,
        reference.network_address_used_at_peer
    );
}

#[test]
fn the_trace_id_goes_on_in_padded_base64_however_the_caller_wrote_it() {
    let (tracer, _reporter) = tracer(|config| config);
    let trace_field = |sw8: &str| sw8.split('-').nth(1).map(str::to_owned);
    for (incoming, expected) in [
        (CALLER_SW8, trace_field(CALLER_SW8)),
        // Java accepts Base64 without padding; Python would refuse it unpadded.
        ("1-dA-cw-2-c3Zj-aW5zdA-ZXA-aDox", Some("dA==".to_owned())),
    ] {
        let incoming = HashMap::from([("sw8".to_owned(), incoming.to_owned())]);
        let mut outgoing = HashMap::new();
        tracer.in_scope(|| {
            let _handler = rust2sky::entry_span("GET:/items", &incoming).entered();
            drop(rust2sky::exit_span("GET:/stock", "stock:80", &mut outgoing));
        });
        assert_eq!(trace_field(&outgoing["sw8"]), expected);
    }
}

#[test]
fn correlation_travels_with_the_call_within_its_limits() {
    let (service, _reporter) = tracer(|config| config);
    let mut outgoing = HashMap::new();
    let incoming = HashMap::from([
        ("sw8".to_owned(), CALLER_SW8.to_owned()),
        // four entries: one over the default limit of three keys
        (
            "sw8-correlation".to_owned(),
            "YQ==:MQ==,Yg==:Mg==,Yw==:Mw==,ZA==:NA==".to_owned(),
        ),
    ]);
    service.in_scope(|| {
        let _handler = rust2sky::entry_span("GET:/", &incoming).entered();
        assert_eq!(rust2sky::correlation("c").as_deref(), Some("3"));
        assert_eq!(rust2sky::correlation("d"), None);
        assert!(rust2sky::set_correlation("e", "5").is_err(), "full");
        rust2sky::set_correlation("a", "").unwrap(); // removes a
        rust2sky::set_correlation("e", "5").unwrap();
        assert!(rust2sky::set_correlation("b", &"x".repeat(129)).is_err());
        let _call = rust2sky::exit_span("GET:/next", "next:80", &mut outgoing);
    });
    let sent = rust2sky::propagation::Correlation::decode(
        &outgoing["sw8-correlation"],
        Default::default(),
    );
    let entries: Vec<_> = sent.correlation.iter().collect();
    assert_eq!(entries, [("b", "2"), ("c", "3"), ("e", "5")]);
}

#[test]
fn skip_analysis_and_transmission_latency_come_from_sw8_x() {
    let (service, reporter) = tracer(|config| config);
    let sent_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
        - 250;
    let incoming = HashMap::from([
        ("sw8".to_owned(), CALLER_SW8.to_owned()),
        ("sw8-x".to_owned(), format!("1-{sent_at}")),
    ]);
    let mut outgoing = HashMap::new();
    service.in_scope(|| {
        let _consume = rust2sky::entry_span("Kafka/orders/Consumer", &incoming).entered();
        let _produce = rust2sky::exit_span("Kafka/audit/Producer", "kafka:9092", &mut outgoing);
    });
    let segment = only_segment(&reporter);
    assert!(segment.spans.iter().all(|span| span.skip_analysis));
    let entry = spans(&segment)[0];
    let latency: i64 = entry
        .tags
        .iter()
        .find(|tag| tag.key == "transmission.latency")
        .unwrap()
        .value
        .parse()
        .unwrap();
    assert!((250..60_000).contains(&latency), "{latency}");
    assert_eq!(
        Sw8x::decode(&outgoing["sw8-x"]).unwrap(),
        Sw8x {
            skip_analysis: true,
            send_time_ms: None
        }
    );
}

#[test]
fn an_unsampled_trace_reports_nothing_and_propagates_flag_0() {
    let (edge, edge_spans) = tracer(|config| config.sample_rate(0.0));
    let (inner, inner_spans) = tracer(|config| config.service_name("inner"));
    let mut first_hop = HashMap::new();
    let mut second_hop = HashMap::new();

    edge.in_scope(|| {
        let mut request = rust2sky::entry_span("GET:/", &NoHeaders).entered();
        assert!(!request.is_recording());
        request.tag("ignored", "because unsampled");
        let _work = rust2sky::local_span("work").entered();
        let _call = rust2sky::exit_span("GET:/inner", "inner:80", &mut first_hop);
    });
    inner.in_scope(|| {
        // the inner service samples everything, but honours the caller's decision
        let _handler = rust2sky::entry_span("GET:/inner", &first_hop).entered();
        assert!(rust2sky::active_ids().is_some());
        let _call = rust2sky::exit_span("GET:/deeper", "deeper:80", &mut second_hop);
    });

    assert!(edge_spans.segments().is_empty());
    assert!(inner_spans.segments().is_empty());
    let first = Sw8Header::decode(&first_hop["sw8"]).unwrap();
    let second = Sw8Header::decode(&second_hop["sw8"]).unwrap();
    assert!(!first.sampled && !second.sampled);
    assert_eq!(first.trace_id, second.trace_id);
    assert_eq!(first.parent_endpoint, "GET:/");
    assert_eq!(second.parent_service, "inner");
    assert_eq!(second.target_address, "deeper:80");
}

#[test]
fn an_unsampled_exit_span_gives_its_own_peer_to_outgoing_headers() {
    let (edge, reporter) = tracer(|config| config.sample_rate(0.0));
    let far_away = format!("{}:443", "a".repeat(2_000));
    let sent = edge.in_scope(|| {
        let _request = rust2sky::entry_span("GET:/", &NoHeaders).entered();
        ["users:8080", "orders:8080", far_away.as_str(), "users:8080"].map(|peer| {
            let _call = rust2sky::exit_span("call", peer, &mut NoHeaders).entered();
            let headers = rust2sky::outgoing_headers();
            assert_eq!(headers[0].0, "sw8");
            Sw8Header::decode(&headers[0].1).unwrap()
        })
    });
    assert!(reporter.segments().is_empty());
    let peers: Vec<&str> = sent.iter().map(|sw8| sw8.target_address.as_str()).collect();
    assert_eq!(
        peers,
        ["users:8080", "orders:8080", &far_away, "users:8080"]
    );
    assert!(
        sent.iter()
            .all(|sw8| !sw8.sampled && sw8.trace_id == sent[0].trace_id)
    );
}

#[test]
fn past_the_span_limit_spans_are_noops_and_the_segment_says_so() {
    let (service, reporter) = tracer(|config| config.span_limit(3));
    let mut outgoing = HashMap::new();
    service.in_scope(|| {
        let _request = rust2sky::entry_span("GET:/big", &NoHeaders).entered();
        let _a = rust2sky::local_span("a").entered();
        let _b = rust2sky::local_span("b").entered();
        let mut c = rust2sky::local_span("c").entered();
        assert!(!c.is_recording());
        c.tag("dropped", "yes");
        let _call = rust2sky::exit_span("GET:/more", "more:80", &mut outgoing);
    });
    let segment = only_segment(&reporter);
    assert!(segment.is_size_limited);
    assert_eq!(segment.spans.len(), 3);
    // the call past the limit still carries the trace, naming the innermost recorded span
    let sent = Sw8Header::decode(&outgoing["sw8"]).unwrap();
    assert_eq!(sent.trace_id, segment.trace_id);
    assert_eq!(sent.parent_segment_id, segment.trace_segment_id);
    assert_eq!(sent.parent_span_id, 2);
}

#[test]
fn ignored_endpoints_are_not_traced_even_when_the_caller_samples() {
    let (service, reporter) = tracer(|config| config.trace_ignore_paths(["/health", "/static/**"]));
    let incoming = HashMap::from([("sw8".to_owned(), CALLER_SW8.to_owned())]);
    service.in_scope(|| {
        drop(rust2sky::entry_span("GET:/health", &incoming));
        drop(rust2sky::entry_span("GET:/static/css/site.css", &NoHeaders));
        drop(rust2sky::entry_span("GET:/favicon.ico", &NoHeaders)); // a default ignored suffix
        drop(rust2sky::entry_span("GET:/orders", &NoHeaders));
    });
    let segments = reporter.segments();
    assert_eq!(segments.len(), 1);
    assert_eq!(segments[0].spans[0].operation_name, "GET:/orders");
}

#[test]
fn errors_logs_and_panics_are_recorded() {
    let (service, reporter) = tracer(|config| config);
    service.in_scope(|| {
        let mut span = rust2sky::local_span("parse").entered();
        let error = "x".parse::<u32>().unwrap_err();
        span.error("ParseIntError", &error);
        span.log([("retry", "1")]);
    });
    let segment = only_segment(&reporter);
    let span = &segment.spans[0];
    assert!(span.is_error);
    let fields: Vec<(&str, &str)> = span.logs[0]
        .data
        .iter()
        .map(|kv| (kv.key.as_str(), kv.value.as_str()))
        .collect();
    assert_eq!(
        fields,
        [
            ("event", "error"),
            ("error.kind", "ParseIntError"),
            ("message", "invalid digit found in string"),
        ]
    );
    assert!(span.logs[0].time >= span.start_time);
    assert_eq!(span.logs[1].data[0].key, "retry");

    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        service.in_scope(|| {
            let _span = rust2sky::local_span("explodes").entered();
            panic!("boom");
        })
    }));
    assert!(panicked.is_err());
    let segment = only_segment(&reporter);
    assert!(segment.spans[0].is_error, "a panic marks the span");
}

/// A helper deep in a handler that did not start the span it adds to.
fn record_status(status: u16) -> Option<()> {
    rust2sky::with_active_span(|span| {
        span.tag(tags::HTTP_STATUS_CODE, status.to_string());
        if status >= 500 {
            span.set_error(true);
        }
    })
}

#[test]
fn code_that_did_not_start_the_current_span_can_still_tag_it() {
    let (service, reporter) = tracer(|config| config);
    let mut outgoing = HashMap::new();
    service.in_scope(|| {
        assert_eq!(record_status(200), None, "no span yet");
        let _request = rust2sky::entry_span("GET:/orders", &NoHeaders).entered();
        {
            let _call = rust2sky::exit_span("GET:/stock", "stock:80", &mut outgoing).entered();
            assert_eq!(record_status(503), Some(()));
        }
        record_status(502);
        // The lent handle does not end the span: the request is still open, and still current.
        assert_eq!(
            rust2sky::with_active_span(|span| span.span_id()),
            Some(Some(0))
        );
        assert!(reporter.segments().is_empty());
    });
    let segment = only_segment(&reporter);
    let spans = spans(&segment);
    assert_eq!(spans.len(), 2);
    let tag = |span: &SpanObject| (span.tags[0].key.clone(), span.tags[0].value.clone());
    assert_eq!(
        tag(spans[1]),
        ("http.status_code".to_owned(), "503".to_owned())
    );
    assert!(spans[1].is_error);
    assert_eq!(
        tag(spans[0]),
        ("http.status_code".to_owned(), "502".to_owned())
    );
    assert!(spans[0].is_error);

    let (unsampled, reporter) = tracer(|config| config.sample_rate(0.0));
    unsampled.in_scope(|| {
        let _request = rust2sky::entry_span("GET:/orders", &NoHeaders).entered();
        assert_eq!(record_status(200), None, "nothing recorded to add to");
    });
    assert!(reporter.segments().is_empty());
}

#[test]
fn a_span_tagged_past_its_segments_text_limit_drops_the_excess_and_counts_it() {
    let (service, reporter) = tracer(|config| config);
    let before = rust2sky::diagnostics::counters().span_text_dropped;
    let value = "x".repeat(100 * 1024);
    service.in_scope(|| {
        let mut span = rust2sky::local_span("tags in a loop").entered();
        for _ in 0..20 {
            span.tag("payload", &value);
        }
    });
    let segment = only_segment(&reporter);
    // Ten whole tags fit in the segment's 1 MiB; the other ten are left out, key and value.
    let tags = &segment.spans[0].tags;
    assert_eq!(tags.len(), 10);
    assert!(
        tags.iter()
            .all(|tag| tag.key == "payload" && tag.value == value)
    );
    let dropped = rust2sky::diagnostics::counters().span_text_dropped - before;
    assert!(dropped >= 10, "{dropped} tags dropped");
}

#[test]
fn empty_tags_in_a_loop_stop_at_the_segments_limit() {
    let (service, reporter) = tracer(|config| config);
    service.in_scope(|| {
        let mut span = rust2sky::local_span("empty tags in a loop").entered();
        for _ in 0..70_000 {
            span.tag("", "");
        }
    });
    assert_eq!(only_segment(&reporter).spans[0].tags.len(), 65_536);
}

#[test]
fn spans_of_one_segment_tagged_on_two_threads_at_once_keep_every_tag() {
    // Enough for the two threads to overlap on most runs, within the segment's limits (65,536
    // tags, 1 MiB of text).
    const TAGS: usize = 20_000;
    let (tracer, reporter) = tracer(|config| config.service_name("inventory"));
    tracer.in_scope(|| {
        let _request = rust2sky::entry_span("GET:/stock", &NoHeaders).entered();
        let workers = ["left", "right"].map(rust2sky::local_span);
        std::thread::scope(|scope| {
            for mut span in workers {
                scope.spawn(move || {
                    for n in 0..TAGS {
                        span.tag("n", n.to_string());
                    }
                });
            }
        });
    });

    let segment = only_segment(&reporter);
    let spans = spans(&segment);
    assert_eq!(spans.len(), 3);
    for worker in &spans[1..] {
        let values: Vec<usize> = worker
            .tags
            .iter()
            .map(|tag| tag.value.parse().expect("a number"))
            .collect();
        assert_eq!(
            values,
            (0..TAGS).collect::<Vec<_>>(),
            "{}",
            worker.operation_name
        );
    }
}
