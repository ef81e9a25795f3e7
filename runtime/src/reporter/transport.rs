//! What travels to a collector besides segments, behind one trait: the gRPC reporter carries it
//! today, and any other transport (Kafka, a user's own) carries the same.

use rust2sky_proto::v3::{InstancePingPkg, InstanceProperties, LogData, MeterData};

use super::Reporter;
use crate::config::DynamicConfig;

/// Carries everything an agent sends to a collector: segments (as a [`Reporter`]), log records,
/// meter reports, and the instance's properties and keepAlive; and brings back what the
/// collector sends, its dynamic configuration.
///
/// The log bridges of [`crate::logging`] take any `Transport`, so logs go wherever segments go.
/// Like [`Reporter::report`], every `report_*` method runs on the caller's thread and must return
/// at once: queue the item in a bounded queue or drop it, and count the drop.
///
/// A reporter that only takes segments implements [`Reporter`] alone.
///
/// ```
/// use std::sync::Mutex;
/// use rust2sky::proto::v3::{LogData, MeterData};
/// use rust2sky::reporter::{FinishedSegment, Reporter, Transport};
///
/// /// Keeps everything in memory, as a test double or a starting point.
/// #[derive(Debug, Default)]
/// struct Recording {
///     logs: Mutex<Vec<LogData>>,
/// }
///
/// impl Reporter for Recording {
///     fn report(&self, _segment: FinishedSegment) {}
/// }
///
/// impl Transport for Recording {
///     fn report_log(&self, log: LogData) {
///         self.logs.lock().unwrap().push(log);
///     }
///
///     fn report_meters(&self, _meters: Vec<MeterData>) {}
/// }
///
/// let transport = Recording::default();
/// transport.report_log(rust2sky::logging::log_data("WARN", "cart", "empty".to_owned(), []));
/// assert_eq!(transport.logs.lock().unwrap().len(), 1);
/// ```
pub trait Transport: Reporter {
    /// Takes one log record. An empty `service` or `service_instance` is the transport's to fill
    /// in with its own. Must return at once.
    fn report_log(&self, log: LogData);

    /// Takes one report of meters, read at one instant. Must return at once.
    fn report_meters(&self, meters: Vec<MeterData>);

    /// Takes the instance's properties or a keepAlive. A transport that keeps the instance alive
    /// on its own schedule (the gRPC reporter does) sends these besides its own. Must return at
    /// once; the default drops the message.
    fn report_management(&self, message: Management) {
        let _ = message;
    }

    /// The least level of the log records worth handing to [`Transport::report_log`]; the log
    /// bridges leave out the others. The default is `warn`, as
    /// [`Config::log_reporter_level`](crate::config::Config::log_reporter_level)'s.
    fn log_level(&self) -> log::LevelFilter {
        log::LevelFilter::Warn
    }

    /// The counters of what was handed over, by kind. The default counts nothing.
    fn transport_stats(&self) -> TransportStats {
        TransportStats::default()
    }

    /// The last dynamic configuration the collector sent, if the transport brings one back.
    fn dynamic_config(&self) -> Option<DynamicConfig> {
        None
    }
}

impl<T: Transport> Transport for std::sync::Arc<T> {
    fn report_log(&self, log: LogData) {
        (**self).report_log(log);
    }

    fn report_meters(&self, meters: Vec<MeterData>) {
        (**self).report_meters(meters);
    }

    fn report_management(&self, message: Management) {
        (**self).report_management(message);
    }

    fn log_level(&self) -> log::LevelFilter {
        (**self).log_level()
    }

    fn transport_stats(&self) -> TransportStats {
        (**self).transport_stats()
    }

    fn dynamic_config(&self) -> Option<DynamicConfig> {
        (**self).dynamic_config()
    }
}

/// What keeps an instance known to the collector (`ManagementService`).
///
/// ```
/// use rust2sky::proto::v3::InstancePingPkg;
/// use rust2sky::reporter::Management;
///
/// let ping = Management::KeepAlive(InstancePingPkg {
///     service: "checkout".to_owned(),
///     service_instance: "checkout-1".to_owned(),
///     ..InstancePingPkg::default()
/// });
/// assert!(matches!(ping, Management::KeepAlive(_)));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum Management {
    /// The instance's properties (`reportInstanceProperties`): host, process, language...
    Properties(InstanceProperties),
    /// A heartbeat (`keepAlive`).
    KeepAlive(InstancePingPkg),
}

/// The counters of a [`Transport`], one [`ReporterStats`] per kind of item.
///
/// ```
/// let stats = rust2sky::reporter::TransportStats::default();
/// assert_eq!(stats.logs.produced, 0);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TransportStats {
    /// Finished segments.
    pub segments: ReporterStats,
    /// Log records.
    pub logs: ReporterStats,
    /// Meter reports (each a batch of meters read at one instant).
    pub meters: ReporterStats,
    /// Instance properties and keepAlive messages handed to [`Transport::report_management`].
    pub management: ReporterStats,
}

/// Counters of the items of one kind a reporter was given.
///
/// `produced == sent + dropped_full + failed + queued` at every instant.
///
/// ```
/// let stats = rust2sky::reporter::ReporterStats::default();
/// assert_eq!(stats.produced, 0);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReporterStats {
    /// Items given to the reporter ([`Reporter::report`] for segments).
    pub produced: u64,
    /// Items the collector acknowledged (the `collect` stream they were in was answered).
    pub sent: u64,
    /// Items dropped at once because the queue was full, in items or in bytes.
    pub dropped_full: u64,
    /// Items lost because the stream they were in failed, because the collector does not serve
    /// their kind, or because the reporter had stopped (it was dropped with them still queued,
    /// or they came after). They are not sent again, so the collector never gets one twice.
    pub failed: u64,
    /// Items waiting in the queue or being sent now.
    pub queued: u64,
    /// What the items waiting in the queue (not those being sent) weigh, in bytes as the
    /// reporter estimates them; an item that would take it past the reporter's bound is dropped
    /// and counted in [`ReporterStats::dropped_full`].
    pub queued_bytes: u64,
    /// The reporter has stopped sending: it was dropped, or its background thread ended
    /// unexpectedly. What was queued then, and what is reported since, counts as
    /// [`ReporterStats::failed`].
    pub stopped: bool,
}
