//! How a collector starts: its address, token, TLS, speed and configuration, then its thread.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use rust2sky_proto::v3::configuration_discovery_service_server::ConfigurationDiscoveryServiceServer;
use rust2sky_proto::v3::log_report_service_server::LogReportServiceServer;
use rust2sky_proto::v3::management_service_server::ManagementServiceServer;
use rust2sky_proto::v3::meter_report_service_server::MeterReportServiceServer;
use rust2sky_proto::v3::trace_segment_report_service_server::TraceSegmentReportServiceServer;

use super::collector::Collector;
use super::service::Service;
use super::state::{DynamicConfiguration, State};

/// How to start a [`Collector`]; from [`Collector::builder`].
///
/// ```
/// use std::time::Duration;
/// use rust2sky::testing::Collector;
///
/// let collector = Collector::builder()
///     .authentication("secret")
///     .segment_delay(Duration::from_millis(1))
///     .configuration("v1", [("agent.sample_rate", "0.5")])
///     .start()?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `start` is called"]
pub struct CollectorBuilder {
    address: SocketAddr,
    authentication: Option<String>,
    segment_delay: Duration,
    keep_last: usize,
    configuration: Option<DynamicConfiguration>,
    serve_logs: bool,
    #[cfg(feature = "tls")]
    tls: Option<tonic::transport::ServerTlsConfig>,
}

impl Collector {
    /// Starts a collector on a free port of `127.0.0.1`, with no authentication and no TLS.
    ///
    /// ```
    /// let collector = rust2sky::testing::Collector::start()?;
    /// assert_ne!(collector.address().port(), 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn start() -> std::io::Result<Collector> {
        Collector::builder().start()
    }

    /// A builder, for a fixed address, a required token, TLS, a slow collector or a dynamic
    /// configuration to serve.
    ///
    /// ```
    /// let collector = rust2sky::testing::Collector::builder().authentication("token").start()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn builder() -> CollectorBuilder {
        CollectorBuilder {
            address: SocketAddr::from(([127, 0, 0, 1], 0)),
            authentication: None,
            segment_delay: Duration::ZERO,
            keep_last: usize::MAX,
            configuration: None,
            serve_logs: true,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }
}

impl CollectorBuilder {
    /// Listens on this address (default `127.0.0.1:0`, a free port).
    ///
    /// ```
    /// use rust2sky::testing::Collector;
    ///
    /// let first = Collector::start()?;
    /// let address = first.address();
    /// first.stop();
    /// let restarted = Collector::builder().address(address).start()?;
    /// assert_eq!(restarted.address(), address);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn address(mut self, address: SocketAddr) -> Self {
        self.address = address;
        self
    }

    /// Refuses (`UNAUTHENTICATED`) every call whose `authentication` metadata is not `token`, as
    /// an OAP with a token configured does.
    ///
    /// ```
    /// let collector = rust2sky::testing::Collector::builder().authentication("secret").start()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn authentication(mut self, token: impl Into<String>) -> Self {
        self.authentication = Some(token.into());
        self
    }

    /// Waits this long before taking each segment of a stream: a slow collector. Segments
    /// taken before a stream fails (the client's deadline passed, say) are still received.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let slow = rust2sky::testing::Collector::builder().segment_delay(Duration::from_millis(50)).start()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn segment_delay(mut self, delay: Duration) -> Self {
        self.segment_delay = delay;
        self
    }

    /// Whether to serve `LogReportService` (yes by default). Without it, log streams are
    /// answered `Unimplemented`, as by an OAP whose log receiver is off; the other services
    /// are served as usual.
    ///
    /// ```
    /// let without_logs = rust2sky::testing::Collector::builder().serve_logs(false).start()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn serve_logs(mut self, serve: bool) -> Self {
        self.serve_logs = serve;
        self
    }

    /// Keeps only the last `limit` or so of each kind of record (segments, log records, meter
    /// readings, heartbeats, calls; all by default), so that a long-running collector holds
    /// bounded memory: when a list reaches `limit`, its oldest quarter is forgotten.
    /// [`Received::segment_count`](super::Received::segment_count) still counts every segment.
    ///
    /// ```
    /// let counting_only = rust2sky::testing::Collector::builder().keep_last(0).start()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn keep_last(mut self, limit: usize) -> Self {
        self.keep_last = limit;
        self
    }

    /// Serves this dynamic configuration (`fetchConfigurations` answers with a
    /// `ConfigurationDiscoveryCommand`; nothing when the agent already has this `uuid`).
    ///
    /// ```
    /// let collector = rust2sky::testing::Collector::builder()
    ///     .configuration("v1", [("agent.sample_rate", "0.25")])
    ///     .start()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn configuration<K: Into<String>, V: Into<String>>(
        mut self,
        uuid: impl Into<String>,
        values: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        self.configuration = Some(DynamicConfiguration::new(uuid, values));
        self
    }

    /// Serves TLS with this certificate chain and private key (PEM); with `client_ca`, asks
    /// clients for a certificate signed by it (mutual TLS). Needs the `tls` feature.
    ///
    /// ```no_run
    /// let (cert, key) = (std::fs::read("server.pem")?, std::fs::read("server.key")?);
    /// let collector = rust2sky::testing::Collector::builder().tls(cert, key, None).start()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[cfg(feature = "tls")]
    pub fn tls(
        mut self,
        cert_chain_pem: impl AsRef<[u8]>,
        key_pem: impl AsRef<[u8]>,
        client_ca_pem: Option<&[u8]>,
    ) -> Self {
        use tonic::transport::{Certificate, Identity, ServerTlsConfig};
        let mut tls = ServerTlsConfig::new().identity(Identity::from_pem(cert_chain_pem, key_pem));
        if let Some(ca) = client_ca_pem {
            tls = tls.client_ca_root(Certificate::from_pem(ca));
        }
        self.tls = Some(tls);
        self
    }

    /// Binds the port and starts serving; returns once the port is open.
    ///
    /// ```
    /// let collector = rust2sky::testing::Collector::builder().start()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn start(self) -> std::io::Result<Collector> {
        let listener = TcpListener::bind(self.address)?;
        listener.set_nonblocking(true)?;
        let address = listener.local_addr()?;
        let state = Arc::new(State {
            configuration: Mutex::new(self.configuration.clone()),
            ..State::default()
        });
        let mut server = tonic::transport::Server::builder();
        #[cfg(feature = "tls")]
        if let Some(tls) = self.tls.clone() {
            server = server
                .tls_config(tls)
                .map_err(|err| std::io::Error::new(std::io::ErrorKind::InvalidInput, err))?;
        }
        let service = Service {
            state: Arc::clone(&state),
            authentication: self.authentication,
            segment_delay: self.segment_delay,
            keep_last: self.keep_last,
        };
        let router = server
            .add_service(TraceSegmentReportServiceServer::new(service.clone()))
            .add_service(ManagementServiceServer::new(service.clone()))
            .add_optional_service(
                self.serve_logs
                    .then(|| LogReportServiceServer::new(service.clone())),
            )
            .add_service(MeterReportServiceServer::new(service.clone()))
            .add_service(ConfigurationDiscoveryServiceServer::new(service));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = crate::agent_thread::spawn("rust2sky-collector", move |runtime| {
            runtime.block_on(async move {
                let incoming = match tokio::net::TcpListener::from_std(listener) {
                    Ok(listener) => tonic::transport::server::TcpIncoming::from(listener),
                    Err(err) => {
                        log::error!(target: "rust2sky", "the test collector cannot listen: {err}");
                        return;
                    }
                };
                tokio::select! {
                    _ = stopped => {}
                    result = router.serve_with_incoming(incoming) => {
                        if let Err(err) = result {
                            log::error!(target: "rust2sky", "the test collector failed: {err}");
                        }
                    }
                }
            });
            // Dropping the runtime here drops every connection task: a crash, not a goodbye.
            drop(runtime);
        })?;
        Ok(Collector {
            address,
            state,
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}
