//! A thread's last segment or unsampled trace, reused by the next one it starts.
//!
//! Callers keep only the global tracer's values: another tracer's would keep that tracer, and its
//! reporter's thread, alive until the thread's next request.

use std::cell::Cell;
use std::sync::Arc;
use std::thread::LocalKey;

/// `T` in an `Arc`: the thread's last one from `last` refilled with `parts`, when nothing else
/// holds it any more, or else one that `make` builds from them; kept in `last` for the thread's
/// next call when `keep` says it is worth keeping.
pub(super) fn reuse_or_make<T, P>(
    last: &'static LocalKey<Cell<Option<Arc<T>>>>,
    parts: P,
    make: impl FnOnce(P) -> T,
    refill: impl FnOnce(&mut T, P),
    keep: impl FnOnce(&T) -> bool,
) -> Arc<T> {
    let value = match last.try_with(Cell::take).ok().flatten() {
        Some(mut kept) => match Arc::get_mut(&mut kept) {
            Some(reused) => {
                refill(reused, parts);
                kept
            }
            None => Arc::new(make(parts)),
        },
        None => Arc::new(make(parts)),
    };
    if keep(&value) {
        let _ = last.try_with(|last| last.set(Some(Arc::clone(&value))));
    }
    value
}
