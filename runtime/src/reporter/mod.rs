//! Where finished segments go, and what else travels to a collector.
//!
//! A [`Reporter`] takes each finished segment and must return at once: it runs on the request
//! path, when the last span of a segment ends. A [`Transport`] is a reporter that carries the
//! rest too: log records, meter reports, the instance's properties and keepAlive, and the
//! collector's dynamic configuration back. Here are [`MemoryReporter`], which keeps segments for
//! tests, [`LogReporter`], which writes one line per segment, [`GrpcReporter`], the transport
//! to a SkyWalking OAP, and (feature `kafka`) `KafkaReporter`, the same to the OAP through Kafka;
//! [`start`](fn@start) starts whichever of the two [`Config::protocol`](crate::config::Config::protocol)
//! names.

mod commands;
mod doorbell;
mod grpc;
pub use self::grpc::{GrpcError, GrpcReporter, GrpcReporterBuilder, GrpcReporterCounts};
#[cfg(feature = "kafka")]
mod kafka;
#[cfg(feature = "kafka")]
pub use self::kafka::{KafkaError, KafkaReporter};
mod lane;
mod lanes;
mod log;
mod memory;
mod retry;
mod start;
mod telemetry;
mod transport;

use std::time::Duration;

use crate::config::LiveSettings;

pub use self::log::LogReporter;
pub use self::memory::MemoryReporter;
pub use self::start::{StartError, StartedTransport, start};
pub use self::transport::{Management, ReporterStats, Transport, TransportStats};
pub use crate::segment::FinishedSegment;

/// Receives finished segments.
///
/// `report` is called on the thread that ended a segment's last span, so it must not block, wait
/// on the network, or grow memory without bound: hand the segment off to a bounded queue, or drop
/// it (and count the drop). The segment comes in the compact form it was recorded in; a reporter
/// that queues it writes the protobuf bytes with [`FinishedSegment::encode_to_vec`] (or builds
/// the message with [`FinishedSegment::to_proto`]) on its own thread.
///
/// A reporter may call back into the agent (read the context, log through a bridge); spans it
/// starts that would begin a new segment are not recorded, so that reporting a segment never
/// makes another one to report.
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use rust2sky::reporter::{FinishedSegment, Reporter};
///
/// #[derive(Debug, Default)]
/// struct CountingReporter(AtomicUsize);
///
/// impl Reporter for CountingReporter {
///     fn report(&self, _segment: FinishedSegment) {
///         self.0.fetch_add(1, Ordering::Relaxed);
///     }
/// }
/// ```
pub trait Reporter: Send + Sync + 'static {
    /// Takes one finished segment. Must return at once.
    fn report(&self, segment: FinishedSegment);

    /// Delivers whatever is still buffered, waiting at most `timeout`; returns whether everything
    /// was delivered. Reporters without a buffer have nothing to do.
    fn flush(&self, timeout: Duration) -> bool {
        let _ = timeout;
        true
    }

    /// Called by [`Tracer::new`](crate::Tracer::new) with the tracer's [`LiveSettings`]: a
    /// reporter whose collector sends settings (the [`GrpcReporter`] with the OAP's dynamic
    /// configuration) keeps the handle and changes them through it. Others ignore it.
    fn attach(&self, settings: &LiveSettings) {
        let _ = settings;
    }
}

impl<R: Reporter> Reporter for std::sync::Arc<R> {
    fn report(&self, segment: FinishedSegment) {
        (**self).report(segment);
    }

    fn flush(&self, timeout: Duration) -> bool {
        (**self).flush(timeout)
    }

    fn attach(&self, settings: &LiveSettings) {
        (**self).attach(settings);
    }
}
