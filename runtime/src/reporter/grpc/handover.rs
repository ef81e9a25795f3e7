//! The body of one `collect` stream: items taken off a lane one at a time, as the stream sends
//! them, until the stream has taken its size or its time, or the lane is empty.
//!
//! Taking an item only when tonic asks for the next message means that the stream's count is
//! exactly what it handed over: what is still queued when the stream ends stays queued for the
//! next stream, rather than failing with a stream that never sent it.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use parking_lot::Mutex;

use super::Shared;
use crate::reporter::lane::Lane;

/// Which lane of [`Shared`] a stream takes from.
pub(super) type LaneOf<T> = fn(&Shared) -> &Lane<T>;

/// A stream of the messages made of a lane's items, `prepare` making each item's.
pub(super) struct Handover<T, M, P> {
    shared: Arc<Shared>,
    lane: LaneOf<T>,
    prepare: P,
    /// The messages of the item taken last that are not sent yet.
    pending: std::vec::IntoIter<M>,
    /// Taken items, counted under the lock the stream is closed with.
    tally: Arc<Mutex<Tally>>,
    size: usize,
    stop_at: Instant,
}

/// How many items a stream took, and whether it may take more.
#[derive(Debug, Default)]
pub(super) struct Tally {
    taken: usize,
    closed: bool,
}

/// Reads what a [`Handover`] took once its call is over.
pub(super) struct Taken(Arc<Mutex<Tally>>);

impl Taken {
    /// Stops the stream taking more, and says how many items it took. The stream may outlive
    /// its call (hyper sends a body on a task of its own), so what it took is read once and
    /// for all here.
    pub(super) fn close(&self) -> usize {
        let mut tally = self.0.lock();
        tally.closed = true;
        tally.taken
    }
}

impl<T, M, P> Handover<T, M, P>
where
    P: FnMut(T) -> Vec<M>,
{
    /// A stream that takes at most `size` items of `lane`, and none after `stop_at`.
    pub(super) fn new(
        shared: Arc<Shared>,
        lane: LaneOf<T>,
        prepare: P,
        size: usize,
        stop_at: Instant,
    ) -> (Self, Taken) {
        let tally = Arc::new(Mutex::new(Tally::default()));
        let stream = Handover {
            shared,
            lane,
            prepare,
            pending: Vec::new().into_iter(),
            tally: Arc::clone(&tally),
            size,
            stop_at,
        };
        (stream, Taken(tally))
    }
}

impl<T, M, P> tokio_stream::Stream for Handover<T, M, P>
where
    P: FnMut(T) -> Vec<M> + Unpin,
    M: Unpin,
{
    type Item = M;

    fn poll_next(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<M>> {
        let this = self.get_mut();
        loop {
            if let Some(message) = this.pending.next() {
                return Poll::Ready(Some(message));
            }
            let item = {
                let mut tally = this.tally.lock();
                if tally.closed || tally.taken >= this.size || Instant::now() >= this.stop_at {
                    return Poll::Ready(None);
                }
                let Some(item) = (this.lane)(&this.shared).take_one() else {
                    return Poll::Ready(None);
                };
                tally.taken += 1;
                item
            };
            // Made off the lock: a segment's protobuf takes a while to build.
            this.pending = (this.prepare)(item).into_iter();
        }
    }
}
