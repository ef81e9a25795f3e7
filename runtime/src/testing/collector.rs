//! The handle on a running collector: what it received, waiting for more, and stopping it.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use rust2sky_proto::v3::SegmentObject;

use super::Received;
use super::state::{DynamicConfiguration, State};

/// A gRPC collector on a local port that records what agents send it; see the
/// [module documentation](crate::testing).
///
/// Dropping it (or [`Collector::stop`]) closes the port and every connection at once, as a
/// collector that crashed would: a test can then start another on the same
/// [`address`](Collector::address) to play a restart.
///
/// ```
/// # use rust2sky::testing::Collector;
/// let collector = Collector::start()?;
/// assert!(collector.address().ip().is_loopback());
/// assert!(collector.received().segments.is_empty());
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Collector {
    pub(super) address: SocketAddr,
    pub(super) state: Arc<State>,
    pub(super) stop: Option<tokio::sync::oneshot::Sender<()>>,
    pub(super) thread: Option<JoinHandle<()>>,
}

impl Collector {
    /// The address it listens on.
    ///
    /// ```
    /// let collector = rust2sky::testing::Collector::start()?;
    /// println!("collector on {}", collector.address());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The address as [`Config::backends`](crate::config::Config::backends) takes it
    /// (`127.0.0.1:port`).
    ///
    /// ```
    /// use rust2sky::{config::Config, testing::Collector};
    ///
    /// let collector = Collector::start()?;
    /// let config = Config::builder().backends([collector.backend()]).build()?;
    /// assert_eq!(config.backends(), [collector.backend()]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn backend(&self) -> String {
        self.address.to_string()
    }

    /// Everything received so far.
    ///
    /// ```
    /// let collector = rust2sky::testing::Collector::start()?;
    /// assert_eq!(collector.received().segment_streams, 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn received(&self) -> Received {
        self.state.lock().clone()
    }

    /// The segments received so far.
    ///
    /// ```
    /// let collector = rust2sky::testing::Collector::start()?;
    /// assert!(collector.segments().is_empty());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn segments(&self) -> Vec<SegmentObject> {
        self.state.lock().segments.clone()
    }

    /// Waits until at least `count` segments have arrived, or `timeout` has passed, and returns
    /// the segments received by then (check their number).
    ///
    /// ```
    /// # use std::time::Duration;
    /// let collector = rust2sky::testing::Collector::start()?;
    /// assert!(collector.wait_for_segments(1, Duration::from_millis(10)).is_empty());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn wait_for_segments(&self, count: usize, timeout: Duration) -> Vec<SegmentObject> {
        self.wait_until(timeout, |received| received.segment_count >= count as u64)
            .segments
    }

    /// Waits until `done` holds for what has been received, or `timeout` has passed; returns
    /// what has been received by then.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let collector = rust2sky::testing::Collector::start()?;
    /// let received = collector.wait_until(Duration::from_millis(10), |received| !received.pings.is_empty());
    /// assert!(received.pings.is_empty());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn wait_until(
        &self,
        timeout: Duration,
        mut done: impl FnMut(&Received) -> bool,
    ) -> Received {
        let mut received = self.state.lock();
        self.state
            .arrived
            .wait_while_for(&mut received, |received| !done(received), timeout);
        received.clone()
    }

    /// Forgets everything received so far (the counts too), as if the collector had just started;
    /// for a test in phases, or a long-running one.
    ///
    /// ```
    /// let collector = rust2sky::testing::Collector::start()?;
    /// collector.clear();
    /// assert_eq!(collector.received(), rust2sky::testing::Received::default());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn clear(&self) {
        *self.state.lock() = Received::default();
    }

    /// Everything received since the collector started, or since the last `take` or
    /// [`Collector::clear`], which it then forgets: for a long-running collector that handles
    /// what arrives as it arrives.
    ///
    /// ```
    /// let collector = rust2sky::testing::Collector::start()?;
    /// let fresh = collector.take();
    /// assert_eq!(fresh.segment_count, 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn take(&self) -> Received {
        std::mem::take(&mut *self.state.lock())
    }

    /// Serves this dynamic configuration from now on (`fetchConfigurations`), as when an operator
    /// changes it in the OAP.
    ///
    /// ```
    /// let collector = rust2sky::testing::Collector::start()?;
    /// collector.set_configuration("v2", [("agent.sample_rate", "0")]);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_configuration<K: Into<String>, V: Into<String>>(
        &self,
        uuid: impl Into<String>,
        values: impl IntoIterator<Item = (K, V)>,
    ) {
        *self.state.configuration.lock() = Some(DynamicConfiguration::new(uuid, values));
    }

    /// Closes the port and every connection at once, like a crash; what was received stays
    /// readable until then. Dropping the collector does the same.
    ///
    /// ```
    /// let collector = rust2sky::testing::Collector::start()?;
    /// let received = collector.received();
    /// collector.stop();
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn stop(self) {}
}

impl Drop for Collector {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl fmt::Debug for Collector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let received = self.state.lock();
        f.debug_struct("Collector")
            .field("address", &self.address)
            .field("segments", &received.segments.len())
            .finish_non_exhaustive()
    }
}
