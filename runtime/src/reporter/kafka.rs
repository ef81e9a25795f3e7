//! The Kafka reporter: segments to the topic the OAP's kafka-fetcher reads, through `rskafka`
//! (pure Rust, no librdkafka).
//!
//! [`KafkaReporter`] owns one background thread named `rust2sky-kafka` that runs its own small
//! current-thread tokio runtime, as the gRPC reporter does: [`Reporter::report`] only puts the
//! segment into the same bounded, counted queue, so nothing but that hand-off happens on the
//! request path.

use std::cell::Cell;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use rskafka::BackoffConfig;
use rskafka::chrono::{DateTime, Utc};
use rskafka::client::partition::{Compression, PartitionClient, UnknownTopicHandling};
use rskafka::client::{Client, ClientBuilder};
use rskafka::record::Record;

use super::grpc::backoff_delay;
use super::lane::Lane;
use super::{FinishedSegment, Reporter, ReporterStats};
use crate::config::Config;
use crate::diagnostics::Problem;
use rust2sky_proto::prost::Message as _;

/// The topic of segments, as the Java agent's Kafka reporter and the OAP's kafka-fetcher name
/// it; with a namespace it is `<namespace>-skywalking-segments`.
const SEGMENT_TOPIC: &str = "skywalking-segments";

/// The least time between two log lines of the same kind.
const LOG_INTERVAL: Duration = Duration::from_secs(30);

/// A produce request holds at most this many encoded bytes: Kafka brokers refuse a record batch
/// over their `message.max.bytes`, 1 MiB by default.
const MAX_REQUEST_BYTES: usize = 512 * 1024;

/// Reports finished segments to Kafka, for a SkyWalking OAP that reads them with its
/// kafka-fetcher.
///
/// - Each segment is one record of topic `skywalking-segments` (`<namespace>-skywalking-segments`
///   when [`Config::namespace`] is set), its value the `SegmentObject` protobuf bytes, its key
///   the segment id: what the Java agent's Kafka reporter writes.
/// - The brokers are [`Config::kafka_bootstrap_servers`]; the reporter asks them for the topic's
///   partitions and sends each request to the next partition in turn. The topic must exist (the
///   OAP's kafka-fetcher creates its topics); while it does not, segments wait in the queue.
/// - [`report`](Reporter::report) never blocks: the segment goes into a queue of
///   [`Config::max_send_queue_size`] segments and [`Config::max_send_queue_bytes`] bytes; when
///   it is full the segment is dropped and counted ([`ReporterStats::dropped_full`]).
/// - While no broker answers, segments wait in the queue and the reporter retries, doubling the
///   wait from 1 s up to 30 s with ±20 % jitter; what a failed request carried counts as failed.
///   Failures are logged (target `rust2sky`) at most once per kind every 30 seconds.
/// - Only segments for now: logs, meters and the instance's properties and keepAlive are not
///   sent over Kafka yet.
///
/// Cloning gives another handle to the same reporter. The background thread stops when the last
/// handle is dropped; segments still queued then are counted as failed. Flush first (the guard
/// of [`crate::init`] does).
///
/// ```no_run
/// use rust2sky::{config::Config, reporter::KafkaReporter};
///
/// let config = Config::builder().kafka_bootstrap_servers(["kafka-1:9092"]).build()?;
/// let reporter = KafkaReporter::start(&config)?;
/// let _guard = rust2sky::init(config, reporter.clone())?; // flushes for up to 5 s when dropped
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct KafkaReporter {
    shared: Arc<Shared>,
    /// Stops the background thread when the last handle goes.
    _owner: Arc<Owner>,
}

struct Shared {
    segments: Lane<FinishedSegment>,
    /// Ends the background thread.
    shutdown: tokio::sync::Notify,
    connected: AtomicBool,
}

/// Ends the background thread when dropped.
struct Owner {
    shared: Arc<Shared>,
}

impl Drop for Owner {
    fn drop(&mut self) {
        self.shared.shutdown.notify_one();
    }
}

/// Why a [`KafkaReporter`] could not start.
///
/// ```
/// use rust2sky::{config::Config, reporter::{KafkaError, KafkaReporter}};
///
/// let err = KafkaReporter::start(&Config::default()).unwrap_err();
/// assert!(matches!(err, KafkaError::NoBootstrapServers));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KafkaError {
    /// [`Config::kafka_bootstrap_servers`] is empty.
    #[error("no Kafka bootstrap servers are set (SW_KAFKA_BOOTSTRAP_SERVERS)")]
    NoBootstrapServers,
    /// The background thread could not be started.
    #[error("cannot start the Kafka reporter's thread: {0}")]
    Thread(std::io::Error),
}

impl KafkaReporter {
    /// The most segments in one produce request.
    ///
    /// ```
    /// assert_eq!(rust2sky::reporter::KafkaReporter::BATCH_SIZE, 500);
    /// ```
    pub const BATCH_SIZE: usize = 500;

    /// Starts a reporter for these settings. It returns at once: connecting happens in the
    /// background, and segments reported before a broker answers wait in the queue.
    ///
    /// ```no_run
    /// use rust2sky::{config::Config, reporter::KafkaReporter};
    ///
    /// let config = Config::builder().kafka_bootstrap_servers(["127.0.0.1:9092"]).build()?;
    /// let _guard = rust2sky::init(config.clone(), KafkaReporter::start(&config)?)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn start(config: &Config) -> Result<KafkaReporter, KafkaError> {
        let brokers = config.kafka_bootstrap_servers().to_vec();
        if brokers.is_empty() {
            return Err(KafkaError::NoBootstrapServers);
        }
        let topic = match config.namespace() {
            Some(namespace) if !namespace.trim().is_empty() => {
                format!("{}-{SEGMENT_TOPIC}", namespace.trim())
            }
            _ => SEGMENT_TOPIC.to_owned(),
        };
        let shared = Arc::new(Shared {
            segments: Lane::new(
                config.max_send_queue_size(),
                config.max_send_queue_bytes(),
                FinishedSegment::size_estimate,
                Problem::SegmentDropped,
                "segments",
            ),
            shutdown: tokio::sync::Notify::new(),
            connected: AtomicBool::new(false),
        });
        let worker = Worker {
            shared: Arc::clone(&shared),
            brokers,
            topic,
            log: Throttle::default(),
        };
        let thread_shared = Arc::clone(&shared);
        let stopped = Arc::clone(&shared);
        crate::agent_thread::spawn_with_exit(
            "rust2sky-kafka",
            move |runtime| {
                runtime.block_on(async {
                    tokio::select! {
                        () = thread_shared.shutdown.notified() => {}
                        () = worker.run() => {}
                    }
                });
                runtime.shutdown_background();
            },
            // However the thread ends, the counts add up and `flush` does not wait for it.
            move || {
                stopped.connected.store(false, Ordering::Relaxed);
                stopped.segments.abandon_rest();
            },
        )
        .map_err(KafkaError::Thread)?;
        Ok(KafkaReporter {
            _owner: Arc::new(Owner {
                shared: Arc::clone(&shared),
            }),
            shared,
        })
    }

    /// The segment counters, read at one instant so that
    /// `produced == sent + dropped_full + failed + queued` always holds.
    ///
    /// ```no_run
    /// # use rust2sky::{config::Config, reporter::KafkaReporter};
    /// let config = Config::builder().kafka_bootstrap_servers(["127.0.0.1:9092"]).build()?;
    /// let stats = KafkaReporter::start(&config)?.stats();
    /// assert_eq!(stats.produced, stats.sent + stats.dropped_full + stats.failed + stats.queued);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn stats(&self) -> ReporterStats {
        self.shared.segments.stats()
    }

    /// Whether the last produce request, or the last look-up of the topic, succeeded.
    ///
    /// ```no_run
    /// # use rust2sky::{config::Config, reporter::KafkaReporter};
    /// let config = Config::builder().kafka_bootstrap_servers(["127.0.0.1:9092"]).build()?;
    /// if !KafkaReporter::start(&config)?.is_connected() {
    ///     eprintln!("no Kafka broker yet; segments wait in the queue");
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_connected(&self) -> bool {
        self.shared.connected.load(Ordering::Relaxed)
    }
}

impl Reporter for KafkaReporter {
    fn report(&self, segment: FinishedSegment) {
        self.shared.segments.offer(segment);
    }

    /// Waits until every segment reported before the call has been sent or has failed, at most
    /// `timeout`; returns whether that happened in time with none failing meanwhile.
    fn flush(&self, timeout: Duration) -> bool {
        self.shared
            .segments
            .flush(Instant::now().checked_add(timeout))
    }
}

impl fmt::Debug for KafkaReporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KafkaReporter")
            .field("stats", &self.stats())
            .field("connected", &self.is_connected())
            .finish_non_exhaustive()
    }
}

/// The first wait after a failure, and the longest.
const INITIAL_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// rskafka retries a failing request on its own, without end unless told otherwise: bounded so
/// that a failure comes back here, where it is counted and the wait grows.
const CLIENT_RETRY_DEADLINE: Duration = Duration::from_secs(10);

/// How long one produce request may take, retries included.
const PRODUCE_TIMEOUT: Duration = Duration::from_secs(30);

struct Worker {
    shared: Arc<Shared>,
    brokers: Vec<String>,
    topic: String,
    log: Throttle,
}

/// A client and the topic's partitions.
struct Link {
    _client: Client,
    partitions: Vec<PartitionClient>,
    next: usize,
}

impl Worker {
    async fn run(&self) {
        let lane = &self.shared.segments;
        let mut link: Option<Link> = None;
        let mut failures: u32 = 0;
        loop {
            if failures > 0 {
                let delay = backoff_delay(INITIAL_BACKOFF, MAX_BACKOFF, failures, fastrand::f64());
                tokio::time::sleep(delay).await;
            }
            // Registered before looking, so that an offer in between is not missed.
            let woken = lane.wake.notified();
            if !lane.has_queued() {
                woken.await;
                continue;
            }
            let current = match &mut link {
                Some(current) => current,
                None => match self.connect().await {
                    Ok(connected) => link.insert(connected),
                    Err(why) => {
                        self.shared.connected.store(false, Ordering::Relaxed);
                        self.log.warn(format_args!(
                            "cannot reach the Kafka brokers {:?} for topic {}: {why}",
                            self.brokers, self.topic
                        ));
                        failures = failures.saturating_add(1);
                        continue;
                    }
                },
            };
            self.shared.connected.store(true, Ordering::Relaxed);
            let records = take_records(lane);
            let count = records.len();
            let partition = &current.partitions[current.next % current.partitions.len()];
            current.next = current.next.wrapping_add(1);
            let sent = tokio::time::timeout(
                PRODUCE_TIMEOUT,
                partition.produce(records, Compression::NoCompression),
            )
            .await;
            match sent {
                Ok(Ok(_offsets)) => {
                    lane.finish(count, true);
                    failures = 0;
                }
                Ok(Err(err)) => {
                    lane.finish(count, false);
                    self.failed(&mut link, &mut failures, &err);
                }
                Err(_elapsed) => {
                    lane.finish(count, false);
                    self.failed(&mut link, &mut failures, &"no answer in time");
                }
            }
        }
    }

    fn failed(&self, link: &mut Option<Link>, failures: &mut u32, why: &dyn fmt::Display) {
        *link = None;
        *failures = failures.saturating_add(1);
        self.shared.connected.store(false, Ordering::Relaxed);
        self.log.warn(format_args!(
            "cannot send segments to Kafka topic {}: {why}",
            self.topic
        ));
    }

    /// A client of the brokers, and one for each partition of the topic.
    async fn connect(&self) -> Result<Link, String> {
        let backoff = BackoffConfig {
            init_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
            base: 2.0,
            deadline: Some(CLIENT_RETRY_DEADLINE),
        };
        let connecting = async {
            let client = ClientBuilder::new(self.brokers.clone())
                .client_id("rust2sky")
                .backoff_config(backoff)
                .build()
                .await
                .map_err(|err| err.to_string())?;
            let topics = client.list_topics().await.map_err(|err| err.to_string())?;
            let Some(topic) = topics.into_iter().find(|topic| topic.name == self.topic) else {
                return Err("the topic does not exist".to_owned());
            };
            let mut partitions = Vec::with_capacity(topic.partitions.len());
            for partition in topic.partitions {
                let partition = client
                    .partition_client(self.topic.clone(), partition, UnknownTopicHandling::Error)
                    .await
                    .map_err(|err| err.to_string())?;
                partitions.push(partition);
            }
            if partitions.is_empty() {
                return Err("the topic has no partitions".to_owned());
            }
            Ok(Link {
                _client: client,
                partitions,
                next: fastrand::usize(..),
            })
        };
        tokio::time::timeout(PRODUCE_TIMEOUT, connecting)
            .await
            .unwrap_or_else(|_| Err("no answer in time".to_owned()))
    }
}

/// Takes segments off the queue, up to [`KafkaReporter::BATCH_SIZE`] or
/// [`MAX_REQUEST_BYTES`], and makes them records; at least one.
fn take_records(lane: &Lane<FinishedSegment>) -> Vec<Record> {
    let timestamp = now();
    let mut records = Vec::new();
    let mut bytes = 0;
    while records.len() < KafkaReporter::BATCH_SIZE && bytes < MAX_REQUEST_BYTES {
        let Some(segment) = lane.take_one() else {
            break;
        };
        // The protobuf is made here, on the reporter's thread, off the request path.
        let segment = segment.to_proto();
        let value = segment.encode_to_vec();
        bytes += value.len() + segment.trace_segment_id.len();
        records.push(Record {
            key: Some(segment.trace_segment_id.into_bytes()),
            value: Some(value),
            headers: Default::default(),
            timestamp,
        });
    }
    records
}

fn now() -> DateTime<Utc> {
    let millis = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |since| {
            i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
        });
    DateTime::from_timestamp_millis(millis).unwrap_or_default()
}

/// One kind of log line at most once per [`LOG_INTERVAL`], with the count of those left out.
#[derive(Default)]
struct Throttle {
    last: Cell<Option<Instant>>,
    suppressed: Cell<u64>,
}

impl Throttle {
    fn warn(&self, message: fmt::Arguments<'_>) {
        let now = Instant::now();
        if self
            .last
            .get()
            .is_some_and(|last| now.duration_since(last) < LOG_INTERVAL)
        {
            self.suppressed.set(self.suppressed.get() + 1);
            return;
        }
        self.last.set(Some(now));
        match self.suppressed.replace(0) {
            0 => log::warn!(target: "rust2sky", "{message}"),
            suppressed => log::warn!(
                target: "rust2sky",
                "{message} ({suppressed} more like this in the last {} s)",
                LOG_INTERVAL.as_secs()
            ),
        }
    }
}
