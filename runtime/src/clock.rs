//! Wall-clock milliseconds for span timestamps, read cheaply.
//!
//! A request reads the time at every span's start and end. `SystemTime::now()` costs 40 to 60 ns
//! on the virtual machines services run on (a vDSO call), about a fifth of a five-span request.
//! `quanta` reads the CPU's invariant time-stamp counter in about 10 ns where there is one (and
//! the monotonic clock elsewhere). Its clock is monotonic, not wall time, so each thread anchors
//! it to `SystemTime` and anchors again every second: timestamps stay within a millisecond of
//! the system clock while NTP adjusts it, and one `SystemTime` read a second is all they cost.
//!
//! `quanta` calibrates its counter for up to 200 ms when its clock is made. That happens on a
//! thread of its own, started by the first tracer; until it is done, timestamps come from
//! `SystemTime` directly, so no request ever waits for it.

use std::cell::Cell;
use std::sync::{Once, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

/// How long a thread's anchor is used before it is read again from the system clock.
const ANCHOR_NANOS: u64 = 1_000_000_000;

static CLOCK: OnceLock<quanta::Clock> = OnceLock::new();

/// Where a thread's counter readings are measured from: a raw counter value and the wall-clock
/// time it was read at, in nanoseconds since the Unix epoch.
#[derive(Clone, Copy)]
struct Anchor {
    raw: u64,
    epoch_nanos: u64,
}

thread_local! {
    static ANCHOR: Cell<Option<Anchor>> = const { Cell::new(None) };
}

/// Starts calibrating the fast clock in the background, once per process.
pub(crate) fn calibrate_in_background() {
    static STARTED: Once = Once::new();
    STARTED.call_once(|| {
        let spawned = std::thread::Builder::new()
            .name("rust2sky-clock".into())
            .spawn(|| {
                CLOCK.get_or_init(quanta::Clock::new);
            });
        // Without the thread, timestamps keep coming from `SystemTime`: slower, just as right.
        drop(spawned);
    });
}

/// Milliseconds since the Unix epoch (0 if the system clock is before it).
pub(crate) fn epoch_ms() -> u64 {
    epoch_nanos() / 1_000_000
}

/// [`epoch_ms`] as the protocol's timestamps hold it.
pub(crate) fn now_ms() -> i64 {
    i64::try_from(epoch_ms()).unwrap_or(i64::MAX)
}

fn epoch_nanos() -> u64 {
    let Some(clock) = CLOCK.get() else {
        return system_nanos();
    };
    let raw = clock.raw();
    ANCHOR
        .try_with(|anchor| {
            if let Some(current) = anchor.get() {
                let since = clock.delta_as_nanos(current.raw, raw);
                // A counter read before the anchor (another core's counter, slightly behind)
                // gives 0 and the anchor's own time.
                if since < ANCHOR_NANOS {
                    return current.epoch_nanos + since;
                }
            }
            let epoch_nanos = system_nanos();
            anchor.set(Some(Anchor { raw, epoch_nanos }));
            epoch_nanos
        })
        // The thread is exiting and its anchor is gone.
        .unwrap_or_else(|_| system_nanos())
}

fn system_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            since
                .as_secs()
                .saturating_mul(1_000_000_000)
                .saturating_add(u64::from(since.subsec_nanos()))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn calibrated() -> &'static quanta::Clock {
        CLOCK.get_or_init(quanta::Clock::new)
    }

    #[test]
    fn readings_follow_the_system_clock() {
        calibrated();
        for _ in 0..1_000 {
            let before = system_nanos() / 1_000_000;
            let ms = epoch_ms();
            let after = system_nanos() / 1_000_000;
            // Within the anchor's drift allowance of the system clock on either side.
            assert!(
                ms + 2 >= before && ms <= after + 2,
                "{before} <= {ms} <= {after}"
            );
        }
    }

    #[test]
    fn a_thread_anchors_again_after_a_second() {
        let clock = calibrated();
        let stale = Anchor {
            raw: clock.raw(),
            epoch_nanos: 0,
        };
        ANCHOR.with(|anchor| anchor.set(Some(stale)));
        // Fresh: the stale anchor is used as it is.
        assert!(epoch_ms() < 1_000);
        std::thread::sleep(std::time::Duration::from_millis(1_100));
        // Over a second old: read again from the system clock.
        assert!(epoch_ms() > 1_000_000_000_000);
    }
}
