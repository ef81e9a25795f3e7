//! How a transport's sender waits for items without the request path paying to wake it.
//!
//! Waking a thread that sleeps is a system call, and on a virtual machine an interrupt to the
//! core it slept on: about 12 µs for the thread that calls `report()` once a millisecond (the
//! `report/handoff_every_1000us` bench), ten times what tracing the request cost. So while
//! items keep coming, the sender looks at its lanes every [`Pace::look_every`] without being
//! woken, and only after [`Pace::idle_after`] with nothing does it sleep until the next item
//! rings its doorbell: one request after a quiet spell pays to wake it, the others do not.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Poll;
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// What an offer rings when it may have to wake the sender.
#[derive(Default)]
pub(crate) struct Doorbell {
    /// The sender sleeps until rung; cleared by the offer that wakes it, so that one pays.
    asleep: AtomicBool,
    notify: Notify,
}

impl Doorbell {
    /// Wakes the sender if it sleeps. Called after the item is queued and the queue's lock let
    /// go: a sender that looked at the queue before this item came set `asleep` before it
    /// looked, so this reads it set.
    pub(crate) fn ring(&self) {
        if self.asleep.load(Ordering::Relaxed) && self.asleep.swap(false, Ordering::AcqRel) {
            self.notify.notify_one();
        }
    }
}

/// How often a sender looks while items come, and how long it looks with none before it sleeps.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Pace {
    pub(crate) look_every: Duration,
    pub(crate) idle_after: Duration,
}

impl Pace {
    /// A few milliseconds: segments reach the collector that much later, in streams of all that
    /// came meanwhile (the Java agent's buffers are read every 20 ms). 100 ms of quiet before
    /// sleeping: a look costs the sender's thread a few microseconds, a wake costs the request
    /// about 12, so looking is the cheaper of the two from about ten items a second; below that
    /// the requests that wake the sender are too few to matter.
    pub(crate) const SENDER: Pace = Pace {
        look_every: Duration::from_millis(5),
        idle_after: Duration::from_millis(100),
    };

    /// Returns once `queued()` is true: at once if it is; else, within `idle_after` of
    /// `last_taken` (when the sender last took items), at one of the next looks; after that, or
    /// when it never took any, when an offer rings one of `doorbells`.
    pub(crate) async fn until<const N: usize>(
        self,
        doorbells: [&Doorbell; N],
        queued: impl Fn() -> bool,
        last_taken: Option<Instant>,
    ) {
        let looking = || last_taken.is_some_and(|taken| taken.elapsed() < self.idle_after);
        loop {
            if queued() {
                return;
            }
            if looking() {
                tokio::time::sleep(self.look_every).await;
                continue;
            }
            let mut rung = doorbells.map(|doorbell| Box::pin(doorbell.notify.notified()));
            for (doorbell, notified) in doorbells.iter().zip(&mut rung) {
                // Listening before saying so: an offer that reads `asleep` set then finds a
                // listener, or leaves a permit that the wait below takes at once.
                notified.as_mut().enable();
                doorbell.asleep.store(true, Ordering::SeqCst);
            }
            if !queued() {
                std::future::poll_fn(|cx| {
                    let any = rung
                        .iter_mut()
                        .any(|notified| notified.as_mut().poll(cx).is_ready());
                    if any { Poll::Ready(()) } else { Poll::Pending }
                })
                .await;
            }
            for doorbell in doorbells {
                doorbell.asleep.store(false, Ordering::Relaxed);
            }
            if queued() {
                return;
            }
        }
    }
}

/// `Pin<Box<Notified>>` is `Unpin`, which `poll_fn` above relies on.
const _: fn() = || {
    fn unpin<T: Unpin>() {}
    unpin::<Pin<Box<tokio::sync::futures::Notified<'static>>>>();
};

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;

    use super::*;

    const QUICK: Pace = Pace {
        look_every: Duration::from_millis(2),
        idle_after: Duration::from_millis(20),
    };

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a runtime")
    }

    #[test]
    fn a_sender_that_looks_is_not_rung() {
        let doorbell = Doorbell::default();
        // Not asleep: ringing leaves nothing for a later wait to take.
        doorbell.ring();
        runtime().block_on(async {
            let notified = doorbell.notify.notified();
            let waited = tokio::time::timeout(Duration::from_millis(20), notified).await;
            assert!(
                waited.is_err(),
                "ring() notified a sender that was not asleep"
            );
        });
    }

    #[test]
    fn an_item_is_seen_at_the_next_look_while_items_come() {
        // Still looking long after the item comes, however slow the machine: nothing rings in
        // this test, so a sender gone to sleep would never return.
        let looking = Pace {
            idle_after: Duration::from_secs(60),
            ..QUICK
        };
        let items = Arc::new(AtomicUsize::new(0));
        let doorbell = Arc::new(Doorbell::default());
        let offer = {
            let items = Arc::clone(&items);
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(5));
                items.fetch_add(1, Ordering::SeqCst);
                // Before idle_after: the doorbell is not rung, the look finds the item.
            })
        };
        let waited = runtime().block_on(async {
            let start = Instant::now();
            let waiting = looking.until(
                [&*doorbell],
                || items.load(Ordering::SeqCst) > 0,
                Some(Instant::now()),
            );
            let waited = tokio::time::timeout(Duration::from_secs(10), waiting).await;
            assert!(waited.is_ok(), "the sender stopped looking");
            start.elapsed()
        });
        offer.join().unwrap();
        assert!(waited < looking.idle_after, "waited {waited:?}");
        assert!(!doorbell.asleep.load(Ordering::SeqCst));
    }

    #[test]
    fn a_sleeping_sender_wakes_at_the_ring_of_any_of_its_doorbells() {
        let items = Arc::new(AtomicUsize::new(0));
        let doorbells = Arc::new([Doorbell::default(), Doorbell::default()]);
        let offer = {
            let (items, doorbells) = (Arc::clone(&items), Arc::clone(&doorbells));
            std::thread::spawn(move || {
                // Well after idle_after, and after the sender said it sleeps.
                while !doorbells[1].asleep.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(1));
                }
                std::thread::sleep(Duration::from_millis(50));
                items.fetch_add(1, Ordering::SeqCst);
                doorbells[1].ring();
                Instant::now()
            })
        };
        let woke = runtime().block_on(async {
            let waiting = QUICK.until(
                [&doorbells[0], &doorbells[1]],
                || items.load(Ordering::SeqCst) > 0,
                Some(Instant::now()),
            );
            // A sleeping sender no longer looks: only the ring can end this wait.
            let waited = tokio::time::timeout(Duration::from_secs(10), waiting).await;
            assert!(waited.is_ok(), "the ring did not wake the sender");
            Instant::now()
        });
        let rung = offer.join().unwrap();
        assert!(woke.duration_since(rung) < Duration::from_secs(1));
        assert!(doorbells.iter().all(|d| !d.asleep.load(Ordering::SeqCst)));
    }
}
