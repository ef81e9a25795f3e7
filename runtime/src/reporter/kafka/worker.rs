//! The background thread: one current-thread tokio runtime running three loops on one task.
//!
//! - the send loop connects to the brokers (the instance properties go first on every new
//!   connection), then takes a batch off each queue that has items and produces it to the
//!   partitions its records' keys pick, reconnecting with backoff when a request fails;
//! - the heartbeat loop queues a `keepAlive`, or the instance properties every few heartbeats;
//! - the meter loop queues the meters, the process figures and the agent's counts.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

use rskafka::BackoffConfig;
use rskafka::chrono::{DateTime, Utc};
use rskafka::client::partition::{Compression, PartitionClient, UnknownTopicHandling};
use rskafka::client::{Client, ClientBuilder};
use rskafka::record::Record;
use rust2sky_proto::prost::Message as _;
use rust2sky_proto::v3::{LogData, MeterDataCollection};

use super::security::Security;
use super::{Shared, partition};
use crate::config::{Config, KafkaCompression};
use crate::reporter::lane::Lane;
use crate::reporter::retry::{Throttle, backoff_delay};
use crate::reporter::telemetry::{self, Instance};
use crate::reporter::{FinishedSegment, Management};

/// The first wait after a failure, and the longest.
const INITIAL_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// rskafka retries a failing request on its own, without end unless told otherwise: bounded so
/// that a failure comes back here, where it is counted and the wait grows.
const CLIENT_RETRY_DEADLINE: Duration = Duration::from_secs(10);

/// The key prefix that tells the OAP's kafka-fetcher a management record holds the instance
/// properties; a record keyed otherwise is a keepAlive.
const PROPERTIES_KEY_PREFIX: &str = "register-";

/// Everything the background thread needs, from the [`Config`].
pub(super) struct Settings {
    brokers: Vec<String>,
    topics: Topics,
    instance: Arc<Instance>,
    heartbeat_period: Duration,
    properties_factor: u32,
    meter_report_interval: Option<Duration>,
    max_request_bytes: usize,
    request_timeout: Duration,
    compression: Compression,
    security: Security,
}

impl Settings {
    /// `None` when `config` names no broker.
    pub(super) fn new(config: &Config, security: Security) -> Option<Settings> {
        let brokers = config.kafka_bootstrap_servers().to_vec();
        if brokers.is_empty() {
            return None;
        }
        Some(Settings {
            brokers,
            topics: Topics::new(config),
            instance: Arc::new(Instance::new(config, &[])),
            heartbeat_period: config.heartbeat_period(),
            properties_factor: config.properties_report_period_factor().max(1),
            meter_report_interval: config.meter_report_interval(),
            max_request_bytes: config.kafka_max_request_size(),
            request_timeout: config.kafka_request_timeout(),
            compression: match config.kafka_compression_type() {
                KafkaCompression::Gzip => Compression::Gzip,
                KafkaCompression::Snappy => Compression::Snappy,
                _ => Compression::NoCompression,
            },
            security,
        })
    }
}

/// The topic of each kind, with the namespace before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Topics {
    segments: String,
    management: String,
    meters: String,
    logs: String,
}

impl Topics {
    fn new(config: &Config) -> Topics {
        let namespace = config
            .kafka_namespace()
            .map(str::trim)
            .filter(|namespace| !namespace.is_empty());
        let topic = |name: &str| match namespace {
            Some(namespace) => format!("{namespace}-{name}"),
            None => name.to_owned(),
        };
        Topics {
            segments: topic(config.kafka_topic_segment()),
            management: topic(config.kafka_topic_management()),
            meters: topic(config.kafka_topic_meter()),
            logs: topic(config.kafka_topic_log()),
        }
    }
}

/// Starts the background thread and its runtime; returns once the runtime is built. However
/// the thread ends, what is queued then and reported after counts as failed.
pub(super) fn spawn(shared: Arc<Shared>, settings: Settings) -> std::io::Result<()> {
    let stopped = Arc::clone(&shared);
    crate::agent_thread::spawn_with_exit(
        "rust2sky-kafka",
        move |runtime| {
            runtime.block_on(async {
                let worker = Worker {
                    shared: Arc::clone(&shared),
                    settings,
                    log: Throttle::default(),
                    connection: Cell::new(None),
                };
                tokio::select! {
                    () = shared.shutdown.notified() => {}
                    () = worker.run() => {}
                }
            });
            // Not waiting for the blocking pool, where a gauge that never returns may still
            // be read.
            runtime.shutdown_background();
        },
        move || {
            stopped.connected.store(false, Ordering::Relaxed);
            stopped.lanes.abandon_rest();
        },
    )
}

struct Worker {
    shared: Arc<Shared>,
    settings: Settings,
    log: Throttle,
    /// The number of the live connection, `None` while (re)connecting: heartbeats and meter
    /// reports are made only while connected.
    connection: Cell<Option<u64>>,
}

/// A client of the brokers, and one for each partition of each topic that exists.
struct Link {
    _client: Client,
    segments: Partitions,
    management: Partitions,
    meters: Partitions,
    logs: Partitions,
}

/// The clients of one topic's partitions, by partition number; none when the topic does not
/// exist.
struct Partitions {
    topic: String,
    clients: Vec<PartitionClient>,
}

/// Why a round of sending stopped; the link is made anew after it.
enum Failure {
    /// A request failed or took too long.
    Request(String),
    /// A topic that items wait for does not exist (yet).
    NoTopic(String),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Request(why) => f.write_str(why),
            Failure::NoTopic(topic) => write!(
                f,
                "the topic {topic} does not exist (the OAP's kafka-fetcher creates it); what \
                 waits for it stays queued"
            ),
        }
    }
}

impl Worker {
    async fn run(&self) {
        let connection = || self.connection.get();
        tokio::join!(
            self.send_loop(),
            telemetry::heartbeats(
                self.settings.heartbeat_period,
                self.settings.properties_factor,
                &self.settings.instance,
                connection,
                &self.shared.lanes.management,
            ),
            telemetry::meter_reports(
                self.settings.meter_report_interval,
                &self.settings.instance,
                || connection().is_some(),
                || self.shared.lanes.stats(),
                &self.shared.lanes.meters,
            ),
        );
    }

    async fn send_loop(&self) {
        let mut link: Option<Link> = None;
        // Failures since the last round that sent everything it took.
        let mut failures: u32 = 0;
        // When a round last took items: the queues are looked at without waking for a while.
        let mut last_round = None;
        let mut generation: u64 = 0;
        // Whether the last connection attempt found no broker: worth a line once one answers.
        let mut unreachable = false;
        loop {
            if failures > 0 {
                let delay = backoff_delay(INITIAL_BACKOFF, MAX_BACKOFF, failures, fastrand::f64());
                tokio::time::sleep(delay).await;
            }
            let current = match &mut link {
                Some(current) => current,
                None => match self.connect().await {
                    Ok(made) => {
                        generation += 1;
                        let current = link.insert(made);
                        if let Err(why) = self.send_properties(current).await {
                            link = None;
                            failures = failures.saturating_add(1);
                            self.log.warn(
                                "send",
                                format_args!("cannot send the instance properties to Kafka: {why}"),
                            );
                            continue;
                        }
                        if std::mem::take(&mut unreachable) {
                            log::info!(
                                target: "rust2sky",
                                "connected to the Kafka brokers {:?} after {failures} failed attempt(s)",
                                self.settings.brokers
                            );
                        }
                        self.connection.set(Some(generation));
                        self.shared.connected.store(true, Ordering::Relaxed);
                        current
                    }
                    Err(why) => {
                        unreachable = true;
                        self.shared.connected.store(false, Ordering::Relaxed);
                        self.log.warn(
                            "connect",
                            format_args!(
                                "cannot reach the Kafka brokers {:?}{}: {why}",
                                self.settings.brokers,
                                self.settings.security.login()
                            ),
                        );
                        failures = failures.saturating_add(1);
                        continue;
                    }
                },
            };
            self.shared.lanes.wait_for_any(last_round).await;
            last_round = Some(Instant::now());
            match self.send_round(current).await {
                Ok(()) => failures = 0,
                Err(failure) => {
                    link = None;
                    self.connection.set(None);
                    self.shared.connected.store(false, Ordering::Relaxed);
                    failures = failures.saturating_add(1);
                    let kind = match failure {
                        Failure::Request(_) => "send",
                        Failure::NoTopic(_) => "topic",
                    };
                    self.log
                        .warn(kind, format_args!("sending to Kafka failed: {failure}"));
                }
            }
        }
    }

    /// One batch off each queue that has items, each to its topic. Every queue gets its turn
    /// even when one before it failed; the first failure is returned.
    async fn send_round(&self, link: &Link) -> Result<(), Failure> {
        let lanes = &self.shared.lanes;
        let instance = &self.settings.instance;
        // The protobuf is made here, on the reporter's thread, off the request path.
        let segment_record = |segment: FinishedSegment| {
            let key = segment.segment_id.to_string().into_bytes();
            (key, segment.encode_to_vec())
        };
        let meter_record = |meter_data| {
            let value = MeterDataCollection { meter_data }.encode_to_vec();
            (instance.instance().as_bytes().to_vec(), value)
        };
        let log_record = |mut log: LogData| {
            instance.fill_log(&mut log);
            let value = log.encode_to_vec();
            (log.service.into_bytes(), value)
        };
        let management = self.send_batch(&lanes.management, &link.management, management_record);
        let management = management.await;
        let segments = self.send_batch(&lanes.segments, &link.segments, segment_record);
        let segments = segments.await;
        let meters = self
            .send_batch(&lanes.meters, &link.meters, meter_record)
            .await;
        let logs = self.send_batch(&lanes.logs, &link.logs, log_record).await;
        management.and(segments).and(meters).and(logs)
    }

    /// Takes up to [`KafkaReporter::BATCH_SIZE`](super::KafkaReporter::BATCH_SIZE) items, or
    /// [`Config::kafka_max_request_size`] bytes of records, off `lane` (at least one if any is
    /// queued), makes each a record with `key_and_value`, and produces them, one
    /// request a partition. What a request carried counts as sent or failed by its answer.
    async fn send_batch<T>(
        &self,
        lane: &Lane<T>,
        partitions: &Partitions,
        mut key_and_value: impl FnMut(T) -> (Vec<u8>, Vec<u8>),
    ) -> Result<(), Failure> {
        if !lane.has_queued() {
            return Ok(());
        }
        let topic = &partitions.topic;
        if partitions.clients.is_empty() {
            return Err(Failure::NoTopic(topic.clone()));
        }
        let timestamp = now();
        let mut by_partition: Vec<Vec<Record>> = Vec::new();
        by_partition.resize_with(partitions.clients.len(), Vec::new);
        let mut taken = 0;
        let mut bytes = 0;
        while taken < super::KafkaReporter::BATCH_SIZE && bytes < self.settings.max_request_bytes {
            let Some(item) = lane.take_one() else {
                break;
            };
            let (key, value) = key_and_value(item);
            bytes += key.len() + value.len();
            taken += 1;
            let partition = partition::for_key(&key, by_partition.len());
            by_partition[partition].push(record(key, value, timestamp));
        }
        let mut outcome = Ok(());
        for (client, records) in partitions.clients.iter().zip(by_partition) {
            if records.is_empty() {
                continue;
            }
            let count = records.len();
            let failure = self.produce(client, records).await.err();
            lane.finish(count, failure.is_none());
            if let Some(why) = failure {
                let why = format!("{count} record(s) for topic {topic} lost: {why}");
                outcome = outcome.and(Err(Failure::Request(why)));
            }
        }
        outcome
    }

    /// The instance properties, straight to the management topic: the first thing a new
    /// connection sends, as the gRPC reporter's. Nothing to do when the topic does not exist:
    /// the heartbeats find that out.
    async fn send_properties(&self, link: &Link) -> Result<(), String> {
        let partitions = &link.management;
        let (key, value) =
            management_record(Management::Properties(self.settings.instance.properties()));
        let partition = partition::for_key(&key, partitions.clients.len());
        let Some(client) = partitions.clients.get(partition) else {
            return Ok(());
        };
        self.produce(client, vec![record(key, value, now())]).await
    }

    /// Produces `records` to the partition of `client`: the failure in words if it failed or
    /// took longer than [`Config::kafka_request_timeout`].
    async fn produce(&self, client: &PartitionClient, records: Vec<Record>) -> Result<(), String> {
        let produced = tokio::time::timeout(
            self.settings.request_timeout,
            client.produce(records, self.settings.compression),
        )
        .await;
        match produced {
            Ok(Ok(_offsets)) => Ok(()),
            Ok(Err(err)) => Err(err.to_string()),
            Err(_elapsed) => Err("no answer in time".to_owned()),
        }
    }

    /// A client of the brokers, and one for each partition of each topic that exists.
    async fn connect(&self) -> Result<Link, String> {
        let backoff = BackoffConfig {
            init_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
            base: 2.0,
            deadline: Some(CLIENT_RETRY_DEADLINE.min(self.settings.request_timeout)),
        };
        let connecting = async {
            let builder = ClientBuilder::new(self.settings.brokers.clone())
                .client_id("rust2sky")
                .backoff_config(backoff);
            let client = self
                .settings
                .security
                .apply(builder)
                .build()
                .await
                .map_err(|err| err.to_string())?;
            let listed = client.list_topics().await.map_err(|err| err.to_string())?;
            let partitions = async |topic: &str| -> Result<Partitions, String> {
                let mut clients = Vec::new();
                let listed = listed.iter().find(|listed| listed.name == topic);
                // In the order of their numbers, so that a partition's index is its number.
                for &partition in listed.iter().flat_map(|listed| &listed.partitions) {
                    let client = client
                        .partition_client(topic, partition, UnknownTopicHandling::Error)
                        .await
                        .map_err(|err| err.to_string())?;
                    clients.push(client);
                }
                Ok(Partitions {
                    topic: topic.to_owned(),
                    clients,
                })
            };
            let topics = &self.settings.topics;
            Ok(Link {
                segments: partitions(&topics.segments).await?,
                management: partitions(&topics.management).await?,
                meters: partitions(&topics.meters).await?,
                logs: partitions(&topics.logs).await?,
                _client: client,
            })
        };
        tokio::time::timeout(self.settings.request_timeout, connecting)
            .await
            .unwrap_or_else(|_| Err("no answer in time".to_owned()))
    }
}

/// The key and value of a management record, as the OAP's kafka-fetcher tells them apart.
fn management_record(message: Management) -> (Vec<u8>, Vec<u8>) {
    match message {
        Management::Properties(properties) => (
            format!("{PROPERTIES_KEY_PREFIX}{}", properties.service_instance).into_bytes(),
            properties.encode_to_vec(),
        ),
        Management::KeepAlive(ping) => {
            let value = ping.encode_to_vec();
            (ping.service_instance.into_bytes(), value)
        }
    }
}

/// A record without headers, as the Java agent's are.
fn record(key: Vec<u8>, value: Vec<u8>, timestamp: DateTime<Utc>) -> Record {
    Record {
        key: Some(key),
        value: Some(value),
        headers: BTreeMap::new(),
        timestamp,
    }
}

fn now() -> DateTime<Utc> {
    let millis = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |since| {
            i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
        });
    DateTime::from_timestamp_millis(millis).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_namespace_goes_before_every_topic() {
        let config = Config::builder()
            .kafka_namespace(" staging ")
            .kafka_topic_log("app-logs")
            .namespace("shop")
            .build_with_env(|_| None)
            .unwrap();
        assert_eq!(
            Topics::new(&config),
            Topics {
                segments: "staging-skywalking-segments".to_owned(),
                management: "staging-skywalking-managements".to_owned(),
                meters: "staging-skywalking-meters".to_owned(),
                logs: "staging-app-logs".to_owned(),
            }
        );
        // The service's namespace is not the topics'.
        let config = Config::builder()
            .namespace("shop")
            .build_with_env(|_| None)
            .unwrap();
        assert_eq!(Topics::new(&config).segments, "skywalking-segments");
    }

    #[test]
    fn properties_and_keepalives_are_told_apart_by_key() {
        let instance = Instance::new(
            &Config::builder()
                .service_name("cart")
                .instance_name("cart-1")
                .build_with_env(|_| None)
                .unwrap(),
            &[],
        );
        let (key, value) = management_record(Management::Properties(instance.properties()));
        assert_eq!(key, b"register-cart-1");
        let properties = rust2sky_proto::v3::InstanceProperties::decode(&*value).unwrap();
        assert_eq!(properties.service_instance, "cart-1");
        let (key, value) = management_record(Management::KeepAlive(instance.ping()));
        assert_eq!(key, b"cart-1");
        let ping = rust2sky_proto::v3::InstancePingPkg::decode(&*value).unwrap();
        assert_eq!(
            (ping.service.as_str(), ping.service_instance.as_str()),
            ("cart", "cart-1")
        );
    }
}
