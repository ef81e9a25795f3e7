//! Trace and segment ids.
//!
//! Ids have the layout of the Java agent, which most official agents share:
//! `<process uuid, 32 hex digits>.<thread number>.<epoch ms × 10000 + sequence>`, for example
//! `3f2c9a1be4d54c0f9a7e6b5d4c3b2a19.1.17356896000120000`. OAP treats ids as opaque strings of at
//! most 150 characters; ours have at most 32 + 1 + 20 + 1 + 20 = 74.
//!
//! Uniqueness: the uuid is random per process, each thread has its own number, and within a thread
//! the last part strictly increases (when a thread makes more than 10,000 ids in one millisecond,
//! or the clock steps back, it borrows the next millisecond rather than repeat a value). Making an
//! id takes no lock and no system call, and allocates nothing until it is formatted.
//!
//! ```
//! use rust2sky::id::Id;
//!
//! let a = Id::generate();
//! let b = Id::generate();
//! assert_ne!(a, b);
//! let text = a.to_string();
//! assert_eq!(text.split('.').count(), 3);
//! ```

use std::cell::Cell;
use std::fmt;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// How many ids a thread makes per millisecond before it borrows the next millisecond.
const PER_MS: u64 = 10_000;

/// A trace or segment id made by this process.
///
/// It is 16 bytes and `Copy`; it becomes text only when formatted, which is when a segment is
/// reported or an `sw8` header is written.
///
/// ```
/// use rust2sky::id::Id;
///
/// let id = Id::generate();
/// let text = id.to_string();
/// assert!(text.starts_with(rust2sky::id::process_uuid()));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id {
    thread: u64,
    sequence: u64,
}

impl Id {
    /// Makes a new id, unique across threads and processes.
    ///
    /// ```
    /// let id = rust2sky::id::Id::generate();
    /// assert!(id.to_string().len() <= 74);
    /// ```
    pub fn generate() -> Id {
        Id::generate_at(crate::clock::now_ms())
    }

    /// [`Id::generate`] with the clock already read (by [`crate::clock::now_ms`]), for code that
    /// needs the time too.
    pub(crate) fn generate_at(now_ms: i64) -> Id {
        let now_ms = u64::try_from(now_ms).unwrap_or(0);
        THREAD_STATE
            .try_with(|state| {
                let thread = match state.thread.get() {
                    0 => {
                        let number = NEXT_THREAD.fetch_add(1, Ordering::Relaxed);
                        state.thread.set(number);
                        number
                    }
                    number => number,
                };
                let now = now_ms.saturating_mul(PER_MS);
                let last = state.last.get();
                // Strictly increasing per thread: a repeated or earlier clock reading continues
                // from the last value, spilling into the next millisecond after 10,000 ids.
                let sequence = if now > last { now } else { last + 1 };
                state.last.set(sequence);
                Id { thread, sequence }
            })
            // The thread's state is gone (the thread is exiting): thread number 0 is kept for this
            // case, with a process-wide counter instead of the clock.
            .unwrap_or_else(|_| Id {
                thread: 0,
                sequence: EXITING_THREADS.fetch_add(1, Ordering::Relaxed),
            })
    }
}

impl Id {
    /// The id's text after `<process uuid>.` (see [`uuid_dot_base64`]), `<thread>.<sequence>`,
    /// in a stack buffer, for writing it without allocating.
    pub(crate) fn text_after_uuid(&self) -> IdText {
        let mut text = IdText {
            buf: [0; ID_TEXT_MAX],
            len: 0,
        };
        text.push(itoa::Buffer::new().format(self.thread));
        text.push(".");
        text.push(itoa::Buffer::new().format(self.sequence));
        text
    }
}

/// An id's text in three parts, `<process uuid>`, `.` and `after`, the id's
/// [`Id::text_after_uuid`].
pub(crate) fn with_uuid(after: &IdText) -> [&[u8]; 3] {
    [process_uuid().as_bytes(), b".", after.as_bytes()]
}

/// The Base64 form of the start every id shares, `<process uuid>.`, made once.
///
/// Those are 33 bytes, a whole number of Base64's 3-byte groups, so an id's Base64 is this
/// followed by the Base64 of [`Id::text_after_uuid`]: `sw8` headers encode only that part.
pub(crate) fn uuid_dot_base64() -> &'static str {
    static ENCODED: OnceLock<String> = OnceLock::new();
    ENCODED.get_or_init(|| crate::propagation::encode_piece(&format!("{}.", process_uuid())))
}

/// The longest [`Id::text_after_uuid`]: two `u64`s and a dot.
const ID_TEXT_MAX: usize = 20 + 1 + 20;

/// Part of an id's text, on the stack.
pub(crate) struct IdText {
    buf: [u8; ID_TEXT_MAX],
    len: usize,
}

impl IdText {
    fn push(&mut self, part: &str) {
        let end = (self.len + part.len()).min(ID_TEXT_MAX);
        let taken = end - self.len;
        self.buf[self.len..end].copy_from_slice(&part.as_bytes()[..taken]);
        self.len = end;
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    pub(crate) fn as_str(&self) -> &str {
        // Only ASCII (hex digits, dots and decimal digits) is ever pushed.
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or_default()
    }
}

impl fmt::Display for Id {
    /// Writes `<process uuid>.<thread>.<sequence>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(process_uuid())?;
        f.write_str(".")?;
        f.write_str(itoa::Buffer::new().format(self.thread))?;
        f.write_str(".")?;
        f.write_str(itoa::Buffer::new().format(self.sequence))
    }
}

/// The random uuid that starts every id this process makes: 32 lowercase hex digits.
///
/// ```
/// let uuid = rust2sky::id::process_uuid();
/// assert_eq!(uuid.len(), 32);
/// assert!(uuid.bytes().all(|b| b.is_ascii_hexdigit()));
/// ```
pub fn process_uuid() -> &'static str {
    static UUID: OnceLock<String> = OnceLock::new();
    UUID.get_or_init(|| uuid::Uuid::new_v4().simple().to_string())
}

struct ThreadState {
    /// This thread's number; 0 until the thread makes its first id.
    thread: Cell<u64>,
    /// The last sequence value this thread used.
    last: Cell<u64>,
}

thread_local! {
    static THREAD_STATE: ThreadState = const {
        ThreadState { thread: Cell::new(0), last: Cell::new(0) }
    };
}

static NEXT_THREAD: AtomicU64 = AtomicU64::new(1);
static EXITING_THREADS: AtomicU64 = AtomicU64::new(0);

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn ids_are_unique_across_threads_and_bursts() {
        let threads: Vec<_> = (0..4)
            .map(|_| std::thread::spawn(|| (0..50_000).map(|_| Id::generate()).collect::<Vec<_>>()))
            .collect();
        let mut seen = HashSet::new();
        for thread in threads {
            for id in thread.join().unwrap() {
                assert!(seen.insert(id.to_string()), "duplicate id {id}");
            }
        }
        assert_eq!(seen.len(), 200_000);
    }

    #[test]
    fn id_has_the_java_layout_with_the_current_time() {
        let before = crate::clock::epoch_ms();
        let text = Id::generate().to_string();
        let parts: Vec<&str> = text.split('.').collect();
        assert_eq!(parts.len(), 3, "{text}");
        assert_eq!(parts[0], process_uuid());
        assert!(parts[1].parse::<u64>().unwrap() >= 1);
        let ms = parts[2].parse::<u64>().unwrap() / PER_MS;
        // A burst earlier in this thread may have borrowed a few milliseconds ahead.
        assert!(
            ms >= before && ms <= crate::clock::epoch_ms() + 100,
            "{ms} vs {before}"
        );
    }

    #[test]
    fn text_on_the_stack_is_the_display_text() {
        let id = Id {
            thread: u64::MAX,
            sequence: u64::MAX,
        };
        let text = id.text_after_uuid();
        assert_eq!(
            format!("{}.{}", process_uuid(), text.as_str()),
            id.to_string()
        );
        assert_eq!(text.as_str().len(), ID_TEXT_MAX);
    }

    #[test]
    fn base64_of_the_shared_start_then_the_rest_is_base64_of_the_id() {
        let id = Id::generate();
        let whole = crate::propagation::encode_piece(&id.to_string());
        let mut parts = uuid_dot_base64().to_owned();
        parts += &crate::propagation::encode_piece(id.text_after_uuid().as_str());
        assert_eq!(parts, whole);
    }

    #[test]
    fn sequence_strictly_increases_within_a_thread() {
        let ids: Vec<Id> = (0..30_000).map(|_| Id::generate()).collect();
        assert!(ids.windows(2).all(|w| w[0].sequence < w[1].sequence));
        assert!(ids.iter().all(|id| id.thread == ids[0].thread));
    }
}
