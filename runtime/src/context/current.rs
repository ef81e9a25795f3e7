//! What code can ask about the context it runs in: ids for log lines, and correlation.

use std::fmt;

use crate::context::stack::{self, Current};
use crate::propagation::CorrelationError;

/// The ids of the current trace, segment and span, for log lines and error reports.
///
/// ```
/// use rust2sky::{Tracer, config::Config, reporter::MemoryReporter};
///
/// let tracer = Tracer::new(Config::default(), MemoryReporter::new());
/// tracer.in_scope(|| {
///     let _request = rust2sky::local_span("GET:/orders").entered();
///     let ids = rust2sky::active_ids().expect("inside a trace");
///     eprintln!("trace={} segment={} order placed", ids.trace_id, ids.segment_id);
///     assert_eq!(ids.span_id, 0);
///     assert_eq!(ids.endpoint, "GET:/orders");
/// });
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ActiveIds {
    /// The trace id.
    pub trace_id: String,
    /// The current segment's id.
    pub segment_id: String,
    /// The current span's id within the segment; -1 when the trace is not recorded.
    pub span_id: i32,
    /// The segment's endpoint: the name of its first entry span (else of its first span).
    pub endpoint: String,
}

/// The ids of the current trace, if code runs inside one (recorded or not).
///
/// ```
/// use rust2sky::{Tracer, config::Config, reporter::MemoryReporter};
///
/// assert_eq!(rust2sky::active_ids(), None);
/// let tracer = Tracer::new(Config::default(), MemoryReporter::new());
/// tracer.in_scope(|| {
///     let _span = rust2sky::local_span("work").entered();
///     let ids = rust2sky::active_ids().unwrap();
///     assert_eq!(ids.span_id, 0);
/// });
/// ```
pub fn active_ids() -> Option<ActiveIds> {
    stack::with_current(|position| match position? {
        Current::Span { segment, span_id } => Some(ActiveIds {
            trace_id: segment.trace_id.to_string(),
            segment_id: segment.segment_id.to_string(),
            span_id,
            endpoint: segment.endpoint(),
        }),
        Current::Unsampled(trace, _) => Some(ActiveIds {
            trace_id: trace.trace_id.to_string(),
            segment_id: trace.segment_id.to_string(),
            span_id: -1,
            endpoint: trace.endpoint().to_owned(),
        }),
        Current::Continuation(snapshot) => Some(ActiveIds {
            trace_id: snapshot.trace_id.to_string(),
            segment_id: snapshot.segment_id.to_string(),
            span_id: snapshot.span_id,
            endpoint: snapshot.endpoint.clone(),
        }),
        Current::Tracer(_) => None,
    })
}

/// The current trace id (go2sky's `TraceID(ctx)`), if code runs inside a trace.
///
/// ```
/// assert_eq!(rust2sky::trace_id(), None);
/// ```
pub fn trace_id() -> Option<String> {
    active_ids().map(|ids| ids.trace_id)
}

/// The current context in the official agents' `SW_CTX` log format:
/// `[service,instance,traceId,segmentId,spanId]`, or `[service,instance,N/A,N/A,-1]` outside a
/// trace (service and instance are empty without a tracer).
///
/// ```
/// let line = format!("{} order placed", rust2sky::log_context());
/// assert_eq!(line, "[,,N/A,N/A,-1] order placed");
/// ```
pub fn log_context() -> LogContext {
    let (service, instance) = stack::with_current(|position| {
        position
            .map(|position| position.tracer().clone())
            .or_else(|| crate::tracer::global_tracer().cloned())
            .map(|tracer| (tracer.service().to_owned(), tracer.instance().to_owned()))
            .unwrap_or_default()
    });
    LogContext {
        service,
        instance,
        ids: active_ids(),
    }
}

/// The `SW_CTX` value of a point in the code; see [`log_context`].
///
/// ```
/// use rust2sky::{Tracer, config::Config, reporter::MemoryReporter};
///
/// let config = Config::builder().service_name("shop").instance_name("shop-1").build()?;
/// let tracer = Tracer::new(config, MemoryReporter::new());
/// let context = tracer.in_scope(rust2sky::log_context); // with a tracer, outside any span
/// assert_eq!(context.to_string(), "[shop,shop-1,N/A,N/A,-1]");
/// # Ok::<(), rust2sky::config::ConfigError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogContext {
    service: String,
    instance: String,
    ids: Option<ActiveIds>,
}

impl LogContext {
    /// The key the official agents log this value under.
    ///
    /// ```
    /// use rust2sky::LogContext;
    ///
    /// // A structured log field under the key the official agents use.
    /// let field = format!("{}={}", LogContext::KEY, rust2sky::log_context());
    /// assert_eq!(field, "SW_CTX=[,,N/A,N/A,-1]");
    /// ```
    pub const KEY: &'static str = "SW_CTX";
}

impl fmt::Display for LogContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.ids {
            Some(ids) => write!(
                f,
                "[{},{},{},{},{}]",
                self.service, self.instance, ids.trace_id, ids.segment_id, ids.span_id
            ),
            None => write!(f, "[{},{},N/A,N/A,-1]", self.service, self.instance),
        }
    }
}

/// Sets a correlation entry on the current trace; it travels to every service the trace calls
/// next, in the `sw8-correlation` header. An empty value removes the key. Refused past the
/// limits (3 keys and 128 characters a value by default), and outside a trace.
///
/// ```
/// use rust2sky::{Tracer, config::Config, reporter::MemoryReporter};
///
/// let tracer = Tracer::new(Config::default(), MemoryReporter::new());
/// tracer.in_scope(|| {
///     let _span = rust2sky::local_span("request").entered();
///     rust2sky::set_correlation("tenant", "acme").unwrap();
///     assert_eq!(rust2sky::correlation("tenant").as_deref(), Some("acme"));
/// });
/// ```
pub fn set_correlation(key: &str, value: &str) -> Result<(), CorrelationError> {
    stack::with_current(|position| match position {
        Some(Current::Span { segment, .. }) => {
            Some(segment.with_correlation(|c| c.set(key, value)))
        }
        Some(Current::Unsampled(trace, _)) => Some(trace.with_correlation(|c| c.set(key, value))),
        _ => None,
    })
    .unwrap_or(Err(CorrelationError::NoTrace))
}

/// The value of a correlation entry of the current trace.
///
/// ```
/// assert_eq!(rust2sky::correlation("tenant"), None); // outside a trace
/// ```
pub fn correlation(key: &str) -> Option<String> {
    stack::with_current(|position| match position? {
        Current::Span { segment, .. } => {
            segment.with_correlation(|c| c.get(key).map(str::to_owned))
        }
        Current::Unsampled(trace, _) => trace.with_correlation(|c| c.get(key).map(str::to_owned)),
        Current::Continuation(snapshot) => snapshot.correlation.get(key).map(str::to_owned),
        Current::Tracer(_) => None,
    })
}

/// The headers to send on the call the current exit span makes: `sw8`, and `sw8-correlation`
/// and `sw8-x` when there is something to send. Empty outside an exit span.
///
/// For code inside `#[sw_exit]` that builds its own request (reqwest, hyper) rather than passing
/// the headers to the macro with `inject`.
///
/// ```
/// use rust2sky::{Tracer, config::Config, reporter::MemoryReporter};
///
/// let tracer = Tracer::new(Config::default(), MemoryReporter::new());
/// tracer.in_scope(|| {
///     let _call = rust2sky::exit_span("GET:/users", "users:8080", &mut rust2sky::propagation::NoHeaders).entered();
///     let headers = rust2sky::outgoing_headers();
///     assert_eq!(headers[0].0, "sw8");
/// });
/// assert!(rust2sky::outgoing_headers().is_empty());
/// ```
pub fn outgoing_headers() -> Vec<(&'static str, String)> {
    let outgoing = stack::with_current(|position| match position? {
        Current::Span { segment, span_id } => segment.outgoing(span_id, None),
        Current::Unsampled(trace, Some(peer)) => Some(trace.outgoing_to(peer)),
        _ => None,
    });
    let mut headers = Vec::new();
    if let Some(outgoing) = outgoing {
        outgoing.write_to(&mut headers);
    }
    headers
}
