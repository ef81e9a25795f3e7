//! The pool of finished segments' records that new segments record into.

use std::cell::RefCell;

use parking_lot::Mutex;

use super::records::{Parent, Records};
use crate::text;

/// How many finished segments' records move between a thread and the shared pool at once: a
/// thread takes or gives a whole magazine under one lock, so that the lock is taken once every
/// this many requests rather than twice a request, by threads that would otherwise all write the
/// same cache lines.
const MAGAZINE: usize = 16;

/// How many magazines the shared pool keeps: enough for the records of a millisecond and more of
/// two busy threads' requests (about 1,000 each at 1 µs a request), which come back a burst at a
/// time when the reporter's thread is done with them; fewer, and much of a burst is freed by the
/// reporter's thread and allocated again by the request threads. In the spans bench's
/// `threads_counting` rows (one thread, then two), 64 magazines left 1.8 to 2.6 allocations a
/// request and a second thread cost 12 to 22 % more a request; 256 leave 1.07 and 5 to 11 %.
/// With the size limits of [`Records::is_worth_keeping`], the spare records hold at most about
/// 28 MiB, typically about 5.2 MiB (a typical segment's come to about 1.3 KiB), and only after
/// that many segments were in flight at once: the pool holds only records that segments used.
/// Each thread keeps up to two magazines of its own besides.
const MAX_MAGAZINES: usize = 256;

/// Records of reported segments, emptied, for new segments to record into: a request then takes
/// its text, span and tag buffers from here instead of making four allocations, and the
/// reporter's thread does not free them.
///
/// Each thread keeps the records it frees and takes new ones from those first (a thread that
/// reports on its own uses only these); the reporter's thread, which frees what request threads
/// took, passes them back through [`SHARED`] a magazine at a time.
#[derive(Default)]
struct Shared {
    /// Magazines of [`MAGAZINE`] records each.
    full: Vec<Magazine>,
    /// Emptied magazines, whose buffers the next magazine given back reuses.
    empty: Vec<Magazine>,
}

/// Boxed records, so that they move between threads and segments as pointers.
type Magazine = Vec<Box<Records>>;

/// Both ends only `try_lock`: when the pool is busy, a thread allocates new records or frees
/// its extra ones, as it would without a pool.
static SHARED: Mutex<Shared> = Mutex::new(Shared {
    full: Vec::new(),
    empty: Vec::new(),
});

thread_local! {
    /// This thread's spare records: up to two magazines.
    static LOCAL: RefCell<Local> = const { RefCell::new(Local(Vec::new())) };
}

struct Local(Magazine);

impl Local {
    fn take(&mut self, shared: &Mutex<Shared>) -> Option<Box<Records>> {
        if self.0.is_empty()
            && let Some(mut shared) = shared.try_lock()
            && let Some(full) = shared.full.pop()
        {
            let empty = std::mem::replace(&mut self.0, full);
            if empty.capacity() > 0 {
                shared.empty.push(empty);
            }
        }
        // Emptied here rather than when given back: see `Records::free_what_they_own`.
        let mut records = self.0.pop()?;
        records.clear();
        Some(records)
    }

    fn give(&mut self, records: Box<Records>, shared: &Mutex<Shared>) {
        if self.0.len() >= 2 * MAGAZINE {
            self.give_magazine(shared);
        }
        if self.0.len() < 2 * MAGAZINE {
            self.0.push(records);
        }
    }

    /// Passes this thread's oldest magazine on to the shared pool, or frees it when the pool is
    /// busy or full.
    fn give_magazine(&mut self, shared: &Mutex<Shared>) {
        let Some(mut shared) = shared.try_lock() else {
            self.0.drain(..MAGAZINE);
            return;
        };
        if shared.full.len() >= MAX_MAGAZINES {
            drop(shared);
            self.0.drain(..MAGAZINE);
            return;
        }
        let mut magazine = shared
            .empty
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(MAGAZINE));
        magazine.extend(self.0.drain(..MAGAZINE));
        shared.full.push(magazine);
    }
}

impl Drop for Local {
    /// A thread that ends leaves its records to the others, as far as the pool has room.
    fn drop(&mut self) {
        while self.0.len() >= MAGAZINE {
            self.give_magazine(&SHARED);
        }
    }
}

/// What [`PooledRecords`] reads once its records have moved on: none.
static NO_RECORDS: Records = Records {
    text: String::new(),
    spans: Vec::new(),
    tags: Vec::new(),
    logs: Vec::new(),
    parent: None,
    more_callers: Vec::new(),
    size_limited: false,
    dropped: 0,
    origin: None,
};

/// A segment's records, in a box of their own so that segments and reporters move a pointer
/// rather than the records, which go back to the pool with their box when dropped. Empty once
/// taken by the reporter, which is what marks a segment reported.
#[derive(Clone, Default)]
pub(crate) struct PooledRecords(Option<Box<Records>>);

impl PooledRecords {
    /// Empty records, in the box of a finished segment's when there is one to spare.
    pub(crate) fn recycled() -> PooledRecords {
        let spare = LOCAL
            .try_with(|local| local.try_borrow_mut().ok()?.take(&SHARED))
            .ok()
            .flatten();
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
        records.free_what_they_own();
        // While the thread's locals are torn down, or the pool is being changed, the records
        // are freed.
        let _ = LOCAL.try_with(|local| {
            if let Ok(mut local) = local.try_borrow_mut() {
                local.give(records, &SHARED);
            }
        });
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
            more_callers: Vec::new(),
            size_limited: false,
            dropped: 0,
            origin: None,
        })
    }

    /// Whether these buffers are worth keeping: not grown by an unusual segment so much that
    /// keeping them would hold memory that typical segments never use.
    fn is_worth_keeping(&self) -> bool {
        self.text.capacity() <= 2048
            && self.spans.capacity() <= 32
            && self.tags.capacity() <= 64
            && self.logs.capacity() <= 16
            && self.more_callers.capacity() <= 16
    }

    /// Frees the allocations that the records' entries own (log fields, a cross-thread parent's
    /// endpoint), so that spare records hold no more than [`Records::is_worth_keeping`] lets
    /// them. Writes nothing when there are none, as for most segments: the rest is emptied by
    /// [`Records::clear`] on the thread that takes the records next. The reporter's thread,
    /// which drops most records, then only reads them, and the request thread that writes them
    /// again does not first wait for the lines that thread wrote. In the spans bench, the median
    /// of `five_span_request_sustained` went from 1.25 to 1.10 µs in ten runs of each binary in
    /// turn, and from 1.23 to 1.17 µs in eight more.
    fn free_what_they_own(&mut self) {
        if !self.logs.is_empty() {
            self.logs.clear();
        }
        if matches!(self.parent, Some(Parent::CrossThread { .. })) {
            self.parent = None;
        }
    }

    /// Empties the records, keeping their buffers and their origin.
    fn clear(&mut self) {
        self.text.clear();
        self.spans.clear();
        self.tags.clear();
        self.logs.clear();
        self.parent = None;
        self.more_callers.clear();
        self.size_limited = false;
        self.dropped = 0;
    }
}

#[cfg(test)]
mod tests {
    use rust2sky_proto::v3::{SpanLayer, SpanType};

    use super::*;
    use crate::segment::records::{LogRecord, SpanRecord};
    use crate::text::Text;

    fn used_records() -> Box<Records> {
        let mut records = Records::new_box();
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
        records
    }

    #[test]
    fn records_freed_on_the_reporters_thread_come_back_to_the_request_thread() {
        let shared = Mutex::new(Shared::default());
        let mut reporter = Local(Vec::new());
        let mut request = Local(Vec::new());
        let given: Vec<*const Records> = (0..3 * MAGAZINE)
            .map(|_| {
                let records = used_records();
                let address: *const Records = &*records;
                reporter.give(records, &shared);
                address
            })
            .collect();
        // The reporter's thread keeps two magazines and passed the first one on.
        assert_eq!(reporter.0.len(), 2 * MAGAZINE);
        assert_eq!(shared.lock().full.len(), 1);

        let taken: Vec<Box<Records>> = (0..MAGAZINE)
            .map(|_| request.take(&shared).expect("a magazine to take"))
            .collect();
        for records in &taken {
            assert!(given.contains(&(&**records as *const Records)));
            assert!(records.text.is_empty() && records.spans.is_empty());
            assert!(records.parent.is_none() && !records.size_limited);
        }
        assert!(
            request.take(&shared).is_none(),
            "one magazine was passed on"
        );
    }

    #[test]
    fn spare_records_keep_no_log_fields_or_endpoint_while_they_wait() {
        let mut records = used_records();
        records.logs.push(LogRecord {
            span_id: 0,
            time: 1,
            fields: vec![(Text::from_range(0, 3), Text::from_range(3, 11))],
        });
        records.parent = Some(Parent::CrossThread {
            segment_id: crate::id::Id::generate(),
            span_id: 0,
            endpoint: "GET:/orders".to_owned(),
        });
        drop(PooledRecords(Some(records)));

        LOCAL.with(|local| {
            let local = local.borrow();
            let waiting = local.0.last().expect("the records were kept");
            assert!(waiting.logs.is_empty() && waiting.parent.is_none());
            // The rest is emptied when the records are taken again.
            assert_eq!(waiting.text, "GET:/orders");
        });
        let taken = PooledRecords::recycled();
        assert!(taken.get().text.is_empty() && taken.get().spans.is_empty());
    }

    #[test]
    fn the_pool_stays_bounded() {
        let shared = Mutex::new(Shared::default());
        let mut local = Local(Vec::new());
        for _ in 0..(MAX_MAGAZINES + 10) * MAGAZINE {
            local.give(Records::new_box(), &shared);
        }
        assert_eq!(local.0.len(), 2 * MAGAZINE);
        assert_eq!(shared.lock().full.len(), MAX_MAGAZINES);
        assert!(
            shared
                .lock()
                .full
                .iter()
                .all(|magazine| magazine.len() == MAGAZINE)
        );
    }

    #[test]
    fn spare_records_come_back_empty() {
        let mut used = PooledRecords(Some(used_records()));
        assert!(used.get_mut().is_some());
        drop(used);
        let taken: Vec<PooledRecords> = (0..4 * MAGAZINE)
            .map(|_| PooledRecords::recycled())
            .collect();
        for records in taken.iter().map(PooledRecords::get) {
            assert!(records.text.is_empty() && records.spans.is_empty());
            assert!(records.tags.is_empty() && records.logs.is_empty());
            assert!(records.parent.is_none() && !records.size_limited);
        }

        // Records grown by an unusual segment are freed, not kept.
        let mut big = PooledRecords::recycled();
        big.text_mut().reserve(1 << 20);
        assert!(!big.get().is_worth_keeping());
    }
}
