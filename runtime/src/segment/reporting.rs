//! Whether this thread is inside a reporter's `report`: a reporter that traces its own work
//! would otherwise start a segment per report that is reported in turn, forever.

use std::cell::Cell;

thread_local! {
    static DEPTH: Cell<u32> = const { Cell::new(0) };
}

/// Whether a reporter's `report` is running on this thread, where spans start no new segment.
pub(crate) fn in_report() -> bool {
    DEPTH.try_with(|depth| depth.get() > 0).unwrap_or(false)
}

/// Runs `report` with [`in_report`] true, even if it panics.
pub(super) fn run(report: impl FnOnce()) {
    struct Leave;
    impl Drop for Leave {
        fn drop(&mut self) {
            let _ = DEPTH.try_with(|depth| depth.set(depth.get().saturating_sub(1)));
        }
    }
    let _ = DEPTH.try_with(|depth| depth.set(depth.get().saturating_add(1)));
    let _leave = Leave;
    report();
}
