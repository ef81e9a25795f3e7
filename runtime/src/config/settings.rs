//! The table of settings: one row a setting, from which `generate.rs` makes everything the
//! configuration has of it.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use super::generate::settings;
use super::kinds::{Backends, Count, File, Flag, Level, List, Name, Positive, Rate, Secret};
use super::kinds::{
    CompressionName, KafkaSaslMechanismName, KafkaSecurityProtocolName, ProtocolName, Seconds,
    SecondsOrOff, Text,
};

/// The default service name, used when neither the code nor [`env::SERVICE_NAME`] sets one.
///
/// Every real service should set its own name.
///
/// ```
/// assert_eq!(rust2sky::config::DEFAULT_SERVICE_NAME, "rust-service");
/// ```
///
/// [`env::SERVICE_NAME`]: super::env::SERVICE_NAME
pub const DEFAULT_SERVICE_NAME: &str = "rust-service";

/// Which transport carries what the agent reports ([`Config::protocol`](super::Config::protocol));
/// [`reporter::start`](crate::reporter::start) starts it.
///
/// ```
/// use rust2sky::config::{Config, Protocol, env};
///
/// let config = Config::builder()
///     .build_with_env(|name| (name == env::PROTOCOL).then(|| "KAFKA".to_owned()))?;
/// assert_eq!(config.protocol(), Protocol::Kafka);
/// # Ok::<(), rust2sky::config::ConfigError>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Protocol {
    /// gRPC to the OAP's receivers at [`Config::backends`](super::Config::backends).
    #[default]
    Grpc,
    /// Kafka, for the OAP's kafka-fetcher, through the brokers at
    /// [`Config::kafka_bootstrap_servers`](super::Config::kafka_bootstrap_servers); needs the
    /// `kafka` feature.
    Kafka,
}

/// How the Kafka reporter compresses its record batches
/// ([`Config::kafka_compression_type`](super::Config::kafka_compression_type)), by the names of
/// Kafka's own `compression.type`.
///
/// `lz4` and `zstd` are refused with a clear error: rskafka's codecs for them build C libraries,
/// which rust2sky leaves out.
///
/// ```
/// use rust2sky::config::{Config, KafkaCompression, env};
///
/// let config = Config::builder()
///     .build_with_env(|name| (name == env::KAFKA_COMPRESSION_TYPE).then(|| "snappy".to_owned()))?;
/// assert_eq!(config.kafka_compression_type(), KafkaCompression::Snappy);
/// # Ok::<(), rust2sky::config::ConfigError>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KafkaCompression {
    /// `none`: batches go as they are.
    #[default]
    None,
    /// `gzip`: the smallest batches, for the most CPU.
    Gzip,
    /// `snappy`: smaller batches for little CPU.
    Snappy,
}

/// How the Kafka reporter talks to the brokers ([`Config::kafka_security_protocol`]), by the
/// names of Kafka's own `security.protocol`.
///
/// The SASL ones authenticate with [`Config::kafka_sasl_mechanism`], as
/// [`Config::kafka_sasl_username`] with [`Config::kafka_sasl_password`].
///
/// ```
/// use rust2sky::config::{Config, KafkaSecurityProtocol, env};
///
/// let config = Config::builder().build_with_env(|name| match name {
///     env::KAFKA_SECURITY_PROTOCOL => Some("SSL".to_owned()),
///     env::KAFKA_SSL_CA_FILE => Some("/etc/kafka/ca.pem".to_owned()),
///     _ => None,
/// })?;
/// assert_eq!(config.kafka_security_protocol(), KafkaSecurityProtocol::Ssl);
/// assert!(config.kafka_security_protocol().uses_tls());
/// # Ok::<(), rust2sky::config::ConfigError>(())
/// ```
///
/// [`Config::kafka_security_protocol`]: super::Config::kafka_security_protocol
/// [`Config::kafka_sasl_mechanism`]: super::Config::kafka_sasl_mechanism
/// [`Config::kafka_sasl_username`]: super::Config::kafka_sasl_username
/// [`Config::kafka_sasl_password`]: super::Config::kafka_sasl_password
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KafkaSecurityProtocol {
    /// `PLAINTEXT`: no TLS.
    #[default]
    Plaintext,
    /// `SSL`: TLS, the brokers' certificates checked against [`Config::kafka_ssl_ca_file`] or
    /// the system's trusted roots.
    ///
    /// [`Config::kafka_ssl_ca_file`]: super::Config::kafka_ssl_ca_file
    Ssl,
    /// `SASL_PLAINTEXT`: SASL authentication, no TLS.
    SaslPlaintext,
    /// `SASL_SSL`: SASL authentication inside TLS, as [`KafkaSecurityProtocol::Ssl`].
    SaslSsl,
}

impl KafkaSecurityProtocol {
    /// Kafka's name for it, as `security.protocol` takes it.
    ///
    /// ```
    /// use rust2sky::config::KafkaSecurityProtocol;
    ///
    /// assert_eq!(KafkaSecurityProtocol::Ssl.name(), "SSL");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            KafkaSecurityProtocol::Plaintext => "PLAINTEXT",
            KafkaSecurityProtocol::Ssl => "SSL",
            KafkaSecurityProtocol::SaslPlaintext => "SASL_PLAINTEXT",
            KafkaSecurityProtocol::SaslSsl => "SASL_SSL",
        }
    }

    /// Whether the connections to the brokers are TLS.
    ///
    /// ```
    /// use rust2sky::config::KafkaSecurityProtocol;
    ///
    /// assert!(KafkaSecurityProtocol::Ssl.uses_tls());
    /// assert!(KafkaSecurityProtocol::SaslSsl.uses_tls());
    /// assert!(!KafkaSecurityProtocol::Plaintext.uses_tls());
    /// ```
    pub fn uses_tls(self) -> bool {
        matches!(
            self,
            KafkaSecurityProtocol::Ssl | KafkaSecurityProtocol::SaslSsl
        )
    }

    /// Whether every connection to the brokers authenticates with SASL.
    ///
    /// ```
    /// use rust2sky::config::KafkaSecurityProtocol;
    ///
    /// assert!(KafkaSecurityProtocol::SaslPlaintext.uses_sasl());
    /// assert!(KafkaSecurityProtocol::SaslSsl.uses_sasl());
    /// assert!(!KafkaSecurityProtocol::Ssl.uses_sasl());
    /// ```
    pub fn uses_sasl(self) -> bool {
        matches!(
            self,
            KafkaSecurityProtocol::SaslPlaintext | KafkaSecurityProtocol::SaslSsl
        )
    }
}

impl std::fmt::Display for KafkaSecurityProtocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The SASL mechanism of the Kafka reporter ([`Config::kafka_sasl_mechanism`]), by the names of
/// Kafka's own `sasl.mechanism`.
///
/// Only the SCRAM ones are offered: they are the ones the tests run against a real broker.
/// `PLAIN`, `GSSAPI` and `OAUTHBEARER` are refused with a clear error naming these two.
///
/// ```
/// use rust2sky::config::{Config, KafkaSaslMechanism, env};
///
/// let config = Config::builder().build_with_env(|name| match name {
///     env::KAFKA_SECURITY_PROTOCOL => Some("SASL_SSL".to_owned()),
///     env::KAFKA_SASL_MECHANISM => Some("SCRAM-SHA-256".to_owned()),
///     env::KAFKA_SASL_USERNAME => Some("agent".to_owned()),
///     env::KAFKA_SASL_PASSWORD => Some("s3cr3t".to_owned()),
///     _ => None,
/// })?;
/// assert_eq!(config.kafka_sasl_mechanism(), KafkaSaslMechanism::ScramSha256);
/// # Ok::<(), rust2sky::config::ConfigError>(())
/// ```
///
/// [`Config::kafka_sasl_mechanism`]: super::Config::kafka_sasl_mechanism
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KafkaSaslMechanism {
    /// `SCRAM-SHA-256` (RFC 7677).
    ScramSha256,
    /// `SCRAM-SHA-512`, the default, the stronger of the two (Kafka's own default, `GSSAPI`,
    /// is not in rust2sky).
    #[default]
    ScramSha512,
}

impl KafkaSaslMechanism {
    /// Kafka's name for it, as `sasl.mechanism` takes it.
    ///
    /// ```
    /// use rust2sky::config::KafkaSaslMechanism;
    ///
    /// assert_eq!(KafkaSaslMechanism::ScramSha256.name(), "SCRAM-SHA-256");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            KafkaSaslMechanism::ScramSha256 => "SCRAM-SHA-256",
            KafkaSaslMechanism::ScramSha512 => "SCRAM-SHA-512",
        }
    }
}

impl std::fmt::Display for KafkaSaslMechanism {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The default OAP address: a collector on this machine.
///
/// ```
/// assert_eq!(rust2sky::config::DEFAULT_BACKEND, "127.0.0.1:11800");
/// ```
pub const DEFAULT_BACKEND: &str = "127.0.0.1:11800";

/// The default ignored suffixes, the Java agent's list.
///
/// ```
/// assert!(rust2sky::config::DEFAULT_IGNORE_SUFFIXES.contains(&".css"));
/// ```
pub const DEFAULT_IGNORE_SUFFIXES: &[&str] = &[
    ".jpg", ".jpeg", ".js", ".css", ".png", ".bmp", ".gif", ".ico", ".mp3", ".mp4", ".html", ".svg",
];

/// The default instance name, `<uuid-v4-hex>@<hostname>`, made once per process; the uuid is the
/// one that starts this process's ids, so an id names the instance that made it.
fn default_instance_name() -> &'static str {
    static NAME: OnceLock<String> = OnceLock::new();
    NAME.get_or_init(|| {
        let host = gethostname::gethostname();
        let host = host.to_string_lossy();
        let host = host.trim();
        let host = if host.is_empty() { "localhost" } else { host };
        format!("{}@{host}", crate::id::process_uuid())
    })
}

// To add a setting, add one row here and a test of it in `tests.rs`, then its line in the
// README's configuration table (`tests/it/readme.rs` fails until the two agree):
//
// - `field(arg: Type)`: the getter and setter are named `field`; `Type` is what `Config` stores,
//   and `generate.rs` derives the getter's and the setter's signatures from it.
// - `env`: the constant in `env` and the variable's name.
// - `kind`: how the variable is parsed and a code value checked, from `kinds.rs` (a new kind is
//   a `Kind` impl there; a stored type the API has no form for yet is an arm of `getter!` and
//   `setter!` in `generate.rs`).
// - `default`: the value, then `shown as` the text the table of variables and the README show
//   (`tests.rs` checks that the variable set to that text gives the value).
// - `meaning`: one sentence, the README's; it starts the docs of the constant, getter and setter.
// - `example`: a code value, a variable's value, and what the getter returns for either; it
//   becomes the doctests. Each `with` names a setting the example needs too.
// - `///` lines: what else the docs should say (the Java agent's name, limits).
//
// The order of the rows is that of `env::variables()` and of the README.
settings! {
    /// `agent.service_name` in the Java agent. A blank name set in code is refused.
    service_name(name: String) {
        env: SERVICE_NAME = "SW_AGENT_NAME",
        kind: Name,
        default: DEFAULT_SERVICE_NAME.to_owned(), shown as "rust-service",
        meaning: "Service name shown in the UI",
        example: "checkout", env "checkout" => "checkout",
    }

    /// `agent.instance_name`. The default is `<uuid-hex>@<hostname>`, with the UUID that starts
    /// this process's ids, so every default `Config` of a process agrees. A blank name set in
    /// code is refused.
    instance_name(name: String) {
        env: INSTANCE_NAME = "SW_AGENT_INSTANCE_NAME",
        kind: Name,
        default: default_instance_name().to_owned(), shown as "<uuid-hex>@<hostname>",
        meaning: "Instance name; the default is generated once per process",
        example: "checkout-7f9c", env "checkout-7f9c" => "checkout-7f9c",
    }

    /// `agent.namespace`.
    namespace(namespace: Option<String>) {
        env: NAMESPACE = "SW_AGENT_NAMESPACE",
        kind: Text,
        default: None, shown as "(unset)",
        meaning: "Namespace of the service",
        example: "staging", env "staging" => Some("staging"),
    }

    /// `collector.backend_service`. There is at least one, each with a port from 1 to 65535.
    backends(backends: Vec<String>) {
        env: BACKEND_SERVICES = "SW_AGENT_COLLECTOR_BACKEND_SERVICES",
        kind: Backends,
        default: vec![DEFAULT_BACKEND.to_owned()], shown as "127.0.0.1:11800",
        meaning: "Comma-separated OAP gRPC addresses, each `host:port` (IPv6 as `[::1]:11800`)",
        example: ["oap-1:11800", "[::1]:11800"], env "oap-1:11800, [::1]:11800"
            => ["oap-1:11800", "[::1]:11800"],
    }

    /// `agent.authentication`. `Debug` shows `<redacted>` in its place.
    authentication(token: Option<String>) {
        env: AUTHENTICATION = "SW_AGENT_AUTHENTICATION",
        kind: Secret,
        default: None, shown as "(unset)",
        meaning: "Token sent to OAP in the `authentication` gRPC metadata",
        example: "s3cr3t", env "s3cr3t" => Some("s3cr3t"),
    }

    /// The Java agent reads the same variable as a number of traces per 3 seconds.
    sample_rate(rate: f64) {
        env: SAMPLE = "SW_AGENT_SAMPLE",
        kind: Rate,
        default: 1.0, shown as "1",
        meaning: "Share of new traces that are sampled, from 0 to 1 (go2sky's meaning, not Java's per-3-seconds count)",
        example: 0.1, env "0.1" => 0.1,
    }

    /// `agent.span_limit_per_segment`. At least 1.
    span_limit(limit: usize) {
        env: SPAN_LIMIT = "SW_AGENT_SPAN_LIMIT",
        kind: Positive,
        default: 300, shown as "300",
        meaning: "Maximum number of spans in one segment",
        example: 500, env "500" => 500,
    }

    /// `agent.ignore_suffix`. Setting them replaces the defaults, [`DEFAULT_IGNORE_SUFFIXES`];
    /// empty entries are dropped.
    ///
    /// [`DEFAULT_IGNORE_SUFFIXES`]: crate::config::DEFAULT_IGNORE_SUFFIXES
    ignore_suffixes(suffixes: Vec<String>) {
        env: IGNORE_SUFFIX = "SW_AGENT_IGNORE_SUFFIX",
        kind: List,
        default: DEFAULT_IGNORE_SUFFIXES.iter().map(|&suffix| suffix.to_owned()).collect(),
        shown as ".jpg,.jpeg,.js,.css,.png,.bmp,.gif,.ico,.mp3,.mp4,.html,.svg",
        meaning: "Comma-separated suffixes; a trace whose first span's operation name ends with one is not sampled",
        example: [".jpg", ".css"], env ".jpg,.css" => [".jpg", ".css"],
    }

    /// `trace.ignore_path` of the Java agent's trace-ignore plugin. The patterns are kept as
    /// given, matching them is the tracer's business; empty entries are dropped.
    trace_ignore_paths(patterns: Vec<String>) {
        env: TRACE_IGNORE_PATH = "SW_AGENT_TRACE_IGNORE_PATH",
        kind: List,
        default: Vec::new(), shown as "(unset)",
        meaning: "Comma-separated Ant-style patterns (`/health`, `/static/**`) of endpoints that are not traced",
        example: ["/health", "/static/**"], env "/health,/static/**" => ["/health", "/static/**"],
    }

    /// For a service that takes requests from outside: `sw8` comes from the caller and would
    /// decide the sampling (flag `1` forces a trace, `0` refuses one) and the trace id.
    ignore_incoming_context(ignore: bool) {
        env: IGNORE_INCOMING_CONTEXT = "SW_AGENT_IGNORE_INCOMING_CONTEXT",
        kind: Flag,
        default: false, shown as "false",
        meaning: "Entry spans ignore callers' `sw8`, `sw8-correlation` and `sw8-x` and start new traces (for edge services)",
        example: true, env "true" => true,
    }

    /// A query string often carries tokens and signatures (`?token=...`, presigned URLs), so it
    /// is left out unless this is set. Credentials (`user:password@`) are never recorded.
    http_url_query(record: bool) {
        env: HTTP_URL_QUERY = "SW_AGENT_HTTP_URL_QUERY",
        kind: Flag,
        default: false, shown as "false",
        meaning: "Keep the query string in the `url` tag of HTTP spans",
        example: true, env "1" => true,
    }

    /// `plugin.jdbc.sql_body_max_length` in the Java agent, whose default is 2048; 512 here, as
    /// the Python agent's SQL limit. At least 1: a statement is always cut, so that a generated
    /// `IN (...)` of a million ids cannot make a tag of megabytes. A cut statement ends in `...`.
    sql_body_max_length(length: usize) {
        env: SQL_BODY_MAX_LENGTH = "SW_JDBC_SQL_BODY_MAX_LENGTH",
        kind: Positive,
        default: 512, shown as "512",
        meaning: "Maximum length of the `db.statement` tag of SQL spans, in characters; longer statements are cut",
        example: 2048, env "2048" => 2048,
    }

    /// `collector.heartbeat_period`. Never zero, and at most a day (a longer period is taken as
    /// a day); the variable is in whole seconds.
    heartbeat_period(period: Duration) {
        env: HEARTBEAT_PERIOD = "SW_AGENT_COLLECTOR_HEARTBEAT_PERIOD",
        kind: Seconds,
        default: Duration::from_secs(30), shown as "30",
        meaning: "Seconds between two heartbeats (keepAlive) to OAP",
        example: Duration::from_secs(10), env "10" => Duration::from_secs(10),
    }

    /// `collector.properties_report_period_factor`. At least 1; see
    /// [`Config::properties_report_period`](crate::config::Config::properties_report_period).
    properties_report_period_factor(factor: u32) {
        env: PROPERTIES_REPORT_PERIOD_FACTOR = "SW_AGENT_COLLECTOR_PROPERTIES_REPORT_PERIOD_FACTOR",
        kind: Positive,
        default: 10, shown as "10",
        meaning: "Instance properties are reported every this many heartbeats",
        example: 5, env "5" => 5,
    }

    /// As in go2sky. At least 1.
    max_send_queue_size(size: usize) {
        env: MAX_SEND_QUEUE_SIZE = "SW_AGENT_COLLECTOR_MAX_SEND_QUEUE_SIZE",
        kind: Positive,
        default: 30_000, shown as "30000",
        meaning: "Capacity of the queue of data waiting to be sent; more is dropped",
        example: 50_000, env "50000" => 50_000,
    }

    /// rust2sky's own: with the collector down, large segments (long operation names, URL tags)
    /// would otherwise fill [`Config::max_send_queue_size`] with gigabytes. At least 1. Segments
    /// are weighed by the memory they hold; log records and meter reports, which wait in queues
    /// of their own, get a quarter of this bound each. What would go past it is dropped and
    /// counted.
    ///
    /// [`Config::max_send_queue_size`]: crate::config::Config::max_send_queue_size
    max_send_queue_bytes(bytes: usize) {
        env: MAX_SEND_QUEUE_BYTES = "SW_AGENT_COLLECTOR_MAX_SEND_QUEUE_BYTES",
        kind: Positive,
        default: 64 * 1024 * 1024, shown as "67108864",
        meaning: "Most memory, in bytes, the segments waiting to be sent may hold (64 MiB); more is dropped",
        example: 16 * 1024 * 1024, env "16777216" => 16 * 1024 * 1024,
    }

    /// `agent.force_tls`.
    force_tls(force: bool) {
        env: FORCE_TLS = "SW_AGENT_FORCE_TLS",
        kind: Flag,
        default: false, shown as "false",
        meaning: "Use TLS even without a trusted CA file (`true`/`false`/`1`/`0`)",
        example: true, env "TRUE" => true,
    }

    /// `agent.ssl_trusted_ca_path`.
    ssl_trusted_ca_path(path: Option<PathBuf>) {
        env: SSL_TRUSTED_CA_PATH = "SW_AGENT_SSL_TRUSTED_CA_PATH",
        kind: File,
        default: None, shown as "(unset)",
        meaning: "Trusted CA certificate file (PEM); setting it enables TLS",
        example: "/etc/oap/ca.pem", env "/etc/oap/ca.pem" => Some(Path::new("/etc/oap/ca.pem")),
    }

    /// `agent.ssl_key_path`. Set if and only if the certificate chain is: one without the other
    /// is [`ConfigError::TlsClientIdentityIncomplete`].
    ///
    /// [`ConfigError::TlsClientIdentityIncomplete`]: crate::config::ConfigError::TlsClientIdentityIncomplete
    ssl_key_path(path: Option<PathBuf>) {
        env: SSL_KEY_PATH = "SW_AGENT_SSL_KEY_PATH",
        kind: File,
        default: None, shown as "(unset)",
        meaning: "Client private key file (PEM) for mutual TLS; needs the certificate chain too",
        example: "/etc/agent/client.key", env "/etc/agent/client.key"
            => Some(Path::new("/etc/agent/client.key")),
        with ssl_cert_chain_path("/etc/agent/client.pem"),
            env SSL_CERT_CHAIN_PATH = "/etc/agent/client.pem",
    }

    /// `agent.ssl_cert_chain_path`. Set if and only if the key is: one without the other is
    /// [`ConfigError::TlsClientIdentityIncomplete`].
    ///
    /// [`ConfigError::TlsClientIdentityIncomplete`]: crate::config::ConfigError::TlsClientIdentityIncomplete
    ssl_cert_chain_path(path: Option<PathBuf>) {
        env: SSL_CERT_CHAIN_PATH = "SW_AGENT_SSL_CERT_CHAIN_PATH",
        kind: File,
        default: None, shown as "(unset)",
        meaning: "Client certificate chain file (PEM) for mutual TLS; needs the key too",
        example: "/etc/agent/client.pem", env "/etc/agent/client.pem"
            => Some(Path::new("/etc/agent/client.pem")),
        with ssl_key_path("/etc/agent/client.key"), env SSL_KEY_PATH = "/etc/agent/client.key",
    }

    /// `correlation.element_max_number`. 0 disables correlation.
    correlation_max_keys(keys: usize) {
        env: CORRELATION_ELEMENT_MAX_NUMBER = "SW_CORRELATION_ELEMENT_MAX_NUMBER",
        kind: Count,
        default: 3, shown as "3",
        meaning: "Maximum number of keys in the correlation context",
        example: 0, env "0" => 0,
    }

    /// `correlation.value_max_length`. At least 1.
    correlation_max_value_length(length: usize) {
        env: CORRELATION_VALUE_MAX_LENGTH = "SW_CORRELATION_VALUE_MAX_LENGTH",
        kind: Positive,
        default: 128, shown as "128",
        meaning: "Maximum length of one correlation value, in UTF-16 code units as Java counts it",
        example: 64, env "64" => 64,
    }

    /// `collector.get_agent_dynamic_config_interval`. At most a day (a longer interval is taken
    /// as a day); the variable is in whole seconds.
    config_discovery_interval(interval: Option<Duration>) {
        env: GET_AGENT_DYNAMIC_CONFIG_INTERVAL = "SW_AGENT_COLLECTOR_GET_AGENT_DYNAMIC_CONFIG_INTERVAL",
        kind: SecondsOrOff("expected a whole number of seconds (0 disables)"),
        default: Some(Duration::from_secs(20)), shown as "20",
        meaning: "Seconds between two dynamic-configuration fetches; `0` disables them",
        example: Duration::ZERO, env "0" => None,
    }

    /// Records below it are not sent; the level names are those of the `log` crate.
    log_reporter_level(level: log::LevelFilter) {
        env: LOG_REPORTER_LEVEL = "SW_AGENT_LOG_REPORTER_LEVEL",
        kind: Level,
        default: log::LevelFilter::Warn, shown as "warn",
        meaning: "Least level of the log records the `log` and `tracing` bridges send to OAP: `off`, `error`, `warn`, `info`, `debug` or `trace`",
        example: log::LevelFilter::Info, env "info" => log::LevelFilter::Info,
    }

    /// `meter.report_interval`: the meters of [`crate::meter`]. At most a day (a longer interval
    /// is taken as a day); the variable is in whole seconds.
    meter_report_interval(interval: Option<Duration>) {
        env: METER_REPORT_INTERVAL = "SW_METER_REPORT_INTERVAL",
        kind: SecondsOrOff("expected a whole number of seconds (0 turns meters off)"),
        default: Some(Duration::from_secs(20)), shown as "20",
        meaning: "Seconds between two reports of the meters and the process figures; `0` turns them off",
        example: Duration::from_secs(60), env "60" => Some(Duration::from_secs(60)),
    }

    /// `meter.max_meter_size` in the Java agent, whose default is 500. At least 1. A meter
    /// asked for when the registry is full works but is not reported, and is counted; see
    /// [`meter::DEFAULT_MAX_SERIES`](crate::meter::DEFAULT_MAX_SERIES). The reporter applies it
    /// to the process's one registry when it starts.
    meter_max_series(max: usize) {
        env: METER_MAX_METER_SIZE = "SW_METER_MAX_METER_SIZE",
        kind: Positive,
        default: crate::meter::DEFAULT_MAX_SERIES, shown as "10000",
        meaning: "Maximum number of meter series (a name with one set of labels) kept and reported; more are counted and left out",
        example: 500, env "500" => 500,
    }

    /// `agent_protocol` in the Python agent, which also knows `http`; rust2sky has no HTTP
    /// transport, so only `grpc` and `kafka` (in any case) are taken. [`crate::reporter::start`]
    /// starts the transport it names.
    protocol(protocol: Protocol) {
        env: PROTOCOL = "SW_AGENT_PROTOCOL",
        kind: ProtocolName,
        default: Protocol::Grpc, shown as "grpc",
        meaning: "Transport to the OAP that `reporter::start` starts: `grpc`, or `kafka` (feature `kafka`)",
        example: rust2sky::config::Protocol::Kafka, env "kafka" => rust2sky::config::Protocol::Kafka,
    }

    /// `plugin.kafka.bootstrap_servers` in the Java agent's Kafka reporter; read by
    /// `reporter::KafkaReporter` (feature `kafka`), which needs at least one. Empty entries are
    /// dropped.
    kafka_bootstrap_servers(servers: Vec<String>) {
        env: KAFKA_BOOTSTRAP_SERVERS = "SW_KAFKA_BOOTSTRAP_SERVERS",
        kind: List,
        default: Vec::new(), shown as "(unset)",
        meaning: "Comma-separated Kafka brokers, each `host:port`, that the Kafka reporter sends to",
        example: ["kafka-1:9092", "kafka-2:9092"], env "kafka-1:9092,kafka-2:9092" => ["kafka-1:9092", "kafka-2:9092"],
    }

    /// `plugin.kafka.namespace` in the Java agent: the OAP's kafka-fetcher `namespace`
    /// (`SW_NAMESPACE` there), which both sides put before every topic as `<namespace>-<topic>`.
    /// It is not [`Config::namespace`](crate::config::Config::namespace) (`agent.namespace`), which
    /// names the service's namespace in its instance properties; the Java and Python agents keep
    /// the two apart too, so a service namespace never moves the topics it reports to.
    kafka_namespace(namespace: Option<String>) {
        env: KAFKA_NAMESPACE = "SW_KAFKA_NAMESPACE",
        kind: Text,
        default: None, shown as "(unset)",
        meaning: "Prefix of every Kafka topic, as `<namespace>-skywalking-segments`; the OAP's kafka-fetcher must have the same",
        example: "staging", env "staging" => Some("staging"),
    }

    /// `kafka_topic_segment` in the Python agent, `plugin.kafka.topic_segment` in the Java
    /// agent; the OAP's `topicNameOfTracingSegments`.
    kafka_topic_segment(topic: String) {
        env: KAFKA_TOPIC_SEGMENT = "SW_KAFKA_TOPIC_SEGMENT",
        kind: Name,
        default: "skywalking-segments".to_owned(), shown as "skywalking-segments",
        meaning: "Kafka topic of the segments (`SegmentObject`, keyed by segment id)",
        example: "traces", env "traces" => "traces",
    }

    /// `kafka_topic_management` in the Python agent, `plugin.kafka.topic_management` in the
    /// Java agent; the OAP's `topicNameOfManagements`.
    kafka_topic_management(topic: String) {
        env: KAFKA_TOPIC_MANAGEMENT = "SW_KAFKA_TOPIC_MANAGEMENT",
        kind: Name,
        default: "skywalking-managements".to_owned(), shown as "skywalking-managements",
        meaning: "Kafka topic of the instance properties (keyed `register-<instance>`) and keepAlives (keyed `<instance>`)",
        example: "instances", env "instances" => "instances",
    }

    /// `kafka_topic_meter` in the Python agent, `plugin.kafka.topic_meter` in the Java agent;
    /// the OAP's `topicNameOfMeters`.
    kafka_topic_meter(topic: String) {
        env: KAFKA_TOPIC_METER = "SW_KAFKA_TOPIC_METER",
        kind: Name,
        default: "skywalking-meters".to_owned(), shown as "skywalking-meters",
        meaning: "Kafka topic of the meter reports (`MeterDataCollection`, keyed by instance)",
        example: "meters", env "meters" => "meters",
    }

    /// `kafka_topic_log` in the Python agent; the OAP's `topicNameOfLogs`. The Java agent's
    /// `plugin.kafka.topic_logging` defaults to `skywalking-logging`, which no OAP reads
    /// unless told to: rust2sky takes the OAP's name, as the Python agent does.
    kafka_topic_log(topic: String) {
        env: KAFKA_TOPIC_LOG = "SW_KAFKA_TOPIC_LOG",
        kind: Name,
        default: "skywalking-logs".to_owned(), shown as "skywalking-logs",
        meaning: "Kafka topic of the log records (`LogData`, keyed by service)",
        example: "logs", env "logs" => "logs",
    }

    /// Kafka producers' `max.request.size`, in bytes of record keys and values. A record larger
    /// than this goes alone in its request. The default stays well under the brokers'
    /// `message.max.bytes` (1 MiB by default), which refuses a larger batch whole.
    kafka_max_request_size(bytes: usize) {
        env: KAFKA_MAX_REQUEST_SIZE = "SW_KAFKA_MAX_REQUEST_SIZE",
        kind: Positive,
        default: 512 * 1024, shown as "524288",
        meaning: "Most bytes of records in one Kafka produce request",
        example: 100_000, env "100000" => 100_000,
    }

    /// Kafka producers' `request.timeout.ms`, in whole seconds here: how long connecting, a
    /// topic look-up or a produce request may take, retries included, before it counts as
    /// failed. At most a day.
    kafka_request_timeout(timeout: Duration) {
        env: KAFKA_REQUEST_TIMEOUT = "SW_KAFKA_REQUEST_TIMEOUT",
        kind: Seconds,
        default: Duration::from_secs(30), shown as "30",
        meaning: "Seconds a Kafka request may take before what it carries counts as failed",
        example: Duration::from_secs(10), env "10" => Duration::from_secs(10),
    }

    /// Kafka producers' `compression.type`, in any case: how the reporter compresses each batch
    /// of records it produces. Consumers, the OAP's kafka-fetcher among them, read every kind.
    kafka_compression_type(compression: KafkaCompression) {
        env: KAFKA_COMPRESSION_TYPE = "SW_KAFKA_COMPRESSION_TYPE",
        kind: CompressionName,
        default: KafkaCompression::None, shown as "none",
        meaning: "How Kafka record batches are compressed: `none`, `gzip` or `snappy`",
        example: rust2sky::config::KafkaCompression::Gzip, env "gzip" => rust2sky::config::KafkaCompression::Gzip,
    }

    /// `security.protocol` in the Java agent's producer configuration
    /// (`plugin.kafka.producer_config`), `SW_KAFKA_REPORTER_CONFIG_security_protocol` in the
    /// Python agent, in Kafka's words, in any case. `SSL` and `SASL_SSL` need the `tls` feature
    /// (on by default); `SASL_PLAINTEXT` and `SASL_SSL` need [`Config::kafka_sasl_username`]
    /// and [`Config::kafka_sasl_password`] ([`ConfigError::KafkaSaslCredentialsMissing`]).
    ///
    /// [`Config::kafka_sasl_username`]: crate::config::Config::kafka_sasl_username
    /// [`Config::kafka_sasl_password`]: crate::config::Config::kafka_sasl_password
    /// [`ConfigError::KafkaSaslCredentialsMissing`]: crate::config::ConfigError::KafkaSaslCredentialsMissing
    kafka_security_protocol(protocol: KafkaSecurityProtocol) {
        env: KAFKA_SECURITY_PROTOCOL = "SW_KAFKA_SECURITY_PROTOCOL",
        kind: KafkaSecurityProtocolName,
        default: KafkaSecurityProtocol::Plaintext, shown as "PLAINTEXT",
        meaning: "How the Kafka reporter talks to the brokers: `PLAINTEXT`, `SSL` for TLS, `SASL_PLAINTEXT` or `SASL_SSL`",
        example: rust2sky::config::KafkaSecurityProtocol::Ssl, env "ssl"
            => rust2sky::config::KafkaSecurityProtocol::Ssl,
    }

    /// `ssl_cafile` in the Python agent's producer configuration (`ssl.truststore.location` in
    /// the Java agent's, as a PEM file here); used with `SSL` and `SASL_SSL`, whose brokers are
    /// otherwise checked against the system's trusted roots. Set with `PLAINTEXT` or
    /// `SASL_PLAINTEXT` it is [`ConfigError::KafkaTlsFileWithoutTls`].
    ///
    /// [`ConfigError::KafkaTlsFileWithoutTls`]: crate::config::ConfigError::KafkaTlsFileWithoutTls
    kafka_ssl_ca_file(path: Option<PathBuf>) {
        env: KAFKA_SSL_CA_FILE = "SW_KAFKA_SSL_CA_FILE",
        kind: File,
        default: None, shown as "(unset)",
        meaning: "Trusted CA certificates (PEM) of the Kafka brokers; unset, the system's trusted roots",
        example: "/etc/kafka/ca.pem", env "/etc/kafka/ca.pem" => Some(Path::new("/etc/kafka/ca.pem")),
        with kafka_security_protocol(rust2sky::config::KafkaSecurityProtocol::Ssl),
            env KAFKA_SECURITY_PROTOCOL = "SSL",
    }

    /// `ssl_certfile` in the Python agent's producer configuration: the client's certificate
    /// for brokers that require one (`ssl.client.auth=required`), with
    /// [`Config::kafka_ssl_key_file`]. Set if and only if the key is
    /// ([`ConfigError::TlsClientIdentityIncomplete`]), and only with `SSL` or `SASL_SSL`.
    ///
    /// [`Config::kafka_ssl_key_file`]: crate::config::Config::kafka_ssl_key_file
    /// [`ConfigError::TlsClientIdentityIncomplete`]: crate::config::ConfigError::TlsClientIdentityIncomplete
    kafka_ssl_cert_file(path: Option<PathBuf>) {
        env: KAFKA_SSL_CERT_FILE = "SW_KAFKA_SSL_CERT_FILE",
        kind: File,
        default: None, shown as "(unset)",
        meaning: "Client certificate chain (PEM) for mutual TLS to the Kafka brokers; needs the key too",
        example: "/etc/agent/kafka.pem", env "/etc/agent/kafka.pem"
            => Some(Path::new("/etc/agent/kafka.pem")),
        with kafka_ssl_key_file("/etc/agent/kafka.key"), env KAFKA_SSL_KEY_FILE = "/etc/agent/kafka.key",
        with kafka_security_protocol(rust2sky::config::KafkaSecurityProtocol::Ssl),
            env KAFKA_SECURITY_PROTOCOL = "SSL",
    }

    /// `ssl_keyfile` in the Python agent's producer configuration: the key of
    /// [`Config::kafka_ssl_cert_file`]. Set if and only if the certificate is.
    ///
    /// [`Config::kafka_ssl_cert_file`]: crate::config::Config::kafka_ssl_cert_file
    kafka_ssl_key_file(path: Option<PathBuf>) {
        env: KAFKA_SSL_KEY_FILE = "SW_KAFKA_SSL_KEY_FILE",
        kind: File,
        default: None, shown as "(unset)",
        meaning: "Client private key (PEM) for mutual TLS to the Kafka brokers; needs the certificate chain too",
        example: "/etc/agent/kafka.key", env "/etc/agent/kafka.key"
            => Some(Path::new("/etc/agent/kafka.key")),
        with kafka_ssl_cert_file("/etc/agent/kafka.pem"), env KAFKA_SSL_CERT_FILE = "/etc/agent/kafka.pem",
        with kafka_security_protocol(rust2sky::config::KafkaSecurityProtocol::Ssl),
            env KAFKA_SECURITY_PROTOCOL = "SSL",
    }

    /// `sasl.mechanism` in the Java agent's producer configuration, `sasl_mechanism` in the
    /// Python agent's, in any case; used with `SASL_PLAINTEXT` and `SASL_SSL`. Only
    /// `SCRAM-SHA-256` and `SCRAM-SHA-512` are taken (see
    /// [the mechanism's type](crate::config::KafkaSaslMechanism)).
    kafka_sasl_mechanism(mechanism: KafkaSaslMechanism) {
        env: KAFKA_SASL_MECHANISM = "SW_KAFKA_SASL_MECHANISM",
        kind: KafkaSaslMechanismName,
        default: KafkaSaslMechanism::ScramSha512, shown as "SCRAM-SHA-512",
        meaning: "SASL mechanism of the Kafka reporter: `SCRAM-SHA-256` or `SCRAM-SHA-512`",
        example: rust2sky::config::KafkaSaslMechanism::ScramSha256, env "scram-sha-256"
            => rust2sky::config::KafkaSaslMechanism::ScramSha256,
    }

    /// `sasl_plain_username` in the Python agent's producer configuration (the user of
    /// `sasl.jaas.config` in the Java agent's). Needed by `SASL_PLAINTEXT` and `SASL_SSL`, and
    /// refused without them ([`ConfigError::KafkaSaslWithoutSasl`]).
    ///
    /// [`ConfigError::KafkaSaslWithoutSasl`]: crate::config::ConfigError::KafkaSaslWithoutSasl
    kafka_sasl_username(name: Option<String>) {
        env: KAFKA_SASL_USERNAME = "SW_KAFKA_SASL_USERNAME",
        kind: Text,
        default: None, shown as "(unset)",
        meaning: "User name the Kafka reporter authenticates as with SASL",
        example: "agent", env "agent" => Some("agent"),
        with kafka_sasl_password("s3cr3t"), env KAFKA_SASL_PASSWORD = "s3cr3t",
        with kafka_security_protocol(rust2sky::config::KafkaSecurityProtocol::SaslSsl),
            env KAFKA_SECURITY_PROTOCOL = "SASL_SSL",
    }

    /// `sasl_plain_password` in the Python agent's producer configuration (the password of
    /// `sasl.jaas.config` in the Java agent's). `Debug` shows `<redacted>` in its place.
    /// Needed by `SASL_PLAINTEXT` and `SASL_SSL`, and refused without them.
    kafka_sasl_password(password: Option<String>) {
        env: KAFKA_SASL_PASSWORD = "SW_KAFKA_SASL_PASSWORD",
        kind: Secret,
        default: None, shown as "(unset)",
        meaning: "Password of the Kafka reporter's SASL user",
        example: "s3cr3t", env "s3cr3t" => Some("s3cr3t"),
        with kafka_sasl_username("agent"), env KAFKA_SASL_USERNAME = "agent",
        with kafka_security_protocol(rust2sky::config::KafkaSecurityProtocol::SaslSsl),
            env KAFKA_SECURITY_PROTOCOL = "SASL_SSL",
    }
}
