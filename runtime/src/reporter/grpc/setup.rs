//! Turning a [`Config`](crate::config::Config) into what the background thread needs: one
//! endpoint per backend (with TLS if configured), the metadata and the instance.
//! Everything that can be wrong with the settings is found here, before the thread starts.

use std::sync::Arc;
use std::time::Duration;

use tonic::metadata::{AsciiMetadataValue, MetadataValue};
use tonic::transport::Endpoint;

use super::{GrpcError, GrpcReporterBuilder};
use crate::reporter::telemetry::Instance;

/// How long the TCP connection (and TLS handshake) to a collector may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// HTTP/2 pings find a collector that went away without closing the connection.
const KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(20);
const KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(10);

/// Everything the background thread needs, checked.
#[derive(Debug)]
pub(super) struct Settings {
    pub(super) backends: Vec<Backend>,
    /// Shared with the log streams, which name the instance in each record they send.
    pub(super) instance: Arc<Instance>,
    pub(super) authentication: Option<AsciiMetadataValue>,
    pub(super) heartbeat_period: Duration,
    pub(super) properties_factor: u32,
    pub(super) config_discovery_interval: Option<Duration>,
    pub(super) meter_report_interval: Option<Duration>,
    pub(super) batch_size: usize,
    pub(super) initial_backoff: Duration,
    pub(super) max_backoff: Duration,
    pub(super) rpc_timeout: Duration,
    /// Only the dynamic configuration is fetched: another transport carries the rest.
    pub(super) commands_only: bool,
}

/// One collector address and how to reach it.
#[derive(Debug)]
pub(super) struct Backend {
    pub(super) address: String,
    pub(super) endpoint: Endpoint,
}

pub(super) fn settings(builder: &GrpcReporterBuilder) -> Result<Settings, GrpcError> {
    let config = &builder.config;
    let tls = tls::client_config(config)?;
    let backends = config
        .backends()
        .iter()
        .map(|address| {
            let endpoint = endpoint(address, tls.as_ref())?;
            Ok(Backend {
                address: address.clone(),
                endpoint,
            })
        })
        .collect::<Result<Vec<_>, GrpcError>>()?;
    let authentication = config
        .authentication()
        .map(|token| MetadataValue::try_from(token).map_err(|_| GrpcError::InvalidAuthentication))
        .transpose()?;
    if sends_token_in_cleartext(authentication.is_some(), tls.is_some()) {
        static WARNED: std::sync::Once = std::sync::Once::new();
        WARNED.call_once(|| {
            log::warn!(
                target: "rust2sky",
                "SW_AGENT_AUTHENTICATION is set but TLS is not: the token goes to the collector \
                 in cleartext (set SW_AGENT_SSL_TRUSTED_CA_PATH or SW_AGENT_FORCE_TLS)"
            );
        });
    }

    Ok(Settings {
        backends,
        instance: Arc::new(Instance::new(config, &builder.properties)),
        authentication,
        heartbeat_period: config.heartbeat_period(),
        properties_factor: config.properties_report_period_factor().max(1),
        config_discovery_interval: config.config_discovery_interval(),
        meter_report_interval: config.meter_report_interval(),
        batch_size: builder.batch_size,
        initial_backoff: builder.initial_backoff,
        max_backoff: builder.max_backoff,
        rpc_timeout: builder.rpc_timeout,
        commands_only: builder.commands_only,
    })
}

/// Whether the authentication token would travel unencrypted, which is worth a warning: anyone
/// on the path can read it and report as this service.
fn sends_token_in_cleartext(has_token: bool, has_tls: bool) -> bool {
    has_token && !has_tls
}

fn endpoint(address: &str, tls: Option<&tls::ClientTls>) -> Result<Endpoint, GrpcError> {
    let scheme = if tls.is_some() { "https" } else { "http" };
    let invalid = |reason: String| GrpcError::InvalidBackend {
        address: address.to_owned(),
        reason,
    };
    let endpoint = Endpoint::from_shared(format!("{scheme}://{address}"))
        .map_err(|err| invalid(err.to_string()))?
        .connect_timeout(CONNECT_TIMEOUT)
        .tcp_nodelay(true)
        .http2_keep_alive_interval(KEEP_ALIVE_INTERVAL)
        .keep_alive_timeout(KEEP_ALIVE_TIMEOUT);
    match tls {
        Some(tls) => tls::apply(endpoint, tls),
        None => Ok(endpoint),
    }
}

/// An error and its sources, joined with `: `.
pub(super) fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut next = error.source();
    while let Some(source) = next {
        let part = source.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        next = source.source();
    }
    text
}

#[cfg(feature = "tls")]
mod tls {
    use std::path::Path;

    use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};

    use crate::config::Config;
    use crate::reporter::grpc::GrpcError;

    pub(super) type ClientTls = ClientTlsConfig;

    pub(super) fn client_config(config: &Config) -> Result<Option<ClientTlsConfig>, GrpcError> {
        let identity = match (config.ssl_cert_chain_path(), config.ssl_key_path()) {
            (Some(cert), Some(key)) => Some(Identity::from_pem(
                read_pem(cert, "client certificate chain", "CERTIFICATE-----")?,
                read_pem(key, "client key", "PRIVATE KEY-----")?,
            )),
            _ => None,
        };
        let mut tls = ClientTlsConfig::new();
        match config.ssl_trusted_ca_path() {
            Some(ca) => {
                let ca = read_pem(ca, "trusted CA", "-----BEGIN CERTIFICATE-----")?;
                tls = tls.ca_certificate(Certificate::from_pem(ca));
            }
            None if config.force_tls() => tls = tls.with_native_roots(),
            None if identity.is_some() => {
                return Err(GrpcError::Tls(
                    "a client certificate and key are set but TLS is off: set the trusted CA \
                     file or force TLS"
                        .to_owned(),
                ));
            }
            None => return Ok(None),
        }
        if let Some(identity) = identity {
            tls = tls.identity(identity);
        }
        Ok(Some(tls))
    }

    pub(super) fn apply(endpoint: Endpoint, tls: &ClientTlsConfig) -> Result<Endpoint, GrpcError> {
        endpoint
            .tls_config(tls.clone())
            .map_err(|err| GrpcError::Tls(super::error_chain(&err)))
    }

    /// Reads a PEM file that must contain `marker`, so that a wrong file is an error at start
    /// rather than a handshake that fails forever.
    fn read_pem(path: &Path, what: &'static str, marker: &str) -> Result<Vec<u8>, GrpcError> {
        let contents = std::fs::read(path).map_err(|source| GrpcError::TlsFile {
            what,
            path: path.to_owned(),
            source,
        })?;
        if !String::from_utf8_lossy(&contents).contains(marker) {
            return Err(GrpcError::Tls(format!(
                "the {what} file {} is not PEM (no `{marker}` in it)",
                path.display()
            )));
        }
        Ok(contents)
    }
}

#[cfg(not(feature = "tls"))]
mod tls {
    use tonic::transport::Endpoint;

    use crate::config::Config;
    use crate::reporter::grpc::GrpcError;

    pub(super) enum ClientTls {}

    pub(super) fn client_config(config: &Config) -> Result<Option<ClientTls>, GrpcError> {
        if config.ssl_trusted_ca_path().is_some()
            || config.force_tls()
            || config.ssl_key_path().is_some()
        {
            return Err(GrpcError::TlsUnavailable);
        }
        Ok(None)
    }

    pub(super) fn apply(_endpoint: Endpoint, tls: &ClientTls) -> Result<Endpoint, GrpcError> {
        match *tls {}
    }
}
