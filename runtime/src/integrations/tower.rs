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
use crate::text::with_joined;
use crate::tracer::Tracer;
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
/// children. Each request starts from a clean context: its entry span continues the caller's
/// trace or starts a new one, and is never the child of a span that happens to be current where
/// the server runs.
///
/// Spans are recorded by the global tracer ([`crate::init`]), or by the one given to
/// [`EntryLayer::with_tracer`].
///
/// ```
/// use rust2sky::{Tracer, config::Config, reporter::MemoryReporter};
/// use rust2sky::integrations::tower::EntryLayer;
/// use tower::ServiceExt as _;
///
/// let reporter = MemoryReporter::new();
/// let tracer = Tracer::new(Config::default(), reporter.clone());
/// let app = axum::Router::new()
///     .route("/users/{id}", axum::routing::get(|| async { "alice" }))
///     .layer(EntryLayer::new().with_tracer(tracer));
/// # let runtime = tokio::runtime::Builder::new_current_thread().build()?;
/// let request = http::Request::get("/users/7").body(axum::body::Body::empty())?;
/// runtime.block_on(app.oneshot(request))?;
/// assert_eq!(reporter.segments()[0].spans[0].operation_name, "GET:/users/{id}");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct EntryLayer {
    tracer: Option<Tracer>,
}

impl EntryLayer {
    /// The layer, recording with the global tracer.
    ///
    /// ```
    /// let layer = rust2sky::integrations::tower::EntryLayer::new();
    /// ```
    pub fn new() -> Self {
        EntryLayer { tracer: None }
    }

    /// Records this server's requests with `tracer` rather than the global one: for several
    /// services in one process (a demo, a test, a gateway that reports as two services), since
    /// [`crate::init`] installs one tracer per process.
    ///
    /// Each request then starts a segment of `tracer`, whatever context the server's task runs
    /// in; the handler's own spans follow the entry span, so they report there too.
    ///
    /// ```
    /// use rust2sky::{Tracer, config::Config, integrations::tower::EntryLayer, reporter::MemoryReporter};
    /// use tower::ServiceExt as _;
    ///
    /// let reporter = MemoryReporter::new();
    /// let backend = Tracer::new(Config::builder().service_name("backend").build()?, reporter.clone());
    /// let app = axum::Router::new()
    ///     .route("/stock", axum::routing::get(|| async { "12" }))
    ///     .layer(EntryLayer::new().with_tracer(backend));
    ///
    /// # let runtime = tokio::runtime::Builder::new_current_thread().build()?;
    /// let request = http::Request::get("/stock").body(axum::body::Body::empty())?;
    /// let response = runtime.block_on(app.oneshot(request))?;
    /// assert_eq!(response.status(), http::StatusCode::OK);
    /// assert_eq!(reporter.segments()[0].service, "backend");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn with_tracer(mut self, tracer: Tracer) -> Self {
        self.tracer = Some(tracer);
        self
    }
}

impl<S> Layer<S> for EntryLayer {
    type Service = EntryService<S>;

    fn layer(&self, inner: S) -> EntryService<S> {
        EntryService {
            inner,
            tracer: self.tracer.clone(),
        }
    }
}

/// The service [`EntryLayer`] makes.
///
/// ```
/// use rust2sky::integrations::tower::{EntryLayer, EntryService};
/// use tower::ServiceExt as _;
/// use tower_layer::Layer as _;
///
/// let handler = tower::service_fn(|_request: http::Request<()>| async {
///     Ok::<_, std::convert::Infallible>(http::Response::new("ok"))
/// });
/// let service: EntryService<_> = EntryLayer::new().layer(handler);
/// # let runtime = tokio::runtime::Builder::new_current_thread().build()?;
/// let response = runtime.block_on(service.oneshot(http::Request::new(())))?;
/// assert_eq!(*response.body(), "ok");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct EntryService<S> {
    inner: S,
    tracer: Option<Tracer>,
}

/// The response future of [`EntryService`] and [`ExitService`].
///
/// ```
/// use rust2sky::integrations::tower::{EntryFuture, EntryLayer};
/// use tower::{Service as _, ServiceExt as _};
/// use tower_layer::Layer as _;
///
/// let handler = tower::service_fn(|_request: http::Request<()>| async {
///     Ok::<_, std::convert::Infallible>(http::Response::new(()))
/// });
/// let mut service = EntryLayer::new().layer(handler);
/// # let runtime = tokio::runtime::Builder::new_current_thread().build()?;
/// let response = runtime.block_on(async {
///     let future: EntryFuture<_> = service.ready().await?.call(http::Request::new(()));
///     future.await
/// })?;
/// assert_eq!(response.status(), http::StatusCode::OK);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
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
        // Each request starts a trace of its own (or continues its caller's): whatever the
        // server's task has current, such as a span the code that started the server holds
        // across `.await` on a current-thread runtime, is not its parent.
        let span = Tracer::start_request(self.tracer.as_ref(), || server_span(&request, grpc));
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
/// A tonic client sends requests whose URI is only the method path, and its `Channel` adds the
/// address after this layer has run: make the client with `with_origin` so that the layer sees
/// it (`GreeterClient::with_origin(ExitLayer::new().layer(channel), "http://greeter:50051".parse()?)`).
/// Otherwise the peer has no host (`:80`).
///
/// ```
/// use rust2sky::integrations::tower::ExitLayer;
/// use tower_layer::Layer as _;
///
/// # let transport = tower::service_fn(|_request: http::Request<String>| async {
/// #     Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
/// # });
/// // With tonic: `GreeterClient::with_origin(ExitLayer::new().layer(channel), origin)`.
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
///
/// ```
/// use rust2sky::{Tracer, config::Config, reporter::MemoryReporter};
/// use rust2sky::integrations::tower::{ExitLayer, ExitService};
/// use tower::ServiceExt as _;
/// use tower_layer::Layer as _;
///
/// // A transport that answers whether the request carried trace context.
/// let transport = tower::service_fn(|request: http::Request<()>| async move {
///     let traced = request.headers().contains_key("sw8");
///     Ok::<_, std::convert::Infallible>(http::Response::new(traced))
/// });
/// let client: ExitService<_> = ExitLayer::new().layer(transport);
/// let tracer = Tracer::new(Config::default(), MemoryReporter::new());
/// # let runtime = tokio::runtime::Builder::new_current_thread().build()?;
/// let request = http::Request::get("http://users:8080/users/7").body(())?;
/// let response = tracer.in_scope(|| runtime.block_on(client.oneshot(request)))?;
/// assert!(*response.body());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
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
        // The headers are taken out for `sw8` to be written while the URI is read, and put back.
        let mut headers = std::mem::take(request.headers_mut());
        let (uri, method) = (request.uri(), request.method().as_str());
        let mut span = with_peer(uri, |peer| {
            if grpc {
                exit_span(uri.path(), peer, &mut headers)
            } else {
                with_joined(&[method, ":", uri.path()], |operation| {
                    exit_span(operation, peer, &mut headers)
                })
            }
        });
        *request.headers_mut() = headers;
        if grpc {
            span.set_layer(SpanLayer::RpcFramework)
                .set_component(component::GRPC);
        } else {
            let url = super::url::uri_tag(&span, request.uri());
            span.set_layer(SpanLayer::Http)
                .set_component(component::HTTP_CLIENT)
                .tag(tags::HTTP_METHOD, request.method().as_str());
            if let Some(url) = url {
                span.tag(tags::URL, url);
            }
        }
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

/// The entry span of a request to a server.
fn server_span<B>(request: &Request<B>, grpc: bool) -> Span {
    if grpc {
        let mut span = entry_span(request.uri().path(), request.headers());
        span.set_layer(SpanLayer::RpcFramework)
            .set_component(component::GRPC);
        span
    } else {
        let operation = [request.method().as_str(), ":", super::route(request)];
        let mut span = with_joined(&operation, |operation| {
            entry_span(operation, request.headers())
        });
        span.set_layer(SpanLayer::Http)
            .set_component(component::HTTP)
            .tag(tags::HTTP_METHOD, request.method().as_str());
        if let Some(url) = super::url::uri_tag(&span, request.uri()) {
            span.tag(tags::URL, url);
        }
        span
    }
}

/// Runs `f` on the `host:port` of a request URI, with the scheme's default port.
fn with_peer<R>(uri: &http::Uri, f: impl FnOnce(&str) -> R) -> R {
    let host = uri.host().unwrap_or_default();
    let port = uri.port_u16().unwrap_or(match uri.scheme_str() {
        Some("https") => 443,
        _ => 80,
    });
    with_joined(&[host, ":", itoa::Buffer::new().format(port)], f)
}

/// Records the response's status on the span.
///
/// ```
/// use rust2sky::{Tracer, config::Config, reporter::MemoryReporter};
/// use rust2sky::integrations::tower::EntryLayer;
/// use tower::ServiceExt as _;
///
/// let reporter = MemoryReporter::new();
/// let tracer = Tracer::new(Config::default(), reporter.clone());
/// let app = axum::Router::new()
///     .route("/", axum::routing::get(|| async { http::StatusCode::SERVICE_UNAVAILABLE }))
///     .layer(EntryLayer::new().with_tracer(tracer));
/// # let runtime = tokio::runtime::Builder::new_current_thread().build()?;
/// runtime.block_on(app.oneshot(http::Request::get("/").body(axum::body::Body::empty())?))?;
/// // The status is tagged, and a 5xx marks the entry span as failed.
/// let span = &reporter.segments()[0].spans[0];
/// assert!(span.is_error);
/// assert!(span.tags.iter().any(|tag| tag.key == "http.status_code" && tag.value == "503"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
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
