//! The Kafka reporter: segments, log records, meters and the instance's properties and
//! keepAlive to the topics the OAP's kafka-fetcher reads, through `rskafka` (pure Rust, no
//! librdkafka).
//!
//! [`KafkaReporter`] owns one background thread named `rust2sky-kafka` that runs its own small
//! current-thread tokio runtime, as the gRPC reporter does: [`Reporter::report`] and the
//! [`Transport`] methods only put the item into a bounded, counted queue of its kind, so nothing
//! but that hand-off happens on the request path.

mod partition;
mod security;
mod worker;

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::lanes::{Lanes, lane_methods};
use super::{GrpcError, GrpcReporter, Reporter, ReporterStats, Transport};
use crate::config::{Config, DynamicConfig, LiveSettings};

/// Reports to Kafka, for a SkyWalking OAP that reads with its kafka-fetcher: what the
/// [`GrpcReporter`](super::GrpcReporter) sends over gRPC, on the topics and with the record keys
/// of the Java agent's Kafka reporter.
///
/// | What | Topic ([`Config`] setting) | Record key | Record value |
/// |---|---|---|---|
/// | segments | `skywalking-segments` ([`Config::kafka_topic_segment`]) | segment id | `SegmentObject` |
/// | instance properties | `skywalking-managements` ([`Config::kafka_topic_management`]) | `register-<instance>` | `InstanceProperties` |
/// | keepAlive | `skywalking-managements` | `<instance>` | `InstancePingPkg` |
/// | meter reports | `skywalking-meters` ([`Config::kafka_topic_meter`]) | `<instance>` | `MeterDataCollection` |
/// | log records | `skywalking-logs` ([`Config::kafka_topic_log`]) | service | `LogData` |
///
/// - With [`Config::kafka_namespace`] set, every topic is `<namespace>-<topic>`, as the OAP's
///   kafka-fetcher with the same `namespace` reads them.
/// - A record goes to the partition the Java producer picks for its key (murmur2 of the key,
///   modulo the topic's partitions), so the records of one key stay in order on one partition.
/// - The topics must exist (the OAP's kafka-fetcher creates them); while one does not, what
///   waits for it stays queued and the reporter looks again with backoff.
/// - The instance properties go out when a connection is made; then a keepAlive every
///   [`Config::heartbeat_period`], and the properties again every
///   [`Config::properties_report_period_factor`] heartbeats, as the gRPC reporter sends them. The
///   meters, the process figures and the agent's counts go out every
///   [`Config::meter_report_interval`].
/// - Nothing blocks the caller: each kind waits in its own queue, segments and logs bounded by
///   [`Config::max_send_queue_size`] and [`Config::max_send_queue_bytes`]; what does not fit is
///   dropped and counted ([`Transport::transport_stats`]).
/// - While no broker answers, what is queued waits and the reporter retries, doubling the wait
///   from 1 s up to 30 s with ±20 % jitter; what a failed request carried counts as failed, and
///   is not sent again. Failures are logged (target `rust2sky`) at most once per kind every 30
///   seconds.
/// - With [`Config::kafka_security_protocol`] `SSL` or `SASL_SSL` (feature `tls`, on by
///   default) every connection to the brokers is TLS, their certificates checked against
///   [`Config::kafka_ssl_ca_file`] or the system's trusted roots, with
///   [`Config::kafka_ssl_cert_file`] and [`Config::kafka_ssl_key_file`] for brokers that ask for
///   a client certificate. A broker whose certificate does not check is refused as one that does
///   not answer: what is reported waits, bounded, and the reporter tries again with backoff.
/// - With [`Config::kafka_security_protocol`] `SASL_PLAINTEXT` or `SASL_SSL` (TLS as `SSL`),
///   every connection authenticates as [`Config::kafka_sasl_username`] with
///   [`Config::kafka_sasl_mechanism`] (`SCRAM-SHA-256` or `SCRAM-SHA-512`). Brokers that refuse
///   the credentials are treated as brokers that do not answer, as above, and the refusal is
///   logged.
/// - Requests carry at most [`Config::kafka_max_request_size`] bytes of records and may take
///   [`Config::kafka_request_timeout`]; batches are compressed as
///   [`Config::kafka_compression_type`] says (not at all by default, as the Java agent's).
/// - The dynamic configuration comes over gRPC, as the Java agent's does beside its Kafka
///   reporter: every [`Config::config_discovery_interval`] a second background thread fetches
///   it from [`Config::backends`] (with the gRPC reporter's TLS, authentication and backoff), and
///   sends nothing else there; [`Transport::dynamic_config`] is the last one received, applied
///   to the tracers that report here. With the interval at 0 no gRPC connection is made.
///
/// Cloning gives another handle to the same reporter. The background thread stops when the last
/// handle is dropped; what is still queued then is counted as failed. Flush first (the guard of
/// [`crate::init`] does).
///
/// ```no_run
/// use rust2sky::{config::Config, reporter::KafkaReporter};
///
/// let config = Config::builder().kafka_bootstrap_servers(["kafka-1:9092"]).build()?;
/// let reporter = KafkaReporter::start(&config)?;
/// let _guard = rust2sky::init(config, reporter.clone())?; // flushes for up to 5 s when dropped
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct KafkaReporter {
    shared: Arc<Shared>,
    /// Stops the background thread when the last handle goes.
    _owner: Arc<Owner>,
    /// Fetches the dynamic configuration over gRPC, and nothing else.
    commands: Option<GrpcReporter>,
}

/// What the caller threads and the background thread share.
struct Shared {
    lanes: Lanes,
    /// Ends the background thread.
    shutdown: tokio::sync::Notify,
    connected: AtomicBool,
    /// The least level of the log records the log bridges send here.
    log_level: log::LevelFilter,
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

/// Why a [`KafkaReporter`] could not start.
///
/// ```
/// use rust2sky::{config::Config, reporter::{KafkaError, KafkaReporter}};
///
/// let err = KafkaReporter::start(&Config::default()).unwrap_err();
/// assert!(matches!(err, KafkaError::NoBootstrapServers));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KafkaError {
    /// [`Config::kafka_bootstrap_servers`] is empty.
    #[error("no Kafka bootstrap servers are set (SW_KAFKA_BOOTSTRAP_SERVERS)")]
    NoBootstrapServers,
    /// The background thread could not be started.
    #[error("cannot start the Kafka reporter's thread: {0}")]
    Thread(std::io::Error),
    /// The gRPC client that fetches the dynamic configuration could not start: its settings
    /// cannot work (a TLS file that cannot be read, an invalid backend address...).
    #[error("cannot start fetching the dynamic configuration over gRPC: {0}")]
    Commands(GrpcError),
    /// A Kafka TLS file ([`Config::kafka_ssl_ca_file`], [`Config::kafka_ssl_cert_file`],
    /// [`Config::kafka_ssl_key_file`]) cannot be read.
    #[error("cannot read the Kafka TLS {what} file {path:?}: {source}")]
    TlsFile {
        /// Which file: `trusted CA`, `client certificate chain` or `client key`.
        what: &'static str,
        /// Its path.
        path: std::path::PathBuf,
        /// Why it cannot be read.
        source: std::io::Error,
    },
    /// A Kafka TLS file or setting cannot be used (not PEM, no certificate in it...).
    #[error("invalid Kafka TLS configuration: {0}")]
    Tls(String),
    /// [`Config::kafka_security_protocol`] is `SSL` or `SASL_SSL`, but rust2sky was built
    /// without its `tls` feature.
    #[error("SW_KAFKA_SECURITY_PROTOCOL uses TLS but rust2sky was built without its `tls` feature")]
    TlsUnavailable,
}

impl KafkaReporter {
    /// The most records in one produce request.
    ///
    /// ```
    /// assert_eq!(rust2sky::reporter::KafkaReporter::BATCH_SIZE, 500);
    /// ```
    pub const BATCH_SIZE: usize = 500;

    /// Starts a reporter for these settings. It returns at once: connecting happens in the
    /// background, and what is reported before a broker answers waits in the queues.
    ///
    /// ```no_run
    /// use rust2sky::{config::Config, reporter::KafkaReporter};
    ///
    /// let config = Config::builder().kafka_bootstrap_servers(["127.0.0.1:9092"]).build()?;
    /// let _guard = rust2sky::init(config.clone(), KafkaReporter::start(&config)?)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn start(config: &Config) -> Result<KafkaReporter, KafkaError> {
        let security = security::Security::new(config)?;
        let settings =
            worker::Settings::new(config, security).ok_or(KafkaError::NoBootstrapServers)?;
        let commands = match config.config_discovery_interval() {
            Some(_) => Some(
                GrpcReporter::builder(config)
                    .commands_only()
                    .start()
                    .map_err(KafkaError::Commands)?,
            ),
            None => None,
        };
        crate::meter::set_max_series(config.meter_max_series());
        let shared = Arc::new(Shared {
            lanes: Lanes::new(config),
            shutdown: tokio::sync::Notify::new(),
            connected: AtomicBool::new(false),
            log_level: config.log_reporter_level(),
        });
        worker::spawn(Arc::clone(&shared), settings).map_err(KafkaError::Thread)?;
        Ok(KafkaReporter {
            _owner: Arc::new(Owner {
                shared: Arc::clone(&shared),
            }),
            shared,
            commands,
        })
    }

    /// The segment counters, read at one instant so that
    /// `produced == sent + dropped_full + failed + queued` always holds; those of the other
    /// kinds are in [`Transport::transport_stats`].
    ///
    /// ```no_run
    /// # use rust2sky::{config::Config, reporter::KafkaReporter};
    /// let config = Config::builder().kafka_bootstrap_servers(["127.0.0.1:9092"]).build()?;
    /// let stats = KafkaReporter::start(&config)?.stats();
    /// assert_eq!(stats.produced, stats.sent + stats.dropped_full + stats.failed + stats.queued);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn stats(&self) -> ReporterStats {
        self.shared.lanes.segments.stats()
    }

    /// Whether the reporter is connected: the brokers answered, and no request failed since.
    ///
    /// ```no_run
    /// # use rust2sky::{config::Config, reporter::KafkaReporter};
    /// let config = Config::builder().kafka_bootstrap_servers(["127.0.0.1:9092"]).build()?;
    /// if !KafkaReporter::start(&config)?.is_connected() {
    ///     eprintln!("no Kafka broker yet; what is reported waits in the queues");
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_connected(&self) -> bool {
        self.shared.connected.load(Ordering::Relaxed)
    }
}

impl Reporter for KafkaReporter {
    lane_methods!(reporter);

    /// The dynamic configuration fetched over gRPC applies to the tracer's settings.
    fn attach(&self, settings: &LiveSettings) {
        if let Some(commands) = &self.commands {
            commands.attach(settings);
        }
    }
}

/// Log records, meter reports and management messages wait in queues of their own, each
/// bounded and counted, and go to their own topics.
///
/// ```no_run
/// use rust2sky::proto::v3::{LogData, LogDataBody, TextLog, log_data_body::Content};
/// use rust2sky::reporter::{KafkaReporter, Transport};
/// # use rust2sky::config::Config;
/// let config = Config::builder().kafka_bootstrap_servers(["127.0.0.1:9092"]).build()?;
/// let reporter = KafkaReporter::start(&config)?;
/// reporter.report_log(LogData {
///     body: Some(LogDataBody {
///         content: Some(Content::Text(TextLog { text: "cache warmed".to_owned() })),
///         ..LogDataBody::default()
///     }),
///     ..LogData::default()
/// });
/// assert_eq!(reporter.transport_stats().logs.produced, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
impl Transport for KafkaReporter {
    lane_methods!(transport);

    /// The last dynamic configuration fetched over gRPC, if any.
    fn dynamic_config(&self) -> Option<DynamicConfig> {
        self.commands.as_ref()?.dynamic_config()
    }
}

impl fmt::Debug for KafkaReporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KafkaReporter")
            .field("stats", &self.stats())
            .field("connected", &self.is_connected())
            .finish_non_exhaustive()
    }
}
