//! Spans for tower services: [`EntryLayer`] for servers (hyper, axum, tonic) and [`ExitLayer`]
//! for clients (a tonic `Channel`, a hyper client).
//!
//! ```
//! use rust2sky::integrations::tower::EntryLayer;
//! use tower_layer::Layer as _;
//!
//! # let handler = tower::service_fn(|_request: http::Request<String>| async {
//! #     Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
//! # });
//! // With axum: `Router::new().route(...).layer(EntryLayer::new())`.
//! let service = EntryLayer::new().layer(handler);
//! ```

use std::fmt::Display;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower_layer::Layer;
use tower_service::Service;

use crate::context::future::{Instrumented, OnReady};
use crate::span::{Span, entry_span, exit_span};
use crate::{SpanLayer, component, tags};

/// A tower [`Layer`] that records an entry span for each request.
///
/// - HTTP: the operation is `{METHOD}:{route}`, with axum's matched route template when the
///   `axum` feature is on and axum routed the request (`GET:/users/{id}`, never the raw path with
///   ids in it), else the path; tags `http.method`, `url` and `http.status_code`; layer Http; an
///   error when the status is 500 or more, or the service fails.
/// - gRPC (`content-type: application/grpc`): the operation is the method path
///   (`/helloworld.Greeter/SayHello`); layer RPCFramework; tag `rpc.status_code` when the
///   response carries a `grpc-status` header.
///
/// The caller's `sw8` headers are read from the request, and the span is current while the inner
/// service runs, so `#[sw_local]` and `#[sw_exit]` functions called by the handler are its
/// children.
#[derive(Debug, Clone, Copy, Default)]
pub struct EntryLayer {
    _private: (),
}

impl EntryLayer {
    /// The layer.
    ///
    /// ```
    /// let layer = rust2sky::integrations::tower::EntryLayer::new();
    /// ```
    pub fn new() -> Self {
        EntryLayer { _private: () }
    }
}

impl<S> Layer<S> for EntryLayer {
    type Service = EntryService<S>;

    fn layer(&self, inner: S) -> EntryService<S> {
        EntryService { inner }
    }
}

/// The service [`EntryLayer`] makes.
#[derive(Debug, Clone)]
pub struct EntryService<S> {
    inner: S,
}

/// The response future of [`EntryService`] and [`ExitService`].
pub type EntryFuture<F> = Instrumented<F, RecordResponse>;

impl<S, RequestBody, ResponseBody> Service<Request<RequestBody>> for EntryService<S>
where
    S: Service<Request<RequestBody>, Response = Response<ResponseBody>>,
    S::Error: Display,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = EntryFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<RequestBody>) -> Self::Future {
        let grpc = is_grpc(&request);
        let span = if grpc {
            let mut span = entry_span(request.uri().path(), request.headers());
            span.set_layer(SpanLayer::RpcFramework)
                .set_component(component::GRPC);
            span
        } else {
            let operation = format!("{}:{}", request.method(), route(&request));
            let mut span = entry_span(operation, request.headers());
            span.set_layer(SpanLayer::Http)
                .set_component(component::HTTP)
                .tag(tags::HTTP_METHOD, request.method().as_str())
                .tag(tags::URL, request.uri().to_string());
            span
        };
        let future = span.in_scope(|| self.inner.call(request));
        Instrumented::with_outcome(
            future,
            span,
            RecordResponse {
                grpc,
                error_from: http::StatusCode::INTERNAL_SERVER_ERROR,
            },
        )
    }
}

/// A tower [`Layer`] for clients that records an exit span for each request and writes the
/// `sw8` headers into it.
///
/// The peer is the request URI's `host:port` (the port defaulting from the scheme); the operation
/// is `{METHOD}:{path}` for HTTP (tags `http.method`, `url`, `http.status_code`; an error from
/// status 400 up) or the method path for gRPC (layer RPCFramework, tag `rpc.status_code`).
///
/// ```
/// use rust2sky::integrations::tower::ExitLayer;
/// use tower_layer::Layer as _;
///
/// # let transport = tower::service_fn(|_request: http::Request<String>| async {
/// #     Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
/// # });
/// // With tonic: `ServiceBuilder::new().layer(ExitLayer::new()).service(channel)`.
/// let client = ExitLayer::new().layer(transport);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct ExitLayer {
    _private: (),
}

impl ExitLayer {
    /// The layer.
    ///
    /// ```
    /// let layer = rust2sky::integrations::tower::ExitLayer::new();
    /// ```
    pub fn new() -> Self {
        ExitLayer { _private: () }
    }
}

impl<S> Layer<S> for ExitLayer {
    type Service = ExitService<S>;

    fn layer(&self, inner: S) -> ExitService<S> {
        ExitService { inner }
    }
}

/// The service [`ExitLayer`] makes.
#[derive(Debug, Clone)]
pub struct ExitService<S> {
    inner: S,
}

impl<S, RequestBody, ResponseBody> Service<Request<RequestBody>> for ExitService<S>
where
    S: Service<Request<RequestBody>, Response = Response<ResponseBody>>,
    S::Error: Display,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = EntryFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<RequestBody>) -> Self::Future {
        let grpc = is_grpc(&request);
        let peer = peer(request.uri());
        let span = if grpc {
            let operation = request.uri().path().to_owned();
            let mut span = exit_span(operation, peer, request.headers_mut());
            span.set_layer(SpanLayer::RpcFramework)
                .set_component(component::GRPC);
            span
        } else {
            let operation = format!("{}:{}", request.method(), request.uri().path());
            let method = request.method().clone();
            let url = request.uri().to_string();
            let mut span = exit_span(operation, peer, request.headers_mut());
            span.set_layer(SpanLayer::Http)
                .set_component(component::HTTP_CLIENT)
                .tag(tags::HTTP_METHOD, method.as_str())
                .tag(tags::URL, url);
            span
        };
        let future = span.in_scope(|| self.inner.call(request));
        Instrumented::with_outcome(
            future,
            span,
            RecordResponse {
                grpc,
                error_from: http::StatusCode::BAD_REQUEST,
            },
        )
    }
}

/// `host:port` of a request URI, with the scheme's default port.
fn peer(uri: &http::Uri) -> String {
    let host = uri.host().unwrap_or_default();
    let port = uri.port_u16().unwrap_or(match uri.scheme_str() {
        Some("https") => 443,
        _ => 80,
    });
    format!("{host}:{port}")
}

/// Records the response's status on the span.
#[derive(Debug, Clone, Copy)]
pub struct RecordResponse {
    grpc: bool,
    /// The least HTTP status that marks the span as an error.
    error_from: http::StatusCode,
}

impl<B, E: Display> OnReady<Result<Response<B>, E>> for RecordResponse {
    fn on_ready(self, span: &mut Span, output: &Result<Response<B>, E>) {
        match output {
            Ok(response) if self.grpc => {
                let status = response
                    .headers()
                    .get("grpc-status")
                    .and_then(|status| status.to_str().ok());
                if let Some(status) = status {
                    span.tag(tags::RPC_STATUS_CODE, status);
                    span.set_error(status != "0");
                }
            }
            Ok(response) => {
                let status = response.status();
                span.tag(tags::HTTP_STATUS_CODE, status.as_str());
                if status >= self.error_from {
                    span.set_error(true);
                }
            }
            Err(error) => {
                span.error("ServiceError", error);
            }
        }
    }
}

fn is_grpc<B>(request: &Request<B>) -> bool {
    request
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/grpc"))
}

/// The route the request matched: axum's template when there is one, else the path.
fn route<B>(request: &Request<B>) -> &str {
    #[cfg(feature = "axum")]
    if let Some(matched) = request.extensions().get::<axum::extract::MatchedPath>() {
        return matched.as_str();
    }
    request.uri().path()
}
