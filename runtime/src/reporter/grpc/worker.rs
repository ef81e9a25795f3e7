//! The background thread: one current-thread tokio runtime running eight loops on one task.
//!
//! - the link loop connects to a collector (the first call on a new connection reports the
//!   instance properties), publishes the live channel, and when a call on it fails moves to the
//!   next backend, waiting with exponential backoff once every backend has failed;
//! - the segment, log, meter and management loops take batches off their queues and send them
//!   while the link is up;
//! - the heartbeat loop queues a `keepAlive`, or the instance properties every few heartbeats;
//! - the meter sample loop queues the meters, the process figures and the agent's counts;
//! - the discovery loop fetches the dynamic configuration.

use std::cell::RefCell;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use rust2sky_proto::v3::configuration_discovery_service_client::ConfigurationDiscoveryServiceClient;
use rust2sky_proto::v3::log_report_service_client::LogReportServiceClient;
use rust2sky_proto::v3::management_service_client::ManagementServiceClient;
use rust2sky_proto::v3::meter_report_service_client::MeterReportServiceClient;
use rust2sky_proto::v3::{Commands, ConfigurationSyncRequest, LogData, MeterData};
use tokio::sync::{Notify, watch};
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::Channel;
use tonic::{Code, Request, Status};
use tonic_prost::ProstCodec;

use super::Shared;
use super::handover::{Handover, LaneOf};
use super::setup::{Settings, error_chain};
use crate::reporter::commands::CommandInbox;
use crate::reporter::lane::Lane;
use crate::reporter::retry::{Throttle, backoff_delay};
use crate::reporter::telemetry;
use crate::reporter::{FinishedSegment, Management};
use crate::segment::SegmentBytes;

/// Starts the background thread and its runtime; returns once the runtime is built.
pub(super) fn spawn(shared: Arc<Shared>, settings: Settings) -> std::io::Result<()> {
    spawn_guarded(shared, move |shared, runtime| {
        runtime.block_on(async {
            let worker = Worker::new(Arc::clone(shared), settings);
            tokio::select! {
                () = shared.shutdown.notified() => {}
                () = worker.run() => {}
            }
        });
        // Shutting the runtime down cancels every call still in progress; not waiting for its
        // blocking pool, where a gauge that never returns may still be read.
        runtime.shutdown_background();
    })
}

/// Starts the background thread running `work`. However `work` ends, returning or panicking,
/// the reporter is marked stopped: what is queued counts as failed, and so does what comes
/// after, so that the counts add up and `flush` does not wait for a thread that is gone.
pub(super) fn spawn_guarded<W>(shared: Arc<Shared>, work: W) -> std::io::Result<()>
where
    W: FnOnce(&Arc<Shared>, tokio::runtime::Runtime) + Send + 'static,
{
    let stopped = Arc::clone(&shared);
    crate::agent_thread::spawn_with_exit(
        "rust2sky-grpc",
        move |runtime| work(&shared, runtime),
        move || {
            stopped.connected.store(false, Ordering::Relaxed);
            stopped.abandon_rest();
        },
    )
}

/// A channel that answered, and which connection it belongs to.
#[derive(Clone)]
struct Link {
    generation: u64,
    channel: Channel,
}

struct Worker {
    shared: Arc<Shared>,
    settings: Settings,
    /// The live link, or `None` while (re)connecting.
    link: watch::Sender<Option<Link>>,
    /// Wakes the link loop when a call on the live link failed.
    broken: Notify,
    log: Throttle,
    commands: RefCell<CommandInbox>,
}

impl Worker {
    fn new(shared: Arc<Shared>, settings: Settings) -> Self {
        Worker {
            shared,
            settings,
            link: watch::Sender::new(None),
            broken: Notify::new(),
            log: Throttle::default(),
            commands: RefCell::new(CommandInbox::default()),
        }
    }

    async fn run(&self) {
        if self.settings.commands_only {
            // Beside another transport: only what the collector sends back.
            tokio::join!(self.link_loop(), self.discovery_loop());
            return;
        }
        tokio::join!(
            self.link_loop(),
            self.segment_loop(),
            self.log_loop(),
            self.meter_loop(),
            self.meter_sample_loop(),
            self.heartbeat_loop(),
            self.management_loop(),
            self.discovery_loop()
        );
    }

    // ---------------------------------------------------------------- link

    async fn link_loop(&self) {
        let backends = self.settings.backends.len();
        // Failed attempts since the last call that succeeded.
        let mut failures: u32 = 0;
        let mut index = 0;
        let mut generation = 0;
        loop {
            if failures > 0 && (failures as usize).is_multiple_of(backends) {
                let round = failures / backends as u32;
                let delay = backoff_delay(
                    self.settings.initial_backoff,
                    self.settings.max_backoff,
                    round,
                    fastrand::f64(),
                );
                tokio::time::sleep(delay).await;
            }
            let backend = &self.settings.backends[index];
            // Lazy: the first call makes the connection, so one attempt is one connection.
            let channel = backend.endpoint.connect_lazy();
            // The first call on a connection proves it: the properties, or, for a reporter that
            // only fetches commands, the first fetch.
            let first_call = if self.settings.commands_only {
                self.fetch_configurations(&channel).await
            } else {
                self.report_properties(&channel).await
            };
            match first_call {
                Ok(()) => {
                    if failures > 0 {
                        log::info!(
                            target: "rust2sky",
                            "connected to the SkyWalking collector at {} after {failures} failed attempt(s)",
                            backend.address
                        );
                    }
                    generation += 1;
                    self.shared.connected.store(true, Ordering::Relaxed);
                    self.link.send_replace(Some(Link {
                        generation,
                        channel,
                    }));
                    while self.link.borrow().is_some() {
                        self.broken.notified().await;
                    }
                    self.shared.connected.store(false, Ordering::Relaxed);
                    failures = 1;
                }
                Err(status) => {
                    self.log.warn(
                        "connect",
                        format_args!(
                            "cannot reach the SkyWalking collector at {}: {}",
                            backend.address,
                            describe(&status)
                        ),
                    );
                    failures = failures.saturating_add(1);
                }
            }
            index = (index + 1) % backends;
        }
    }

    /// The live link, waiting for one.
    async fn link_up(&self) -> Link {
        let mut receiver = self.link.subscribe();
        loop {
            if let Some(link) = receiver.borrow_and_update().clone() {
                return link;
            }
            // The sender lives in `self`, so this cannot fail while we run.
            let _ = receiver.changed().await;
        }
    }

    /// A call on `link` failed in a way that says the connection is bad: drop it and reconnect.
    fn link_broken(&self, link: &Link) {
        let dropped = self.link.send_if_modified(|current| match current {
            Some(live) if live.generation == link.generation => {
                *current = None;
                true
            }
            _ => false,
        });
        if dropped {
            self.broken.notify_one();
        }
    }

    // ---------------------------------------------------------------- segments, logs, meters

    async fn segment_loop(&self) {
        // Each segment's protobuf bytes are written into the stream's buffer as the stream
        // takes it, on this thread, off the request path, straight from its records: no
        // `SegmentObject` is built (see `FinishedSegment::encode_to_vec`).
        let prepare = |segment: FinishedSegment| vec![SegmentBytes(segment)];
        let call = |channel, request| async move {
            let mut grpc = tonic::client::Grpc::new(channel);
            grpc.ready()
                .await
                .map_err(|error| Status::unknown(format!("the channel is not ready: {error}")))?;
            let path =
                PathAndQuery::from_static("/skywalking.v3.TraceSegmentReportService/collect");
            let codec = ProstCodec::<SegmentBytes, Commands>::default();
            grpc.client_streaming(request, path, codec).await
        };
        self.stream_loop(
            segments_of,
            "segment",
            "TraceSegmentReportService",
            prepare,
            call,
        )
        .await;
    }

    async fn log_loop(&self) {
        let instance = Arc::clone(&self.settings.instance);
        // Filled here, off the request path.
        let prepare = move |mut log: LogData| {
            instance.fill_log(&mut log);
            vec![log]
        };
        let call = |channel, request| async move {
            LogReportServiceClient::new(channel).collect(request).await
        };
        self.stream_loop(logs_of, "log record", "LogReportService", prepare, call)
            .await;
    }

    /// Sends the meter reports queued, those of [`Worker::meter_sample_loop`] and those handed to
    /// [`Transport::report_meters`](crate::reporter::Transport::report_meters), in `collect`
    /// streams.
    async fn meter_loop(&self) {
        let prepare = |report: Vec<MeterData>| report;
        let call = |channel, request| async move {
            MeterReportServiceClient::new(channel)
                .collect(request)
                .await
        };
        self.stream_loop(
            meters_of,
            "meter report",
            "MeterReportService",
            prepare,
            call,
        )
        .await;
    }

    /// Every interval, while connected: the meter reports of [`telemetry::meter_reports`].
    async fn meter_sample_loop(&self) {
        telemetry::meter_reports(
            self.settings.meter_report_interval,
            &self.settings.instance,
            || self.link.borrow().is_some(),
            || self.shared.stats(),
            &self.shared.lanes.meters,
        )
        .await;
    }

    /// Streams what the lane `lane_of` holds while the link is up, in `collect` streams of
    /// `service`, each item made into its messages by `prepare` as the stream takes it.
    ///
    /// A stream ends when it has taken its size, or half its deadline has passed (the other
    /// half is for what is in flight to arrive), or the lane is empty; its size adapts to how
    /// fast the collector takes items, so that a slow collector gets streams it can finish in
    /// time. What a stream took counts as sent when the collector answers it, failed when the
    /// stream fails. Only a transport error breaks the link; a service the collector does not
    /// serve fails the lane's items until the next connection.
    async fn stream_loop<T, M, P, Call, Calling>(
        &self,
        lane_of: LaneOf<T>,
        items: &str,
        service: &str,
        prepare: P,
        call: Call,
    ) where
        P: FnMut(T) -> Vec<M> + Clone + Unpin + Send + 'static,
        T: Send + 'static,
        M: Unpin + Send + 'static,
        Call: Fn(Channel, Request<Handover<T, M, P>>) -> Calling,
        Calling: Future<Output = Result<tonic::Response<Commands>, Status>>,
    {
        let lane = lane_of(&self.shared);
        let mut sizer = StreamSizer::new(self.settings.batch_size);
        // The connection on which the collector said it does not serve `service`.
        let mut unserved: Option<u64> = None;
        let mut last_taken = None;
        loop {
            lane.wait_for_items(last_taken).await;
            let link = self.link_up().await;
            if unserved == Some(link.generation) {
                let count = lane.fail_queued();
                self.log.warn(
                    "unserved",
                    format_args!(
                        "{count} {items}(s) dropped: the collector does not serve {service}"
                    ),
                );
                continue;
            }
            let started = Instant::now();
            let stop_at = started + self.settings.rpc_timeout / 2;
            let (stream, taken) = Handover::new(
                Arc::clone(&self.shared),
                lane_of,
                prepare.clone(),
                sizer.size(),
                stop_at,
            );
            let result = call(link.channel.clone(), self.request(stream)).await;
            let count = taken.close();
            if count > 0 {
                last_taken = Some(Instant::now());
            }
            match result {
                Ok(response) => {
                    lane.finish(count, true);
                    sizer.answered(count, started.elapsed(), self.settings.rpc_timeout);
                    self.handle_commands(response.into_inner());
                }
                Err(status) => {
                    lane.finish(count, false);
                    if status.code() == Code::DeadlineExceeded {
                        sizer.timed_out();
                    }
                    if is_unserved(&status) {
                        unserved = Some(link.generation);
                        self.log.warn(
                            "unserved",
                            format_args!(
                                "{count} {items}(s) dropped: the collector does not serve \
                                 {service}: {}",
                                describe(&status)
                            ),
                        );
                        continue;
                    }
                    self.log.warn(
                        "send",
                        format_args!(
                            "{count} {items}(s) lost: the collector stream failed: {}",
                            describe(&status)
                        ),
                    );
                    if link_outcome(&status) == Outcome::BreaksLink {
                        self.link_broken(&link);
                    }
                }
            }
        }
    }

    // ---------------------------------------------------------------- management

    /// Every heartbeat period, while connected: a keepAlive, or the properties every few beats
    /// (only while connected, as the Java agent: the link loop reconnects).
    async fn heartbeat_loop(&self) {
        telemetry::heartbeats(
            self.settings.heartbeat_period,
            self.settings.properties_factor,
            &self.settings.instance,
            || self.link.borrow().as_ref().map(|link| link.generation),
            &self.shared.lanes.management,
        )
        .await;
    }

    /// Sends the management messages queued, the heartbeats' and those handed to
    /// [`Transport::report_management`](crate::reporter::Transport::report_management).
    async fn management_loop(&self) {
        let lane = &self.shared.lanes.management;
        loop {
            // Management messages come from the reporter's own thread: it may wake itself.
            lane.wait_for_items(None).await;
            let link = self.link_up().await;
            for message in lane.take_batch(self.settings.batch_size) {
                let result = self.send_management(&link.channel, message).await;
                lane.finish(1, result.is_ok());
                if let Err(status) = result {
                    self.log.warn(
                        "heartbeat",
                        format_args!("heartbeat to the collector failed: {}", describe(&status)),
                    );
                    if link_outcome(&status) == Outcome::BreaksLink {
                        self.link_broken(&link);
                    }
                }
            }
        }
    }

    async fn report_properties(&self, channel: &Channel) -> Result<(), Status> {
        let properties = Management::Properties(self.settings.instance.properties());
        self.send_management(channel, properties).await
    }

    async fn send_management(&self, channel: &Channel, message: Management) -> Result<(), Status> {
        let mut client = ManagementServiceClient::new(channel.clone());
        let response = match message {
            Management::Properties(properties) => {
                client
                    .report_instance_properties(self.request(properties))
                    .await?
            }
            Management::KeepAlive(ping) => client.keep_alive(self.request(ping)).await?,
        };
        self.handle_commands(response.into_inner());
        Ok(())
    }

    // ---------------------------------------------------------------- configuration discovery

    async fn discovery_loop(&self) {
        let Some(interval) = self.settings.config_discovery_interval else {
            return;
        };
        loop {
            let link = self.link_up().await;
            if let Err(status) = self.fetch_configurations(&link.channel).await {
                self.log.warn(
                    "discovery",
                    format_args!(
                        "fetching the dynamic configuration failed: {}",
                        describe(&status)
                    ),
                );
                if is_transport(&status) {
                    self.link_broken(&link);
                }
            }
            tokio::time::sleep(interval).await;
        }
    }

    /// One `fetchConfigurations`; what it brings is applied.
    async fn fetch_configurations(&self, channel: &Channel) -> Result<(), Status> {
        let uuid = self.commands.borrow().config_uuid().to_owned();
        let request = ConfigurationSyncRequest {
            service: self.settings.instance.service().to_owned(),
            uuid,
        };
        let response = ConfigurationDiscoveryServiceClient::new(channel.clone())
            .fetch_configurations(self.request(request))
            .await?;
        self.handle_commands(response.into_inner());
        Ok(())
    }

    fn handle_commands(&self, commands: Commands) {
        let config = self.commands.borrow_mut().receive(commands, |command| {
            self.log.warn(
                "unknown_command",
                format_args!("ignored a command rust2sky does not know: {command}"),
            );
        });
        if let Some(config) = config {
            self.shared.set_dynamic_config(config);
        }
    }

    // ---------------------------------------------------------------- calls

    /// A request with the authentication metadata and the deadline every call carries.
    fn request<T>(&self, message: T) -> Request<T> {
        let mut request = Request::new(message);
        if let Some(token) = &self.settings.authentication {
            request
                .metadata_mut()
                .insert("authentication", token.clone());
        }
        request.set_timeout(self.settings.rpc_timeout);
        request
    }
}

/// What a failed call means for the link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    BreaksLink,
    KeepsLink,
}

/// [`Outcome::BreaksLink`] for a transport error, [`Outcome::KeepsLink`] for a call the
/// collector refused.
fn link_outcome(status: &Status) -> Outcome {
    if is_transport(status) {
        Outcome::BreaksLink
    } else {
        Outcome::KeepsLink
    }
}

/// Whether a failed call says the connection is bad, rather than that the collector refused this
/// one call (e.g. an older OAP without configuration discovery answers `Unimplemented`).
fn is_transport(status: &Status) -> bool {
    matches!(
        status.code(),
        Code::Unavailable
            | Code::Unknown
            | Code::Cancelled
            | Code::DeadlineExceeded
            | Code::Internal
    )
}

/// Whether a failed call says the collector does not serve that service at all (an OAP without
/// the log receiver answers `Unimplemented`; a proxy in front of it may answer `NotFound`).
fn is_unserved(status: &Status) -> bool {
    matches!(status.code(), Code::Unimplemented | Code::NotFound)
}

fn segments_of(shared: &Shared) -> &Lane<FinishedSegment> {
    &shared.lanes.segments
}

fn logs_of(shared: &Shared) -> &Lane<LogData> {
    &shared.lanes.logs
}

fn meters_of(shared: &Shared) -> &Lane<Vec<MeterData>> {
    &shared.lanes.meters
}

/// How many items the next `collect` stream of a lane takes: few at first, doubling while the
/// collector answers well within the deadline, halving when it takes long, a quarter after a
/// stream that timed out; never more than the configured batch size.
#[derive(Debug)]
struct StreamSizer {
    size: usize,
    max: usize,
}

/// The size of the first stream: small enough for a collector of a few hundred items a second
/// to answer within a short deadline, and doubled within a few streams for a fast one.
const FIRST_STREAM_SIZE: usize = 32;

impl StreamSizer {
    fn new(max: usize) -> Self {
        StreamSizer {
            size: FIRST_STREAM_SIZE.min(max),
            max,
        }
    }

    fn size(&self) -> usize {
        self.size
    }

    fn answered(&mut self, taken: usize, took: Duration, deadline: Duration) {
        if took > deadline / 2 {
            self.size = (self.size / 2).max(1);
        } else if taken >= self.size && took <= deadline / 4 {
            self.size = self.size.saturating_mul(2).min(self.max);
        }
    }

    fn timed_out(&mut self) {
        self.size = (self.size / 4).max(1);
    }
}

/// A status with the chain of errors under it, on one line.
fn describe(status: &Status) -> String {
    let mut text = format!("{:?}: {}", status.code(), status.message());
    if let Some(source) = std::error::Error::source(status) {
        text.push_str(": ");
        text.push_str(&error_chain(source));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transport_errors_break_the_link_but_refusals_do_not() {
        assert!(is_transport(&Status::unavailable("down")));
        assert!(is_transport(&Status::unknown("Service was not ready")));
        assert!(!is_transport(&Status::unimplemented("no CDS")));
        assert!(!is_transport(&Status::unauthenticated("bad token")));
    }
}
