//! Timing in rounds, for benches whose measured calls fill a bounded queue.

use std::time::Duration;

/// Runs `iterations` calls as rounds of at most `size`: `round(n)` makes `n` calls and returns
/// the time to count, then drains what they queued (untimed), so that no timed call meets a full
/// queue. Returns the total counted time.
pub(crate) fn in_rounds(
    iterations: u64,
    size: u64,
    mut round: impl FnMut(u64) -> Duration,
) -> Duration {
    let mut total = Duration::ZERO;
    let mut left = iterations;
    while left > 0 {
        let calls = left.min(size);
        total += round(calls);
        left -= calls;
    }
    total
}
