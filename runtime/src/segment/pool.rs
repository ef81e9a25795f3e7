//! The pool of finished segments' records that new segments record into.

use parking_lot::Mutex;

use super::records::Records;
use crate::text;

/// How many finished segments' records wait for new segments. With the size limits of
/// [`Records::is_worth_keeping`], the spare records hold at most about 750 KiB, and typically
/// under 200 KiB (a typical segment's come to about 1.3 KiB).
const MAX_SPARE: usize = 128;

/// Records of reported segments, emptied, for new segments to record into: a request then takes
/// its text, span and tag buffers from here instead of making four allocations, and the
/// reporter's thread does not free them. Both ends only `try_lock`: when the pool is busy, a new
/// segment allocates and a finished one frees, as they would without it.
#[expect(
    clippy::vec_box,
    reason = "the boxes are what is reused, so that records move as pointers"
)]
static SPARE: Mutex<Vec<Box<Records>>> = Mutex::new(Vec::new());

/// What [`PooledRecords`] reads once its records have moved on: none.
static NO_RECORDS: Records = Records {
    text: String::new(),
    spans: Vec::new(),
    tags: Vec::new(),
    logs: Vec::new(),
    parent: None,
    size_limited: false,
    dropped: 0,
};

/// A segment's records, in a box of their own so that segments and reporters move a pointer
/// rather than the records, which go back to the pool with their box when dropped. Empty once
/// taken by the reporter, which is what marks a segment reported.
#[derive(Clone, Default)]
pub(crate) struct PooledRecords(Option<Box<Records>>);

impl PooledRecords {
    /// Empty records, in the box of a finished segment's when there is one to spare.
    pub(crate) fn recycled() -> PooledRecords {
        let spare = SPARE.try_lock().and_then(|mut spare| spare.pop());
        PooledRecords(Some(spare.unwrap_or_else(Records::new_box)))
    }

    pub(super) fn get(&self) -> &Records {
        self.0.as_deref().unwrap_or(&NO_RECORDS)
    }

    /// The records, unless they have moved on to the reporter.
    pub(super) fn get_mut(&mut self) -> Option<&mut Records> {
        self.0.as_deref_mut()
    }

    /// The records, moved out for the reporter; `None` once they have been.
    pub(super) fn take(&mut self) -> Option<PooledRecords> {
        self.0.take().map(|records| PooledRecords(Some(records)))
    }

    pub(crate) fn text(&self) -> &str {
        &self.get().text
    }

    /// The text buffer, which an entry span decodes the caller's `sw8` into.
    pub(crate) fn text_mut(&mut self) -> &mut String {
        &mut self.0.get_or_insert_with(Records::new_box).text
    }
}

impl Drop for PooledRecords {
    fn drop(&mut self) {
        let Some(mut records) = self.0.take() else {
            return;
        };
        if !records.is_worth_keeping() {
            return;
        }
        records.clear();
        if let Some(mut spare) = SPARE.try_lock()
            && spare.len() < MAX_SPARE
        {
            spare.push(records);
        }
    }
}

impl Records {
    fn new_box() -> Box<Records> {
        Box::new(Records {
            text: String::with_capacity(text::INITIAL_CAPACITY),
            spans: Vec::with_capacity(8),
            tags: Vec::new(),
            logs: Vec::new(),
            parent: None,
            size_limited: false,
            dropped: 0,
        })
    }

    /// Whether these buffers are worth keeping: not grown by an unusual segment so much that
    /// keeping them would hold memory that typical segments never use.
    fn is_worth_keeping(&self) -> bool {
        self.text.capacity() <= 2048
            && self.spans.capacity() <= 32
            && self.tags.capacity() <= 64
            && self.logs.capacity() <= 16
    }

    /// Empties the records, keeping their buffers.
    fn clear(&mut self) {
        self.text.clear();
        self.spans.clear();
        self.tags.clear();
        self.logs.clear();
        self.parent = None;
        self.size_limited = false;
        self.dropped = 0;
    }
}

#[cfg(test)]
mod tests {
    use rust2sky_proto::v3::{SpanLayer, SpanType};

    use super::*;
    use crate::segment::records::SpanRecord;
    use crate::text::Text;

    #[test]
    fn spare_records_come_back_empty_and_stay_bounded() {
        let mut used = PooledRecords::recycled();
        let records = used.get_mut().expect("fresh records");
        records.text.push_str("GET:/orders");
        records.spans.push(SpanRecord {
            parent_span_id: -1,
            span_type: SpanType::Entry,
            layer: SpanLayer::Http,
            component_id: 0,
            is_error: false,
            start_time: 1,
            end_time: 2,
            operation: Text::from_range(0, 11),
            peer: Text::default(),
            ended: 1,
        });
        records.size_limited = true;
        drop(used);

        // Other tests run at the same time and share the pool, so every one is checked.
        let taken: Vec<PooledRecords> = (0..2 * MAX_SPARE)
            .map(|_| PooledRecords::recycled())
            .collect();
        for records in taken.iter().map(PooledRecords::get) {
            assert!(records.text.is_empty() && records.spans.is_empty());
            assert!(records.tags.is_empty() && records.logs.is_empty());
            assert!(records.parent.is_none() && !records.size_limited);
        }
        drop(taken);
        assert!(SPARE.lock().len() <= MAX_SPARE);

        // Records grown by an unusual segment are freed, not kept.
        let mut big = PooledRecords::recycled();
        big.text_mut().reserve(1 << 20);
        assert!(!big.get().is_worth_keeping());
    }
}
