//! TLS and SASL to the brokers, made once from the Kafka security settings when the reporter
//! starts, so that a file that cannot be used is an error then rather than a failure on every
//! connection.

use rskafka::client::{ClientBuilder, Credentials, SaslConfig};

use super::KafkaError;
use crate::config::{Config, KafkaSaslMechanism};

/// What every connection to the brokers is made with. No `Debug`: it holds the SASL password.
pub(super) struct Security {
    #[cfg(feature = "tls")]
    tls: Option<std::sync::Arc<rustls::ClientConfig>>,
    sasl: Option<SaslConfig>,
    /// Who the connections authenticate as, for the lines that say why one failed: a refused
    /// password reads as an unreachable broker otherwise.
    login: String,
}

impl Security {
    /// From [`Config::kafka_security_protocol`] and the files and credentials it uses; the
    /// configuration has already checked that the files come only with TLS, the key with its
    /// certificate, and that SASL has its user name and password.
    pub(super) fn new(config: &Config) -> Result<Security, KafkaError> {
        let protocol = config.kafka_security_protocol();
        let sasl = if protocol.uses_sasl() {
            sasl_config(config)
        } else {
            None
        };
        let login = match (&sasl, config.kafka_sasl_username()) {
            (Some(_), Some(user)) => format!(
                " (authenticating with SASL {} as {user:?})",
                config.kafka_sasl_mechanism()
            ),
            _ => String::new(),
        };
        let uses_tls = protocol.uses_tls();
        #[cfg(feature = "tls")]
        {
            let tls = if uses_tls {
                Some(std::sync::Arc::new(tls::client_config(config)?))
            } else {
                None
            };
            Ok(Security { tls, sasl, login })
        }
        #[cfg(not(feature = "tls"))]
        if uses_tls {
            Err(KafkaError::TlsUnavailable)
        } else {
            Ok(Security { sasl, login })
        }
    }

    /// ` (authenticating with SASL <mechanism> as "<user>")` with SASL, else nothing: what
    /// follows the brokers in a line about a failed connection.
    pub(super) fn login(&self) -> &str {
        &self.login
    }

    /// `builder` with TLS and SASL as configured.
    pub(super) fn apply(&self, builder: ClientBuilder) -> ClientBuilder {
        let builder = match &self.sasl {
            Some(sasl) => builder.sasl_config(sasl.clone()),
            None => builder,
        };
        #[cfg(feature = "tls")]
        if let Some(tls) = &self.tls {
            return builder.tls_config(std::sync::Arc::clone(tls));
        }
        builder
    }
}

/// rskafka's SASL settings for the configured mechanism and credentials; `None` without both
/// (which the configuration has refused already).
fn sasl_config(config: &Config) -> Option<SaslConfig> {
    let credentials = Credentials::new(
        config.kafka_sasl_username()?.to_owned(),
        config.kafka_sasl_password()?.to_owned(),
    );
    Some(match config.kafka_sasl_mechanism() {
        KafkaSaslMechanism::ScramSha256 => SaslConfig::ScramSha256(credentials),
        KafkaSaslMechanism::ScramSha512 => SaslConfig::ScramSha512(credentials),
    })
}

#[cfg(feature = "tls")]
mod tls {
    use std::path::Path;
    use std::sync::Arc;

    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    use rustls::{ClientConfig, RootCertStore};

    use super::KafkaError;
    use crate::config::Config;

    /// rustls with the ring provider, as tonic's TLS has it: named here rather than taken from
    /// the process's default, which is unset or another one in some applications.
    pub(super) fn client_config(config: &Config) -> Result<ClientConfig, KafkaError> {
        let roots = match config.kafka_ssl_ca_file() {
            Some(ca) => {
                let mut roots = RootCertStore::empty();
                for certificate in certificates(ca, "trusted CA")? {
                    roots.add(certificate).map_err(|err| {
                        KafkaError::Tls(format!(
                            "a certificate of the trusted CA file {} cannot be used: {err}",
                            ca.display()
                        ))
                    })?;
                }
                roots
            }
            None => system_roots()?,
        };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|err| KafkaError::Tls(err.to_string()))?
            .with_root_certificates(roots);
        match (config.kafka_ssl_cert_file(), config.kafka_ssl_key_file()) {
            (Some(chain), Some(key)) => {
                let chain = certificates(chain, "client certificate chain")?;
                let key = private_key(key)?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|err| KafkaError::Tls(format!("the client certificate: {err}")))
            }
            _ => Ok(builder.with_no_client_auth()),
        }
    }

    /// The system's trusted roots, as tonic's `tls-native-roots` finds them.
    fn system_roots() -> Result<RootCertStore, KafkaError> {
        let mut roots = RootCertStore::empty();
        let found = rustls_native_certs::load_native_certs();
        roots.add_parsable_certificates(found.certs);
        if roots.is_empty() {
            return Err(KafkaError::Tls(
                "no trusted root certificate found on this system; set SW_KAFKA_SSL_CA_FILE"
                    .to_owned(),
            ));
        }
        Ok(roots)
    }

    fn read(path: &Path, what: &'static str) -> Result<Vec<u8>, KafkaError> {
        std::fs::read(path).map_err(|source| KafkaError::TlsFile {
            what,
            path: path.to_owned(),
            source,
        })
    }

    /// The certificates of a PEM file, at least one.
    fn certificates(
        path: &Path,
        what: &'static str,
    ) -> Result<Vec<CertificateDer<'static>>, KafkaError> {
        let pem = read(path, what)?;
        let certificates = CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|err| {
                KafkaError::Tls(format!(
                    "the {what} file {} is not PEM: {err}",
                    path.display()
                ))
            })?;
        if certificates.is_empty() {
            return Err(KafkaError::Tls(format!(
                "the {what} file {} holds no PEM certificate",
                path.display()
            )));
        }
        Ok(certificates)
    }

    fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, KafkaError> {
        let pem = read(path, "client key")?;
        PrivateKeyDer::from_pem_slice(&pem).map_err(|err| {
            KafkaError::Tls(format!(
                "the client key file {} holds no PEM private key: {err}",
                path.display()
            ))
        })
    }
}
