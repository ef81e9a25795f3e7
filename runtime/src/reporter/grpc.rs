//! The gRPC reporter: segments, heartbeats and dynamic configuration to a SkyWalking OAP.
//!
//! [`GrpcReporter`] owns one background thread named `rust2sky-grpc` that runs its own small
//! current-thread tokio runtime. [`Reporter::report`] only puts the segment into a bounded queue
//! (or drops and counts it when the queue is full), so it never waits on the network and works the
//! same from plain threads, from inside any tokio runtime, or with no runtime at all.
//! [`Reporter::flush`] waits on a condition variable, never on a future.

mod handover;
mod setup;
mod worker;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use parking_lot::Mutex;

use super::lanes::{Lanes, lane_methods};
use super::{Reporter, ReporterStats, Transport, TransportStats};
use crate::config::{Config, DynamicConfig, LiveSettings, WeakLiveSettings};

/// Reports finished segments to a SkyWalking OAP over gRPC, and keeps the instance alive there.
///
/// - Segments go over `TraceSegmentReportService/collect` client streams, as the Java agent
///   sends them. A stream takes segments off the queue as it sends them, and half-closes after
///   at most [`GrpcReporterBuilder::batch_size`] of them or half the call's deadline, whichever
///   comes first; the size adapts to how fast the collector answers (starting small, doubling),
///   so that a slow collector gets streams it can finish in time. What a stream handed over
///   counts as sent when the collector answers it, and as failed if it fails.
/// - Only a transport error (unavailable, deadline exceeded...) makes the reporter reconnect. A
///   service the collector does not serve (`Unimplemented`, as an OAP without the log receiver
///   answers) is logged, and what waits for it is counted failed until the next connection.
/// - The queue is bounded in bytes too ([`Config::max_send_queue_bytes`]).
/// - [`report`](Reporter::report) never blocks: the segment goes into a queue of
///   [`Config::max_send_queue_size`] segments; when it is full the segment is dropped and counted
///   ([`ReporterStats::dropped_full`] and [`crate::diagnostics::Counters::segments_dropped`]).
/// - When a connection is made, the instance properties are reported
///   (`ManagementService/reportInstanceProperties`); then a `keepAlive` goes out every
///   [`Config::heartbeat_period`], and the properties again every
///   [`Config::properties_report_period_factor`] heartbeats.
/// - Every [`Config::config_discovery_interval`] the dynamic configuration is fetched
///   (`ConfigurationDiscoveryService/fetchConfigurations`); the last one received is
///   [`GrpcReporter::dynamic_config`].
/// - When a collector fails, the next address of [`Config::backends`] is tried; when all have
///   failed, the reporter waits, doubling the wait from [`GrpcReporterBuilder::backoff`]'s first
///   value up to its cap (30 s by default), with ±20 % jitter. Failures are logged (target
///   `rust2sky`) at most once per kind every 30 seconds, with counts.
/// - [`Config::authentication`] goes in the `authentication` metadata of every call; TLS (with the
///   `tls` feature, on by default) follows [`Config::ssl_trusted_ca_path`],
///   [`Config::force_tls`] and, for mutual TLS, [`Config::ssl_key_path`] and
///   [`Config::ssl_cert_chain_path`].
///
/// Cloning gives another handle to the same reporter: give one to the tracer and keep one for
/// [`GrpcReporter::stats`]. The background thread stops when the last handle is dropped; segments
/// still queued then are counted as failed. Flush first (the guard of [`crate::init`] does).
///
/// ```no_run
/// use rust2sky::{config::Config, reporter::GrpcReporter};
///
/// let config = Config::from_env()?;
/// let reporter = GrpcReporter::start(&config)?;
/// let _guard = rust2sky::init(config, reporter.clone())?; // flushes for up to 5 s when dropped
/// // ... the application runs ...
/// println!("{:?}", reporter.stats());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct GrpcReporter {
    shared: Arc<Shared>,
    /// Stops the background thread when the last handle goes.
    _owner: Arc<Owner>,
}

/// What the caller threads and the background thread share.
struct Shared {
    lanes: Lanes,
    /// Ends the background thread.
    shutdown: tokio::sync::Notify,
    connected: AtomicBool,
    dynamic_config: Mutex<Option<DynamicConfig>>,
    /// The settings of the tracers that report here, which the dynamic configuration changes;
    /// weak, so that tracers made and dropped over and over do not pile up here.
    attached: Mutex<Vec<WeakLiveSettings>>,
    /// The least level of the log records the log bridges send here.
    log_level: log::LevelFilter,
}

impl Shared {
    fn new(config: &Config) -> Self {
        Shared {
            lanes: Lanes::new(config),
            shutdown: tokio::sync::Notify::new(),
            connected: AtomicBool::new(false),
            dynamic_config: Mutex::new(None),
            attached: Mutex::new(Vec::new()),
            log_level: config.log_reporter_level(),
        }
    }

    /// Keeps `config` as the last dynamic configuration, and applies it to every tracer that
    /// reports here.
    fn set_dynamic_config(&self, config: DynamicConfig) {
        // The configuration lock is held while applying, so that a tracer attaching meanwhile
        // gets either this configuration or the next, never a stale one.
        let mut current = self.dynamic_config.lock();
        for settings in self
            .attached
            .lock()
            .iter()
            .filter_map(WeakLiveSettings::upgrade)
        {
            config.apply_to(&settings);
        }
        *current = Some(config);
    }

    /// Counts everything still queued or in flight as failed: the background thread is gone.
    fn abandon_rest(&self) {
        self.lanes.abandon_rest();
    }

    fn stats(&self) -> TransportStats {
        self.lanes.stats()
    }
}

/// Ends the background thread when dropped.
struct Owner {
    shared: Arc<Shared>,
}

impl Drop for Owner {
    fn drop(&mut self) {
        self.shared.shutdown.notify_one();
    }
}

impl GrpcReporter {
    /// The default number of segments sent in one `collect` stream.
    ///
    /// ```
    /// use rust2sky::{config::Config, reporter::GrpcReporter};
    ///
    /// // Smaller streams, for a collector behind a proxy with a small message limit.
    /// let builder = GrpcReporter::builder(&Config::default())
    ///     .batch_size(GrpcReporter::DEFAULT_BATCH_SIZE / 4);
    /// ```
    pub const DEFAULT_BATCH_SIZE: usize = 1_000;
    /// The default first wait after every collector failed once.
    ///
    /// ```
    /// use std::time::Duration;
    /// use rust2sky::{config::Config, reporter::GrpcReporter};
    ///
    /// // The default first wait, but never more than 10 s between attempts.
    /// let builder = GrpcReporter::builder(&Config::default())
    ///     .backoff(GrpcReporter::DEFAULT_INITIAL_BACKOFF, Duration::from_secs(10));
    /// ```
    pub const DEFAULT_INITIAL_BACKOFF: Duration = Duration::from_secs(1);
    /// The default longest wait between two connection attempts.
    ///
    /// ```
    /// use std::time::Duration;
    /// use rust2sky::{config::Config, reporter::GrpcReporter};
    ///
    /// // Retry sooner at first, up to the default longest wait.
    /// let builder = GrpcReporter::builder(&Config::default())
    ///     .backoff(Duration::from_millis(200), GrpcReporter::DEFAULT_MAX_BACKOFF);
    /// ```
    pub const DEFAULT_MAX_BACKOFF: Duration = Duration::from_secs(30);
    /// The default deadline of each call (the Java agent's).
    ///
    /// ```
    /// use rust2sky::{config::Config, reporter::GrpcReporter};
    ///
    /// // Twice the default deadline, for a collector at the far end of a slow link.
    /// let builder = GrpcReporter::builder(&Config::default())
    ///     .rpc_timeout(2 * GrpcReporter::DEFAULT_RPC_TIMEOUT);
    /// ```
    pub const DEFAULT_RPC_TIMEOUT: Duration = Duration::from_secs(30);
    /// The longest wait [`GrpcReporterBuilder::backoff`] takes: an hour between two attempts
    /// already means giving up.
    ///
    /// ```
    /// use std::time::Duration;
    /// use rust2sky::{config::Config, reporter::GrpcReporter};
    ///
    /// // "Never wait long" and "wait as long as allowed" alike are within the bound.
    /// let builder = GrpcReporter::builder(&Config::default())
    ///     .backoff(Duration::from_secs(1), GrpcReporter::MAX_BACKOFF);
    /// ```
    pub const MAX_BACKOFF: Duration = Duration::from_secs(60 * 60);
    /// The longest deadline [`GrpcReporterBuilder::rpc_timeout`] takes. gRPC deadlines travel as
    /// a header of at most eight digits, and an hour is longer than any call should take.
    ///
    /// ```
    /// use std::time::Duration;
    /// use rust2sky::{config::Config, reporter::GrpcReporter};
    ///
    /// // Taken as MAX_RPC_TIMEOUT.
    /// let builder = GrpcReporter::builder(&Config::default()).rpc_timeout(Duration::MAX);
    /// ```
    pub const MAX_RPC_TIMEOUT: Duration = Duration::from_secs(60 * 60);

    /// Starts a reporter with these settings and the defaults of [`GrpcReporterBuilder`].
    ///
    /// It returns at once: connecting happens in the background, and segments reported before the
    /// collector answers wait in the queue. An error means the settings cannot work (a TLS file
    /// that cannot be read, a backend address that is not a valid URI authority, an
    /// authentication token that cannot be sent as metadata).
    ///
    /// ```no_run
    /// use rust2sky::{config::Config, reporter::GrpcReporter};
    ///
    /// let config = Config::builder().backends(["oap.internal:11800"]).build()?;
    /// let _guard = rust2sky::init(config.clone(), GrpcReporter::start(&config)?)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn start(config: &Config) -> Result<GrpcReporter, GrpcError> {
        Self::builder(config).start()
    }

    /// A builder, for the settings that are not in [`Config`].
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use rust2sky::{config::Config, reporter::GrpcReporter};
    ///
    /// let reporter = GrpcReporter::builder(&Config::default())
    ///     .property("team", "payments")
    ///     .backoff(Duration::from_millis(500), Duration::from_secs(10))
    ///     .start()?;
    /// # Ok::<(), rust2sky::reporter::GrpcError>(())
    /// ```
    pub fn builder(config: &Config) -> GrpcReporterBuilder {
        GrpcReporterBuilder {
            config: config.clone(),
            properties: Vec::new(),
            batch_size: Self::DEFAULT_BATCH_SIZE,
            initial_backoff: Self::DEFAULT_INITIAL_BACKOFF,
            max_backoff: Self::DEFAULT_MAX_BACKOFF,
            rpc_timeout: Self::DEFAULT_RPC_TIMEOUT,
            commands_only: false,
        }
    }

    /// The segment counters, read at one instant so that
    /// `produced == sent + dropped_full + failed + queued` always holds.
    /// [`ReporterStats::stopped`] says whether the background thread has ended (it never should
    /// while a handle exists); [`flush`](Reporter::flush) then returns `false` at once.
    ///
    /// ```no_run
    /// # use rust2sky::{config::Config, reporter::GrpcReporter};
    /// let reporter = GrpcReporter::start(&Config::default())?;
    /// let stats = reporter.stats();
    /// assert_eq!(stats.produced, stats.sent + stats.dropped_full + stats.failed + stats.queued);
    /// # Ok::<(), rust2sky::reporter::GrpcError>(())
    /// ```
    pub fn stats(&self) -> ReporterStats {
        self.shared.lanes.segments.stats()
    }

    /// Whether a collector answered the last call made to it: the reporter is sending rather than
    /// waiting to reconnect.
    ///
    /// ```no_run
    /// # use rust2sky::{config::Config, reporter::GrpcReporter};
    /// let reporter = GrpcReporter::start(&Config::default())?;
    /// if !reporter.is_connected() {
    ///     eprintln!("no SkyWalking collector yet; segments wait in the queue");
    /// }
    /// # Ok::<(), rust2sky::reporter::GrpcError>(())
    /// ```
    pub fn is_connected(&self) -> bool {
        self.shared.connected.load(Ordering::Relaxed)
    }

    /// A handle that reads this reporter's counters without keeping it running: the counts
    /// stay readable after the last [`GrpcReporter`] is dropped, for a shutdown report.
    ///
    /// ```
    /// # use rust2sky::{config::Config, reporter::GrpcReporter};
    /// let config = Config::builder().backends(["127.0.0.1:1"]).build()?;
    /// let reporter = GrpcReporter::start(&config)?;
    /// let counts = reporter.counts();
    /// drop(reporter);
    /// let stats = counts.stats();
    /// assert_eq!(stats.produced, stats.sent + stats.dropped_full + stats.failed + stats.queued);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn counts(&self) -> GrpcReporterCounts {
        GrpcReporterCounts {
            shared: Arc::clone(&self.shared),
        }
    }
}

/// Reads the counters of a [`GrpcReporter`] without keeping it running; from
/// [`GrpcReporter::counts`].
///
/// ```
/// # use rust2sky::{config::Config, reporter::GrpcReporter};
/// let config = Config::builder().backends(["127.0.0.1:1"]).build()?;
/// let counts = GrpcReporter::start(&config)?.counts(); // the reporter is dropped at once
/// std::thread::sleep(std::time::Duration::from_millis(200));
/// assert!(counts.stats().stopped);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct GrpcReporterCounts {
    shared: Arc<Shared>,
}

impl GrpcReporterCounts {
    /// The segment counters, as [`GrpcReporter::stats`].
    ///
    /// ```
    /// # use rust2sky::{config::Config, reporter::GrpcReporter};
    /// let reporter = GrpcReporter::start(&Config::builder().backends(["127.0.0.1:1"]).build()?)?;
    /// assert_eq!(reporter.counts().stats(), reporter.stats());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn stats(&self) -> ReporterStats {
        self.shared.lanes.segments.stats()
    }

    /// The counters of every kind, as [`Transport::transport_stats`].
    ///
    /// ```
    /// # use rust2sky::{config::Config, reporter::{GrpcReporter, Transport as _}};
    /// let reporter = GrpcReporter::start(&Config::builder().backends(["127.0.0.1:1"]).build()?)?;
    /// assert_eq!(reporter.counts().transport_stats(), reporter.transport_stats());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn transport_stats(&self) -> TransportStats {
        self.shared.stats()
    }
}

impl fmt::Debug for GrpcReporterCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("GrpcReporterCounts")
            .field(&self.stats())
            .finish()
    }
}

impl Reporter for GrpcReporter {
    lane_methods!(reporter);

    fn attach(&self, settings: &LiveSettings) {
        let current = self.shared.dynamic_config.lock();
        if let Some(config) = &*current {
            config.apply_to(settings);
        }
        let mut attached = self.shared.attached.lock();
        attached.retain(|attached| !attached.is_gone());
        attached.push(settings.downgrade());
    }
}

/// Logs, meter reports and management messages wait in queues of their own, each bounded and
/// counted ([`GrpcReporter::transport_stats`](Transport::transport_stats)), and go out on the
/// reporter's connection: logs over `LogReportService/collect`, meters over
/// `MeterReportService/collect`, management messages over `ManagementService`.
///
/// ```no_run
/// use rust2sky::proto::v3::{LogData, LogDataBody, TextLog, log_data_body::Content};
/// use rust2sky::reporter::{GrpcReporter, Transport};
/// # use rust2sky::config::Config;
/// let reporter = GrpcReporter::start(&Config::default())?;
/// reporter.report_log(LogData {
///     body: Some(LogDataBody {
///         content: Some(Content::Text(TextLog { text: "cache warmed".to_owned() })),
///         ..LogDataBody::default()
///     }),
///     ..LogData::default()
/// });
/// assert_eq!(reporter.transport_stats().logs.produced, 1);
/// # Ok::<(), rust2sky::reporter::GrpcError>(())
/// ```
impl Transport for GrpcReporter {
    lane_methods!(transport);

    /// The last dynamic configuration the collector sent (`fetchConfigurations`), if any.
    ///
    /// Its [`DynamicConfig::APPLIED_KEYS`] apply at once to every tracer that reports here,
    /// through its [`LiveSettings`]; when a later configuration leaves a key out (or empty), the
    /// configured value applies again. Other keys are kept here and logged.
    ///
    /// ```no_run
    /// # use rust2sky::{config::Config, reporter::{GrpcReporter, Transport}};
    /// let reporter = GrpcReporter::start(&Config::default())?;
    /// if let Some(rate) = reporter.dynamic_config().and_then(|config| config.sample_rate()) {
    ///     println!("OAP asks for a sample rate of {rate}");
    /// }
    /// # Ok::<(), rust2sky::reporter::GrpcError>(())
    /// ```
    fn dynamic_config(&self) -> Option<DynamicConfig> {
        self.shared.dynamic_config.lock().clone()
    }
}

impl fmt::Debug for GrpcReporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GrpcReporter")
            .field("stats", &self.stats())
            .field("connected", &self.is_connected())
            .finish_non_exhaustive()
    }
}

/// Why a [`GrpcReporter`] could not start.
///
/// ```
/// use rust2sky::{config::Config, reporter::{GrpcError, GrpcReporter}};
///
/// let config = Config::builder().ssl_trusted_ca_path("/no/such/ca.pem").build()?;
/// let err = GrpcReporter::start(&config).unwrap_err();
/// assert!(err.to_string().contains("/no/such/ca.pem"), "{err}");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GrpcError {
    /// A backend address cannot be made into a URI.
    #[error("invalid collector address {address:?}: {reason}")]
    InvalidBackend {
        /// The address, as in [`Config::backends`].
        address: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The authentication token cannot be sent as gRPC metadata (it has characters outside
    /// visible ASCII).
    #[error("the authentication token cannot be sent as gRPC metadata: it must be visible ASCII")]
    InvalidAuthentication,
    /// A TLS file cannot be read.
    #[error("cannot read the TLS {what} file {path:?}: {source}")]
    TlsFile {
        /// Which file: `trusted CA`, `client key` or `client certificate chain`.
        what: &'static str,
        /// Its path.
        path: PathBuf,
        /// Why it cannot be read.
        source: std::io::Error,
    },
    /// A TLS file or setting cannot be used.
    #[error("invalid TLS configuration: {0}")]
    Tls(String),
    /// TLS is configured but rust2sky was built without its `tls` feature.
    #[error("TLS is configured but rust2sky was built without its `tls` feature")]
    TlsUnavailable,
    /// The background thread could not be started.
    #[error("cannot start the gRPC reporter's thread: {0}")]
    Thread(std::io::Error),
}

/// Settings of a [`GrpcReporter`] that are not in [`Config`]; from [`GrpcReporter::builder`].
///
/// ```no_run
/// use rust2sky::{config::Config, reporter::GrpcReporter};
///
/// let reporter = GrpcReporter::builder(&Config::default()).property("region", "eu-west").start()?;
/// # Ok::<(), rust2sky::reporter::GrpcError>(())
/// ```
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `start` is called"]
pub struct GrpcReporterBuilder {
    config: Config,
    properties: Vec<(String, String)>,
    batch_size: usize,
    initial_backoff: Duration,
    max_backoff: Duration,
    rpc_timeout: Duration,
    commands_only: bool,
}

impl GrpcReporterBuilder {
    /// Makes the reporter fetch the dynamic configuration and nothing else, for a transport
    /// that carries the rest (the Kafka reporter, as the Java agent's fetches it over gRPC
    /// beside its Kafka reporter). Nothing is sent but `fetchConfigurations`.
    #[cfg(feature = "kafka")]
    pub(crate) fn commands_only(mut self) -> Self {
        self.commands_only = true;
        self
    }

    /// Adds an instance property, reported after the built-in ones (`language`, `OS Name`,
    /// `hostname`, `ipv4`, `Process No.`, `agent_version`, `namespace`); OAP keeps the last value
    /// of a key.
    ///
    /// ```
    /// # use rust2sky::{config::Config, reporter::GrpcReporter};
    /// let builder = GrpcReporter::builder(&Config::default()).property("team", "payments");
    /// ```
    pub fn property(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.properties.push((key.into(), value.into()));
        self
    }

    /// How many segments go in one `collect` stream at most (at least 1; default
    /// [`GrpcReporter::DEFAULT_BATCH_SIZE`]); fewer while the collector is slow. If a stream
    /// fails, the segments it had sent are counted as failed.
    ///
    /// ```
    /// # use rust2sky::{config::Config, reporter::GrpcReporter};
    /// let builder = GrpcReporter::builder(&Config::default()).batch_size(200);
    /// ```
    pub fn batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size.max(1);
        self
    }

    /// The wait after every collector failed once (`initial`, at least 1 ms), doubled after each
    /// further round of failures up to `max`; each wait varies by ±20 %. Both are at most
    /// [`GrpcReporter::MAX_BACKOFF`] (longer is taken as that). Defaults:
    /// [`GrpcReporter::DEFAULT_INITIAL_BACKOFF`], [`GrpcReporter::DEFAULT_MAX_BACKOFF`].
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use rust2sky::{config::Config, reporter::GrpcReporter};
    /// let builder = GrpcReporter::builder(&Config::default())
    ///     .backoff(Duration::from_millis(200), Duration::from_secs(10));
    /// ```
    pub fn backoff(mut self, initial: Duration, max: Duration) -> Self {
        let bound =
            |wait: Duration| wait.clamp(Duration::from_millis(1), GrpcReporter::MAX_BACKOFF);
        self.initial_backoff = bound(initial);
        self.max_backoff = bound(max).max(self.initial_backoff);
        self
    }

    /// The deadline of each call, `collect` streams included (default
    /// [`GrpcReporter::DEFAULT_RPC_TIMEOUT`]; at least 1 ms, at most
    /// [`GrpcReporter::MAX_RPC_TIMEOUT`], longer is taken as that).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use rust2sky::{config::Config, reporter::GrpcReporter};
    /// let builder = GrpcReporter::builder(&Config::default()).rpc_timeout(Duration::from_secs(10));
    /// ```
    pub fn rpc_timeout(mut self, timeout: Duration) -> Self {
        self.rpc_timeout = timeout.clamp(Duration::from_millis(1), GrpcReporter::MAX_RPC_TIMEOUT);
        self
    }

    /// Checks the settings, starts the background thread and returns the reporter; see
    /// [`GrpcReporter::start`].
    ///
    /// ```no_run
    /// # use rust2sky::{config::Config, reporter::GrpcReporter};
    /// let reporter = GrpcReporter::builder(&Config::default()).start()?;
    /// # Ok::<(), rust2sky::reporter::GrpcError>(())
    /// ```
    pub fn start(self) -> Result<GrpcReporter, GrpcError> {
        let settings = setup::settings(&self)?;
        crate::meter::set_max_series(self.config.meter_max_series());
        let shared = Arc::new(Shared::new(&self.config));
        worker::spawn(Arc::clone(&shared), settings).map_err(GrpcError::Thread)?;
        Ok(GrpcReporter {
            _owner: Arc::new(Owner {
                shared: Arc::clone(&shared),
            }),
            shared,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::reporter::FinishedSegment;

    fn finished_segments(count: usize) -> Vec<FinishedSegment> {
        let memory = crate::reporter::MemoryReporter::new();
        let tracer = crate::Tracer::new(Config::default(), memory.clone());
        tracer.in_scope(|| {
            for _ in 0..count {
                drop(crate::local_span("work"));
            }
        });
        memory.take_finished()
    }

    #[test]
    fn a_reporter_whose_thread_died_says_so_and_flush_returns_at_once() {
        let shared = Arc::new(Shared::new(&Config::default()));
        let (crash, crashed) = std::sync::mpsc::channel::<()>();
        worker::spawn_guarded(Arc::clone(&shared), move |_, _runtime| {
            let _ = crashed.recv();
            panic!("the reporter's thread fails");
        })
        .unwrap();
        let reporter = GrpcReporter {
            _owner: Arc::new(Owner {
                shared: Arc::clone(&shared),
            }),
            shared,
        };
        let mut made = finished_segments(3).into_iter();
        reporter.report(made.next().unwrap());
        reporter.report(made.next().unwrap());
        assert!(!reporter.stats().stopped);

        crash.send(()).unwrap();
        let started = Instant::now();
        while !reporter.stats().stopped {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "never marked stopped"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        reporter.report(made.next().unwrap());
        let stats = reporter.stats();
        assert_eq!((stats.produced, stats.failed, stats.queued), (3, 3, 0));
        let flushing = Instant::now();
        assert!(!reporter.flush(Duration::from_secs(10)));
        assert!(flushing.elapsed() < Duration::from_secs(1));
        assert!(reporter.transport_stats().logs.stopped);
    }

    #[test]
    fn tracers_made_and_dropped_do_not_pile_up() {
        let config = Config::builder()
            .backends(["127.0.0.1:1"])
            .build_with_env(|_| None)
            .unwrap();
        let reporter = GrpcReporter::start(&config).unwrap();
        let kept = crate::Tracer::new(config.clone(), reporter.clone());
        for _ in 0..1000 {
            drop(crate::Tracer::new(config.clone(), reporter.clone()));
        }
        assert!(reporter.shared.attached.lock().len() <= 2);
        reporter
            .shared
            .set_dynamic_config(DynamicConfig::new("v", [("agent.sample_rate", "0.5")]));
        assert_eq!(kept.live_settings().sample_rate(), Some(0.5));
    }
}
