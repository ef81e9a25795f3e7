//! One call that starts whichever transport the configuration names, so that moving from gRPC
//! to Kafka is a setting (`SW_AGENT_PROTOCOL=kafka`), not a change of code.

use std::time::Duration;

use rust2sky_proto::v3::{LogData, MeterData};

use super::{
    FinishedSegment, GrpcError, GrpcReporter, Management, Reporter, ReporterStats, Transport,
    TransportStats,
};
#[cfg(feature = "kafka")]
use super::{KafkaError, KafkaReporter};
use crate::config::{Config, DynamicConfig, LiveSettings, Protocol};

/// Starts the transport [`Config::protocol`] names: a [`GrpcReporter`] for `grpc` (the
/// default), a `KafkaReporter` for `kafka` (feature `kafka`). It returns at once, as each
/// reporter's `start` does.
///
/// # Errors
///
/// What the chosen reporter's `start` returns, or [`StartError::KafkaUnavailable`] when `kafka`
/// is asked for and rust2sky was built without its `kafka` feature.
///
/// ```no_run
/// use rust2sky::config::Config;
/// use rust2sky::reporter::{self, Transport as _};
///
/// // SW_AGENT_PROTOCOL=kafka and SW_KAFKA_BOOTSTRAP_SERVERS=kafka-1:9092 send to Kafka instead.
/// let config = Config::from_env()?;
/// let transport = reporter::start(&config)?;
/// let _guard = rust2sky::init(config, transport.clone())?;
/// println!("{:?}", transport.transport_stats());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn start(config: &Config) -> Result<StartedTransport, StartError> {
    match config.protocol() {
        Protocol::Grpc => Ok(StartedTransport::Grpc(GrpcReporter::start(config)?)),
        #[cfg(feature = "kafka")]
        Protocol::Kafka => Ok(StartedTransport::Kafka(KafkaReporter::start(config)?)),
        #[cfg(not(feature = "kafka"))]
        Protocol::Kafka => Err(StartError::KafkaUnavailable),
    }
}

/// The transport [`start`] started; a [`Transport`] that hands everything to it.
///
/// ```
/// use rust2sky::config::Config;
/// use rust2sky::reporter::{self, StartedTransport};
///
/// let config = Config::builder().backends(["127.0.0.1:1"]).build_with_env(|_| None)?;
/// assert!(matches!(reporter::start(&config)?, StartedTransport::Grpc(_)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum StartedTransport {
    /// `SW_AGENT_PROTOCOL=grpc`.
    Grpc(GrpcReporter),
    /// `SW_AGENT_PROTOCOL=kafka`.
    #[cfg(feature = "kafka")]
    Kafka(KafkaReporter),
}

impl StartedTransport {
    /// The segment counters of the transport started.
    ///
    /// ```
    /// # use rust2sky::config::Config;
    /// let config = Config::builder().backends(["127.0.0.1:1"]).build_with_env(|_| None)?;
    /// let transport = rust2sky::reporter::start(&config)?;
    /// assert_eq!(transport.stats().produced, 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn stats(&self) -> ReporterStats {
        self.as_transport().transport_stats().segments
    }

    /// Whether the transport started is connected to its collector or brokers.
    ///
    /// ```no_run
    /// # use rust2sky::config::Config;
    /// let transport = rust2sky::reporter::start(&Config::from_env()?)?;
    /// if !transport.is_connected() {
    ///     eprintln!("not connected yet; what is reported waits in the queues");
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_connected(&self) -> bool {
        match self {
            StartedTransport::Grpc(grpc) => grpc.is_connected(),
            #[cfg(feature = "kafka")]
            StartedTransport::Kafka(kafka) => kafka.is_connected(),
        }
    }

    fn as_transport(&self) -> &dyn Transport {
        match self {
            StartedTransport::Grpc(grpc) => grpc,
            #[cfg(feature = "kafka")]
            StartedTransport::Kafka(kafka) => kafka,
        }
    }
}

impl Reporter for StartedTransport {
    fn report(&self, segment: FinishedSegment) {
        self.as_transport().report(segment);
    }

    fn flush(&self, timeout: Duration) -> bool {
        self.as_transport().flush(timeout)
    }

    fn attach(&self, settings: &LiveSettings) {
        self.as_transport().attach(settings);
    }
}

impl Transport for StartedTransport {
    fn report_log(&self, log: LogData) {
        self.as_transport().report_log(log);
    }

    fn report_meters(&self, meters: Vec<MeterData>) {
        self.as_transport().report_meters(meters);
    }

    fn report_management(&self, message: Management) {
        self.as_transport().report_management(message);
    }

    fn log_level(&self) -> log::LevelFilter {
        self.as_transport().log_level()
    }

    fn transport_stats(&self) -> TransportStats {
        self.as_transport().transport_stats()
    }

    fn dynamic_config(&self) -> Option<DynamicConfig> {
        self.as_transport().dynamic_config()
    }
}

/// Why [`start`] could not start the transport.
///
/// ```
/// use rust2sky::config::Config;
/// use rust2sky::reporter::{self, StartError};
///
/// let config = Config::builder()
///     .protocol(rust2sky::config::Protocol::Kafka)
///     .build_with_env(|_| None)?;
/// // No bootstrap servers are set (or, without the `kafka` feature, no Kafka at all).
/// let err = reporter::start(&config).unwrap_err();
/// assert!(matches!(err, StartError::Kafka(_) | StartError::KafkaUnavailable), "{err}");
/// # Ok::<(), rust2sky::config::ConfigError>(())
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The gRPC reporter could not start.
    #[error(transparent)]
    Grpc(#[from] GrpcError),
    /// The Kafka reporter could not start.
    #[cfg(feature = "kafka")]
    #[error(transparent)]
    Kafka(#[from] KafkaError),
    /// `SW_AGENT_PROTOCOL=kafka`, but rust2sky was built without its `kafka` feature.
    #[error("SW_AGENT_PROTOCOL is kafka but rust2sky was built without its `kafka` feature")]
    KafkaUnavailable,
}
