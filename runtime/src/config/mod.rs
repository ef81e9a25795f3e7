//! The agent's configuration: set in code, overridden by `SW_AGENT_*` environment variables.
//!
//! Values given to [`ConfigBuilder`] are the defaults; an environment variable that is set
//! overrides them, as in go2sky and the Java agent. So a service can ship sensible values in code
//! and an operator can still change any of them at deploy time. The variable names are those of
//! the official agents; [`env`](mod@env) lists them all.
//!
//! A variable that is unset, empty or only whitespace counts as unset. Values are trimmed before
//! they are parsed. A value that cannot be parsed is an error ([`ConfigError`]) rather than being
//! silently ignored, and nothing here panics on any input.
//!
//! ```
//! use std::collections::HashMap;
//! use rust2sky::config::{Config, env};
//!
//! // The environment of the process, here as a map so the example does not depend on it.
//! let environment = HashMap::from([(env::SAMPLE, "0.25".to_owned())]);
//!
//! let config = Config::builder()
//!     .service_name("checkout")
//!     .backends(["oap:11800"])
//!     .sample_rate(1.0)
//!     .build_with_env(|name| environment.get(name).cloned())?;
//!
//! assert_eq!(config.service_name(), "checkout");
//! assert_eq!(config.backends(), ["oap:11800"]);
//! assert_eq!(config.sample_rate(), 0.25); // the environment wins
//! # Ok::<(), rust2sky::config::ConfigError>(())
//! ```

use std::fmt;
use std::net::Ipv6Addr;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

mod dynamic;
mod live;
pub use self::dynamic::DynamicConfig;
pub use self::live::LiveSettings;
pub(crate) use self::live::WeakLiveSettings;

/// The names of the environment variables the agent reads, and a table describing them.
///
/// ```
/// use rust2sky::config::env;
///
/// assert_eq!(env::SERVICE_NAME, "SW_AGENT_NAME");
/// assert!(env::variables().iter().any(|var| var.name == env::SAMPLE));
/// ```
pub mod env {
    /// Service name (`agent.service_name` in the Java agent).
    ///
    /// ```
    /// use rust2sky::config::{Config, env};
    ///
    /// let config = Config::builder()
    ///     .build_with_env(|name| (name == env::SERVICE_NAME).then(|| "checkout".to_owned()))?;
    /// assert_eq!(config.service_name(), "checkout");
    /// # Ok::<(), rust2sky::config::ConfigError>(())
    /// ```
    pub const SERVICE_NAME: &str = "SW_AGENT_NAME";
    /// Instance name (`agent.instance_name`).
    ///
    /// ```
    /// use rust2sky::config::{Config, env};
    ///
    /// let config = Config::builder().build_with_env(|name| {
    ///     (name == env::INSTANCE_NAME).then(|| "checkout-7f9c".to_owned())
    /// })?;
    /// assert_eq!(config.instance_name(), "checkout-7f9c");
    /// # Ok::<(), rust2sky::config::ConfigError>(())
    /// ```
    pub const INSTANCE_NAME: &str = "SW_AGENT_INSTANCE_NAME";
    /// Namespace (`agent.namespace`).
    ///
    /// ```
    /// use rust2sky::config::{Config, env};
    ///
    /// let config = Config::builder()
    ///     .build_with_env(|name| (name == env::NAMESPACE).then(|| "staging".to_owned()))?;
    /// assert_eq!(config.namespace(), Some("staging"));
    /// # Ok::<(), rust2sky::config::ConfigError>(())
    /// ```
    pub const NAMESPACE: &str = "SW_AGENT_NAMESPACE";
    /// Comma-separated OAP gRPC addresses (`collector.backend_service`).
    ///
    /// ```
    /// use rust2sky::config::{Config, env};
    ///
    /// let config = Config::builder().build_with_env(|name| {
    ///     (name == env::BACKEND_SERVICES).then(|| "oap-1:11800,oap-2:11800".to_owned())
    /// })?;
    /// assert_eq!(config.backends(), ["oap-1:11800", "oap-2:11800"]);
    /// # Ok::<(), rust2sky::config::ConfigError>(())
    /// ```
    pub const BACKEND_SERVICES: &str = "SW_AGENT_COLLECTOR_BACKEND_SERVICES";
    /// Authentication token sent to OAP (`agent.authentication`).
    ///
    /// ```
    /// use rust2sky::config::{Config, env};
    ///
    /// let config = Config::builder()
    ///     .build_with_env(|name| (name == env::AUTHENTICATION).then(|| "s3cr3t".to_owned()))?;
    /// assert_eq!(config.authentication(), Some("s3cr3t"));
    /// # Ok::<(), rust2sky::config::ConfigError>(())
    /// ```
    pub const AUTHENTICATION: &str = "SW_AGENT_AUTHENTICATION";
    /// Sample rate from 0 to 1, as in go2sky.
    ///
    /// The Java agent reads the same name as a number of traces per 3 seconds.
    ///
    /// ```
    /// use rust2sky::config::{Config, env};
    ///
    /// let config = Config::builder()
    ///     .build_with_env(|name| (name == env::SAMPLE).then(|| "0.1".to_owned()))?;
    /// assert_eq!(config.sample_rate(), 0.1);
    /// # Ok::<(), rust2sky::config::ConfigError>(())
    /// ```
    pub const SAMPLE: &str = "SW_AGENT_SAMPLE";
    /// Maximum number of spans in one segment (`agent.span_limit_per_segment`).
    ///
    /// ```
    /// use rust2sky::config::{Config, env};
    ///
    /// let config = Config::builder()
    ///     .build_with_env(|name| (name == env::SPAN_LIMIT).then(|| "500".to_owned()))?;
    /// assert_eq!(config.span_limit(), 500);
    /// # Ok::<(), rust2sky::config::ConfigError>(())
    /// ```
    pub const SPAN_LIMIT: &str = "SW_AGENT_SPAN_LIMIT";
    /// Comma-separated endpoint suffixes that are not traced (`agent.ignore_suffix`).
    ///
    /// ```
    /// use rust2sky::config::{Config, env};
    ///
    /// let config = Config::builder()
    ///     .build_with_env(|name| (name == env::IGNORE_SUFFIX).then(|| ".jpg,.css".to_owned()))?;
    /// assert_eq!(config.ignore_suffixes(), [".jpg", ".css"]);
    /// # Ok::<(), rust2sky::config::ConfigError>(())
    /// ```
    pub const IGNORE_SUFFIX: &str = "SW_AGENT_IGNORE_SUFFIX";
    /// Comma-separated Ant-style endpoint patterns that are not traced (Java's trace-ignore
    /// plugin, `trace.ignore_path`).
    ///
    /// ```
    /// use rust2sky::config::{Config, env};
    ///
    /// let config = Config::builder().build_with_env(|name| {
    ///     (name == env::TRACE_IGNORE_PATH).then(|| "/health,/static/**".to_owned())
    /// })?;
    /// assert_eq!(config.trace_ignore_paths(), ["/health", "/static/**"]);
    /// # Ok::<(), rust2sky::config::ConfigError>(())
    /// ```
    pub const TRACE_IGNORE_PATH: &str = "SW_AGENT_TRACE_IGNORE_PATH";
    /// Heartbeat period in seconds (`collector.heartbeat_period`).
    ///
    /// ```
    /// use std::time::Duration;
    /// use rust2sky::config::{Config, env};
    ///
    /// let config = Config::builder()
    ///     .build_with_env(|name| (name == env::HEARTBEAT_PERIOD).then(|| "10".to_owned()))?;
    /// assert_eq!(config.heartbeat_period(), Duration::from_secs(10));
    /// # Ok::<(), rust2sky::config::ConfigError>(())
    /// ```
    pub const HEARTBEAT_PERIOD: &str = "SW_AGENT_COLLECTOR_HEARTBEAT_PERIOD";
    /// Heartbeats between two instance-properties reports
    /// (`collector.properties_report_period_factor`).
    ///
    /// ```
    /// use rust2sky::config::{Config, env};
    ///
    /// let config = Config::builder().build_with_env(|name| {
    ///     (name == env::PROPERTIES_REPORT_PERIOD_FACTOR).then(|| "5".to_owned())
    /// })?;
    /// assert_eq!(config.properties_report_period_factor(), 5);
    /// # Ok::<(), rust2sky::config::ConfigError>(())
    /// ```
    pub const PROPERTIES_REPORT_PERIOD_FACTOR: &str =
        "SW_AGENT_COLLECTOR_PROPERTIES_REPORT_PERIOD_FACTOR";
    /// Capacity of the queue of data waiting to be sent, as in go2sky.
    ///
    /// ```
    /// use rust2sky::config::{Config, env};
    ///
    /// let config = Config::builder()
    ///     .build_with_env(|name| (name == env::MAX_SEND_QUEUE_SIZE).then(|| "50000".to_owned()))?;
    /// assert_eq!(config.max_send_queue_size(), 50_000);
    /// # Ok::<(), rust2sky::config::ConfigError>(())
    /// ```
    pub const MAX_SEND_QUEUE_SIZE: &str = "SW_AGENT_COLLECTOR_MAX_SEND_QUEUE_SIZE";
    /// Use TLS even without a trusted CA file (`agent.force_tls`).
    ///
    /// ```
    /// use rust2sky::config::{Config, env};
    ///
    /// let config = Config::builder()
    ///     .build_with_env(|name| (name == env::FORCE_TLS).then(|| "true".to_owned()))?;
    /// assert!(config.force_tls());
    /// # Ok::<(), rust2sky::config::ConfigError>(())
    /// ```
    pub const FORCE_TLS: &str = "SW_AGENT_FORCE_TLS";
    /// Trusted CA certificate file for TLS (`agent.ssl_trusted_ca_path`).
    ///
    /// ```
    /// use std::path::Path;
    /// use rust2sky::config::{Config, env};
    ///
    /// let config = Config::builder().build_with_env(|name| {
    ///     (name == env::SSL_TRUSTED_CA_PATH).then(|| "/etc/oap/ca.pem".to_owned())
    /// })?;
    /// assert_eq!(config.ssl_trusted_ca_path(), Some(Path::new("/etc/oap/ca.pem")));
    /// # Ok::<(), rust2sky::config::ConfigError>(())
    /// ```
    pub const SSL_TRUSTED_CA_PATH: &str = "SW_AGENT_SSL_TRUSTED_CA_PATH";
    /// Client private key file for mutual TLS (`agent.ssl_key_path`).
    ///
    /// ```
    /// use std::collections::HashMap;
    /// use rust2sky::config::{Config, env};
    ///
    /// let environment = HashMap::from([
    ///     (env::SSL_KEY_PATH, "/etc/agent/client.key".to_owned()),
    ///     (env::SSL_CERT_CHAIN_PATH, "/etc/agent/client.pem".to_owned()),
    /// ]);
    /// let config = Config::builder().build_with_env(|name| environment.get(name).cloned())?;
    /// assert!(config.ssl_key_path().is_some());
    /// # Ok::<(), rust2sky::config::ConfigError>(())
    /// ```
    pub const SSL_KEY_PATH: &str = "SW_AGENT_SSL_KEY_PATH";
    /// Client certificate chain file for mutual TLS (`agent.ssl_cert_chain_path`).
    ///
    /// ```
    /// use rust2sky::config::{Config, ConfigError, env};
    ///
    /// // The chain alone is not enough: mutual TLS also needs `SSL_KEY_PATH`.
    /// let result = Config::builder().build_with_env(|name| {
    ///     (name == env::SSL_CERT_CHAIN_PATH).then(|| "/etc/agent/client.pem".to_owned())
    /// });
    /// assert!(matches!(result, Err(ConfigError::TlsClientIdentityIncomplete { .. })));
    /// ```
    pub const SSL_CERT_CHAIN_PATH: &str = "SW_AGENT_SSL_CERT_CHAIN_PATH";
    /// Maximum number of correlation keys (`correlation.element_max_number`).
    ///
    /// ```
    /// use rust2sky::config::{Config, env};
    ///
    /// let config = Config::builder().build_with_env(|name| {
    ///     (name == env::CORRELATION_ELEMENT_MAX_NUMBER).then(|| "5".to_owned())
    /// })?;
    /// assert_eq!(config.correlation_max_keys(), 5);
    /// # Ok::<(), rust2sky::config::ConfigError>(())
    /// ```
    pub const CORRELATION_ELEMENT_MAX_NUMBER: &str = "SW_CORRELATION_ELEMENT_MAX_NUMBER";
    /// Maximum length of a correlation value, in UTF-16 code units as Java counts it (`correlation.value_max_length`).
    ///
    /// ```
    /// use rust2sky::config::{Config, env};
    ///
    /// let config = Config::builder().build_with_env(|name| {
    ///     (name == env::CORRELATION_VALUE_MAX_LENGTH).then(|| "64".to_owned())
    /// })?;
    /// assert_eq!(config.correlation_max_value_length(), 64);
    /// # Ok::<(), rust2sky::config::ConfigError>(())
    /// ```
    pub const CORRELATION_VALUE_MAX_LENGTH: &str = "SW_CORRELATION_VALUE_MAX_LENGTH";
    /// Seconds between two dynamic-configuration fetches; 0 disables them
    /// (`collector.get_agent_dynamic_config_interval`).
    ///
    /// ```
    /// use rust2sky::config::{Config, env};
    ///
    /// let config = Config::builder().build_with_env(|name| {
    ///     (name == env::GET_AGENT_DYNAMIC_CONFIG_INTERVAL).then(|| "0".to_owned())
    /// })?;
    /// assert_eq!(config.config_discovery_interval(), None); // 0 disables the fetches
    /// # Ok::<(), rust2sky::config::ConfigError>(())
    /// ```
    pub const GET_AGENT_DYNAMIC_CONFIG_INTERVAL: &str =
        "SW_AGENT_COLLECTOR_GET_AGENT_DYNAMIC_CONFIG_INTERVAL";
    /// The least level of the log records sent to OAP by the log bridges (`off`, `error`,
    /// `warn`, `info`, `debug`, `trace`).
    ///
    /// ```
    /// use rust2sky::config::{Config, env};
    ///
    /// let config = Config::builder()
    ///     .build_with_env(|name| (name == env::LOG_REPORTER_LEVEL).then(|| "info".to_owned()))?;
    /// assert_eq!(config.log_reporter_level(), log::LevelFilter::Info);
    /// # Ok::<(), rust2sky::config::ConfigError>(())
    /// ```
    pub const LOG_REPORTER_LEVEL: &str = "SW_AGENT_LOG_REPORTER_LEVEL";
    /// Seconds between two meter reports; 0 turns meters off (`meter.report_interval`).
    ///
    /// ```
    /// use std::time::Duration;
    /// use rust2sky::config::{Config, env};
    ///
    /// let config = Config::builder()
    ///     .build_with_env(|name| (name == env::METER_REPORT_INTERVAL).then(|| "60".to_owned()))?;
    /// assert_eq!(config.meter_report_interval(), Some(Duration::from_secs(60)));
    /// # Ok::<(), rust2sky::config::ConfigError>(())
    /// ```
    pub const METER_REPORT_INTERVAL: &str = "SW_METER_REPORT_INTERVAL";

    /// One environment variable: its name, its default as text and what it means.
    ///
    /// ```
    /// use rust2sky::config::env;
    ///
    /// let span_limit = env::variables().iter().find(|var| var.name == env::SPAN_LIMIT);
    /// assert_eq!(span_limit.map(|var| var.default), Some("300"));
    /// ```
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    #[non_exhaustive]
    pub struct EnvVar {
        /// The variable's name, e.g. `SW_AGENT_NAME`.
        pub name: &'static str,
        /// The default when neither the code nor the environment sets it, as plain text
        /// (`(unset)` when there is none).
        pub default: &'static str,
        /// What the variable configures, in one sentence.
        pub meaning: &'static str,
    }

    const fn var(name: &'static str, default: &'static str, meaning: &'static str) -> EnvVar {
        EnvVar {
            name,
            default,
            meaning,
        }
    }

    static VARIABLES: &[EnvVar] = &[
        var(SERVICE_NAME, "rust-service", "Service name shown in the UI"),
        var(
            INSTANCE_NAME,
            "<uuid-hex>@<hostname>",
            "Instance name; the default is generated once per process",
        ),
        var(NAMESPACE, "(unset)", "Namespace of the service"),
        var(
            BACKEND_SERVICES,
            "127.0.0.1:11800",
            "Comma-separated OAP gRPC addresses, each `host:port` (IPv6 as `[::1]:11800`)",
        ),
        var(
            AUTHENTICATION,
            "(unset)",
            "Token sent to OAP in the `authentication` gRPC metadata",
        ),
        var(
            SAMPLE,
            "1",
            "Share of new traces that are sampled, from 0 to 1 (go2sky's meaning, not Java's per-3-seconds count)",
        ),
        var(SPAN_LIMIT, "300", "Maximum number of spans in one segment"),
        var(
            IGNORE_SUFFIX,
            ".jpg,.jpeg,.js,.css,.png,.bmp,.gif,.ico,.mp3,.mp4,.html,.svg",
            "Comma-separated suffixes; a trace whose first span's operation name ends with one is not sampled",
        ),
        var(
            TRACE_IGNORE_PATH,
            "(unset)",
            "Comma-separated Ant-style patterns (`/health`, `/static/**`) of endpoints that are not traced",
        ),
        var(
            HEARTBEAT_PERIOD,
            "30",
            "Seconds between two heartbeats (keepAlive) to OAP",
        ),
        var(
            PROPERTIES_REPORT_PERIOD_FACTOR,
            "10",
            "Instance properties are reported every this many heartbeats",
        ),
        var(
            MAX_SEND_QUEUE_SIZE,
            "30000",
            "Capacity of the queue of data waiting to be sent; more is dropped",
        ),
        var(
            FORCE_TLS,
            "false",
            "Use TLS even without a trusted CA file (`true`/`false`/`1`/`0`)",
        ),
        var(
            SSL_TRUSTED_CA_PATH,
            "(unset)",
            "Trusted CA certificate file (PEM); setting it enables TLS",
        ),
        var(
            SSL_KEY_PATH,
            "(unset)",
            "Client private key file (PEM) for mutual TLS; needs the certificate chain too",
        ),
        var(
            SSL_CERT_CHAIN_PATH,
            "(unset)",
            "Client certificate chain file (PEM) for mutual TLS; needs the key too",
        ),
        var(
            CORRELATION_ELEMENT_MAX_NUMBER,
            "3",
            "Maximum number of keys in the correlation context",
        ),
        var(
            CORRELATION_VALUE_MAX_LENGTH,
            "128",
            "Maximum length of one correlation value, in UTF-16 code units as Java counts it",
        ),
        var(
            GET_AGENT_DYNAMIC_CONFIG_INTERVAL,
            "20",
            "Seconds between two dynamic-configuration fetches; `0` disables them",
        ),
        var(
            LOG_REPORTER_LEVEL,
            "warn",
            "Least level of the log records the `log` and `tracing` bridges send to OAP: `off`, `error`, `warn`, `info`, `debug` or `trace`",
        ),
        var(
            METER_REPORT_INTERVAL,
            "20",
            "Seconds between two reports of the meters and the process figures; `0` turns them off",
        ),
    ];

    /// Every environment variable the agent reads, in the order of the README table.
    ///
    /// ```
    /// for var in rust2sky::config::env::variables() {
    ///     println!("| `{}` | {} | {} |", var.name, var.default, var.meaning);
    /// }
    /// ```
    pub fn variables() -> &'static [EnvVar] {
        VARIABLES
    }
}

/// The default service name, used when neither the code nor [`env::SERVICE_NAME`] sets one.
///
/// Every real service should set its own name.
///
/// ```
/// assert_eq!(rust2sky::config::DEFAULT_SERVICE_NAME, "rust-service");
/// ```
pub const DEFAULT_SERVICE_NAME: &str = "rust-service";

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

const DEFAULT_SAMPLE_RATE: f64 = 1.0;
const DEFAULT_SPAN_LIMIT: usize = 300;
const DEFAULT_HEARTBEAT_PERIOD: Duration = Duration::from_secs(30);
const DEFAULT_PROPERTIES_REPORT_PERIOD_FACTOR: u32 = 10;
const DEFAULT_MAX_SEND_QUEUE_SIZE: usize = 30_000;
const DEFAULT_CORRELATION_MAX_KEYS: usize = 3;
const DEFAULT_CORRELATION_MAX_VALUE_LENGTH: usize = 128;
const DEFAULT_CONFIG_DISCOVERY_INTERVAL: Duration = Duration::from_secs(20);
const DEFAULT_METER_REPORT_INTERVAL: Duration = Duration::from_secs(20);

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

/// Why a configuration could not be built.
///
/// ```
/// use rust2sky::config::{Config, ConfigError};
///
/// let err = Config::builder()
///     .build_with_env(|name| (name == "SW_AGENT_SAMPLE").then(|| "1.5".to_owned()))
///     .unwrap_err();
/// assert!(matches!(err, ConfigError::Invalid { .. }));
/// assert_eq!(
///     err.to_string(),
///     r#"invalid SW_AGENT_SAMPLE="1.5": expected a number from 0 to 1"#,
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// An environment variable has a value that cannot be used.
    #[error("invalid {variable}={value:?}: {reason}")]
    Invalid {
        /// The variable's name, e.g. `SW_AGENT_SAMPLE`.
        variable: &'static str,
        /// The variable's value as it was found (not valid UTF-8 is shown lossily).
        value: String,
        /// What was expected instead.
        reason: &'static str,
    },
    /// A value set in code through [`ConfigBuilder`] cannot be used (and no environment variable
    /// overrode it).
    #[error("invalid ConfigBuilder::{setting}({value}): {reason}")]
    InvalidSetting {
        /// The builder method that set it, e.g. `sample_rate`.
        setting: &'static str,
        /// The value, formatted as Rust would print it with `{:?}`.
        value: String,
        /// What was expected instead.
        reason: &'static str,
    },
    /// Only one of the TLS client key and the client certificate chain is set; mutual TLS needs
    /// both (or neither).
    #[error(
        "{present}={value:?} is set but {missing} is not: \
         the TLS client key and certificate chain must be set together"
    )]
    TlsClientIdentityIncomplete {
        /// The variable (or the builder method's variable) that is set.
        present: &'static str,
        /// Its value.
        value: String,
        /// The variable that is missing.
        missing: &'static str,
    },
}

/// The agent's whole configuration.
///
/// Build it with [`Config::builder`] (code values, overridden by the environment),
/// [`Config::from_env`] (defaults, overridden by the environment), or [`Config::default`] (defaults
/// only, the environment is not read). Every value has a getter.
///
/// `Debug` does not show the authentication token.
///
/// ```
/// use std::time::Duration;
/// use rust2sky::config::Config;
///
/// let config = Config::default();
/// assert_eq!(config.service_name(), "rust-service");
/// assert_eq!(config.backends(), ["127.0.0.1:11800"]);
/// assert_eq!(config.heartbeat_period(), Duration::from_secs(30));
/// assert_eq!(config.span_limit(), 300);
/// ```
#[derive(Clone, PartialEq)]
pub struct Config {
    service_name: String,
    instance_name: String,
    namespace: Option<String>,
    backends: Vec<String>,
    authentication: Option<String>,
    sample_rate: f64,
    span_limit: usize,
    ignore_suffixes: Vec<String>,
    trace_ignore_paths: Vec<String>,
    heartbeat_period: Duration,
    properties_report_period_factor: u32,
    max_send_queue_size: usize,
    force_tls: bool,
    ssl_trusted_ca_path: Option<PathBuf>,
    ssl_key_path: Option<PathBuf>,
    ssl_cert_chain_path: Option<PathBuf>,
    correlation_max_keys: usize,
    correlation_max_value_length: usize,
    config_discovery_interval: Option<Duration>,
    log_reporter_level: log::LevelFilter,
    meter_report_interval: Option<Duration>,
}

impl Default for Config {
    /// All defaults; the environment is not read.
    fn default() -> Self {
        Self {
            service_name: DEFAULT_SERVICE_NAME.to_owned(),
            instance_name: default_instance_name().to_owned(),
            namespace: None,
            backends: vec![DEFAULT_BACKEND.to_owned()],
            authentication: None,
            sample_rate: DEFAULT_SAMPLE_RATE,
            span_limit: DEFAULT_SPAN_LIMIT,
            ignore_suffixes: DEFAULT_IGNORE_SUFFIXES
                .iter()
                .map(|&suffix| suffix.to_owned())
                .collect(),
            trace_ignore_paths: Vec::new(),
            heartbeat_period: DEFAULT_HEARTBEAT_PERIOD,
            properties_report_period_factor: DEFAULT_PROPERTIES_REPORT_PERIOD_FACTOR,
            max_send_queue_size: DEFAULT_MAX_SEND_QUEUE_SIZE,
            force_tls: false,
            ssl_trusted_ca_path: None,
            ssl_key_path: None,
            ssl_cert_chain_path: None,
            correlation_max_keys: DEFAULT_CORRELATION_MAX_KEYS,
            correlation_max_value_length: DEFAULT_CORRELATION_MAX_VALUE_LENGTH,
            config_discovery_interval: Some(DEFAULT_CONFIG_DISCOVERY_INTERVAL),
            log_reporter_level: log::LevelFilter::Warn,
            meter_report_interval: Some(DEFAULT_METER_REPORT_INTERVAL),
        }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("service_name", &self.service_name)
            .field("instance_name", &self.instance_name)
            .field("namespace", &self.namespace)
            .field("backends", &self.backends)
            .field(
                "authentication",
                &self.authentication.as_ref().map(|_| "<redacted>"),
            )
            .field("sample_rate", &self.sample_rate)
            .field("span_limit", &self.span_limit)
            .field("ignore_suffixes", &self.ignore_suffixes)
            .field("trace_ignore_paths", &self.trace_ignore_paths)
            .field("heartbeat_period", &self.heartbeat_period)
            .field(
                "properties_report_period_factor",
                &self.properties_report_period_factor,
            )
            .field("max_send_queue_size", &self.max_send_queue_size)
            .field("force_tls", &self.force_tls)
            .field("ssl_trusted_ca_path", &self.ssl_trusted_ca_path)
            .field("ssl_key_path", &self.ssl_key_path)
            .field("ssl_cert_chain_path", &self.ssl_cert_chain_path)
            .field("correlation_max_keys", &self.correlation_max_keys)
            .field(
                "correlation_max_value_length",
                &self.correlation_max_value_length,
            )
            .field("config_discovery_interval", &self.config_discovery_interval)
            .field("log_reporter_level", &self.log_reporter_level)
            .field("meter_report_interval", &self.meter_report_interval)
            .finish()
    }
}

impl Config {
    /// A builder that starts from the defaults.
    ///
    /// ```
    /// let config = rust2sky::config::Config::builder()
    ///     .service_name("checkout")
    ///     .build_with_env(|_| None)?;
    /// assert_eq!(config.service_name(), "checkout");
    /// # Ok::<(), rust2sky::config::ConfigError>(())
    /// ```
    pub fn builder() -> ConfigBuilder {
        ConfigBuilder::new()
    }

    /// The defaults, overridden by the process environment; the same as
    /// `Config::builder().build()`.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] if a variable has a value that cannot be used.
    ///
    /// ```no_run
    /// let config = rust2sky::config::Config::from_env()?;
    /// println!("reporting {} to {:?}", config.service_name(), config.backends());
    /// # Ok::<(), rust2sky::config::ConfigError>(())
    /// ```
    pub fn from_env() -> Result<Self, ConfigError> {
        ConfigBuilder::new().build()
    }

    /// Service name shown in the UI ([`env::SERVICE_NAME`], default [`DEFAULT_SERVICE_NAME`]).
    ///
    /// ```
    /// let config = rust2sky::config::Config::default();
    /// assert_eq!(config.service_name(), "rust-service");
    /// ```
    pub fn service_name(&self) -> &str {
        &self.service_name
    }

    /// Instance name ([`env::INSTANCE_NAME`]). The default is `<uuid-hex>@<hostname>`, where the
    /// UUID is generated once per process, so every default `Config` of a process agrees.
    ///
    /// ```
    /// use rust2sky::config::Config;
    ///
    /// assert_eq!(Config::default().instance_name(), Config::default().instance_name());
    /// ```
    pub fn instance_name(&self) -> &str {
        &self.instance_name
    }

    /// Namespace ([`env::NAMESPACE`], default none).
    ///
    /// ```
    /// assert_eq!(rust2sky::config::Config::default().namespace(), None);
    /// ```
    pub fn namespace(&self) -> Option<&str> {
        self.namespace.as_deref()
    }

    /// OAP gRPC addresses, each `host:port` ([`env::BACKEND_SERVICES`], default
    /// [`DEFAULT_BACKEND`]). Never empty.
    ///
    /// ```
    /// assert_eq!(rust2sky::config::Config::default().backends(), ["127.0.0.1:11800"]);
    /// ```
    pub fn backends(&self) -> &[String] {
        &self.backends
    }

    /// Token sent to OAP in the `authentication` gRPC metadata ([`env::AUTHENTICATION`], default
    /// none).
    ///
    /// ```
    /// assert_eq!(rust2sky::config::Config::default().authentication(), None);
    /// ```
    pub fn authentication(&self) -> Option<&str> {
        self.authentication.as_deref()
    }

    /// Share of new traces that are sampled, from 0 to 1 ([`env::SAMPLE`], default 1).
    ///
    /// ```
    /// assert_eq!(rust2sky::config::Config::default().sample_rate(), 1.0);
    /// ```
    pub fn sample_rate(&self) -> f64 {
        self.sample_rate
    }

    /// Maximum number of spans in one segment, at least 1 ([`env::SPAN_LIMIT`], default 300).
    ///
    /// ```
    /// assert_eq!(rust2sky::config::Config::default().span_limit(), 300);
    /// ```
    pub fn span_limit(&self) -> usize {
        self.span_limit
    }

    /// Suffixes of operation names whose traces are not sampled ([`env::IGNORE_SUFFIX`], default
    /// [`DEFAULT_IGNORE_SUFFIXES`]).
    ///
    /// ```
    /// let config = rust2sky::config::Config::default();
    /// assert!(config.ignore_suffixes().iter().any(|suffix| suffix == ".png"));
    /// ```
    pub fn ignore_suffixes(&self) -> &[String] {
        &self.ignore_suffixes
    }

    /// Ant-style patterns of endpoints that are not traced ([`env::TRACE_IGNORE_PATH`], default
    /// none). They are stored as given; matching is up to the tracer.
    ///
    /// ```
    /// assert!(rust2sky::config::Config::default().trace_ignore_paths().is_empty());
    /// ```
    pub fn trace_ignore_paths(&self) -> &[String] {
        &self.trace_ignore_paths
    }

    /// Time between two heartbeats to OAP, never zero ([`env::HEARTBEAT_PERIOD`], default 30 s).
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let config = rust2sky::config::Config::default();
    /// assert_eq!(config.heartbeat_period(), Duration::from_secs(30));
    /// ```
    pub fn heartbeat_period(&self) -> Duration {
        self.heartbeat_period
    }

    /// Instance properties are reported every this many heartbeats, at least 1
    /// ([`env::PROPERTIES_REPORT_PERIOD_FACTOR`], default 10).
    ///
    /// ```
    /// let config = rust2sky::config::Config::default();
    /// assert_eq!(config.properties_report_period_factor(), 10);
    /// ```
    pub fn properties_report_period_factor(&self) -> u32 {
        self.properties_report_period_factor
    }

    /// Time between two instance-properties reports: the heartbeat period times
    /// [`properties_report_period_factor`](Self::properties_report_period_factor) (saturating).
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let config = rust2sky::config::Config::default();
    /// assert_eq!(config.properties_report_period(), Duration::from_secs(300));
    /// ```
    pub fn properties_report_period(&self) -> Duration {
        self.heartbeat_period
            .saturating_mul(self.properties_report_period_factor)
    }

    /// Capacity of the queue of data waiting to be sent, at least 1
    /// ([`env::MAX_SEND_QUEUE_SIZE`], default 30000).
    ///
    /// ```
    /// assert_eq!(rust2sky::config::Config::default().max_send_queue_size(), 30_000);
    /// ```
    pub fn max_send_queue_size(&self) -> usize {
        self.max_send_queue_size
    }

    /// Use TLS even without a trusted CA file ([`env::FORCE_TLS`], default false).
    ///
    /// ```
    /// assert!(!rust2sky::config::Config::default().force_tls());
    /// ```
    pub fn force_tls(&self) -> bool {
        self.force_tls
    }

    /// Trusted CA certificate file ([`env::SSL_TRUSTED_CA_PATH`], default none).
    ///
    /// ```
    /// assert_eq!(rust2sky::config::Config::default().ssl_trusted_ca_path(), None);
    /// ```
    pub fn ssl_trusted_ca_path(&self) -> Option<&Path> {
        self.ssl_trusted_ca_path.as_deref()
    }

    /// Client private key file for mutual TLS ([`env::SSL_KEY_PATH`], default none). Set if and
    /// only if [`ssl_cert_chain_path`](Self::ssl_cert_chain_path) is.
    ///
    /// ```
    /// assert_eq!(rust2sky::config::Config::default().ssl_key_path(), None);
    /// ```
    pub fn ssl_key_path(&self) -> Option<&Path> {
        self.ssl_key_path.as_deref()
    }

    /// Client certificate chain file for mutual TLS ([`env::SSL_CERT_CHAIN_PATH`], default none).
    /// Set if and only if [`ssl_key_path`](Self::ssl_key_path) is.
    ///
    /// ```
    /// assert_eq!(rust2sky::config::Config::default().ssl_cert_chain_path(), None);
    /// ```
    pub fn ssl_cert_chain_path(&self) -> Option<&Path> {
        self.ssl_cert_chain_path.as_deref()
    }

    /// Maximum number of keys in the correlation context
    /// ([`env::CORRELATION_ELEMENT_MAX_NUMBER`], default 3; 0 disables correlation).
    ///
    /// ```
    /// assert_eq!(rust2sky::config::Config::default().correlation_max_keys(), 3);
    /// ```
    pub fn correlation_max_keys(&self) -> usize {
        self.correlation_max_keys
    }

    /// Maximum length of one correlation value, in UTF-16 code units as Java counts it, at least 1
    /// ([`env::CORRELATION_VALUE_MAX_LENGTH`], default 128).
    ///
    /// ```
    /// let config = rust2sky::config::Config::default();
    /// assert_eq!(config.correlation_max_value_length(), 128);
    /// ```
    pub fn correlation_max_value_length(&self) -> usize {
        self.correlation_max_value_length
    }

    /// The correlation limits, as the propagation codecs take them.
    ///
    /// ```
    /// let limits = rust2sky::config::Config::default().correlation_limits();
    /// assert_eq!((limits.max_keys, limits.max_value_len), (3, 128));
    /// ```
    pub fn correlation_limits(&self) -> crate::propagation::CorrelationLimits {
        crate::propagation::CorrelationLimits {
            max_keys: self.correlation_max_keys,
            max_value_len: self.correlation_max_value_length,
        }
    }

    /// Time between two dynamic-configuration fetches, or `None` when they are disabled
    /// ([`env::GET_AGENT_DYNAMIC_CONFIG_INTERVAL`], default 20 s; 0 disables).
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let config = rust2sky::config::Config::default();
    /// assert_eq!(config.config_discovery_interval(), Some(Duration::from_secs(20)));
    /// ```
    pub fn config_discovery_interval(&self) -> Option<Duration> {
        self.config_discovery_interval
    }

    /// The least level of the log records the log bridges send to OAP
    /// ([`env::LOG_REPORTER_LEVEL`], default `warn`).
    ///
    /// ```
    /// assert_eq!(rust2sky::config::Config::default().log_reporter_level(), log::LevelFilter::Warn);
    /// ```
    pub fn log_reporter_level(&self) -> log::LevelFilter {
        self.log_reporter_level
    }

    /// Time between two reports of the [`crate::meter`] meters and the process figures; `None`
    /// when they are off ([`env::METER_REPORT_INTERVAL`], default 20 s).
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let config = rust2sky::config::Config::default();
    /// assert_eq!(config.meter_report_interval(), Some(Duration::from_secs(20)));
    /// ```
    pub fn meter_report_interval(&self) -> Option<Duration> {
        self.meter_report_interval
    }
}

/// Builds a [`Config`]: the values set here are defaults that environment variables override.
///
/// Setters never fail; values that cannot be used (a sample rate of 1.5, a backend without a
/// port, ...) are reported by [`build`](Self::build) and
/// [`build_with_env`](Self::build_with_env), unless an environment variable overrides them.
///
/// ```
/// use std::time::Duration;
/// use rust2sky::config::Config;
///
/// let config = Config::builder()
///     .service_name("checkout")
///     .backends(["oap-1:11800", "oap-2:11800"])
///     .heartbeat_period(Duration::from_secs(10))
///     .build_with_env(|_| None)?;
/// assert_eq!(config.backends().len(), 2);
/// # Ok::<(), rust2sky::config::ConfigError>(())
/// ```
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct ConfigBuilder {
    config: Config,
}

impl ConfigBuilder {
    /// A builder that starts from the defaults; the same as [`Config::builder`].
    ///
    /// ```
    /// let builder = rust2sky::config::ConfigBuilder::new();
    /// # let _ = builder;
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the service name; it must not be empty ([`env::SERVICE_NAME`] overrides it).
    ///
    /// ```
    /// let builder = rust2sky::config::Config::builder().service_name("checkout");
    /// # let _ = builder;
    /// ```
    pub fn service_name(mut self, name: impl Into<String>) -> Self {
        self.config.service_name = name.into();
        self
    }

    /// Sets the instance name; it must not be empty ([`env::INSTANCE_NAME`] overrides it).
    ///
    /// ```
    /// let builder = rust2sky::config::Config::builder().instance_name("checkout-1");
    /// # let _ = builder;
    /// ```
    pub fn instance_name(mut self, name: impl Into<String>) -> Self {
        self.config.instance_name = name.into();
        self
    }

    /// Sets the namespace; an empty string means none ([`env::NAMESPACE`] overrides it).
    ///
    /// ```
    /// let builder = rust2sky::config::Config::builder().namespace("shop");
    /// # let _ = builder;
    /// ```
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.config.namespace = Some(namespace.into());
        self
    }

    /// Sets the OAP gRPC addresses, each `host:port` with a port from 1 to 65535 and IPv6 hosts
    /// in brackets; at least one is needed ([`env::BACKEND_SERVICES`] overrides them).
    ///
    /// ```
    /// let builder = rust2sky::config::Config::builder().backends(["oap:11800", "[::1]:11800"]);
    /// # let _ = builder;
    /// ```
    pub fn backends<I>(mut self, backends: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        self.config.backends = backends.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the authentication token; an empty string means none ([`env::AUTHENTICATION`]
    /// overrides it).
    ///
    /// ```
    /// let builder = rust2sky::config::Config::builder().authentication("s3cr3t");
    /// # let _ = builder;
    /// ```
    pub fn authentication(mut self, token: impl Into<String>) -> Self {
        self.config.authentication = Some(token.into());
        self
    }

    /// Sets the share of new traces that are sampled, from 0 to 1 ([`env::SAMPLE`] overrides
    /// it).
    ///
    /// ```
    /// let builder = rust2sky::config::Config::builder().sample_rate(0.1);
    /// # let _ = builder;
    /// ```
    pub fn sample_rate(mut self, rate: f64) -> Self {
        self.config.sample_rate = rate;
        self
    }

    /// Sets the maximum number of spans in one segment, at least 1 ([`env::SPAN_LIMIT`]
    /// overrides it).
    ///
    /// ```
    /// let builder = rust2sky::config::Config::builder().span_limit(1000);
    /// # let _ = builder;
    /// ```
    pub fn span_limit(mut self, limit: usize) -> Self {
        self.config.span_limit = limit;
        self
    }

    /// Sets the ignored operation-name suffixes, replacing the defaults; empty entries are dropped
    /// ([`env::IGNORE_SUFFIX`] overrides them).
    ///
    /// ```
    /// let builder = rust2sky::config::Config::builder().ignore_suffixes([".png", ".css"]);
    /// # let _ = builder;
    /// ```
    pub fn ignore_suffixes<I>(mut self, suffixes: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        self.config.ignore_suffixes = suffixes.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the Ant-style patterns of endpoints that are not traced; empty entries are dropped
    /// ([`env::TRACE_IGNORE_PATH`] overrides them).
    ///
    /// ```
    /// let builder = rust2sky::config::Config::builder().trace_ignore_paths(["/health", "/static/**"]);
    /// # let _ = builder;
    /// ```
    pub fn trace_ignore_paths<I>(mut self, patterns: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        self.config.trace_ignore_paths = patterns.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the time between two heartbeats; it must not be zero ([`env::HEARTBEAT_PERIOD`]
    /// overrides it, in whole seconds).
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let builder = rust2sky::config::Config::builder().heartbeat_period(Duration::from_secs(10));
    /// # let _ = builder;
    /// ```
    pub fn heartbeat_period(mut self, period: Duration) -> Self {
        self.config.heartbeat_period = period;
        self
    }

    /// Sets how many heartbeats pass between two instance-properties reports, at least 1
    /// ([`env::PROPERTIES_REPORT_PERIOD_FACTOR`] overrides it).
    ///
    /// ```
    /// let builder = rust2sky::config::Config::builder().properties_report_period_factor(5);
    /// # let _ = builder;
    /// ```
    pub fn properties_report_period_factor(mut self, factor: u32) -> Self {
        self.config.properties_report_period_factor = factor;
        self
    }

    /// Sets the capacity of the send queue, at least 1 ([`env::MAX_SEND_QUEUE_SIZE`] overrides
    /// it).
    ///
    /// ```
    /// let builder = rust2sky::config::Config::builder().max_send_queue_size(1000);
    /// # let _ = builder;
    /// ```
    pub fn max_send_queue_size(mut self, size: usize) -> Self {
        self.config.max_send_queue_size = size;
        self
    }

    /// Sets whether TLS is used even without a trusted CA file ([`env::FORCE_TLS`] overrides
    /// it).
    ///
    /// ```
    /// let builder = rust2sky::config::Config::builder().force_tls(true);
    /// # let _ = builder;
    /// ```
    pub fn force_tls(mut self, force: bool) -> Self {
        self.config.force_tls = force;
        self
    }

    /// Sets the trusted CA certificate file; an empty path means none
    /// ([`env::SSL_TRUSTED_CA_PATH`] overrides it).
    ///
    /// ```
    /// let builder = rust2sky::config::Config::builder().ssl_trusted_ca_path("/etc/sw/ca.crt");
    /// # let _ = builder;
    /// ```
    pub fn ssl_trusted_ca_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.config.ssl_trusted_ca_path = Some(path.into());
        self
    }

    /// Sets the client private key file for mutual TLS; an empty path means none. The
    /// certificate chain must be set too ([`env::SSL_KEY_PATH`] overrides it).
    ///
    /// ```
    /// let builder = rust2sky::config::Config::builder()
    ///     .ssl_key_path("/etc/sw/client.key")
    ///     .ssl_cert_chain_path("/etc/sw/client.crt");
    /// # let _ = builder;
    /// ```
    pub fn ssl_key_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.config.ssl_key_path = Some(path.into());
        self
    }

    /// Sets the client certificate chain file for mutual TLS; an empty path means none. The key
    /// must be set too ([`env::SSL_CERT_CHAIN_PATH`] overrides it).
    ///
    /// ```
    /// let builder = rust2sky::config::Config::builder()
    ///     .ssl_key_path("/etc/sw/client.key")
    ///     .ssl_cert_chain_path("/etc/sw/client.crt");
    /// # let _ = builder;
    /// ```
    pub fn ssl_cert_chain_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.config.ssl_cert_chain_path = Some(path.into());
        self
    }

    /// Sets the maximum number of correlation keys; 0 disables correlation
    /// ([`env::CORRELATION_ELEMENT_MAX_NUMBER`] overrides it).
    ///
    /// ```
    /// let builder = rust2sky::config::Config::builder().correlation_max_keys(5);
    /// # let _ = builder;
    /// ```
    pub fn correlation_max_keys(mut self, keys: usize) -> Self {
        self.config.correlation_max_keys = keys;
        self
    }

    /// Sets the maximum length of one correlation value (UTF-16 code units, as Java counts it), at least 1
    /// ([`env::CORRELATION_VALUE_MAX_LENGTH`] overrides it).
    ///
    /// ```
    /// let builder = rust2sky::config::Config::builder().correlation_max_value_length(256);
    /// # let _ = builder;
    /// ```
    pub fn correlation_max_value_length(mut self, length: usize) -> Self {
        self.config.correlation_max_value_length = length;
        self
    }

    /// Sets the time between two dynamic-configuration fetches; [`Duration::ZERO`] disables them
    /// ([`env::GET_AGENT_DYNAMIC_CONFIG_INTERVAL`] overrides it, in whole seconds).
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let config = rust2sky::config::Config::builder()
    ///     .config_discovery_interval(Duration::ZERO)
    ///     .build_with_env(|_| None)?;
    /// assert_eq!(config.config_discovery_interval(), None);
    /// # Ok::<(), rust2sky::config::ConfigError>(())
    /// ```
    pub fn config_discovery_interval(mut self, interval: Duration) -> Self {
        self.config.config_discovery_interval = (!interval.is_zero()).then_some(interval);
        self
    }

    /// Sets the least level of the log records the log bridges send to OAP
    /// ([`env::LOG_REPORTER_LEVEL`] overrides it).
    ///
    /// ```
    /// let builder = rust2sky::config::Config::builder().log_reporter_level(log::LevelFilter::Info);
    /// # let _ = builder;
    /// ```
    pub fn log_reporter_level(mut self, level: log::LevelFilter) -> Self {
        self.config.log_reporter_level = level;
        self
    }

    /// Sets the time between two meter reports; zero turns them off
    /// ([`env::METER_REPORT_INTERVAL`] overrides it, in whole seconds).
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let config = rust2sky::config::Config::builder()
    ///     .meter_report_interval(Duration::ZERO)
    ///     .build_with_env(|_| None)?;
    /// assert_eq!(config.meter_report_interval(), None);
    /// # Ok::<(), rust2sky::config::ConfigError>(())
    /// ```
    pub fn meter_report_interval(mut self, interval: Duration) -> Self {
        self.config.meter_report_interval = (!interval.is_zero()).then_some(interval);
        self
    }

    /// Builds the configuration; the process environment overrides the values set in code.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] if a variable has a value that cannot be used (including one that is not
    /// valid UTF-8), or a value set in code that no variable overrides cannot be used.
    ///
    /// ```no_run
    /// let config = rust2sky::config::Config::builder()
    ///     .service_name("checkout")
    ///     .backends(["oap:11800"])
    ///     .build()?;
    /// # Ok::<(), rust2sky::config::ConfigError>(())
    /// ```
    pub fn build(self) -> Result<Config, ConfigError> {
        for var in env::variables() {
            if let Some(value) = std::env::var_os(var.name)
                && value.to_str().is_none()
            {
                return Err(ConfigError::Invalid {
                    variable: var.name,
                    value: value.to_string_lossy().into_owned(),
                    reason: "expected valid UTF-8",
                });
            }
        }
        self.build_with_env(|name| std::env::var(name).ok())
    }

    /// Builds the configuration with `lookup` standing in for the process environment: it gets a
    /// variable's name and returns its value, or `None` when it is unset.
    ///
    /// Use it in tests, or to take the variables from somewhere else than the process
    /// environment.
    ///
    /// # Errors
    ///
    /// As [`build`](Self::build).
    ///
    /// ```
    /// use std::collections::HashMap;
    /// use rust2sky::config::Config;
    ///
    /// let environment = HashMap::from([("SW_AGENT_NAME", "from-env".to_owned())]);
    /// let config = Config::builder()
    ///     .service_name("from-code")
    ///     .build_with_env(|name| environment.get(name).cloned())?;
    /// assert_eq!(config.service_name(), "from-env");
    /// # Ok::<(), rust2sky::config::ConfigError>(())
    /// ```
    pub fn build_with_env<F>(self, lookup: F) -> Result<Config, ConfigError>
    where
        F: FnMut(&str) -> Option<String>,
    {
        let mut vars = Env { lookup };
        let mut c = self.config;

        match vars.get(env::SERVICE_NAME) {
            Some(name) => c.service_name = name,
            None if c.service_name.trim().is_empty() => {
                return Err(setting("service_name", &c.service_name, "expected a name"));
            }
            None => {}
        }

        match vars.get(env::INSTANCE_NAME) {
            Some(name) => c.instance_name = name,
            None if c.instance_name.trim().is_empty() => {
                return Err(setting(
                    "instance_name",
                    &c.instance_name,
                    "expected a name",
                ));
            }
            None => {}
        }

        c.namespace = vars.get(env::NAMESPACE).or(c.namespace);
        c.namespace = c.namespace.filter(|ns| !ns.is_empty());

        match vars.get(env::BACKEND_SERVICES) {
            Some(value) => {
                c.backends = parse_backends(&value).map_err(|reason| ConfigError::Invalid {
                    variable: env::BACKEND_SERVICES,
                    value,
                    reason,
                })?;
            }
            None => {
                if c.backends.is_empty() {
                    return Err(setting(
                        "backends",
                        &c.backends,
                        "expected at least one host:port",
                    ));
                }
                if let Some(reason) = c.backends.iter().find_map(|b| check_backend(b).err()) {
                    return Err(setting("backends", &c.backends, reason));
                }
            }
        }

        c.authentication = vars.get(env::AUTHENTICATION).or(c.authentication);
        c.authentication = c.authentication.filter(|token| !token.is_empty());

        const SAMPLE_REASON: &str = "expected a number from 0 to 1";
        let valid_rate = |rate: f64| (0.0..=1.0).contains(&rate);
        match vars.get(env::SAMPLE) {
            Some(value) => match value.parse::<f64>() {
                Ok(rate) if valid_rate(rate) => c.sample_rate = rate,
                _ => return Err(invalid(env::SAMPLE, value, SAMPLE_REASON)),
            },
            None if !valid_rate(c.sample_rate) => {
                return Err(setting("sample_rate", &c.sample_rate, SAMPLE_REASON));
            }
            None => {}
        }

        c.span_limit = vars.positive(env::SPAN_LIMIT, "span_limit", c.span_limit)?;

        if let Some(value) = vars.get(env::IGNORE_SUFFIX) {
            c.ignore_suffixes = split_nonempty(&value);
        }
        c.ignore_suffixes.retain(|suffix| !suffix.is_empty());

        if let Some(value) = vars.get(env::TRACE_IGNORE_PATH) {
            c.trace_ignore_paths = split_nonempty(&value);
        }
        c.trace_ignore_paths.retain(|path| !path.is_empty());

        match vars.get(env::HEARTBEAT_PERIOD) {
            Some(value) => match value.parse::<u64>() {
                Ok(secs) if secs >= 1 => c.heartbeat_period = Duration::from_secs(secs),
                _ => {
                    return Err(invalid(
                        env::HEARTBEAT_PERIOD,
                        value,
                        "expected a whole number of seconds, at least 1",
                    ));
                }
            },
            None if c.heartbeat_period.is_zero() => {
                return Err(setting(
                    "heartbeat_period",
                    &c.heartbeat_period,
                    "expected a period longer than zero",
                ));
            }
            None => {}
        }

        c.properties_report_period_factor = vars.positive(
            env::PROPERTIES_REPORT_PERIOD_FACTOR,
            "properties_report_period_factor",
            c.properties_report_period_factor,
        )?;

        c.max_send_queue_size = vars.positive(
            env::MAX_SEND_QUEUE_SIZE,
            "max_send_queue_size",
            c.max_send_queue_size,
        )?;

        if let Some(value) = vars.get(env::FORCE_TLS) {
            c.force_tls = match value.to_ascii_lowercase().as_str() {
                "true" | "1" => true,
                "false" | "0" => false,
                _ => {
                    return Err(invalid(
                        env::FORCE_TLS,
                        value,
                        "expected true, false, 1 or 0",
                    ));
                }
            };
        }

        c.ssl_trusted_ca_path = vars.path(env::SSL_TRUSTED_CA_PATH, c.ssl_trusted_ca_path);
        c.ssl_key_path = vars.path(env::SSL_KEY_PATH, c.ssl_key_path);
        c.ssl_cert_chain_path = vars.path(env::SSL_CERT_CHAIN_PATH, c.ssl_cert_chain_path);
        match (&c.ssl_key_path, &c.ssl_cert_chain_path) {
            (Some(key), None) => {
                return Err(ConfigError::TlsClientIdentityIncomplete {
                    present: env::SSL_KEY_PATH,
                    value: key.display().to_string(),
                    missing: env::SSL_CERT_CHAIN_PATH,
                });
            }
            (None, Some(chain)) => {
                return Err(ConfigError::TlsClientIdentityIncomplete {
                    present: env::SSL_CERT_CHAIN_PATH,
                    value: chain.display().to_string(),
                    missing: env::SSL_KEY_PATH,
                });
            }
            _ => {}
        }

        if let Some(value) = vars.get(env::CORRELATION_ELEMENT_MAX_NUMBER) {
            c.correlation_max_keys = value.parse().map_err(|_| {
                invalid(
                    env::CORRELATION_ELEMENT_MAX_NUMBER,
                    value,
                    "expected a whole number, at least 0",
                )
            })?;
        }

        c.correlation_max_value_length = vars.positive(
            env::CORRELATION_VALUE_MAX_LENGTH,
            "correlation_max_value_length",
            c.correlation_max_value_length,
        )?;

        if let Some(value) = vars.get(env::GET_AGENT_DYNAMIC_CONFIG_INTERVAL) {
            let secs: u64 = value.parse().map_err(|_| {
                invalid(
                    env::GET_AGENT_DYNAMIC_CONFIG_INTERVAL,
                    value,
                    "expected a whole number of seconds (0 disables)",
                )
            })?;
            c.config_discovery_interval = (secs > 0).then(|| Duration::from_secs(secs));
        }

        if let Some(value) = vars.get(env::METER_REPORT_INTERVAL) {
            let secs: u64 = value.parse().map_err(|_| {
                invalid(
                    env::METER_REPORT_INTERVAL,
                    value,
                    "expected a whole number of seconds (0 turns meters off)",
                )
            })?;
            c.meter_report_interval = (secs > 0).then(|| Duration::from_secs(secs));
        }

        if let Some(value) = vars.get(env::LOG_REPORTER_LEVEL) {
            c.log_reporter_level = value.parse().map_err(|_| {
                invalid(
                    env::LOG_REPORTER_LEVEL,
                    value,
                    "expected off, error, warn, info, debug or trace",
                )
            })?;
        }

        Ok(c)
    }
}

/// The environment as seen through a lookup function: trimmed, with empty values as unset.
struct Env<F> {
    lookup: F,
}

impl<F: FnMut(&str) -> Option<String>> Env<F> {
    fn get(&mut self, name: &'static str) -> Option<String> {
        let value = (self.lookup)(name)?;
        let trimmed = value.trim();
        if trimmed.is_empty() {
            None
        } else if trimmed.len() == value.len() {
            Some(value)
        } else {
            Some(trimmed.to_owned())
        }
    }

    fn path(&mut self, name: &'static str, code: Option<PathBuf>) -> Option<PathBuf> {
        self.get(name)
            .map(PathBuf::from)
            .or(code)
            .filter(|path| !path.as_os_str().is_empty())
    }

    /// A whole number of at least 1: from the variable if set, else the code value, checked.
    fn positive<T>(
        &mut self,
        name: &'static str,
        setting_name: &'static str,
        code: T,
    ) -> Result<T, ConfigError>
    where
        T: std::str::FromStr + PartialOrd + From<u8> + fmt::Debug,
    {
        const REASON: &str = "expected a whole number, at least 1";
        match self.get(name) {
            Some(value) => match value.parse::<T>() {
                Ok(n) if n >= T::from(1) => Ok(n),
                _ => Err(invalid(name, value, REASON)),
            },
            None if code < T::from(1) => Err(setting(setting_name, &code, REASON)),
            None => Ok(code),
        }
    }
}

fn invalid(variable: &'static str, value: String, reason: &'static str) -> ConfigError {
    ConfigError::Invalid {
        variable,
        value,
        reason,
    }
}

fn setting(setting: &'static str, value: &impl fmt::Debug, reason: &'static str) -> ConfigError {
    ConfigError::InvalidSetting {
        setting,
        value: format!("{value:?}"),
        reason,
    }
}

/// The entries of a comma-separated list, trimmed; empty entries are kept, for callers that
/// refuse them.
fn split_list(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').map(str::trim)
}

/// The entries of a comma-separated list, trimmed, without empty ones.
fn split_nonempty(value: &str) -> Vec<String> {
    split_list(value)
        .filter(|entry| !entry.is_empty())
        .map(str::to_owned)
        .collect()
}

fn parse_backends(value: &str) -> Result<Vec<String>, &'static str> {
    let backends: Vec<String> = split_list(value).map(str::to_owned).collect();
    for backend in &backends {
        if backend.is_empty() {
            return Err("expected a comma-separated list of host:port, found an empty entry");
        }
        check_backend(backend)?;
    }
    Ok(backends)
}

/// Checks one `host:port` address (IPv6 hosts in brackets).
fn check_backend(backend: &str) -> Result<(), &'static str> {
    const NO_PORT: &str = "expected host:port (IPv6 as [::1]:11800), found an entry without a port";
    let (host, port) = if let Some(rest) = backend.strip_prefix('[') {
        let (ip, port) = rest
            .split_once(']')
            .ok_or("expected host:port, found an IPv6 address without a closing ]")?;
        if ip.parse::<Ipv6Addr>().is_err() {
            return Err("expected host:port, found an invalid IPv6 address in brackets");
        }
        (ip, port.strip_prefix(':').ok_or(NO_PORT)?)
    } else {
        let (host, port) = backend.rsplit_once(':').ok_or(NO_PORT)?;
        if host.contains(':') {
            return Err("expected host:port, found an IPv6 address without brackets");
        }
        (host, port)
    };
    if host.is_empty() {
        return Err("expected host:port, found an entry without a host");
    }
    if host
        .chars()
        .any(|ch| ch.is_whitespace() || matches!(ch, '/' | '@' | '?' | '#' | '[' | ']'))
    {
        return Err(
            "expected host:port, found a host that is not a name or address (no scheme or path)",
        );
    }
    match port.parse::<u16>() {
        Ok(port_number) if port_number >= 1 && port.bytes().all(|b| b.is_ascii_digit()) => Ok(()),
        _ => Err("expected host:port with a port from 1 to 65535"),
    }
}

#[cfg(test)]
mod tests;
