//! The background thread: one current-thread tokio runtime running six loops on one task.
//!
//! - the link loop connects to a collector (the first call on a new connection reports the
//!   instance properties), publishes the live channel, and when a call on it fails moves to the
//!   next backend, waiting with exponential backoff once every backend has failed;
//! - the segment and log loops take batches off their queues and stream them while the link is
//!   up;
//! - the heartbeat loop sends `keepAlive`, and the instance properties every few heartbeats;
//! - the discovery loop fetches the dynamic configuration;
//! - the meter loop reports the meters, the process figures and the agent's counts.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use rust2sky_proto::v3::configuration_discovery_service_client::ConfigurationDiscoveryServiceClient;
use rust2sky_proto::v3::log_report_service_client::LogReportServiceClient;
use rust2sky_proto::v3::management_service_client::ManagementServiceClient;
use rust2sky_proto::v3::meter_report_service_client::MeterReportServiceClient;
use rust2sky_proto::v3::trace_segment_report_service_client::TraceSegmentReportServiceClient;
use rust2sky_proto::v3::{
    Command, Commands, ConfigurationSyncRequest, InstancePingPkg, InstanceProperties,
};
use tokio::sync::{Notify, watch};
use tonic::transport::Channel;
use tonic::{Code, Request, Status};

use super::Shared;
use super::lane::Lane;
use super::setup::{Settings, error_chain};
use crate::config::DynamicConfig;
use crate::reporter::FinishedSegment;

/// The least time between two log lines of the same kind.
const LOG_INTERVAL: Duration = Duration::from_secs(30);
/// How many command serial numbers are remembered to ignore repeated commands.
const SEEN_SERIALS: usize = 64;
const DISCOVERY_COMMAND: &str = "ConfigurationDiscoveryCommand";

/// Starts the background thread and its runtime; returns once the runtime is built.
pub(super) fn spawn(shared: Arc<Shared>, settings: Settings) -> std::io::Result<()> {
    crate::agent_thread::spawn("rust2sky-grpc", move |runtime| {
        runtime.block_on(async {
            let worker = Worker::new(Arc::clone(&shared), settings);
            tokio::select! {
                () = shared.shutdown.notified() => {}
                () = worker.run() => {}
            }
        });
        // Dropping the runtime cancels every call still in progress.
        drop(runtime);
        shared.connected.store(false, Ordering::Relaxed);
        shared.abandon_rest();
    })?;
    Ok(())
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
    commands: RefCell<CommandState>,
}

#[derive(Default)]
struct CommandState {
    seen_serials: VecDeque<String>,
    config_uuid: String,
    logged_unknown_keys: Vec<String>,
}

impl Worker {
    fn new(shared: Arc<Shared>, settings: Settings) -> Self {
        Worker {
            shared,
            settings,
            link: watch::Sender::new(None),
            broken: Notify::new(),
            log: Throttle::default(),
            commands: RefCell::new(CommandState::default()),
        }
    }

    async fn run(&self) {
        tokio::join!(
            self.link_loop(),
            self.segment_loop(),
            self.log_loop(),
            self.meter_loop(),
            self.heartbeat_loop(),
            self.discovery_loop()
        );
    }

    // ---------------------------------------------------------------- link

    async fn link_loop(&self) {
        let backends = self.settings.backends.len();
        let mut random = Random::new();
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
                    random.next_unit(),
                );
                tokio::time::sleep(delay).await;
            }
            let backend = &self.settings.backends[index];
            // Lazy: the first call makes the connection, so one attempt is one connection.
            let channel = backend.endpoint.connect_lazy();
            match self.report_properties(&channel).await {
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
                        Kind::Connect,
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

    // ---------------------------------------------------------------- segments

    async fn segment_loop(&self) {
        self.stream_loop(&self.shared.segments, "segment", |channel, batch| {
            // Each segment becomes its protobuf as the stream takes it, on this thread, off the
            // request path.
            let segments = batch.into_iter().map(FinishedSegment::into_proto);
            let request = self.request(tokio_stream::iter(segments));
            async move {
                TraceSegmentReportServiceClient::new(channel)
                    .collect(request)
                    .await
            }
        })
        .await;
    }

    async fn log_loop(&self) {
        self.stream_loop(&self.shared.logs, "log record", |channel, mut batch| {
            // Filled here, off the request path: the OAP needs the service on the first record
            // of a stream, and each record names its instance.
            for log in &mut batch {
                if log.service.is_empty() {
                    log.service.clone_from(&self.settings.service);
                }
                if log.service_instance.is_empty() {
                    log.service_instance.clone_from(&self.settings.instance);
                }
            }
            let request = self.request(tokio_stream::iter(batch));
            async move { LogReportServiceClient::new(channel).collect(request).await }
        })
        .await;
    }

    /// Streams what `lane` holds, a batch per `collect` stream, while the link is up.
    async fn stream_loop<T, SendBatch, Sending>(&self, lane: &Lane<T>, items: &str, send: SendBatch)
    where
        SendBatch: Fn(Channel, Vec<T>) -> Sending,
        Sending: Future<Output = Result<tonic::Response<Commands>, Status>>,
    {
        loop {
            while !lane.has_queued() {
                lane.wake.notified().await;
            }
            let link = self.link_up().await;
            let batch = lane.take_batch(self.settings.batch_size);
            if batch.is_empty() {
                continue;
            }
            let count = batch.len();
            match send(link.channel.clone(), batch).await {
                Ok(response) => {
                    lane.finish(count, true);
                    self.handle_commands(response.into_inner());
                }
                Err(status) => {
                    lane.finish(count, false);
                    self.log.warn(
                        Kind::Send,
                        format_args!(
                            "{count} {items}(s) lost: the collector stream failed: {}",
                            describe(&status)
                        ),
                    );
                    self.link_broken(&link);
                }
            }
        }
    }

    // ---------------------------------------------------------------- meters

    /// Every interval, while connected: the registered meters, the process figures and the
    /// agent's own counts, in one `collect` stream. Meters are readings, not events: a period
    /// without a connection is skipped, not queued.
    async fn meter_loop(&self) {
        let Some(interval) = self.settings.meter_report_interval else {
            return;
        };
        let mut process = crate::meter::ProcessMeters::default();
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await; // the first tick is immediate
        loop {
            ticks.tick().await;
            let Some(link) = self.link.borrow().clone() else {
                continue;
            };
            let mut meters = crate::meter::collect();
            meters.extend(process.collect());
            meters.extend(agent_meters(
                "instance_rust_agent_segments",
                self.shared.segments.stats(),
            ));
            meters.extend(agent_meters(
                "instance_rust_agent_logs",
                self.shared.logs.stats(),
            ));
            let timestamp = crate::clock::now_ms();
            for meter in &mut meters {
                meter.service.clone_from(&self.settings.service);
                meter.service_instance.clone_from(&self.settings.instance);
                meter.timestamp = timestamp;
            }
            let result = MeterReportServiceClient::new(link.channel.clone())
                .collect(self.request(tokio_stream::iter(meters)))
                .await;
            match result {
                Ok(response) => self.handle_commands(response.into_inner()),
                Err(status) => {
                    self.log.warn(
                        Kind::Meter,
                        format_args!("reporting the meters failed: {}", describe(&status)),
                    );
                    if is_transport(&status) {
                        self.link_broken(&link);
                    }
                }
            }
        }
    }

    // ---------------------------------------------------------------- management

    async fn heartbeat_loop(&self) {
        let mut ticks = tokio::time::interval(self.settings.heartbeat_period);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await; // the first tick is immediate
        let mut generation = 0;
        let mut beat: u64 = 0;
        loop {
            ticks.tick().await;
            // Only while connected, as the Java agent: the link loop reconnects.
            let Some(link) = self.link.borrow().clone() else {
                continue;
            };
            if link.generation != generation {
                // The properties went out when this connection was made: that was beat 0.
                generation = link.generation;
                beat = 0;
            }
            beat += 1;
            let result = if beat.is_multiple_of(u64::from(self.settings.properties_factor)) {
                self.report_properties(&link.channel).await
            } else {
                self.keep_alive(&link.channel).await
            };
            if let Err(status) = result {
                self.log.warn(
                    Kind::Heartbeat,
                    format_args!("heartbeat to the collector failed: {}", describe(&status)),
                );
                if is_transport(&status) {
                    self.link_broken(&link);
                }
            }
        }
    }

    async fn report_properties(&self, channel: &Channel) -> Result<(), Status> {
        let properties = InstanceProperties {
            service: self.settings.service.clone(),
            service_instance: self.settings.instance.clone(),
            properties: self.settings.properties.clone(),
            layer: String::new(),
        };
        let response = ManagementServiceClient::new(channel.clone())
            .report_instance_properties(self.request(properties))
            .await?;
        self.handle_commands(response.into_inner());
        Ok(())
    }

    async fn keep_alive(&self, channel: &Channel) -> Result<(), Status> {
        let ping = InstancePingPkg {
            service: self.settings.service.clone(),
            service_instance: self.settings.instance.clone(),
            layer: String::new(),
        };
        let response = ManagementServiceClient::new(channel.clone())
            .keep_alive(self.request(ping))
            .await?;
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
            let uuid = self.commands.borrow().config_uuid.clone();
            let request = ConfigurationSyncRequest {
                service: self.settings.service.clone(),
                uuid,
            };
            let result = ConfigurationDiscoveryServiceClient::new(link.channel.clone())
                .fetch_configurations(self.request(request))
                .await;
            match result {
                Ok(response) => self.handle_commands(response.into_inner()),
                Err(status) => {
                    self.log.warn(
                        Kind::Discovery,
                        format_args!(
                            "fetching the dynamic configuration failed: {}",
                            describe(&status)
                        ),
                    );
                    if is_transport(&status) {
                        self.link_broken(&link);
                    }
                }
            }
            tokio::time::sleep(interval).await;
        }
    }

    fn handle_commands(&self, commands: Commands) {
        for command in commands.commands {
            let mut state = self.commands.borrow_mut();
            if let Some(serial) = argument(&command, "SerialNumber") {
                if state.seen_serials.iter().any(|seen| seen == serial) {
                    continue;
                }
                if state.seen_serials.len() == SEEN_SERIALS {
                    state.seen_serials.pop_front();
                }
                state.seen_serials.push_back(serial.to_owned());
            }
            if command.command == DISCOVERY_COMMAND {
                self.apply_configuration(&mut state, &command);
            } else {
                self.log.warn(
                    Kind::UnknownCommand,
                    format_args!(
                        "ignored a command rust2sky does not know: {}",
                        command.command
                    ),
                );
            }
        }
    }

    fn apply_configuration(&self, state: &mut CommandState, command: &Command) {
        let uuid = argument(command, "UUID").unwrap_or_default();
        if uuid == state.config_uuid && !uuid.is_empty() {
            return;
        }
        let config = DynamicConfig::new(
            uuid,
            command
                .args
                .iter()
                .filter(|arg| arg.key != "SerialNumber" && arg.key != "UUID")
                .map(|arg| (arg.key.as_str(), arg.value.as_str())),
        );
        for key in config.values().keys() {
            if !DynamicConfig::APPLIED_KEYS.contains(&key.as_str())
                && !state.logged_unknown_keys.contains(key)
            {
                log::warn!(
                    target: "rust2sky",
                    "the collector's dynamic configuration has key {key:?}, which rust2sky does not apply; it is kept, not applied"
                );
                state.logged_unknown_keys.push(key.clone());
            }
        }
        let invalid = [
            (
                DynamicConfig::SAMPLE_RATE,
                config.sample_rate().is_none(),
                "a number from 0 to 1",
            ),
            (
                DynamicConfig::SPAN_LIMIT,
                config.span_limit().is_none(),
                "a positive integer",
            ),
        ];
        for (key, unusable, expected) in invalid {
            if let Some(value) = config.get(key).filter(|_| unusable) {
                log::warn!(
                    target: "rust2sky",
                    "the collector's dynamic configuration sets {key}={value:?}, which is not {expected}; the local setting applies"
                );
            }
        }
        log::info!(
            target: "rust2sky",
            "dynamic configuration {uuid:?} received: {:?}",
            config.values()
        );
        state.config_uuid = uuid.to_owned();
        self.shared.set_dynamic_config(config);
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

fn argument<'a>(command: &'a Command, key: &str) -> Option<&'a str> {
    command
        .args
        .iter()
        .find(|arg| arg.key == key)
        .map(|arg| arg.value.as_str())
}

/// The reporter's counts as meters of one name, labelled by outcome.
fn agent_meters(name: &str, stats: super::ReporterStats) -> Vec<rust2sky_proto::v3::MeterData> {
    [
        ("produced", stats.produced),
        ("sent", stats.sent),
        ("dropped", stats.dropped_full),
        ("failed", stats.failed),
        ("queued", stats.queued),
    ]
    .into_iter()
    .map(|(outcome, count)| {
        crate::meter::single(
            name,
            &[crate::meter::label("outcome", outcome)],
            count as f64,
        )
    })
    .collect()
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

/// A status with the chain of errors under it, on one line.
fn describe(status: &Status) -> String {
    let mut text = format!("{:?}: {}", status.code(), status.message());
    if let Some(source) = std::error::Error::source(status) {
        text.push_str(": ");
        text.push_str(&error_chain(source));
    }
    text
}

/// The wait before connection round `round` (1 after every backend failed once): `initial`
/// doubled each round up to `max`, times a factor from 0.8 to 1.2 given by `unit` in `[0, 1)`,
/// and never more than `max`.
pub(super) fn backoff_delay(initial: Duration, max: Duration, round: u32, unit: f64) -> Duration {
    let doublings = round.saturating_sub(1).min(30);
    let nominal = initial.saturating_mul(1 << doublings).min(max);
    nominal.mul_f64(0.8 + 0.4 * unit.clamp(0.0, 1.0)).min(max)
}

/// A small xorshift generator for the jitter; seeded from a random uuid.
struct Random(u64);

impl Random {
    fn new() -> Self {
        let seed = uuid::Uuid::new_v4().as_u64_pair();
        Random((seed.0 ^ seed.1) | 1)
    }

    /// A number in `[0, 1)`.
    fn next_unit(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Kinds of log lines, each written at most once per [`LOG_INTERVAL`].
#[derive(Clone, Copy)]
enum Kind {
    Connect,
    Send,
    Heartbeat,
    Discovery,
    UnknownCommand,
    Meter,
}

#[derive(Default)]
struct Throttle {
    slots: RefCell<[Slot; 6]>,
}

#[derive(Default, Clone, Copy)]
struct Slot {
    last: Option<Instant>,
    suppressed: u64,
}

impl Throttle {
    fn warn(&self, kind: Kind, message: fmt::Arguments<'_>) {
        let mut slots = self.slots.borrow_mut();
        let slot = &mut slots[kind as usize];
        let now = Instant::now();
        if slot
            .last
            .is_some_and(|last| now.duration_since(last) < LOG_INTERVAL)
        {
            slot.suppressed += 1;
            return;
        }
        let suppressed = std::mem::take(&mut slot.suppressed);
        slot.last = Some(now);
        if suppressed == 0 {
            log::warn!(target: "rust2sky", "{message}");
        } else {
            log::warn!(
                target: "rust2sky",
                "{message} ({suppressed} more like this in the last {} s)",
                LOG_INTERVAL.as_secs()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_with_jitter() {
        let initial = Duration::from_millis(100);
        let max = Duration::from_secs(30);
        let nominal = |round| backoff_delay(initial, max, round, 0.5);
        assert_eq!(nominal(1), Duration::from_millis(100));
        assert_eq!(nominal(2), Duration::from_millis(200));
        assert_eq!(nominal(5), Duration::from_millis(1600));
        assert_eq!(nominal(40), max);
        assert_eq!(
            backoff_delay(initial, max, 1, 0.0),
            Duration::from_millis(80)
        );
        assert_eq!(
            backoff_delay(initial, max, 1, 1.0),
            Duration::from_millis(120)
        );
        assert_eq!(backoff_delay(initial, max, u32::MAX, 1.0), max);
        let mut random = Random::new();
        for _ in 0..1000 {
            let unit = random.next_unit();
            assert!((0.0..1.0).contains(&unit), "{unit}");
        }
    }

    #[test]
    fn transport_errors_break_the_link_but_refusals_do_not() {
        assert!(is_transport(&Status::unavailable("down")));
        assert!(is_transport(&Status::unknown("Service was not ready")));
        assert!(!is_transport(&Status::unimplemented("no CDS")));
        assert!(!is_transport(&Status::unauthenticated("bad token")));
    }
}
