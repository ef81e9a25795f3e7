//! Exit spans: the client side of a call, whose headers carry the trace to the callee.

use rust2sky_proto::v3::SpanType;

use super::start::start;
use super::{Span, SpanState};
use crate::context::stack::{self, Current};
use crate::propagation::Injector;

/// Starts an exit span: the client side of a call to `peer`, writing the `sw8` headers for the
/// callee into `headers`.
///
/// `peer` is the address the client uses (`host:port`), written both on the span and in the
/// header, so that OAP can join the two ends of the call. A trace that is not sampled still
/// propagates its context, with the sample flag `0`.
///
/// ```
/// use std::collections::HashMap;
/// use rust2sky::{Tracer, config::Config, reporter::MemoryReporter};
///
/// let tracer = Tracer::new(Config::default(), MemoryReporter::new());
/// let mut headers = HashMap::new();
/// tracer.in_scope(|| drop(rust2sky::exit_span("GET:/users", "users:8080", &mut headers)));
/// let sw8 = rust2sky::propagation::Sw8Header::decode(&headers["sw8"])?;
/// assert_eq!(sw8.target_address, "users:8080");
/// # Ok::<(), rust2sky::propagation::Sw8Error>(())
/// ```
pub fn exit_span(
    operation: impl AsRef<str>,
    peer: impl AsRef<str>,
    headers: &mut (impl Injector + ?Sized),
) -> Span {
    let peer = peer.as_ref();
    let mut span = start(SpanType::Exit, operation.as_ref(), None);
    inject(&mut span, peer, headers);
    span
}

/// Records `peer` on the new exit span `span` and writes the headers that carry its context to
/// the callee into `headers`.
fn inject(span: &mut Span, peer: &str, headers: &mut (impl Injector + ?Sized)) {
    // Receivers reject a header with an empty address, so none is sent without a peer.
    if peer.is_empty() {
        return;
    }
    let outgoing = match &mut span.state {
        SpanState::Recording(recording) => recording.segment.call(recording.span_id, peer),
        // The span remembers its peer for `outgoing_headers` while it is current.
        SpanState::Unsampled(trace, remembered) => {
            let (outgoing, peer) = trace.call(peer);
            *remembered = Some(peer);
            Some(outgoing)
        }
        // Not recorded because the segment is full: the call still carries the trace, naming
        // the current span as the caller.
        SpanState::Noop => stack::with_current(|position| match position {
            Some(Current::Span { segment, span_id }) => segment.outgoing(span_id, Some(peer)),
            Some(Current::Unsampled(trace, _)) => Some(trace.outgoing(peer)),
            _ => None,
        }),
    };
    // The carrier is the user's code: it runs after every lock above is released.
    if let Some(outgoing) = outgoing {
        outgoing.write_to(headers);
    }
}
