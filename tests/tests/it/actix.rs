//! `integrations::actix::EntryMiddleware` in a real actix-web server on loopback, called over
//! TCP with a caller's `sw8`.

use std::collections::HashMap;
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};

use actix_web::{App, HttpResponse, HttpServer, web};
use rust2sky::integrations::actix::EntryMiddleware;
use rust2sky::proto::v3::{RefType, SegmentObject, SpanLayer, SpanType};
use rust2sky::{Tracer, component, tags};

use crate::spans::{DEADLINE, log_values, tag, tracer, tracer_with};

async fn user(id: web::Path<u32>) -> String {
    // A child of the request's entry span, if the middleware made it current.
    let _load = rust2sky::local_span("load user").entered();
    let correlation = rust2sky::correlation("tenant").unwrap_or_default();
    format!("user {id} of {correlation}")
}

async fn broken() -> Result<String, actix_web::Error> {
    Err(actix_web::error::ErrorInternalServerError(
        "the stock service is down",
    ))
}

/// Serves the app on a free loopback port in a thread of its own, until dropped.
struct Server {
    addr: SocketAddr,
    handle: actix_web::dev::ServerHandle,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    fn start(tracer: Tracer) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (sender, receiver) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let server = HttpServer::new(move || {
                    App::new()
                        .wrap(EntryMiddleware::new().with_tracer(tracer.clone()))
                        .route("/users/{id}", web::get().to(user))
                        .route("/broken", web::get().to(broken))
                        .route(
                            "/teapot",
                            web::get().to(|| async { HttpResponse::ImATeapot().finish() }),
                        )
                })
                .workers(1)
                .disable_signals()
                .listen(listener)
                .unwrap()
                .run();
                sender.send(server.handle()).unwrap();
                server.await.unwrap();
            });
        });
        let handle = receiver.recv_timeout(DEADLINE).unwrap();
        Server {
            addr,
            handle,
            thread: Some(thread),
        }
    }

    /// Sends `GET path` with `headers`, and gives the status and the body.
    fn get(&self, path: &str, headers: &[(String, String)]) -> (u16, String) {
        let mut stream = TcpStream::connect(self.addr).unwrap();
        stream.set_read_timeout(Some(DEADLINE)).unwrap();
        let mut request = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
            self.addr
        );
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        stream.write_all(request.as_bytes()).unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let status = response[9..12].parse().unwrap();
        let body = response
            .split_once("\r\n\r\n")
            .map(|(_, body)| body.to_owned())
            .unwrap_or_default();
        (status, body)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        let stopped = std::thread::spawn(move || {
            futures_lite_block_on(handle.stop(false));
        });
        let _ = stopped.join();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Drives the stop future on a runtime of its own.
fn futures_lite_block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

fn segments(reporter: &rust2sky::reporter::MemoryReporter, count: usize) -> Vec<SegmentObject> {
    let segments = reporter.wait_for(count, DEADLINE);
    assert_eq!(segments.len(), count, "{segments:#?}");
    segments
}

#[test]
fn a_request_with_sw8_continues_the_callers_trace_under_its_route_pattern() {
    let (server_tracer, server_reporter) = tracer("users");
    let (client_tracer, client_reporter) = tracer("gateway");
    let server = Server::start(server_tracer);
    let peer = server.addr.to_string();

    let mut outgoing: HashMap<String, String> = HashMap::new();
    let (status, body) = client_tracer.in_scope(|| {
        let _request =
            rust2sky::entry_span("GET:/profile", &HashMap::<String, String>::new()).entered();
        rust2sky::set_correlation("tenant", "acme").unwrap();
        let _call = rust2sky::exit_span("GET:/users/7", &peer, &mut outgoing);
        let headers: Vec<(String, String)> = outgoing.clone().into_iter().collect();
        server.get("/users/7?token=secret", &headers)
    });
    assert_eq!((status, body.as_str()), (200, "user 7 of acme"));

    let client = &segments(&client_reporter, 1)[0];
    let server_segment = &segments(&server_reporter, 1)[0];
    assert_eq!(server_segment.trace_id, client.trace_id, "one trace");
    let entry = server_segment
        .spans
        .iter()
        .find(|span| span.span_type() == SpanType::Entry)
        .unwrap();
    assert_eq!(entry.operation_name, "GET:/users/{id}");
    assert_eq!(entry.span_layer(), SpanLayer::Http);
    assert_eq!(entry.component_id, component::HTTP);
    assert_eq!(tag(entry, tags::HTTP_METHOD), Some("GET"));
    assert_eq!(
        tag(entry, tags::URL),
        Some("/users/7"),
        "no query by default"
    );
    assert_eq!(tag(entry, tags::HTTP_STATUS_CODE), Some("200"));
    assert!(!entry.is_error);
    assert_eq!(entry.refs.len(), 1, "{entry:#?}");
    let reference = &entry.refs[0];
    assert_eq!(reference.ref_type(), RefType::CrossProcess);
    assert_eq!(reference.parent_trace_segment_id, client.trace_segment_id);
    assert_eq!(reference.network_address_used_at_peer, peer);
    let load = server_segment
        .spans
        .iter()
        .find(|span| span.operation_name == "load user")
        .expect("the handler's span is in the request's segment");
    assert_eq!(load.parent_span_id, entry.span_id);
}

#[test]
fn each_request_starts_clean_and_errors_are_marked() {
    let (server_tracer, server_reporter) =
        tracer_with("users", &[("SW_AGENT_HTTP_URL_QUERY", "true")]);
    let server = Server::start(server_tracer);

    let (status, _) = server.get("/broken", &[]);
    assert_eq!(status, 500);
    let (status, _) = server.get("/teapot", &[]);
    assert_eq!(status, 418);
    let (status, _) = server.get("/users/8?page=2", &[]);
    assert_eq!(status, 200);
    let (status, _) = server.get("/nowhere", &[]);
    assert_eq!(status, 404);

    let mut segments = segments(&server_reporter, 4);
    segments.sort_by_key(|segment| segment.spans.iter().map(|span| span.start_time).min());
    let entry = |segment: &SegmentObject| {
        segment
            .spans
            .iter()
            .find(|span| span.span_type() == SpanType::Entry)
            .unwrap()
            .clone()
    };
    let traces: std::collections::HashSet<_> =
        segments.iter().map(|s| s.trace_id.clone()).collect();
    assert_eq!(
        traces.len(),
        4,
        "a trace per request, none a child of another"
    );
    for segment in &segments {
        assert!(entry(segment).refs.is_empty(), "no caller, no reference");
    }

    let broken = entry(&segments[0]);
    assert_eq!(broken.operation_name, "GET:/broken");
    assert!(broken.is_error);
    assert_eq!(tag(&broken, tags::HTTP_STATUS_CODE), Some("500"));
    let logs = log_values(&broken);
    assert!(
        logs.contains(&("message", "the stock service is down")),
        "{logs:?}"
    );

    let teapot = entry(&segments[1]);
    assert!(!teapot.is_error, "a 4xx is the caller's error");
    assert_eq!(tag(&teapot, tags::HTTP_STATUS_CODE), Some("418"));

    let user = entry(&segments[2]);
    assert_eq!(
        tag(&user, tags::URL),
        Some("/users/8?page=2"),
        "the query, as configured"
    );

    let nowhere = entry(&segments[3]);
    assert_eq!(nowhere.operation_name, "GET:/nowhere", "no route: the path");
    assert_eq!(tag(&nowhere, tags::HTTP_STATUS_CODE), Some("404"));
}

/// `let _boot = local_span("boot").entered(); serve(...).await` on the server's thread: the
/// requests it handles meanwhile are traces of their own, not children of `boot`.
#[test]
#[allow(clippy::await_holding_invalid_type)] // the misuse under test
fn requests_do_not_become_children_of_a_span_the_server_holds() {
    let (tracer, reporter) = tracer("users");
    tracer.in_scope(|| {
        actix_web::rt::System::new().block_on(async {
            let _boot = rust2sky::local_span("boot").entered();
            let app = actix_web::test::init_service(
                App::new()
                    .wrap(EntryMiddleware::new())
                    .route("/users/{id}", web::get().to(user)),
            )
            .await;
            for id in 1..=2 {
                let request = actix_web::test::TestRequest::get()
                    .uri(&format!("/users/{id}"))
                    .to_request();
                let response = actix_web::test::call_service(&app, request).await;
                assert!(response.status().is_success());
            }
        });
    });

    let segments = segments(&reporter, 3);
    let boot = segments
        .iter()
        .find(|segment| {
            segment
                .spans
                .iter()
                .any(|span| span.operation_name == "boot")
        })
        .unwrap();
    assert_eq!(boot.spans.len(), 1, "{boot:#?}");
    for request in segments
        .iter()
        .filter(|segment| segment.trace_id != boot.trace_id)
    {
        let entry = request
            .spans
            .iter()
            .find(|span| span.span_type() == SpanType::Entry)
            .unwrap();
        assert_eq!(entry.operation_name, "GET:/users/{id}");
        assert_eq!(entry.parent_span_id, -1);
    }
    assert_eq!(
        segments
            .iter()
            .filter(|segment| segment.trace_id != boot.trace_id)
            .count(),
        2
    );
}
