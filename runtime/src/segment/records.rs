//! What a segment records: its spans, tags and logs, with every string in one text buffer.

use std::sync::Arc;

use rust2sky_proto::v3::{SpanLayer, SpanType};

use crate::id::Id;
use crate::propagation::Sw8Fields;
use crate::text::{self, Text};
use crate::tracer::Tracer;

/// Everything a segment reports, with its strings in `text`.
#[derive(Clone)]
pub(super) struct Records {
    pub(super) text: String,
    pub(super) spans: Vec<SpanRecord>,
    pub(super) tags: Vec<TagRecord>,
    pub(super) logs: Vec<LogRecord>,
    pub(super) parent: Option<Parent>,
    /// More callers of the first span, after `parent`: the other records of a batch a consumer
    /// handles as one (see `span::batch_entry_span`).
    pub(super) more_callers: Vec<Sw8Fields>,
    pub(super) size_limited: bool,
    /// Strings left out since the last report of them (see [`super::report_dropped`]).
    pub(super) dropped: usize,
    /// The service and instance that recorded the segment. Kept when the records are recycled:
    /// the next segment is most likely the same tracer's, and then needs no reference count
    /// changed on names that every request thread shares.
    pub(super) origin: Option<Origin>,
}

/// The names of the service and instance of a segment.
#[derive(Clone)]
pub(super) struct Origin {
    pub(super) service: Arc<str>,
    pub(super) instance: Arc<str>,
}

/// One span. Its id is its index in [`Records::spans`].
#[derive(Clone)]
pub(super) struct SpanRecord {
    pub(super) parent_span_id: i32,
    pub(super) span_type: SpanType,
    pub(super) layer: SpanLayer,
    pub(super) component_id: i32,
    pub(super) is_error: bool,
    pub(super) start_time: i64,
    pub(super) end_time: i64,
    pub(super) operation: Text,
    pub(super) peer: Text,
    /// When the span ended among the segment's spans, from 1; 0 while it is open.
    pub(super) ended: u32,
}

#[derive(Clone)]
pub(super) struct TagRecord {
    pub(super) span_id: i32,
    pub(super) key: Text,
    pub(super) value: Text,
}

#[derive(Clone)]
pub(super) struct LogRecord {
    pub(super) span_id: i32,
    pub(super) time: i64,
    pub(super) fields: Vec<(Text, Text)>,
}

/// Where a segment's first span continues a trace from: the reference it reports.
#[derive(Clone)]
pub(crate) enum Parent {
    /// A caller in another process, from its `sw8` header (the fields are ranges of the text
    /// the header was decoded into).
    CrossProcess(Sw8Fields),
    /// A span of this process, captured on another thread or task.
    CrossThread {
        segment_id: Id,
        span_id: i32,
        endpoint: String,
    },
}

impl Records {
    /// Records the names of `tracer`'s service and instance, cloning them only when they are not
    /// the ones these records already hold.
    pub(super) fn set_origin(&mut self, tracer: &Tracer) {
        let same = self.origin.as_ref().is_some_and(|origin| {
            Arc::ptr_eq(&origin.service, tracer.service_arc())
                && Arc::ptr_eq(&origin.instance, tracer.instance_arc())
        });
        if !same {
            self.origin = Some(Origin {
                service: tracer.service_name(),
                instance: tracer.instance_name(),
            });
        }
    }

    /// The service and instance names, empty when none were recorded.
    pub(super) fn origin(&self) -> (&str, &str) {
        self.origin
            .as_ref()
            .map_or(("", ""), |origin| (&*origin.service, &*origin.instance))
    }

    /// The trace id in the Base64 the caller's `sw8` carried it in, when it can be copied as is.
    pub(super) fn caller_trace_id_base64(&self) -> Option<&str> {
        match &self.parent {
            Some(Parent::CrossProcess(caller)) => Some(caller.trace_id_base64?.get(&self.text)),
            _ => None,
        }
    }

    pub(super) fn index(&self, span_id: i32) -> Option<usize> {
        usize::try_from(span_id)
            .ok()
            .filter(|&index| index < self.spans.len())
    }

    /// Keeps `value` in the text buffer; past the buffer's limit it is dropped (an empty text
    /// stands for it), and counted in `dropped`.
    pub(super) fn push_text(&mut self, value: &str) -> Text {
        Text::push(&mut self.text, value).unwrap_or_else(|| {
            self.dropped += 1;
            Text::default()
        })
    }

    /// Keeps a key and its value, or neither when they do not both fit (counted in `dropped`).
    pub(super) fn push_pair(&mut self, key: &str, value: &str) -> Option<(Text, Text)> {
        if self.text.len() + key.len() + value.len() > text::MAX_TEXT_LEN {
            self.dropped += 1;
            return None;
        }
        Some((self.push_text(key), self.push_text(value)))
    }
}
