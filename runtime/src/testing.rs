//! A SkyWalking collector inside the process, for tests and local development.
//!
//! [`Collector`] is a real gRPC server on a TCP port (on `127.0.0.1` unless told otherwise) that
//! serves the services an agent calls, as the OAP does, and keeps what it receives so that a
//! test can look at it: segments, log records, meters, instance properties, heartbeats,
//! configuration fetches and the `authentication` token of every call. It runs on a thread of its own, so it works the same
//! from a plain `#[test]`, from inside any tokio runtime, and from `main`.
//!
//! Enabled by the `testing` cargo feature.
//!
//! ```
//! use std::time::Duration;
//! use rust2sky::{config::Config, reporter::GrpcReporter, testing::Collector, Tracer};
//!
//! let collector = Collector::start()?;
//! let config = Config::builder().service_name("checkout").backends([collector.backend()]).build()?;
//! let tracer = Tracer::new(config.clone(), GrpcReporter::start(&config)?);
//! tracer.in_scope(|| {
//!     let _span = rust2sky::local_span("price cart").entered();
//! });
//!
//! let segments = collector.wait_for_segments(1, Duration::from_secs(10));
//! assert_eq!(segments[0].service, "checkout");
//! assert_eq!(segments[0].spans[0].operation_name, "price cart");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod waterfall;

pub use self::waterfall::Waterfall;

use std::fmt;
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use rust2sky_proto::v3::configuration_discovery_service_server::{
    ConfigurationDiscoveryService, ConfigurationDiscoveryServiceServer,
};
use rust2sky_proto::v3::log_report_service_server::{LogReportService, LogReportServiceServer};
use rust2sky_proto::v3::management_service_server::{ManagementService, ManagementServiceServer};
use rust2sky_proto::v3::meter_report_service_server::{
    MeterReportService, MeterReportServiceServer,
};
use rust2sky_proto::v3::trace_segment_report_service_server::{
    TraceSegmentReportService, TraceSegmentReportServiceServer,
};
use rust2sky_proto::v3::{
    Command, Commands, ConfigurationSyncRequest, InstancePingPkg, InstanceProperties,
    KeyStringValuePair, LogData, MeterData, MeterDataCollection, SegmentCollection, SegmentObject,
};
use tonic::{Request, Response, Status, Streaming};

/// What a [`Collector`] has received so far, in the order it arrived.
///
/// ```
/// let received = rust2sky::testing::Received::default();
/// assert!(received.segments.is_empty());
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct Received {
    /// Every segment, from `collect` streams and `collectInSync` calls, including those of a
    /// stream that failed before the client saw its answer; only the last ones with
    /// [`CollectorBuilder::keep_last`], as for every list here.
    pub segments: Vec<SegmentObject>,
    /// How many segments arrived, including those no longer kept.
    pub segment_count: u64,
    /// Every `reportInstanceProperties` call.
    pub instance_properties: Vec<InstanceProperties>,
    /// Every `keepAlive` call.
    pub pings: Vec<InstancePingPkg>,
    /// Every `fetchConfigurations` call.
    pub configuration_requests: Vec<ConfigurationSyncRequest>,
    /// Every log record, from `LogReportService/collect` streams.
    pub logs: Vec<LogData>,
    /// Every meter reading, from `MeterReportService/collect` and `collectBatch` streams.
    pub meters: Vec<MeterData>,
    /// The `authentication` metadata of every call, in order (`None` where there was none).
    pub authentication: Vec<Option<String>>,
    /// How many `collect` streams were opened.
    pub segment_streams: usize,
    /// Calls refused because their `authentication` token was not the one required.
    pub unauthenticated: usize,
}

/// A gRPC collector on a local port that records what agents send it; see the
/// [module documentation](self).
///
/// Dropping it (or [`Collector::stop`]) closes the port and every connection at once, as a
/// collector that crashed would: a test can then start another on the same
/// [`address`](Collector::address) to play a restart.
///
/// ```
/// # use rust2sky::testing::Collector;
/// let collector = Collector::start()?;
/// assert!(collector.address().ip().is_loopback());
/// assert!(collector.received().segments.is_empty());
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Collector {
    address: SocketAddr,
    state: Arc<State>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

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
    #[cfg(feature = "tls")]
    tls: Option<tonic::transport::ServerTlsConfig>,
}

#[derive(Debug, Clone)]
struct DynamicConfiguration {
    uuid: String,
    values: Vec<(String, String)>,
}

#[derive(Default)]
struct State {
    received: Mutex<Received>,
    arrived: Condvar,
    configuration: Mutex<Option<DynamicConfiguration>>,
}

impl State {
    fn lock(&self) -> MutexGuard<'_, Received> {
        self.received.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn record(&self, change: impl FnOnce(&mut Received)) {
        change(&mut self.lock());
        self.arrived.notify_all();
    }
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
            #[cfg(feature = "tls")]
            tls: None,
        }
    }

    /// The address it listens on.
    ///
    /// ```
    /// let collector = rust2sky::testing::Collector::start()?;
    /// println!("collector on {}", collector.address());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The address as [`Config::backends`](crate::config::Config::backends) takes it
    /// (`127.0.0.1:port`).
    ///
    /// ```
    /// use rust2sky::{config::Config, testing::Collector};
    ///
    /// let collector = Collector::start()?;
    /// let config = Config::builder().backends([collector.backend()]).build()?;
    /// assert_eq!(config.backends(), [collector.backend()]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn backend(&self) -> String {
        self.address.to_string()
    }

    /// Everything received so far.
    ///
    /// ```
    /// let collector = rust2sky::testing::Collector::start()?;
    /// assert_eq!(collector.received().segment_streams, 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn received(&self) -> Received {
        self.state.lock().clone()
    }

    /// The segments received so far.
    ///
    /// ```
    /// let collector = rust2sky::testing::Collector::start()?;
    /// assert!(collector.segments().is_empty());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn segments(&self) -> Vec<SegmentObject> {
        self.state.lock().segments.clone()
    }

    /// Waits until at least `count` segments have arrived, or `timeout` has passed, and returns
    /// the segments received by then (check their number).
    ///
    /// ```
    /// # use std::time::Duration;
    /// let collector = rust2sky::testing::Collector::start()?;
    /// assert!(collector.wait_for_segments(1, Duration::from_millis(10)).is_empty());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn wait_for_segments(&self, count: usize, timeout: Duration) -> Vec<SegmentObject> {
        self.wait_until(timeout, |received| received.segment_count >= count as u64)
            .segments
    }

    /// Waits until `done` holds for what has been received, or `timeout` has passed; returns
    /// what has been received by then.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let collector = rust2sky::testing::Collector::start()?;
    /// let received = collector.wait_until(Duration::from_millis(10), |received| !received.pings.is_empty());
    /// assert!(received.pings.is_empty());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn wait_until(
        &self,
        timeout: Duration,
        mut done: impl FnMut(&Received) -> bool,
    ) -> Received {
        let received = self.state.lock();
        let (received, _) = self
            .state
            .arrived
            .wait_timeout_while(received, timeout, |received| !done(received))
            .unwrap_or_else(PoisonError::into_inner);
        received.clone()
    }

    /// Forgets everything received so far (the counts too), as if the collector had just started;
    /// for a test in phases, or a long-running one.
    ///
    /// ```
    /// let collector = rust2sky::testing::Collector::start()?;
    /// collector.clear();
    /// assert_eq!(collector.received(), rust2sky::testing::Received::default());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn clear(&self) {
        *self.state.lock() = Received::default();
    }

    /// Everything received since the collector started, or since the last `take` or
    /// [`Collector::clear`], which it then forgets: for a long-running collector that handles
    /// what arrives as it arrives.
    ///
    /// ```
    /// let collector = rust2sky::testing::Collector::start()?;
    /// let fresh = collector.take();
    /// assert_eq!(fresh.segment_count, 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn take(&self) -> Received {
        std::mem::take(&mut *self.state.lock())
    }

    /// Serves this dynamic configuration from now on (`fetchConfigurations`), as when an operator
    /// changes it in the OAP.
    ///
    /// ```
    /// let collector = rust2sky::testing::Collector::start()?;
    /// collector.set_configuration("v2", [("agent.sample_rate", "0")]);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_configuration<K: Into<String>, V: Into<String>>(
        &self,
        uuid: impl Into<String>,
        values: impl IntoIterator<Item = (K, V)>,
    ) {
        *self
            .state
            .configuration
            .lock()
            .unwrap_or_else(PoisonError::into_inner) =
            Some(DynamicConfiguration::new(uuid, values));
    }

    /// Closes the port and every connection at once, like a crash; what was received stays
    /// readable until then. Dropping the collector does the same.
    ///
    /// ```
    /// let collector = rust2sky::testing::Collector::start()?;
    /// let received = collector.received();
    /// collector.stop();
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn stop(self) {}
}

impl Drop for Collector {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl fmt::Debug for Collector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let received = self.state.lock();
        f.debug_struct("Collector")
            .field("address", &self.address)
            .field("segments", &received.segments.len())
            .finish_non_exhaustive()
    }
}

impl DynamicConfiguration {
    fn new<K: Into<String>, V: Into<String>>(
        uuid: impl Into<String>,
        values: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        DynamicConfiguration {
            uuid: uuid.into(),
            values: values
                .into_iter()
                .map(|(key, value)| (key.into(), value.into()))
                .collect(),
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

    /// Waits this long before taking each segment of a stream: a slow collector.
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

    /// Keeps only the last `limit` or so of each kind of record (segments, log records, meter
    /// readings, heartbeats, calls; all by default), so that a long-running collector holds
    /// bounded memory: when a list reaches `limit`, its oldest quarter is forgotten.
    /// [`Received::segment_count`] still counts every segment.
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
        let runtime = crate::agent_thread::runtime()?;
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
            .add_service(LogReportServiceServer::new(service.clone()))
            .add_service(MeterReportServiceServer::new(service.clone()))
            .add_service(ConfigurationDiscoveryServiceServer::new(service));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("rust2sky-collector".to_owned())
            .spawn(move || {
                crate::agent_thread::mark();
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

/// The gRPC services, all recording into one [`State`].
#[derive(Clone)]
struct Service {
    state: Arc<State>,
    authentication: Option<String>,
    segment_delay: Duration,
    keep_last: usize,
}

impl Service {
    /// Records the call's token, and refuses the call if it is not the one required.
    fn admit<T>(&self, request: &Request<T>) -> Result<(), Status> {
        let token = request
            .metadata()
            .get("authentication")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let refused = self
            .authentication
            .as_ref()
            .is_some_and(|required| token.as_ref() != Some(required));
        self.state.record(|received| {
            push_bounded(&mut received.authentication, token, self.keep_last);
            received.unauthenticated += usize::from(refused);
        });
        if refused {
            return Err(Status::unauthenticated(
                "wrong or missing authentication token",
            ));
        }
        Ok(())
    }

    fn keep(&self, segments: impl IntoIterator<Item = SegmentObject>) {
        self.state.record(|received| {
            for segment in segments {
                received.segment_count += 1;
                push_bounded(&mut received.segments, segment, self.keep_last);
            }
        });
    }
}

#[tonic::async_trait]
impl TraceSegmentReportService for Service {
    async fn collect(
        &self,
        request: Request<Streaming<SegmentObject>>,
    ) -> Result<Response<Commands>, Status> {
        self.admit(&request)?;
        self.state.record(|received| received.segment_streams += 1);
        let mut stream = request.into_inner();
        while let Some(segment) = stream.message().await? {
            if !self.segment_delay.is_zero() {
                tokio::time::sleep(self.segment_delay).await;
            }
            self.keep([segment]);
        }
        Ok(Response::new(Commands::default()))
    }

    async fn collect_in_sync(
        &self,
        request: Request<SegmentCollection>,
    ) -> Result<Response<Commands>, Status> {
        self.admit(&request)?;
        self.keep(request.into_inner().segments);
        Ok(Response::new(Commands::default()))
    }
}

#[tonic::async_trait]
impl ManagementService for Service {
    async fn report_instance_properties(
        &self,
        request: Request<InstanceProperties>,
    ) -> Result<Response<Commands>, Status> {
        self.admit(&request)?;
        let properties = request.into_inner();
        self.state.record(|received| {
            push_bounded(
                &mut received.instance_properties,
                properties,
                self.keep_last,
            )
        });
        Ok(Response::new(Commands::default()))
    }

    async fn keep_alive(
        &self,
        request: Request<InstancePingPkg>,
    ) -> Result<Response<Commands>, Status> {
        self.admit(&request)?;
        let ping = request.into_inner();
        self.state
            .record(|received| push_bounded(&mut received.pings, ping, self.keep_last));
        Ok(Response::new(Commands::default()))
    }
}

#[tonic::async_trait]
impl LogReportService for Service {
    async fn collect(
        &self,
        request: Request<Streaming<LogData>>,
    ) -> Result<Response<Commands>, Status> {
        self.admit(&request)?;
        let mut stream = request.into_inner();
        while let Some(log) = stream.message().await? {
            self.state
                .record(|received| push_bounded(&mut received.logs, log, self.keep_last));
        }
        Ok(Response::new(Commands::default()))
    }
}

#[tonic::async_trait]
impl MeterReportService for Service {
    async fn collect(
        &self,
        request: Request<Streaming<MeterData>>,
    ) -> Result<Response<Commands>, Status> {
        self.admit(&request)?;
        let mut stream = request.into_inner();
        while let Some(meter) = stream.message().await? {
            self.state
                .record(|received| push_bounded(&mut received.meters, meter, self.keep_last));
        }
        Ok(Response::new(Commands::default()))
    }

    async fn collect_batch(
        &self,
        request: Request<Streaming<MeterDataCollection>>,
    ) -> Result<Response<Commands>, Status> {
        self.admit(&request)?;
        let mut stream = request.into_inner();
        while let Some(batch) = stream.message().await? {
            self.state.record(|received| {
                for meter in batch.meter_data {
                    push_bounded(&mut received.meters, meter, self.keep_last);
                }
            });
        }
        Ok(Response::new(Commands::default()))
    }
}

#[tonic::async_trait]
impl ConfigurationDiscoveryService for Service {
    async fn fetch_configurations(
        &self,
        request: Request<ConfigurationSyncRequest>,
    ) -> Result<Response<Commands>, Status> {
        self.admit(&request)?;
        let sync = request.into_inner();
        let configuration = self
            .state
            .configuration
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let commands = match configuration {
            // As the OAP: nothing when the agent has this version already.
            Some(configuration) if configuration.uuid != sync.uuid => {
                vec![discovery_command(configuration)]
            }
            _ => Vec::new(),
        };
        self.state.record(|received| {
            push_bounded(&mut received.configuration_requests, sync, self.keep_last)
        });
        Ok(Response::new(Commands { commands }))
    }
}

/// The command the OAP sends: a fresh serial number, the version, then one argument per key.
fn discovery_command(configuration: DynamicConfiguration) -> Command {
    let pair = |key: &str, value: String| KeyStringValuePair {
        key: key.to_owned(),
        value,
    };
    let mut args = vec![
        pair("SerialNumber", crate::id::Id::generate().to_string()),
        pair("UUID", configuration.uuid),
    ];
    args.extend(
        configuration
            .values
            .into_iter()
            .map(|(key, value)| KeyStringValuePair { key, value }),
    );
    Command {
        command: "ConfigurationDiscoveryCommand".to_owned(),
        args,
    }
}

/// Adds `item` to `list`, first forgetting the oldest quarter when the list holds `limit` items:
/// the cost of forgetting is spread over the pushes that follow.
fn push_bounded<T>(list: &mut Vec<T>, item: T, limit: usize) {
    if limit == 0 {
        return;
    }
    if list.len() >= limit {
        list.drain(..(limit / 4).max(1));
    }
    list.push(item);
}
