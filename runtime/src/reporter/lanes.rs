//! The four lanes every transport has, one a kind of item, each bounded and counted on its own:
//! a flood of log records cannot crowd out segments, nor segments the heartbeats.

use std::time::Instant;

use rust2sky_proto::prost::Message as _;
use rust2sky_proto::v3::{LogData, MeterData};

#[cfg(feature = "kafka")]
use super::doorbell::Pace;
use super::lane::{Lane, stripes_per_core};
use super::{FinishedSegment, Management, TransportStats};
use crate::config::Config;
use crate::diagnostics::Problem;

/// How many meter reports, and how many management messages, wait at most.
const TELEMETRY_CAPACITY: usize = 64;

pub(crate) struct Lanes {
    pub(crate) segments: Lane<FinishedSegment>,
    pub(crate) logs: Lane<LogData>,
    pub(crate) meters: Lane<Vec<MeterData>>,
    pub(crate) management: Lane<Management>,
}

impl Lanes {
    /// Lanes bounded by `config`'s queue settings.
    pub(crate) fn new(config: &Config) -> Self {
        let capacity = config.max_send_queue_size();
        let max_bytes = config.max_send_queue_bytes();
        // Request threads report segments and log records; the reporter's own threads make the
        // meter reports and management messages, one stripe's worth.
        let stripes = stripes_per_core();
        Lanes {
            segments: Lane::new(
                capacity,
                max_bytes,
                stripes,
                FinishedSegment::size_estimate,
                Problem::SegmentDropped,
                "segments",
            ),
            // Log records are fewer and smaller than segments where both are used.
            logs: Lane::new(
                capacity,
                (max_bytes / 4).max(1),
                stripes,
                |log: &LogData| std::mem::size_of::<LogData>() + log.encoded_len(),
                Problem::LogDropped,
                "log records",
            ),
            // Reports are readings made every interval and heartbeats are periodic too: a few
            // waiting is plenty, older ones say little once newer ones exist. A few heartbeats
            // weigh little; a few reports of many series can weigh a lot, so their bytes are
            // bounded as the log records' are.
            meters: Lane::new(
                TELEMETRY_CAPACITY,
                (max_bytes / 4).max(1),
                1,
                meter_report_weight,
                Problem::MeterReportDropped,
                "meter reports",
            ),
            management: Lane::new(
                TELEMETRY_CAPACITY,
                usize::MAX,
                1,
                |_| 0,
                Problem::ManagementDropped,
                "management messages",
            ),
        }
    }

    /// Counts everything still queued or in flight as failed: the transport's thread is gone.
    pub(crate) fn abandon_rest(&self) {
        self.segments.abandon_rest();
        self.logs.abandon_rest();
        self.meters.abandon_rest();
        self.management.abandon_rest();
    }

    pub(crate) fn stats(&self) -> TransportStats {
        TransportStats {
            segments: self.segments.stats(),
            logs: self.logs.stats(),
            meters: self.meters.stats(),
            management: self.management.stats(),
        }
    }

    /// Waits until every item of every lane queued before the call has been sent or has
    /// failed, at most until `deadline`; whether that happened with none failing meanwhile.
    pub(crate) fn flush(&self, deadline: Option<Instant>) -> bool {
        // Each lane is waited for even when one before it failed, so that a flush that returns
        // `false` still gave every lane its time.
        let segments = self.segments.flush(deadline);
        let logs = self.logs.flush(deadline);
        let meters = self.meters.flush(deadline);
        let management = self.management.flush(deadline);
        segments && logs && meters && management
    }

    /// Whether any lane has an item waiting.
    #[cfg(feature = "kafka")]
    pub(crate) fn any_queued(&self) -> bool {
        self.segments.has_queued()
            || self.logs.has_queued()
            || self.meters.has_queued()
            || self.management.has_queued()
    }

    /// Returns once some lane has an item waiting (see [`Lane::wait_for_items`]).
    #[cfg(feature = "kafka")]
    pub(crate) async fn wait_for_any(&self, last_taken: Option<Instant>) {
        let doorbells = [
            &self.segments.doorbell,
            &self.logs.doorbell,
            &self.meters.doorbell,
            &self.management.doorbell,
        ];
        Pace::SENDER
            .until(doorbells, || self.any_queued(), last_taken)
            .await;
    }
}

/// The memory a meter report holds, about: what its series take encoded, and their records.
#[allow(clippy::ptr_arg)] // the lane weighs its item type, `Vec<MeterData>`
fn meter_report_weight(report: &Vec<MeterData>) -> usize {
    let series: usize = report
        .iter()
        .map(|meter| std::mem::size_of::<MeterData>() + meter.encoded_len())
        .sum();
    std::mem::size_of::<Vec<MeterData>>() + series
}

/// The methods of [`Reporter`](super::Reporter) (`reporter`) or of
/// [`Transport`](super::Transport) (`transport`) that only hand an item to its lane, for a
/// transport whose `self.shared` has `lanes: Lanes` and `log_level`.
macro_rules! lane_methods {
    (reporter) => {
        fn report(&self, segment: $crate::reporter::FinishedSegment) {
            self.shared.lanes.segments.offer(segment);
        }

        /// Waits until every segment, log record, meter report and management message
        /// reported before the call has been sent or has failed, at most `timeout`; returns
        /// whether that happened in time with none failing meanwhile (those that had failed
        /// before the call are counted in [`ReporterStats::failed`]).
        ///
        /// [`ReporterStats::failed`]: crate::reporter::ReporterStats::failed
        fn flush(&self, timeout: ::std::time::Duration) -> bool {
            self.shared
                .lanes
                .flush(::std::time::Instant::now().checked_add(timeout))
        }
    };
    (transport) => {
        /// Queues the record; an empty `service` or `service_instance` is filled in with this
        /// reporter's when it is sent.
        fn report_log(&self, log: ::rust2sky_proto::v3::LogData) {
            self.shared.lanes.logs.offer(log);
        }

        /// Queues the report, read at one instant.
        fn report_meters(&self, meters: Vec<::rust2sky_proto::v3::MeterData>) {
            self.shared.lanes.meters.offer(meters);
        }

        /// Queues the message; it goes out besides the reporter's own heartbeats.
        fn report_management(&self, message: $crate::reporter::Management) {
            self.shared.lanes.management.offer(message);
        }

        /// [`Config::log_reporter_level`](crate::config::Config::log_reporter_level).
        fn log_level(&self) -> ::log::LevelFilter {
            self.shared.log_level
        }

        fn transport_stats(&self) -> $crate::reporter::TransportStats {
            self.shared.lanes.stats()
        }
    };
}

pub(crate) use lane_methods;

#[cfg(test)]
mod tests {
    use rust2sky_proto::v3::MeterData;

    use super::Lanes;
    use crate::config::Config;

    #[test]
    fn meter_reports_wait_within_a_quarter_of_the_queues_bytes() {
        let config = Config::builder()
            .max_send_queue_bytes(4 * 40_000)
            .build_with_env(|_| None)
            .unwrap();
        let lanes = Lanes::new(&config);
        // A report of one series with a 10,000-byte service name: about 10 kB each.
        let report = || {
            vec![MeterData {
                service: "s".repeat(10_000),
                ..MeterData::default()
            }]
        };
        for _ in 0..10 {
            lanes.meters.offer(report());
        }
        let stats = lanes.meters.stats();
        assert_eq!(
            (stats.produced, stats.queued, stats.dropped_full),
            (10, 3, 7),
            "{stats:?}"
        );
        assert!(stats.queued_bytes <= 40_000, "{stats:?}");
        assert!(stats.queued_bytes >= 30_000, "{stats:?}");
    }
}
