//! One entry span for a batch of messages, referring to the caller of each.

use super::{Span, SpanState, entry_span};
use crate::diagnostics::{self, Problem};
use crate::propagation::{Extractor, NoHeaders, SW8};

/// Starts one entry span for a batch of messages handled together, as the Java agent's Kafka
/// consumer does for the records of one poll: it continues the first message whose `sw8` is
/// valid, as [`entry_span`] would, and refers to the caller of every later message as well (a
/// `CrossProcess` reference each). A batch without a valid `sw8` starts a new trace; malformed
/// headers are ignored and counted.
pub(crate) fn batch_entry_span<'a, E: Extractor + 'a>(
    operation: &str,
    messages: impl IntoIterator<Item = &'a E>,
) -> Span {
    let mut messages = messages.into_iter();
    let mut scratch = String::new();
    let first = messages.by_ref().find(|headers| {
        let Some(value) = headers
            .extract(SW8)
            .filter(|value| !value.trim().is_empty())
        else {
            return false;
        };
        scratch.clear();
        crate::propagation::decode_into(&value, &mut scratch)
            .map_err(|error| diagnostics::record(Problem::MalformedSw8, 1, &error))
            .is_ok()
    });
    let Some(first) = first else {
        return entry_span(operation, &NoHeaders);
    };
    let span = entry_span(operation, first);
    if let SpanState::Recording(recording) = &span.state {
        for headers in messages {
            if let Some(value) = headers
                .extract(SW8)
                .filter(|value| !value.trim().is_empty())
            {
                recording.segment.add_caller(&value);
            }
        }
    }
    span
}
