//! A trace that is not recorded, whose context still goes with the calls it makes.

use std::cell::Cell;
use std::sync::Arc;

use parking_lot::Mutex;

use super::trace_id::TraceId;
use crate::id::Id;
use crate::propagation::{Correlation, Outgoing, Piece, outgoing};
use crate::text::Text;
use crate::tracer::Tracer;

/// A trace that is not recorded (not sampled or ignored), kept so that its context still
/// propagates, with the sample flag `0`.
pub(crate) struct UnsampledTrace {
    pub(crate) tracer: Tracer,
    pub(crate) trace_id: TraceId,
    pub(crate) segment_id: Id,
    /// The endpoint, then the trace id as the caller wrote it in Base64 when that is the Base64
    /// this agent writes too (which the calls onward then copy rather than encode the id
    /// again): one buffer, one allocation.
    text: String,
    endpoint_len: usize,
    skip_analysis: bool,
    state: Mutex<TraceState>,
}

/// What an unsampled trace's spans change.
struct TraceState {
    correlation: Correlation,
    /// The peers of its exit spans, one after the other (see [`RememberedPeer`]).
    peers: String,
}

/// The longest text buffer (endpoint and trace id) a thread keeps with its last unsampled trace.
const MAX_KEPT_TEXT: usize = 1024;

/// The most text of its exit spans' peers an unsampled trace keeps in its own buffer; past it,
/// an exit span keeps its peer in an allocation of its own.
const MAX_PEERS_TEXT: usize = 1024;

/// An unsampled exit span's peer, which [`crate::outgoing_headers`] names while the span is
/// current.
#[derive(Clone)]
pub(crate) enum RememberedPeer {
    /// In the trace's buffer of peers, which a thread's next unsampled trace reuses: a request
    /// that is not sampled then allocates nothing for its calls' peers.
    Kept(Text),
    /// Past [`MAX_PEERS_TEXT`].
    Own(Arc<str>),
}

thread_local! {
    /// The last unsampled trace of the global tracer this thread started, which the next one
    /// reuses once nothing else holds it, as [`Segment::new`](super::Segment::new) does with
    /// segments: a request that is not sampled then allocates no trace and no endpoint.
    static LAST_TRACE: Cell<Option<Arc<UnsampledTrace>>> = const { Cell::new(None) };
}

impl UnsampledTrace {
    pub(crate) fn new(
        tracer: Tracer,
        trace_id: TraceId,
        trace_id_base64: Option<&str>,
        endpoint: &str,
        skip_analysis: bool,
        correlation: Correlation,
    ) -> Arc<Self> {
        let trace_id_base64 = trace_id_base64.unwrap_or_default();
        let fill = |text: &mut String| {
            text.clear();
            text.reserve(endpoint.len() + trace_id_base64.len());
            text.push_str(endpoint);
            text.push_str(trace_id_base64);
        };
        let segment_id = Id::generate();
        let make = |(tracer, trace_id, correlation)| UnsampledTrace {
            tracer,
            trace_id,
            segment_id,
            text: {
                let mut text = String::new();
                fill(&mut text);
                text
            },
            endpoint_len: endpoint.len(),
            skip_analysis,
            state: Mutex::new(TraceState {
                correlation,
                peers: String::new(),
            }),
        };
        let parts = (tracer, trace_id, correlation);
        if !parts.0.is_global() {
            return Arc::new(make(parts));
        }
        let refill = |reused: &mut UnsampledTrace, (_tracer, trace_id, correlation)| {
            reused.trace_id = trace_id;
            reused.segment_id = segment_id;
            fill(&mut reused.text);
            reused.endpoint_len = endpoint.len();
            reused.skip_analysis = skip_analysis;
            let state = reused.state.get_mut();
            state.correlation = correlation;
            state.peers.clear();
        };
        // A buffer grown by an unusual name or id is not kept (the peers' stays under twice
        // `MAX_PEERS_TEXT`).
        let keep = |trace: &UnsampledTrace| trace.text.capacity() <= MAX_KEPT_TEXT;
        super::reuse::reuse_or_make(&LAST_TRACE, parts, make, refill, keep)
    }

    pub(crate) fn endpoint(&self) -> &str {
        self.text.get(..self.endpoint_len).unwrap_or_default()
    }

    /// The caller's trace id in Base64, when it can be copied as it is.
    fn trace_id_base64(&self) -> Option<&str> {
        self.text
            .get(self.endpoint_len..)
            .filter(|text| !text.is_empty())
    }

    /// The headers for a call to `peer`: the caller's decision not to sample travels with it.
    pub(crate) fn outgoing(&self, peer: &str) -> Outgoing {
        self.headers(&self.state.lock().correlation, peer)
    }

    /// The headers for a call by the exit span that `peer` names.
    pub(crate) fn outgoing_to(&self, peer: &RememberedPeer) -> Outgoing {
        match peer {
            RememberedPeer::Own(peer) => self.outgoing(peer),
            RememberedPeer::Kept(text) => {
                let state = self.state.lock();
                self.headers(&state.correlation, text.get(&state.peers))
            }
        }
    }

    /// The headers for a new exit span's call to `peer`, and the peer remembered for the span,
    /// under one lock.
    pub(crate) fn call(&self, peer: &str) -> (Outgoing, RememberedPeer) {
        let mut state = self.state.lock();
        let outgoing = self.headers(&state.correlation, peer);
        let kept = (state.peers.len() + peer.len() <= MAX_PEERS_TEXT)
            .then(|| Text::push(&mut state.peers, peer))
            .flatten();
        drop(state);
        let remembered = match kept {
            Some(text) => RememberedPeer::Kept(text),
            None => RememberedPeer::Own(Arc::from(peer)),
        };
        (outgoing, remembered)
    }

    fn headers(&self, correlation: &Correlation, peer: &str) -> Outgoing {
        let encode = |trace_id: Piece<'_>| {
            outgoing(
                None,
                &self.tracer,
                trace_id,
                self.segment_id,
                self.endpoint(),
                correlation,
                peer,
            )
        };
        let (sw8, correlation) = match self.trace_id_base64() {
            Some(encoded) => encode(Piece::Base64(encoded)),
            None => self.trace_id.with_piece(encode),
        };
        Outgoing {
            sw8,
            correlation,
            skip_analysis: self.skip_analysis,
        }
    }

    pub(crate) fn with_correlation<R>(&self, f: impl FnOnce(&mut Correlation) -> R) -> R {
        f(&mut self.state.lock().correlation)
    }
}
