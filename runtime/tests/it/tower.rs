//! The tower entry layer, in an axum router.

use axum::Router;
use axum::routing::get;
use http::{Request, StatusCode};
use rust2sky::SpanLayer;
use rust2sky::integrations::tower::EntryLayer;
use tower::ServiceExt as _;

use crate::spans::{spans, tracer};

async fn user(axum::extract::Path(id): axum::extract::Path<u32>) -> Result<String, StatusCode> {
    let _lookup = rust2sky::local_span("load user").entered();
    if id == 0 {
        return Err(StatusCode::INTERNAL_SERVER_ERROR);
    }
    Ok(format!("user {id}"))
}

fn app() -> Router {
    Router::new()
        .route("/users/{id}", get(user))
        .layer(EntryLayer::new())
}

#[test]
fn requests_are_entry_spans_named_after_their_route() {
    use rust2sky::FutureExt as _;
    let (service, reporter) = tracer(|config| config);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let request = Request::get("/users/7")
        .header(
            "sw8",
            "1-dHJhY2UtMQ==-c2VnbWVudC0x-3-b3JkZXJz-b3JkZXJzLTE=-R0VUOi9vcmRlcnM=-dXNlcnM6ODA=",
        )
        .body(axum::body::Body::empty())
        .unwrap();
    let response = runtime
        .block_on(app().oneshot(request).with_tracer(&service))
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let failed = Request::get("/users/0")
        .body(axum::body::Body::empty())
        .unwrap();
    let response = runtime
        .block_on(app().oneshot(failed).with_tracer(&service))
        .unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);

    let segments = reporter.segments();
    assert_eq!(segments.len(), 2);
    let ok = spans(&segments[0]);
    assert_eq!(ok[0].operation_name, "GET:/users/{id}");
    assert_eq!(ok[0].span_layer(), SpanLayer::Http);
    assert_eq!(segments[0].trace_id, "trace-1");
    assert_eq!(ok[0].refs[0].network_address_used_at_peer, "users:80");
    let tags: Vec<(&str, &str)> = ok[0]
        .tags
        .iter()
        .map(|t| (t.key.as_str(), t.value.as_str()))
        .collect();
    assert_eq!(
        tags,
        [
            ("http.method", "GET"),
            ("url", "/users/7"),
            ("http.status_code", "200")
        ]
    );
    assert!(!ok[0].is_error);
    assert_eq!(
        (ok[1].operation_name.as_str(), ok[1].parent_span_id),
        ("load user", 0)
    );

    let failed = spans(&segments[1]);
    assert!(failed[0].is_error);
    assert_eq!(failed[0].tags[2].value, "500");
}

#[test]
fn client_requests_are_exit_spans_that_carry_sw8() {
    use rust2sky::FutureExt as _;
    use rust2sky::integrations::tower::ExitLayer;
    use tower_layer::Layer as _;

    let (service, reporter) = tracer(|config| config.service_name("web"));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    // A transport that answers 404 and hands back the sw8 header it was sent.
    let transport = tower::service_fn(|request: Request<String>| async move {
        let sw8 = request.headers()["sw8"].to_str().unwrap().to_owned();
        let mut response = http::Response::new(sw8);
        *response.status_mut() = StatusCode::NOT_FOUND;
        Ok::<_, std::convert::Infallible>(response)
    });
    let client = ExitLayer::new().layer(transport);
    let request = Request::get("http://inventory:8080/stock?sku=1")
        .body(String::new())
        .unwrap();
    let response = runtime
        .block_on(
            async {
                let page = rust2sky::local_span("render");
                client.oneshot(request).in_span(page).await
            }
            .with_tracer(&service),
        )
        .unwrap();

    let sent = rust2sky::propagation::Sw8Header::decode(response.body()).unwrap();
    assert_eq!(sent.target_address, "inventory:8080");
    assert_eq!(sent.parent_service, "web");
    let segment = reporter.segments().remove(0);
    let exit = spans(&segment)[1];
    assert_eq!(exit.operation_name, "GET:/stock");
    assert_eq!(exit.peer, "inventory:8080");
    assert_eq!(exit.parent_span_id, 0);
    assert_eq!(sent.parent_span_id, exit.span_id);
    assert!(exit.is_error, "404 is an error for a client");
}

#[test]
fn each_server_records_with_the_tracer_its_layer_was_given() {
    let (frontend, frontend_reporter) = tracer(|config| config.service_name("frontend"));
    let (backend, backend_reporter) = tracer(|config| config.service_name("backend"));
    let app = |tracer| {
        Router::new()
            .route("/users/{id}", get(user))
            .layer(EntryLayer::new().with_tracer(tracer))
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let request = || {
        Request::get("/users/7")
            .body(axum::body::Body::empty())
            .unwrap()
    };
    // No tracer is current where the requests are served: only the layers name one.
    runtime.block_on(app(frontend).oneshot(request())).unwrap();
    runtime.block_on(app(backend).oneshot(request())).unwrap();

    for (reporter, service) in [
        (frontend_reporter, "frontend"),
        (backend_reporter, "backend"),
    ] {
        let segments = reporter.segments();
        assert_eq!(segments.len(), 1, "{service}: {segments:#?}");
        assert_eq!(segments[0].service, service);
        let spans = spans(&segments[0]);
        assert_eq!(spans[0].operation_name, "GET:/users/{id}");
        assert_eq!(
            (spans[1].operation_name.as_str(), spans[1].parent_span_id),
            ("load user", 0),
            "the handler's span reports with its entry span"
        );
    }
}

/// `let _boot = local_span("boot").entered(); serve(...).await` in a current-thread `main`: the
/// requests the server's tasks handle meanwhile are traces of their own, not children of `boot`.
#[test]
#[allow(clippy::await_holding_invalid_type)] // the misuse under test
fn requests_do_not_become_children_of_a_span_the_server_holds() {
    let (service, reporter) = tracer(|config| config);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    service.in_scope(|| {
        runtime.block_on(async {
            let _boot = rust2sky::local_span("boot").entered();
            let requests: Vec<_> = (1..=3)
                .map(|id| {
                    let request = Request::get(format!("/users/{id}"))
                        .body(axum::body::Body::empty())
                        .unwrap();
                    tokio::spawn(app().oneshot(request))
                })
                .collect();
            for request in requests {
                assert_eq!(request.await.unwrap().unwrap().status(), StatusCode::OK);
            }
        });
    });

    let segments = reporter.segments();
    assert_eq!(segments.len(), 4, "{segments:#?}");
    let boot: Vec<_> = segments
        .iter()
        .filter(|segment| {
            segment
                .spans
                .iter()
                .any(|span| span.operation_name == "boot")
        })
        .collect();
    assert_eq!(boot.len(), 1);
    assert_eq!(boot[0].spans.len(), 1);
    for request in segments
        .iter()
        .filter(|segment| segment.trace_id != boot[0].trace_id)
    {
        let spans = spans(request);
        assert_eq!(spans[0].operation_name, "GET:/users/{id}");
        assert_eq!(spans[0].parent_span_id, -1);
        assert_eq!(spans[1].operation_name, "load user");
    }
}

#[test]
fn url_tags_keep_credentials_out_and_the_query_only_when_configured() {
    use rust2sky::FutureExt as _;
    use rust2sky::integrations::tower::ExitLayer;
    use tower_layer::Layer as _;

    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let urls = |record_query: bool| {
        let (service, reporter) = tracer(|config| config.http_url_query(record_query));
        let transport = tower::service_fn(|_: Request<String>| async {
            Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
        });
        let client = ExitLayer::new().layer(transport);
        let outgoing = Request::get("http://ops:s3cret@inventory:8080/stock?sig=abc")
            .body(String::new())
            .unwrap();
        runtime
            .block_on(client.oneshot(outgoing).with_tracer(&service))
            .unwrap();
        let incoming = Request::get("/users/7?token=xyz")
            .body(axum::body::Body::empty())
            .unwrap();
        runtime
            .block_on(app().oneshot(incoming).with_tracer(&service))
            .unwrap();
        reporter
            .segments()
            .iter()
            .map(|segment| {
                let span = &segment.spans.iter().find(|span| span.span_id == 0).unwrap();
                let url = span.tags.iter().find(|tag| tag.key == "url").unwrap();
                url.value.clone()
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(urls(false), ["http://inventory:8080/stock", "/users/7"]);
    assert_eq!(
        urls(true),
        ["http://inventory:8080/stock?sig=abc", "/users/7?token=xyz"]
    );
}
