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

use std::time::Duration;

mod dynamic;
pub mod env;
mod generate;
mod kinds;
mod live;
mod settings;
pub use self::dynamic::DynamicConfig;
pub use self::live::LiveSettings;
pub(crate) use self::live::WeakLiveSettings;
pub use self::settings::{
    DEFAULT_BACKEND, DEFAULT_IGNORE_SUFFIXES, DEFAULT_SERVICE_NAME, KafkaCompression,
    KafkaSaslMechanism, KafkaSecurityProtocol, Protocol,
};
// `dynamic.rs` reads the collector's lists with the same splitter as the environment's.
use self::kinds::split_nonempty;

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
    /// A Kafka TLS file is set, but [`Config::kafka_security_protocol`] does not use TLS: the
    /// file would be ignored and the connection left in cleartext.
    #[error(
        "{variable} is set but SW_KAFKA_SECURITY_PROTOCOL={protocol} does not use TLS: \
         set SW_KAFKA_SECURITY_PROTOCOL to SSL or SASL_SSL"
    )]
    KafkaTlsFileWithoutTls {
        /// The TLS file's variable, e.g. `SW_KAFKA_SSL_CA_FILE`.
        variable: &'static str,
        /// The protocol: `PLAINTEXT` or `SASL_PLAINTEXT`.
        protocol: KafkaSecurityProtocol,
    },
    /// [`Config::kafka_security_protocol`] authenticates with SASL, but the user name or the
    /// password is not set.
    #[error(
        "SW_KAFKA_SECURITY_PROTOCOL={protocol} authenticates with SASL but {missing} is not set: \
         set SW_KAFKA_SASL_USERNAME and SW_KAFKA_SASL_PASSWORD"
    )]
    KafkaSaslCredentialsMissing {
        /// The protocol: `SASL_PLAINTEXT` or `SASL_SSL`.
        protocol: KafkaSecurityProtocol,
        /// The variable that is missing: `SW_KAFKA_SASL_USERNAME` or `SW_KAFKA_SASL_PASSWORD`.
        missing: &'static str,
    },
    /// A SASL user name or password is set, but [`Config::kafka_security_protocol`] does not
    /// authenticate with SASL: it would be ignored, and the brokers reached without it.
    #[error(
        "{variable} is set but SW_KAFKA_SECURITY_PROTOCOL={protocol} does not use SASL: \
         set SW_KAFKA_SECURITY_PROTOCOL to SASL_PLAINTEXT or SASL_SSL"
    )]
    KafkaSaslWithoutSasl {
        /// The variable: `SW_KAFKA_SASL_USERNAME` or `SW_KAFKA_SASL_PASSWORD`.
        variable: &'static str,
        /// The protocol: `PLAINTEXT` or `SSL`.
        protocol: KafkaSecurityProtocol,
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
    // The fields, `Default`, `Debug` and one getter a field come from the table in
    // `settings.rs`; what is written here is what no single row says.
    values: settings::Values,
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
        self.heartbeat_period()
            .saturating_mul(self.properties_report_period_factor())
    }

    /// The correlation limits, as the propagation codecs take them.
    ///
    /// ```
    /// let limits = rust2sky::config::Config::default().correlation_limits();
    /// assert_eq!((limits.max_keys, limits.max_value_len), (3, 128));
    /// ```
    pub fn correlation_limits(&self) -> crate::propagation::CorrelationLimits {
        crate::propagation::CorrelationLimits {
            max_keys: self.correlation_max_keys(),
            max_value_len: self.correlation_max_value_length(),
        }
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

    // One setter a setting comes from the table in `settings.rs`.

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
    pub fn build_with_env<F>(self, mut lookup: F) -> Result<Config, ConfigError>
    where
        F: FnMut(&str) -> Option<String>,
    {
        let values = self
            .config
            .values
            .resolve(|name| lookup(name).and_then(trimmed))?;
        let config = Config { values };
        // The checks that no single setting can make alone: wherever each value was set,
        // mutual TLS needs both files, a Kafka TLS file needs TLS, and SASL its credentials
        // (which mean nothing without it).
        client_identity_pair(
            (env::SSL_KEY_PATH, config.ssl_key_path()),
            (env::SSL_CERT_CHAIN_PATH, config.ssl_cert_chain_path()),
        )?;
        client_identity_pair(
            (env::KAFKA_SSL_KEY_FILE, config.kafka_ssl_key_file()),
            (env::KAFKA_SSL_CERT_FILE, config.kafka_ssl_cert_file()),
        )?;
        let protocol = config.kafka_security_protocol();
        if !protocol.uses_tls() {
            let tls_file = [
                (env::KAFKA_SSL_CA_FILE, config.kafka_ssl_ca_file()),
                (env::KAFKA_SSL_CERT_FILE, config.kafka_ssl_cert_file()),
            ]
            .into_iter()
            .find_map(|(variable, value)| value.is_some().then_some(variable));
            if let Some(variable) = tls_file {
                return Err(ConfigError::KafkaTlsFileWithoutTls { variable, protocol });
            }
        }
        let credentials = [
            (env::KAFKA_SASL_USERNAME, config.kafka_sasl_username()),
            (env::KAFKA_SASL_PASSWORD, config.kafka_sasl_password()),
        ];
        if protocol.uses_sasl() {
            if let Some((missing, _)) = credentials.iter().find(|(_, value)| value.is_none()) {
                return Err(ConfigError::KafkaSaslCredentialsMissing { protocol, missing });
            }
        } else if let Some((variable, _)) = credentials.iter().find(|(_, value)| value.is_some()) {
            return Err(ConfigError::KafkaSaslWithoutSasl { variable, protocol });
        }
        Ok(config)
    }
}

/// A TLS client key and its certificate chain, each by its variable: both or neither.
fn client_identity_pair(
    (key_variable, key): (&'static str, Option<&std::path::Path>),
    (chain_variable, chain): (&'static str, Option<&std::path::Path>),
) -> Result<(), ConfigError> {
    match (key, chain) {
        (Some(key), None) => Err(ConfigError::TlsClientIdentityIncomplete {
            present: key_variable,
            value: key.display().to_string(),
            missing: chain_variable,
        }),
        (None, Some(chain)) => Err(ConfigError::TlsClientIdentityIncomplete {
            present: chain_variable,
            value: chain.display().to_string(),
            missing: key_variable,
        }),
        _ => Ok(()),
    }
}

/// A variable's value as the settings see it: trimmed, and none when nothing is left, so that
/// a variable set to blanks counts as unset.
fn trimmed(value: String) -> Option<String> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        None
    } else if trimmed.len() == value.len() {
        Some(value)
    } else {
        Some(trimmed.to_owned())
    }
}

#[cfg(test)]
mod tests;
