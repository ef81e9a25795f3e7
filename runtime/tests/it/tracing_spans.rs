//! `tracing` spans as SkyWalking spans, with real tracing-instrumented code: tower-http's
//! `TraceLayer`, `#[tracing::instrument]` mixed with the `sw_*` attributes, a reqwest call in a
//! client span.

use axum::Router;
use axum::routing::get;
use http::{Request, StatusCode};
use rust2sky::integrations::tracing::{SpanBridge, client_span, on_response, server_span};
use rust2sky::proto::v3::{SegmentObject, SpanObject};
use rust2sky::{FutureExt as _, SpanLayer, Tracer, sw_entry, sw_local};
use tower::ServiceExt as _;
use tracing::Instrument as _;
use tracing_subscriber::layer::SubscriberExt as _;

use crate::spans::{spans, tracer, tree};

const CALLER: &str =
    "1-dHJhY2UtMQ==-c2VnbWVudC0x-3-b3JkZXJz-b3JkZXJzLTE=-R0VUOi9vcmRlcnM=-dXNlcnM6ODA=";

/// Runs `f` with the bridge as this thread's subscriber and `tracer` current.
fn bridged<R>(tracer: &Tracer, f: impl FnOnce() -> R) -> R {
    let subscriber = tracing_subscriber::registry().with(SpanBridge::new());
    tracing::subscriber::with_default(subscriber, || tracer.in_scope(f))
}

fn named<'a>(segment: &'a SegmentObject, name: &str) -> &'a SpanObject {
    segment
        .spans
        .iter()
        .find(|span| span.operation_name == name)
        .unwrap_or_else(|| panic!("no span {name} in {segment:#?}"))
}

fn tag<'a>(span: &'a SpanObject, key: &str) -> Option<&'a str> {
    span.tags
        .iter()
        .find(|tag| tag.key == key)
        .map(|tag| tag.value.as_str())
}

#[sw_entry(name = "GET:/users")]
fn handle_users() -> String {
    load_user(7)
}

#[tracing::instrument]
fn load_user(id: u32) -> String {
    lookup(id)
}

#[sw_local]
fn lookup(id: u32) -> String {
    let _query = tracing::info_span!("query", db.statement = "SELECT name FROM users").entered();
    format!("user {id}")
}

#[test]
fn instrumented_functions_and_the_attributes_nest_in_one_tree() {
    let (service, reporter) = tracer(|config| config);
    assert_eq!(bridged(&service, handle_users), "user 7");

    let segment = reporter.take().remove(0);
    assert_eq!(
        tree(&segment),
        [
            ("GET:/users", -1),
            ("load_user", 0),
            ("lookup", 1),
            ("query", 2)
        ]
    );
    assert_eq!(tag(named(&segment, "load_user"), "id"), Some("7"));
    assert_eq!(
        tag(named(&segment, "query"), "db.statement"),
        Some("SELECT name FROM users")
    );
}

#[test]
fn an_instrumented_future_keeps_its_span_across_awaits_and_threads() {
    let (service, reporter) = tracer(|config| config);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let subscriber = tracing_subscriber::registry().with(SpanBridge::new());
    let dispatch = tracing::Dispatch::new(subscriber);
    let job = tracing::dispatcher::with_default(&dispatch, || {
        service.in_scope(|| {
            async {
                for _ in 0..5 {
                    tokio::task::yield_now().await;
                }
                drop(rust2sky::local_span("after the awaits"));
                tracing::warn!(attempt = 2, "retrying");
            }
            .instrument(tracing::info_span!("job"))
        })
    });
    // The subscriber follows the future, as an application's global one would.
    let job = tracing::instrument::WithSubscriber::with_subscriber(job, dispatch);
    runtime.block_on(async { tokio::spawn(job).await }).unwrap();

    let segment = reporter.take().remove(0);
    let job = named(&segment, "job");
    assert_eq!(
        named(&segment, "after the awaits").parent_span_id,
        job.span_id
    );
    let log = &job.logs[0].data;
    let fields: Vec<(&str, &str)> = log
        .iter()
        .map(|f| (f.key.as_str(), f.value.as_str()))
        .collect();
    assert_eq!(
        fields,
        [("level", "WARN"), ("message", "retrying"), ("attempt", "2")]
    );
}

#[sw_local]
async fn count_stock() -> u32 {
    12
}

async fn user(axum::extract::Path(id): axum::extract::Path<u32>) -> Result<String, StatusCode> {
    count_stock().await;
    if id == 0 {
        return Err(StatusCode::INTERNAL_SERVER_ERROR);
    }
    Ok(format!("user {id}"))
}

#[test]
fn a_tower_http_server_span_continues_the_callers_trace() {
    let (service, reporter) = tracer(|config| config.service_name("users"));
    let app = Router::new().route("/users/{id}", get(user)).layer(
        tower_http::trace::TraceLayer::new_for_http()
            .make_span_with(server_span)
            .on_response(on_response),
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    bridged(&service, || {
        for (path, sw8) in [("/users/7?token=secret", Some(CALLER)), ("/users/0", None)] {
            let mut request = Request::get(path);
            if let Some(sw8) = sw8 {
                request = request.header("sw8", sw8);
            }
            let request = request.body(axum::body::Body::empty()).unwrap();
            runtime
                .block_on(app.clone().oneshot(request).with_tracer(&service))
                .unwrap();
        }
    });

    let segments = reporter.take();
    assert_eq!(segments.len(), 2);
    let continued = &segments[0];
    assert_eq!(continued.trace_id, "trace-1", "{continued:#?}");
    let entry = named(continued, "GET:/users/{id}");
    assert_eq!(entry.span_type, rust2sky::proto::v3::SpanType::Entry as i32);
    assert_eq!(entry.span_layer(), SpanLayer::Http);
    assert_eq!(entry.refs[0].parent_trace_segment_id, "segment-1");
    assert_eq!(entry.refs[0].parent_span_id, 3);
    assert_eq!(tag(entry, "http.method"), Some("GET"));
    assert_eq!(tag(entry, "url"), Some("/users/7"), "no query by default");
    assert_eq!(tag(entry, "http.status_code"), Some("200"));
    assert!(!entry.is_error);
    assert_eq!(
        named(continued, "count_stock").parent_span_id,
        entry.span_id
    );
    // The sw8 fields are read, not recorded.
    assert_eq!(tag(entry, "sw8"), None);

    let failed = named(&segments[1], "GET:/users/{id}");
    assert!(failed.refs.is_empty());
    assert_eq!(tag(failed, "http.status_code"), Some("500"));
    assert!(failed.is_error);
}

#[test]
fn a_reqwest_call_in_a_client_span_is_an_exit_span_that_sends_sw8() {
    let server = crate::reqwest::echo_server();
    let (service, reporter) = tracer(|config| config.service_name("web"));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let url = format!("http://{server}/stock/7");
    let body = bridged(&service, || {
        let page = tracing::info_span!("page");
        let call = page.in_scope(|| client_span(&http::Method::GET, &url.parse().unwrap()));
        let send = async {
            let mut request = reqwest::Client::new().get(&url);
            for (name, value) in rust2sky::outgoing_headers() {
                request = request.header(name, value);
            }
            let response = request.send().await.unwrap();
            tracing::Span::current()
                .record("http.response.status_code", response.status().as_u16());
            response.text().await.unwrap()
        };
        let page = send.instrument(call).instrument(page);
        runtime.block_on(page.with_tracer(&service))
    });

    let segment = reporter.take().remove(0);
    let exit = named(&segment, "GET:/stock/7");
    assert_eq!(exit.span_type, rust2sky::proto::v3::SpanType::Exit as i32);
    assert_eq!(exit.peer, server);
    assert_eq!(exit.span_layer(), SpanLayer::Http);
    assert_eq!(exit.component_id, rust2sky::component::HTTP_CLIENT);
    assert_eq!(exit.parent_span_id, named(&segment, "page").span_id);
    assert_eq!(tag(exit, "http.status_code"), Some("200"));
    let sent = rust2sky::propagation::Sw8Header::decode(&body).expect("the server got sw8");
    assert_eq!(sent.parent_span_id, exit.span_id);
    assert_eq!(sent.target_address, server);
}

#[test]
fn errors_late_fields_levels_and_targets() {
    let (service, reporter) = tracer(|config| config);
    bridged(&service, || {
        let request = tracing::info_span!("request", otel.name = tracing::field::Empty, order = 7);
        let _request = request.clone().entered();
        request.record("otel.name", "POST:/orders");
        request.record("order", 8);
        drop(tracing::info_span!(
            "failed call",
            otel.status_code = "ERROR"
        ));
        drop(tracing::warn_span!("refused", error = true));
        drop(tracing::error_span!("broken", error = %"disk full"));
        let refused: &(dyn std::error::Error + 'static) = &std::fmt::Error;
        drop(tracing::info_span!("write", cause = refused));
        drop(tracing::debug_span!("below the level"));
        drop(tracing::info_span!(target: "h2::codec", "frame"));
        drop(tracing::info_span!("huge", blob = %"x".repeat(10_000)));
    });
    let segment = reporter.take().remove(0);
    let names: Vec<&str> = spans(&segment)
        .iter()
        .map(|span| span.operation_name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "POST:/orders",
            "failed call",
            "refused",
            "broken",
            "write",
            "huge"
        ]
    );
    let request = named(&segment, "POST:/orders");
    assert_eq!(
        request
            .tags
            .iter()
            .map(|t| (t.key.as_str(), t.value.as_str()))
            .collect::<Vec<_>>(),
        [("order", "7"), ("order", "8")]
    );
    assert!(named(&segment, "failed call").is_error);
    assert!(named(&segment, "refused").is_error);
    let broken = named(&segment, "broken");
    assert!(broken.is_error);
    assert!(broken.logs[0].data.iter().any(|f| f.value == "disk full"));
    // A field whose value is an error marks its span, and is a tag like any other.
    let write = named(&segment, "write");
    assert!(write.is_error);
    assert_eq!(
        tag(write, "cause"),
        Some("an error occurred when formatting an argument")
    );
    assert_eq!(tag(named(&segment, "huge"), "blob").unwrap().len(), 1024);
}

/// One callsite, for the test below to make its spans from.
fn load_inventory() {
    drop(tracing::info_span!(target: "inventory::db", "load inventory", rows = 3));
}

#[test]
fn each_bridge_judges_a_callsite_by_its_own_settings() {
    let (service, reporter) = tracer(|config| config);
    let spans_with = |bridge: SpanBridge| {
        let subscriber = tracing_subscriber::registry().with(bridge);
        tracing::subscriber::with_default(subscriber, || {
            service.in_scope(|| {
                let _request = rust2sky::local_span("request").entered();
                load_inventory();
                load_inventory();
            })
        });
        let segment = reporter.take().remove(0);
        spans(&segment)
            .iter()
            .map(|span| span.operation_name.clone())
            .collect::<Vec<_>>()
    };
    let recording = SpanBridge::new();
    assert_eq!(
        spans_with(recording.clone()),
        ["request", "load inventory", "load inventory"]
    );
    // The same callsite on the same thread, under a bridge that leaves its target out, and then
    // under one that leaves its level out.
    assert_eq!(
        spans_with(recording.clone().ignore_target("inventory")),
        ["request"]
    );
    assert_eq!(
        spans_with(SpanBridge::new().with_max_level(tracing::Level::WARN)),
        ["request"]
    );
    assert_eq!(
        spans_with(recording),
        ["request", "load inventory", "load inventory"]
    );
}

#[test]
fn misuse_and_spans_made_without_a_tracer_never_panic() {
    let (service, reporter) = tracer(|config| config);
    let subscriber = tracing_subscriber::registry().with(SpanBridge::new());
    tracing::subscriber::with_default(subscriber, || {
        // No tracer: ignored.
        drop(tracing::info_span!("before init").entered());
        service.in_scope(|| {
            // Made and never entered: still a span, ended when closed.
            drop(tracing::info_span!("never entered"));
            // Entered here and never exited, then closed on another thread: the next span
            // this thread leaves lets it go.
            let moved = tracing::info_span!("moved");
            std::mem::forget(moved.enter());
            std::thread::spawn(move || drop(moved)).join().unwrap();
            drop(tracing::info_span!("after").entered());
            assert_eq!(rust2sky::active_ids(), None);
        });
    });
    let segments = reporter.take();
    let names: Vec<&str> = segments
        .iter()
        .flat_map(|segment| {
            segment
                .spans
                .iter()
                .map(|span| span.operation_name.as_str())
        })
        .collect();
    assert!(names.contains(&"never entered"));
    assert!(names.contains(&"moved"));
    assert!(!names.contains(&"before init"));
}

#[test]
fn the_bridge_composes_with_the_log_layer_and_per_layer_filters() {
    use rust2sky::logging::SkyWalkingLayer;
    use rust2sky::proto::v3::{LogData, MeterData};
    use rust2sky::reporter::{FinishedSegment, Reporter, Transport};
    use std::sync::{Arc, Mutex};
    use tracing_subscriber::Layer as _;

    #[derive(Debug, Default, Clone)]
    struct Logs(Arc<Mutex<Vec<LogData>>>);
    impl Reporter for Logs {
        fn report(&self, _segment: FinishedSegment) {}
    }
    impl Transport for Logs {
        fn report_log(&self, log: LogData) {
            self.0.lock().unwrap().push(log);
        }
        fn report_meters(&self, _meters: Vec<MeterData>) {}
    }

    let (service, reporter) = tracer(|config| config);
    let logs = Logs::default();
    // The bridge only sees spans of the application's own target.
    let only_shop =
        tracing_subscriber::filter::filter_fn(|metadata| metadata.target().starts_with("shop"));
    let subscriber = tracing_subscriber::registry()
        .with(SkyWalkingLayer::new(logs.clone()))
        .with(SpanBridge::new().with_filter(only_shop));
    tracing::subscriber::with_default(subscriber, || {
        service.in_scope(|| {
            let _checkout = tracing::info_span!(target: "shop", "checkout").entered();
            drop(tracing::info_span!(target: "other_crate", "not bridged").entered());
            tracing::warn!(target: "shop", "stock is low");
        })
    });

    let segment = reporter.take().remove(0);
    assert_eq!(segment.spans.len(), 1);
    let checkout = named(&segment, "checkout");
    assert_eq!(checkout.logs[0].data[1].value, "stock is low");
    // The log layer got the event too, with the bridged span's context.
    let logs = logs.0.lock().unwrap();
    let context = logs[0].trace_context.as_ref().unwrap();
    assert_eq!(context.trace_segment_id, segment.trace_segment_id);
    assert_eq!(context.span_id, checkout.span_id);
}

/// A field whose `Debug` uses tracing itself, recorded late and in an event with an explicit
/// parent: no deadlock on the span it is recorded on.
#[test]
fn fields_whose_debug_uses_tracing_do_not_deadlock() {
    struct Chatty;
    impl std::fmt::Debug for Chatty {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            tracing::info!("formatting a field");
            tracing::Span::current().record("other", 1);
            f.write_str("chatty")
        }
    }

    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let (service, reporter) = tracer(|config| config);
        bridged(&service, || {
            let span = tracing::info_span!(
                "outer",
                value = tracing::field::Empty,
                other = tracing::field::Empty
            );
            let _outer = span.clone().entered();
            span.record("value", tracing::field::debug(Chatty));
            tracing::info!(parent: &span, field = ?Chatty, "explicit parent");
        });
        done.send(reporter.take()).unwrap();
    });
    let segments = finished
        .recv_timeout(std::time::Duration::from_secs(20))
        .expect("no deadlock");
    let outer = named(&segments[0], "outer");
    assert_eq!(tag(outer, "value"), Some("chatty"));
    assert!(
        outer
            .logs
            .iter()
            .any(|log| log.data.iter().any(|f| f.value == "explicit parent"))
    );
}
