//! Exit spans for [reqwest](https://docs.rs/reqwest): `client.get(url).send_traced().await`
//! in place of `.send().await`.
//!
//! ```no_run
//! use rust2sky::integrations::reqwest::RequestBuilderExt as _;
//!
//! # async fn example() -> Result<(), reqwest::Error> {
//! let client = reqwest::Client::new();
//! // An exit span to `users:8080`, with the `sw8` header for the users service.
//! let response = client.get("http://users:8080/users/7").send_traced().await?;
//! # Ok(())
//! # }
//! ```
//!
//! Enabled by the `reqwest` cargo feature.

use std::future::Future;

use reqwest::{Request, RequestBuilder, Response};

use crate::context::future::{Instrumented, OnReady};
use crate::span::{Span, exit_span};
use crate::text::with_joined;
use crate::{SpanLayer, component, tags};

/// Sends a reqwest request as an exit span; see [`RequestBuilderExt::send_traced`].
///
/// Implemented for [`reqwest::RequestBuilder`] only (the trait is sealed).
///
/// ```no_run
/// use rust2sky::integrations::reqwest::RequestBuilderExt as _;
///
/// async fn reserve(client: &reqwest::Client, sku: &str) -> reqwest::Result<bool> {
///     let url = format!("http://stock:8080/reservations/{sku}");
///     // `send_traced()` where the code said `send()`: an exit span to `stock:8080`.
///     let response = client.post(url).send_traced().await?;
///     Ok(response.status().is_success())
/// }
/// ```
pub trait RequestBuilderExt: sealed::Sealed {
    /// Sends the request as [`RequestBuilder::send`] does, recording it as an exit span of the
    /// current span (or a new trace) and writing the `sw8` headers into it.
    ///
    /// - peer: the URL's `host:port`, the port defaulting from the scheme; it is also the
    ///   address written in `sw8`, so that OAP joins this span with the callee's entry span;
    /// - operation: `{METHOD}:{path}` (`GET:/users/7`);
    /// - layer Http, component HttpClient (2), tags `http.method`, `url` (without credentials)
    ///   and `http.status_code`;
    /// - an error when the status is 400 or more, or when the request fails (the error is
    ///   logged on the span and returned unchanged).
    ///
    /// The span starts when `send_traced` is called, and ends when the response headers are in
    /// (or the request fails, or the future is dropped first).
    ///
    /// ```no_run
    /// use rust2sky::integrations::reqwest::RequestBuilderExt as _;
    ///
    /// #[rust2sky::sw_entry(extract = headers)]
    /// async fn checkout(headers: &http::HeaderMap, client: &reqwest::Client) -> Result<String, reqwest::Error> {
    ///     let stock = client.get("http://stock:8080/stock/7").send_traced().await?;
    ///     stock.text().await
    /// }
    /// ```
    fn send_traced(self) -> impl Future<Output = reqwest::Result<Response>> + Send + 'static;
}

impl RequestBuilderExt for RequestBuilder {
    fn send_traced(self) -> impl Future<Output = reqwest::Result<Response>> + Send + 'static {
        let (client, request) = self.build_split();
        let (span, request) = match request {
            Ok(mut request) => (client_span(&mut request), Ok(request)),
            // Nothing to send, so nothing to trace: the error is the caller's to see.
            Err(error) => (Span::noop(), Err(error)),
        };
        let send = async move {
            match request {
                Ok(request) => client.execute(request).await,
                Err(error) => Err(error),
            }
        };
        Instrumented::with_outcome(send, span, RecordResponse)
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for reqwest::RequestBuilder {}
}

/// The exit span of `request`, whose headers now carry `sw8`.
fn client_span(request: &mut Request) -> Span {
    // The headers are taken out for `sw8` to be written while the URL is read, and put back.
    let mut headers = std::mem::take(request.headers_mut());
    let url = request.url();
    let mut port = itoa::Buffer::new();
    let peer: &[&str] = match (url.host_str(), url.port_or_known_default()) {
        (Some(host), Some(number)) => &[host, ":", port.format(number)],
        (Some(host), None) => &[host],
        (None, _) => &[],
    };
    let operation = [request.method().as_str(), ":", url.path()];
    let mut span = with_joined(peer, |peer| {
        with_joined(&operation, |operation| {
            exit_span(operation, peer, &mut headers)
        })
    });
    *request.headers_mut() = headers;
    let shown = super::url::url_tag(&span, request.url());
    span.set_layer(SpanLayer::Http)
        .set_component(component::HTTP_CLIENT)
        .tag(tags::HTTP_METHOD, request.method().as_str());
    if let Some(shown) = shown {
        span.tag(tags::URL, shown);
    }
    span
}

/// Records the response's status, or the failure, on the span.
#[derive(Debug, Clone, Copy)]
struct RecordResponse;

impl OnReady<reqwest::Result<Response>> for RecordResponse {
    fn on_ready(self, span: &mut Span, output: &reqwest::Result<Response>) {
        match output {
            Ok(response) => {
                let status = response.status();
                span.tag(tags::HTTP_STATUS_CODE, status.as_str());
                if status.as_u16() >= 400 {
                    span.set_error(true);
                }
            }
            Err(error) => {
                span.error(error_kind(error), error);
            }
        }
    }
}

fn error_kind(error: &reqwest::Error) -> &'static str {
    if error.is_timeout() {
        "Timeout"
    } else if error.is_connect() {
        "ConnectError"
    } else {
        "reqwest::Error"
    }
}
