//! Entry spans for [actix-web](https://docs.rs/actix-web) servers: `App::new().wrap(EntryMiddleware::new())`.
//!
//! ```no_run
//! use actix_web::{App, HttpServer, web};
//! use rust2sky::integrations::actix::EntryMiddleware;
//!
//! async fn user(id: web::Path<u32>) -> String {
//!     format!("user {id}")
//! }
//!
//! # async fn example() -> std::io::Result<()> {
//! HttpServer::new(|| {
//!     App::new()
//!         .wrap(EntryMiddleware::new())
//!         .route("/users/{id}", web::get().to(user))
//! })
//! .bind(("127.0.0.1", 8080))?
//! .run()
//! .await
//! # }
//! ```
//!
//! Enabled by the `actix-web` cargo feature.

use std::future::{Ready, ready};

use actix_web::Error;
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};

use crate::context::future::{Instrumented, OnReady};
use crate::span::{Span, entry_span};
use crate::tracer::Tracer;
use crate::{SpanLayer, component, tags};

/// An actix-web middleware that records an entry span for each request, as
/// [`EntryLayer`](crate::integrations::tower::EntryLayer) does for tower servers:
///
/// - operation `{METHOD}:{route}`, the route pattern the request matched (`GET:/users/{id}`,
///   never the raw path with ids in it), or the path when no route matched;
/// - layer Http, component Http (49), tags `http.method`, `url` (no credentials; the query
///   only with [`Config::http_url_query`](crate::config::Config::http_url_query)) and
///   `http.status_code`;
/// - an error when the status is 500 or more (with the handler's error message when the
///   response carries one), or when the service fails;
/// - the caller's `sw8`, `sw8-correlation` and `sw8-x` headers are read from the request.
///
/// The span is current while the handler runs, so the spans it starts (`#[sw_local]`,
/// `#[sw_exit]`, a traced database call) are its children. Each request starts from a clean
/// context: its span continues the caller's trace or starts a new one.
///
/// Spans are recorded by the global tracer ([`crate::init`]), or by the one given to
/// [`EntryMiddleware::with_tracer`].
///
/// ```
/// use actix_web::{App, test, web};
/// use rust2sky::integrations::actix::EntryMiddleware;
/// use rust2sky::{Tracer, config::Config, reporter::MemoryReporter};
///
/// let reporter = MemoryReporter::new();
/// let tracer = Tracer::new(Config::default(), reporter.clone());
/// actix_web::rt::System::new().block_on(async {
///     let app = test::init_service(
///         App::new()
///             .wrap(EntryMiddleware::new().with_tracer(tracer))
///             .route("/users/{id}", web::get().to(|| async { "alice" })),
///     )
///     .await;
///     test::call_service(&app, test::TestRequest::get().uri("/users/7").to_request()).await;
/// });
/// assert_eq!(reporter.segments()[0].spans[0].operation_name, "GET:/users/{id}");
/// ```
#[derive(Debug, Clone, Default)]
pub struct EntryMiddleware {
    tracer: Option<Tracer>,
}

impl EntryMiddleware {
    /// The middleware, recording with the global tracer.
    ///
    /// ```
    /// let middleware = rust2sky::integrations::actix::EntryMiddleware::new();
    /// ```
    pub fn new() -> Self {
        EntryMiddleware { tracer: None }
    }

    /// Records this server's requests with `tracer` rather than the global one (several
    /// services in one process, tests).
    ///
    /// ```
    /// use rust2sky::{Tracer, config::Config, reporter::MemoryReporter};
    ///
    /// let tracer = Tracer::new(Config::default(), MemoryReporter::new());
    /// let middleware = rust2sky::integrations::actix::EntryMiddleware::new().with_tracer(tracer);
    /// ```
    #[must_use]
    pub fn with_tracer(mut self, tracer: Tracer) -> Self {
        self.tracer = Some(tracer);
        self
    }
}

impl<S, B> Transform<S, ServiceRequest> for EntryMiddleware
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Transform = EntryService<S>;
    type InitError = ();
    type Future = Ready<Result<EntryService<S>, ()>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(EntryService {
            service,
            tracer: self.tracer.clone(),
        }))
    }
}

/// The service [`EntryMiddleware`] wraps around an app's.
///
/// ```
/// use actix_web::{App, test, web};
/// use rust2sky::integrations::actix::EntryMiddleware;
///
/// actix_web::rt::System::new().block_on(async {
///     // `init_service` gives the app wrapped in an `EntryService`.
///     let app = test::init_service(
///         App::new().wrap(EntryMiddleware::new()).route("/", web::get().to(|| async { "ok" })),
///     )
///     .await;
///     let response = test::call_service(&app, test::TestRequest::get().to_request()).await;
///     assert!(response.status().is_success());
/// });
/// ```
#[derive(Debug)]
pub struct EntryService<S> {
    service: S,
    tracer: Option<Tracer>,
}

impl<S, B> Service<ServiceRequest> for EntryService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Future = Instrumented<S::Future, RecordResponse>;

    forward_ready!(service);

    fn call(&self, request: ServiceRequest) -> Self::Future {
        // As `EntryLayer`: whatever the worker has current is not the request's parent.
        let span = Tracer::start_request(self.tracer.as_ref(), || server_span(&request));
        let future = span.in_scope(|| self.service.call(request));
        Instrumented::with_outcome(future, span, RecordResponse)
    }
}

fn server_span(request: &ServiceRequest) -> Span {
    let method = request.method().as_str();
    let operation = match request.match_pattern() {
        Some(pattern) => format!("{method}:{pattern}"),
        None => format!("{method}:{}", request.path()),
    };
    let headers = request.headers();
    let extract = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    };
    let mut span = entry_span(operation, &extract);
    span.set_layer(SpanLayer::Http)
        .set_component(component::HTTP)
        .tag(tags::HTTP_METHOD, method);
    let uri = request.uri();
    let url = super::url::parts_tag(
        &span,
        uri.scheme_str(),
        uri.authority().map(|authority| authority.as_str()),
        uri.path(),
        uri.query(),
    );
    if let Some(url) = url {
        span.tag(tags::URL, url);
    }
    span
}

/// Records the response's status, and the handler's error, on the span.
///
/// ```
/// use actix_web::{App, HttpResponse, test, web};
/// use rust2sky::integrations::actix::EntryMiddleware;
/// use rust2sky::{Tracer, config::Config, reporter::MemoryReporter};
///
/// let reporter = MemoryReporter::new();
/// let tracer = Tracer::new(Config::default(), reporter.clone());
/// actix_web::rt::System::new().block_on(async {
///     let app = test::init_service(
///         App::new()
///             .wrap(EntryMiddleware::new().with_tracer(tracer))
///             .route("/", web::get().to(|| async { HttpResponse::ServiceUnavailable().finish() })),
///     )
///     .await;
///     test::call_service(&app, test::TestRequest::get().to_request()).await;
/// });
/// // The status is tagged, and a 5xx marks the entry span as failed.
/// let span = &reporter.segments()[0].spans[0];
/// assert!(span.is_error);
/// assert!(span.tags.iter().any(|tag| tag.key == "http.status_code" && tag.value == "503"));
/// ```
#[derive(Debug, Clone, Copy)]
pub struct RecordResponse;

impl<B> OnReady<Result<ServiceResponse<B>, Error>> for RecordResponse {
    fn on_ready(self, span: &mut Span, output: &Result<ServiceResponse<B>, Error>) {
        match output {
            Ok(response) => {
                let status = response.status();
                span.tag(tags::HTTP_STATUS_CODE, status.as_str());
                if status.is_server_error() {
                    match response.response().error() {
                        Some(error) => {
                            span.error("HandlerError", error);
                        }
                        None => {
                            span.set_error(true);
                        }
                    }
                }
            }
            Err(error) => {
                span.error("ServiceError", error);
            }
        }
    }
}
