//! The reqwest integration, against a real HTTP server on 127.0.0.1.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;

use rust2sky::integrations::reqwest::RequestBuilderExt as _;
use rust2sky::propagation::Sw8Header;
use rust2sky::{FutureExt as _, SpanLayer};

use crate::spans::{spans, tracer};

/// A server that answers every request with its `sw8` header as the body: 404 for paths under
/// `/missing`, else 200. Returns its `host:port`.
pub(crate) fn echo_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            reader.read_line(&mut request_line).unwrap();
            let mut sw8 = String::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
                    break;
                }
                if let Some((name, value)) = line.split_once(':')
                    && name.eq_ignore_ascii_case("sw8")
                {
                    sw8 = value.trim().to_owned();
                }
            }
            let status = if request_line.contains(" /missing") {
                "404 Not Found"
            } else {
                "200 OK"
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{sw8}",
                sw8.len()
            );
        }
    });
    address
}

fn tag<'a>(span: &'a rust2sky::proto::v3::SpanObject, key: &str) -> Option<&'a str> {
    span.tags
        .iter()
        .find(|tag| tag.key == key)
        .map(|tag| tag.value.as_str())
}

/// Runs a future as the work of a "render" span, started when the future first runs (under
/// the tracer `with_tracer` makes current), not when it is built.
trait InPage: std::future::Future + Sized {
    fn in_page(self) -> impl std::future::Future<Output = Self::Output> {
        async { self.in_span(rust2sky::local_span("render")).await }
    }
}

impl<F: std::future::Future> InPage for F {}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn a_request_is_an_exit_span_whose_sw8_reaches_the_server() {
    let server = echo_server();
    let (service, reporter) = tracer(|config| config.service_name("web"));
    let client = reqwest::Client::new();
    let url = format!("http://user:secret@{server}/stock/7?sku=1");
    let (status, body) = runtime().block_on(
        async {
            let response = client.get(&url).send_traced().await.unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        }
        .in_page()
        .with_tracer(&service),
    );
    assert_eq!(status, 200);

    let segment = reporter.segments().remove(0);
    let exit = spans(&segment)[1];
    assert_eq!(exit.operation_name, "GET:/stock/7");
    assert_eq!(exit.peer, server);
    assert_eq!(exit.parent_span_id, 0);
    assert_eq!(exit.span_layer(), SpanLayer::Http);
    assert_eq!(exit.component_id, rust2sky::component::HTTP_CLIENT);
    assert_eq!(tag(exit, "http.method"), Some("GET"));
    assert_eq!(
        tag(exit, "url"),
        Some(format!("http://{server}/stock/7").as_str()),
        "no credentials, and no query unless configured"
    );
    assert_eq!(tag(exit, "http.status_code"), Some("200"));
    assert!(!exit.is_error);

    let sent = Sw8Header::decode(&body).expect("the server got a valid sw8");
    assert_eq!(sent.trace_id, segment.trace_id);
    assert_eq!(sent.parent_segment_id, segment.trace_segment_id);
    assert_eq!(sent.parent_span_id, exit.span_id);
    assert_eq!(sent.parent_service, "web");
    assert_eq!(sent.target_address, server, "the address the client used");
}

#[test]
fn a_4xx_answer_or_a_failed_send_is_an_error_span() {
    let server = echo_server();
    let closed = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().to_string()
    };
    let (service, reporter) = tracer(|config| config.service_name("web"));
    let client = reqwest::Client::new();
    let (missing, refused) = runtime().block_on(
        async {
            let missing = client
                .post(format!("http://{server}/missing"))
                .send_traced()
                .await
                .unwrap();
            let refused = client
                .get(format!("http://{closed}/stock"))
                .send_traced()
                .await;
            (missing.status().as_u16(), refused)
        }
        .in_page()
        .with_tracer(&service),
    );
    assert_eq!(missing, 404);
    let error = refused.expect_err("nothing listens there");
    assert!(error.is_connect(), "{error}");

    let segments = reporter.segments();
    assert_eq!(segments.len(), 1, "{segments:#?}");
    let spans = spans(&segments[0]);
    let not_found = spans[1];
    assert_eq!(not_found.operation_name, "POST:/missing");
    assert_eq!(tag(not_found, "http.method"), Some("POST"));
    assert_eq!(tag(not_found, "http.status_code"), Some("404"));
    assert!(not_found.is_error, "404 is an error for a client");

    let failed = spans[2];
    assert_eq!(failed.peer, closed);
    assert!(failed.is_error);
    assert_eq!(tag(failed, "http.status_code"), None);
    let log: Vec<(&str, &str)> = failed.logs[0]
        .data
        .iter()
        .map(|pair| (pair.key.as_str(), pair.value.as_str()))
        .collect();
    assert_eq!(
        log[..2],
        [("event", "error"), ("error.kind", "ConnectError")]
    );
    assert_eq!(log[2].0, "message");
}

#[test]
fn the_query_string_is_recorded_only_when_configured() {
    let server = echo_server();
    let (service, reporter) = tracer(|config| config.http_url_query(true));
    let client = reqwest::Client::new();
    let url = format!("http://user:secret@{server}/stock/7?sku=1#top");
    runtime().block_on(
        async { client.get(&url).send_traced().await.unwrap() }
            .in_page()
            .with_tracer(&service),
    );
    let segment = reporter.segments().remove(0);
    assert_eq!(
        tag(spans(&segment)[1], "url"),
        Some(format!("http://{server}/stock/7?sku=1").as_str())
    );
}
