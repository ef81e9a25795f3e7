//! How a transport's thread behaves while its collector is away: how long it waits before the
//! next attempt, and how often it says so in the log.

use std::cell::RefCell;
use std::fmt;
use std::time::{Duration, Instant};

/// The least time between two log lines of the same kind.
const LOG_INTERVAL: Duration = Duration::from_secs(30);

/// The wait before connection round `round` (1 after every backend failed once): `initial`
/// doubled each round up to `max`, times a factor from 0.8 to 1.2 given by `unit` in `[0, 1)`,
/// and never more than `max`.
pub(crate) fn backoff_delay(initial: Duration, max: Duration, round: u32, unit: f64) -> Duration {
    let doublings = round.saturating_sub(1).min(30);
    let nominal = initial.saturating_mul(1 << doublings).min(max);
    // Checked: `mul_f64` panics past `Duration::MAX`, which a large `max` reaches.
    let factor = 0.8 + 0.4 * unit.clamp(0.0, 1.0);
    Duration::try_from_secs_f64(nominal.as_secs_f64() * factor)
        .unwrap_or(max)
        .min(max)
}

/// Log lines by kind, each kind written at most once per [`LOG_INTERVAL`] with the count of
/// those left out. For the one thread of a transport: not `Sync`.
#[derive(Default)]
pub(crate) struct Throttle {
    /// A few kinds per transport: a list is as quick as a map, and smaller.
    slots: RefCell<Vec<(&'static str, Slot)>>,
}

#[derive(Default, Clone, Copy)]
struct Slot {
    last: Option<Instant>,
    suppressed: u64,
}

impl Throttle {
    /// Logs `message` as a warning (target `rust2sky`) unless a line of `kind` went out less
    /// than [`LOG_INTERVAL`] ago.
    pub(crate) fn warn(&self, kind: &'static str, message: fmt::Arguments<'_>) {
        let mut slots = self.slots.borrow_mut();
        let index = match slots.iter().position(|(seen, _)| *seen == kind) {
            Some(index) => index,
            None => {
                slots.push((kind, Slot::default()));
                slots.len() - 1
            }
        };
        let slot = &mut slots[index].1;
        let now = Instant::now();
        if slot
            .last
            .is_some_and(|last| now.duration_since(last) < LOG_INTERVAL)
        {
            slot.suppressed += 1;
            return;
        }
        slot.last = Some(now);
        let suppressed = std::mem::take(&mut slot.suppressed);
        drop(slots);
        if suppressed == 0 {
            log::warn!(target: "rust2sky", "{message}");
        } else {
            log::warn!(
                target: "rust2sky",
                "{message} ({suppressed} more like this in the last {} s)",
                LOG_INTERVAL.as_secs()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_with_jitter() {
        let initial = Duration::from_millis(100);
        let max = Duration::from_secs(30);
        let nominal = |round| backoff_delay(initial, max, round, 0.5);
        assert_eq!(nominal(1), Duration::from_millis(100));
        assert_eq!(nominal(2), Duration::from_millis(200));
        assert_eq!(nominal(5), Duration::from_millis(1600));
        assert_eq!(nominal(40), max);
        assert_eq!(
            backoff_delay(initial, max, 1, 0.0),
            Duration::from_millis(80)
        );
        assert_eq!(
            backoff_delay(initial, max, 1, 1.0),
            Duration::from_millis(120)
        );
        assert_eq!(backoff_delay(initial, max, u32::MAX, 1.0), max);
    }

    #[test]
    fn the_longest_backoff_does_not_overflow() {
        for (initial, max) in [
            (Duration::MAX, Duration::MAX),
            (Duration::from_secs(1), Duration::MAX),
        ] {
            for round in [1, 2, 40, u32::MAX] {
                assert!(backoff_delay(initial, max, round, 1.0) <= max);
                assert!(backoff_delay(initial, max, round, 0.0) > Duration::ZERO);
            }
        }
    }

    #[test]
    fn a_kind_is_counted_not_repeated() {
        let throttle = Throttle::default();
        throttle.warn("connect", format_args!("first"));
        throttle.warn("connect", format_args!("second"));
        throttle.warn("send", format_args!("other kind"));
        let slots = throttle.slots.borrow();
        let suppressed: Vec<_> = slots
            .iter()
            .map(|(kind, slot)| (*kind, slot.suppressed))
            .collect();
        assert_eq!(suppressed, [("connect", 1), ("send", 0)]);
    }
}
