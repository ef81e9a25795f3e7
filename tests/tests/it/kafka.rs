//! The Kafka reporter against a real Kafka-compatible broker on 127.0.0.1 (`tansu`, see
//! `servers.rs`), read back with the `rskafka` client as the OAP's kafka-fetcher would read it.

use std::collections::{BTreeSet, HashMap};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rskafka::client::ClientBuilder;
use rskafka::client::error::ProtocolError;
use rskafka::client::partition::UnknownTopicHandling;
use rskafka::record::RecordAndOffset;
use rust2sky::config::{Config, ConfigBuilder, Protocol, env};
use rust2sky::logging::log_data;
use rust2sky::propagation::NoHeaders;
use rust2sky::proto::prost::Message as _;
use rust2sky::proto::v3::{
    InstancePingPkg, InstanceProperties, LogData, MeterData, MeterDataCollection, SegmentObject,
    SpanLayer, SpanType, log_data_body::Content,
};
use rust2sky::reporter::{
    self, FinishedSegment, KafkaReporter, Management, MemoryReporter, Reporter, StartedTransport,
    Transport as _,
};
use rust2sky::testing::Collector;
use rust2sky::{Tracer, component, tags};

use crate::grpc_reporter::Both;
use crate::relay::{Frames, Relay};
use crate::servers;

/// Long enough for anything that should happen to happen on a loaded 2-core machine.
pub(crate) const PATIENCE: Duration = Duration::from_secs(30);

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

/// Waits until `ready` holds, for what a background thread does.
pub(crate) fn eventually(mut ready: impl FnMut() -> bool) -> bool {
    let started = Instant::now();
    while !ready() {
        if started.elapsed() > PATIENCE {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    true
}

/// Settings for `broker`, without the dynamic configuration over gRPC: these tests have no
/// collector for it, but for the one that starts its own.
pub(crate) fn kafka_config(
    broker: &str,
    more: impl FnOnce(ConfigBuilder) -> ConfigBuilder,
) -> Config {
    kafka_config_with_env(broker, more, |_| None)
}

/// [`kafka_config`], with the environment `env`.
fn kafka_config_with_env(
    broker: &str,
    more: impl FnOnce(ConfigBuilder) -> ConfigBuilder,
    env: impl Fn(&str) -> Option<String>,
) -> Config {
    more(
        Config::builder()
            .service_name("payments")
            .instance_name("payments-1")
            .kafka_bootstrap_servers([broker])
            .config_discovery_interval(Duration::ZERO),
    )
    .build_with_env(env)
    .expect("a valid configuration")
}

/// The four topics the OAP's kafka-fetcher reads, under their default names.
pub(crate) const TOPICS: [&str; 4] = [
    "skywalking-segments",
    "skywalking-managements",
    "skywalking-meters",
    "skywalking-logs",
];

/// How a test reaches a broker to make topics and read records back: a `host:port` plainly,
/// or (`kafka_security`) with the TLS and SASL the broker asks for.
pub(crate) trait Reach {
    fn client_builder(&self) -> ClientBuilder;
}

impl Reach for str {
    fn client_builder(&self) -> ClientBuilder {
        ClientBuilder::new(vec![self.to_owned()])
    }
}

impl Reach for String {
    fn client_builder(&self) -> ClientBuilder {
        self.as_str().client_builder()
    }
}

/// Creates `topic`, with one partition, as the OAP's kafka-fetcher does at its start.
fn create_topic(broker: &str, topic: &str) {
    create_topics(broker, &[topic], 1);
}

/// Creates `topics`, each with `partitions` partitions.
pub(crate) fn create_topics(broker: &(impl Reach + ?Sized), topics: &[&str], partitions: i32) {
    runtime().block_on(async {
        let client = broker
            .client_builder()
            .build()
            .await
            .expect("the broker answers");
        let controller = client.controller_client().expect("a controller");
        for topic in topics {
            match controller.create_topic(*topic, partitions, 1, 5_000).await {
                Ok(()) => {}
                // A broker may make a topic itself when a producer first names it.
                Err(rskafka::client::error::Error::ServerError {
                    protocol_error: ProtocolError::TopicAlreadyExists,
                    ..
                }) => {}
                Err(err) => panic!("cannot create the topic {topic}: {err}"),
            }
        }
    });
}

/// Every record of partition 0 of `topic`, waiting until there are at least `count`.
pub(crate) fn consume(
    broker: &(impl Reach + ?Sized),
    topic: &str,
    count: usize,
) -> Vec<RecordAndOffset> {
    consume_partition(broker, topic, 0, count)
}

/// Every record of `partition` of `topic`, waiting until there are at least `count`.
fn consume_partition(
    broker: &(impl Reach + ?Sized),
    topic: &str,
    partition: i32,
    count: usize,
) -> Vec<RecordAndOffset> {
    runtime().block_on(async {
        let client = broker
            .client_builder()
            .build()
            .await
            .expect("the broker answers");
        let partition_client = client
            .partition_client(topic, partition, UnknownTopicHandling::Error)
            .await
            .expect("the topic exists");
        let started = Instant::now();
        let mut records = Vec::new();
        loop {
            let offset = records
                .last()
                .map_or(0, |last: &RecordAndOffset| last.offset + 1);
            let (batch, _high_watermark) = partition_client
                .fetch_records(offset, 1..1_000_000, 200)
                .await
                .expect("the records can be fetched");
            let empty = batch.is_empty();
            records.extend(batch);
            if records.len() >= count && empty {
                return records;
            }
            assert!(
                started.elapsed() < PATIENCE,
                "{} of {count} records on {topic}/{partition}",
                records.len()
            );
        }
    })
}

/// Every record of every partition of `topic`, waiting until there are at least `count`: for a
/// topic the broker may have made itself, with however many partitions it gives one.
fn consume_all(broker: &str, topic: &str, count: usize) -> Vec<RecordAndOffset> {
    let started = Instant::now();
    loop {
        let partitions = runtime().block_on(async {
            let client = ClientBuilder::new(vec![broker.to_owned()])
                .build()
                .await
                .expect("the broker answers");
            let topics = client.list_topics().await.expect("the topics");
            let listed = topics.into_iter().find(|listed| listed.name == topic);
            listed.map(|listed| listed.partitions).unwrap_or_default()
        });
        let records: Vec<RecordAndOffset> = partitions
            .into_iter()
            .flat_map(|partition| consume_partition(broker, topic, partition, 0))
            .collect();
        if records.len() >= count {
            return records;
        }
        assert!(
            started.elapsed() < PATIENCE,
            "{} of {count} records on {topic}",
            records.len()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The key of a record, as text.
pub(crate) fn key_of(record: &RecordAndOffset) -> &str {
    std::str::from_utf8(record.record.key.as_deref().expect("a key")).expect("a UTF-8 key")
}

pub(crate) fn decode<M: rust2sky::proto::prost::Message + Default>(record: &RecordAndOffset) -> M {
    M::decode(record.record.value.as_deref().expect("a value")).expect("the value decodes")
}

/// Runs the test `name` of this binary alone in a process of its own with `vars` set, for what
/// needs a process to itself (the global tracer, the CPU time of the reporter's thread);
/// whether it ran, that one test, and passed.
pub(crate) fn passes_in_its_own_process(name: &str, vars: &[(&str, &str)]) -> bool {
    let output = Command::new(std::env::current_exe().expect("the test binary"))
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .envs(vars.iter().copied())
        .output()
        .expect("the test binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    eprintln!("{stdout}{}", String::from_utf8_lossy(&output.stderr));
    // A name that matches no test would pass too, having run nothing.
    output.status.success() && stdout.contains("test result: ok. 1 passed")
}

/// A payment request, in the tracer's scope: an entry span tagged with `order`, and the call to
/// the bank it makes, which times out.
pub(crate) fn pay(order: &str) {
    let mut entry = rust2sky::entry_span("POST:/pay", &NoHeaders).entered();
    entry
        .tag(tags::HTTP_METHOD, "POST")
        .tag("order", order)
        .set_layer(SpanLayer::Http)
        .set_component(component::HTTP);
    let mut outgoing = HashMap::new();
    let mut call = rust2sky::exit_span("POST:/charge", "bank:443", &mut outgoing);
    call.set_layer(SpanLayer::Http)
        .set_component(component::HTTP_CLIENT)
        .error("Timeout", &"the bank did not answer");
}

/// `record` is the segment of a [`pay`] of service `payments`, `made`, keyed by its id: field
/// by field, as the OAP reads it.
pub(crate) fn assert_is_the_payment(record: &RecordAndOffset, made: &SegmentObject) {
    let key = record.record.key.as_deref().expect("a key");
    assert_eq!(
        std::str::from_utf8(key),
        Ok(made.trace_segment_id.as_str()),
        "the key is the segment id"
    );
    assert!(record.record.headers.is_empty());
    let value = record.record.value.as_deref().expect("a value");
    let segment = SegmentObject::decode(value).expect("a SegmentObject");

    assert_eq!(segment.trace_segment_id, made.trace_segment_id);
    assert_eq!(segment.trace_id, made.trace_id);
    assert_eq!(segment.service, "payments");
    assert_eq!(segment.service_instance, "payments-1");
    assert!(!segment.is_size_limited);
    assert_eq!(segment.spans.len(), 2);
    let (exit, entry) = (&segment.spans[0], &segment.spans[1]);
    assert_eq!(entry.operation_name, "POST:/pay");
    assert_eq!(entry.span_type, SpanType::Entry as i32);
    assert_eq!(entry.span_layer, SpanLayer::Http as i32);
    assert_eq!(entry.component_id, component::HTTP);
    assert_eq!((entry.span_id, entry.parent_span_id), (0, -1));
    assert!(
        entry
            .tags
            .iter()
            .any(|tag| tag.key == "http.method" && tag.value == "POST")
    );
    assert_eq!(exit.operation_name, "POST:/charge");
    assert_eq!(exit.span_type, SpanType::Exit as i32);
    assert_eq!(exit.peer, "bank:443");
    assert_eq!(exit.component_id, component::HTTP_CLIENT);
    assert_eq!((exit.span_id, exit.parent_span_id), (1, 0));
    assert!(exit.is_error);
    assert!(exit.start_time <= exit.end_time);
    // Every field, the ones not named above included.
    assert_eq!(&segment, made);
}

#[test]
fn a_request_arrives_on_the_namespaced_topic_keyed_by_its_segment_id() {
    let Some(broker) = servers::tansu() else {
        return;
    };
    let topic = "staging-skywalking-segments";
    create_topic(&broker.addr(), topic);
    // The service's namespace (`SW_AGENT_NAMESPACE`) is not the topics' (`SW_KAFKA_NAMESPACE`).
    let config = kafka_config(&broker.addr(), |config| {
        config.kafka_namespace("staging").namespace("shop")
    });
    let kafka = KafkaReporter::start(&config).expect("the reporter starts");
    let memory = MemoryReporter::new();
    let tracer = Tracer::new(config, Both(memory.clone(), kafka.clone()));

    tracer.in_scope(|| {
        pay("1");
        pay("2");
    });
    assert!(tracer.flush(PATIENCE), "{:?}", kafka.stats());
    let stats = kafka.stats();
    assert_eq!((stats.produced, stats.sent, stats.failed), (2, 2, 0));
    assert!(eventually(|| kafka.is_connected()), "{:?}", kafka.stats());

    let made: Vec<SegmentObject> = memory
        .take_finished()
        .iter()
        .map(FinishedSegment::to_proto)
        .collect();
    let records = consume(&broker.addr(), topic, 2);
    assert_eq!(records.len(), 2, "one record a segment, nothing more");
    for (record, made) in records.iter().zip(&made) {
        assert_is_the_payment(record, made);
    }
    let orders: Vec<_> = records
        .iter()
        .map(|record| {
            let segment = SegmentObject::decode(record.record.value.as_deref().unwrap()).unwrap();
            let entry = &segment.spans[1];
            let order = entry.tags.iter().find(|tag| tag.key == "order").unwrap();
            order.value.clone()
        })
        .collect();
    assert_eq!(orders, ["1", "2"], "in the order they were reported");
}

#[test]
fn compressed_batches_arrive_whole_with_the_codec_asked_for() {
    for (name, codec) in [("gzip", 1), ("snappy", 2), ("none", 0)] {
        let (relay_port, tansu_port) =
            (servers::free_loopback_port(), servers::free_loopback_port());
        let Some(_tansu) = servers::tansu_advertising(tansu_port, relay_port) else {
            return;
        };
        let produced = Arc::new(ProducedBatches::default());
        let _relay = Relay::start(relay_port, tansu_port, produced.clone());
        let broker = format!("127.0.0.1:{relay_port}");
        create_topic(&broker, TOPICS[0]);
        // Set as a user sets it, in the environment, in any case.
        let config = kafka_config_with_env(
            &broker,
            |config| config,
            |variable| (variable == env::KAFKA_COMPRESSION_TYPE).then(|| name.to_uppercase()),
        );
        let kafka = KafkaReporter::start(&config).expect("the reporter starts");
        let memory = MemoryReporter::new();
        let tracer = Tracer::new(config, Both(memory.clone(), kafka.clone()));
        tracer.in_scope(|| {
            for order in 0..20 {
                let mut entry = rust2sky::entry_span("POST:/pay", &NoHeaders).entered();
                entry
                    .tag("order", order.to_string())
                    .tag("note", "x".repeat(200));
            }
        });
        assert!(tracer.flush(PATIENCE), "{name}: {:?}", kafka.stats());
        assert_eq!(kafka.stats().sent, 20, "{name}");

        let made: Vec<SegmentObject> = memory
            .take_finished()
            .iter()
            .map(FinishedSegment::to_proto)
            .collect();
        let records = consume(&broker, TOPICS[0], 20);
        let arrived: Vec<SegmentObject> = records.iter().map(decode).collect();
        assert_eq!(arrived, made, "{name}: every segment, field by field");
        let codecs = produced.codecs(TOPICS[0]);
        assert!(!codecs.is_empty(), "{name}: no produce request seen");
        assert!(
            codecs.iter().all(|&seen| seen == codec),
            "{name}: batches with codecs {codecs:?}"
        );
    }
}

/// The compression codec of every record batch produced through a relay, by topic: the low
/// three bits of a batch's attributes (0 none, 1 gzip, 2 snappy).
#[derive(Default)]
struct ProducedBatches(Mutex<Vec<(String, i16)>>);

impl ProducedBatches {
    fn codecs(&self, topic: &str) -> Vec<i16> {
        let batches = self.0.lock().unwrap();
        let of_topic = batches.iter().filter(|(name, _)| name == topic);
        of_topic.map(|&(_, codec)| codec).collect()
    }
}

impl Frames for ProducedBatches {
    fn request(&self, frame: &[u8]) {
        // Produce (API key 0) in the versions rskafka sends, 3 to 7, none of them flexible.
        if frame.get(..2) == Some(&[0, 0])
            && let Some(batches) = produce_batches(frame)
        {
            self.0.lock().unwrap().extend(batches);
        }
    }
}

/// Each topic of a Produce request with the codec of its first batch; `None` for a request of
/// another shape.
fn produce_batches(frame: &[u8]) -> Option<Vec<(String, i16)>> {
    let mut reader = Reader { frame, at: 8 };
    reader.string()?; // the client id
    reader.string()?; // the transactional id
    reader.skip(2 + 4)?; // acks, timeout
    let mut batches = Vec::new();
    for _ in 0..reader.i32()? {
        let topic = String::from_utf8(reader.string()?.to_vec()).ok()?;
        for _ in 0..reader.i32()? {
            reader.skip(4)?; // the partition
            let records = reader.i32()?;
            let batch = reader.take(usize::try_from(records).ok()?)?;
            // Base offset, length, leader epoch, magic and CRC come before the attributes.
            let attributes = batch.get(21..23)?;
            batches.push((
                topic.clone(),
                i16::from_be_bytes([attributes[0], attributes[1]]) & 7,
            ));
        }
    }
    Some(batches)
}

/// Reads a request's fields in order.
struct Reader<'f> {
    frame: &'f [u8],
    at: usize,
}

impl<'f> Reader<'f> {
    fn take(&mut self, len: usize) -> Option<&'f [u8]> {
        let taken = self.frame.get(self.at..self.at.checked_add(len)?)?;
        self.at += len;
        Some(taken)
    }

    fn skip(&mut self, len: usize) -> Option<()> {
        self.take(len).map(drop)
    }

    fn i32(&mut self) -> Option<i32> {
        Some(i32::from_be_bytes(self.take(4)?.try_into().ok()?))
    }

    /// A nullable string: its length in two bytes (-1 for null), then its bytes.
    fn string(&mut self) -> Option<&'f [u8]> {
        let len = i16::from_be_bytes(self.take(2)?.try_into().ok()?);
        self.take(usize::try_from(len).unwrap_or(0))
    }
}

/// Twelve requests, at once, to a reporter that cannot send and whose queue holds five
/// (`config`): five wait, seven are dropped, and all are counted.
pub(crate) fn overflow_the_queue(config: Config, kafka: &KafkaReporter) {
    assert_eq!(config.max_send_queue_size(), 5);
    let tracer = Tracer::new(config, kafka.clone());
    let started = Instant::now();
    tracer.in_scope(|| {
        for _ in 0..12 {
            drop(rust2sky::entry_span("GET:/cart", &NoHeaders));
        }
    });
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "the requests never wait for the reporter"
    );
    let stats = kafka.stats();
    assert_eq!(
        (stats.produced, stats.dropped_full, stats.queued, stats.sent),
        (12, 7, 5, 0),
        "{stats:?}"
    );
    assert_eq!(
        stats.produced,
        stats.sent + stats.dropped_full + stats.failed + stats.queued
    );
    assert!(!kafka.flush(Duration::from_millis(300)));
    assert!(!kafka.is_connected());
}

#[test]
fn with_the_broker_down_the_queue_is_bounded_and_a_late_broker_gets_what_waited() {
    let port = servers::free_loopback_port();
    let addr = format!("127.0.0.1:{port}");
    let config = kafka_config(&addr, |config| config.max_send_queue_size(5));
    let kafka = KafkaReporter::start(&config).expect("the reporter starts");
    overflow_the_queue(config, &kafka);

    let Some(broker) = servers::tansu_on(port) else {
        return;
    };
    create_topic(&broker.addr(), "skywalking-segments");
    assert!(kafka.flush(PATIENCE), "{:?}", kafka.stats());
    let stats = kafka.stats();
    assert_eq!(
        (
            stats.produced,
            stats.sent,
            stats.dropped_full,
            stats.failed,
            stats.queued
        ),
        (12, 5, 7, 0, 0)
    );
    let records = consume(&broker.addr(), "skywalking-segments", 5);
    assert_eq!(records.len(), 5);
    for record in &records {
        let segment = SegmentObject::decode(record.record.value.as_deref().unwrap()).unwrap();
        assert_eq!(segment.spans[0].operation_name, "GET:/cart");
        let key = record.record.key.as_deref().map(std::str::from_utf8);
        assert_eq!(key, Some(Ok(segment.trace_segment_id.as_str())));
    }
}

#[test]
fn without_bootstrap_servers_the_reporter_does_not_start() {
    let config = Config::builder().build_with_env(|_| None).unwrap();
    let err = KafkaReporter::start(&config).unwrap_err();
    assert!(
        err.to_string().contains("SW_KAFKA_BOOTSTRAP_SERVERS"),
        "{err}"
    );
}

/// The partition Kafka's Java client picks for these keys among 3, worked out apart from the
/// reporter's code (murmur2 of the key, sign bit cleared, modulo 3).
const PARTITION_OF_CHECKOUT: i32 = 1;
const PARTITION_OF_CHECKOUT_1: i32 = 0;
const PARTITION_OF_REGISTER_CHECKOUT_1: i32 = 2;

#[test]
fn every_kind_goes_to_its_topic_and_partition_with_the_java_agents_keys() {
    let Some(broker) = servers::tansu() else {
        return;
    };
    let addr = broker.addr();
    create_topics(&addr, &TOPICS, 3);
    let config = kafka_config(&addr, |config| {
        config
            .service_name("checkout")
            .instance_name("checkout-1")
            .heartbeat_period(Duration::from_secs(1))
            .properties_report_period_factor(2)
            .meter_report_interval(Duration::from_secs(1))
    });
    let kafka = KafkaReporter::start(&config).expect("the reporter starts");
    let memory = MemoryReporter::new();
    let tracer = Tracer::new(config, Both(memory.clone(), kafka.clone()));
    tracer.in_scope(|| {
        for _ in 0..40 {
            drop(rust2sky::entry_span("GET:/cart", &NoHeaders));
        }
        let _order = rust2sky::entry_span("POST:/order", &NoHeaders).entered();
        kafka.report_log(log_data("WARN", "orders", "stock is low".to_owned(), []));
    });
    kafka.report_meters(vec![MeterData {
        metric: Some(rust2sky::proto::v3::meter_data::Metric::SingleValue(
            rust2sky::proto::v3::MeterSingleValue {
                name: "orders_in_flight".to_owned(),
                labels: Vec::new(),
                value: 7.0,
            },
        )),
        ..MeterData::default()
    }]);
    assert!(tracer.flush(PATIENCE), "{:?}", kafka.transport_stats());

    // Segments: one record each, keyed by its id, over every partition.
    let made: HashMap<String, SegmentObject> = memory
        .take_finished()
        .iter()
        .map(FinishedSegment::to_proto)
        .map(|segment| (segment.trace_segment_id.clone(), segment))
        .collect();
    assert_eq!(made.len(), 41);
    let mut keys = BTreeSet::new();
    let mut used_partitions = 0;
    for partition in 0..3 {
        let records = consume_partition(&addr, "skywalking-segments", partition, 0);
        used_partitions += usize::from(!records.is_empty());
        for record in &records {
            let segment: SegmentObject = decode(record);
            assert_eq!(key_of(record), segment.trace_segment_id);
            assert_eq!(made.get(&segment.trace_segment_id), Some(&segment));
            assert!(keys.insert(segment.trace_segment_id), "sent once");
        }
    }
    assert_eq!(keys.len(), 41);
    assert_eq!(used_partitions, 3, "keys spread over the partitions");

    // The log record, named after this instance, keyed by its service.
    let logs = consume_partition(&addr, "skywalking-logs", PARTITION_OF_CHECKOUT, 1);
    assert_eq!(logs.len(), 1);
    assert_eq!(key_of(&logs[0]), "checkout");
    let log: LogData = decode(&logs[0]);
    assert_eq!(
        (log.service.as_str(), log.service_instance.as_str()),
        ("checkout", "checkout-1")
    );
    let text = match log.body.and_then(|body| body.content) {
        Some(Content::Text(text)) => text.text,
        other => panic!("a text body, not {other:?}"),
    };
    assert_eq!(text, "stock is low");
    let order = made
        .values()
        .find(|segment| segment.spans[0].operation_name == "POST:/order")
        .expect("the order's segment");
    let context = log.trace_context.expect("the trace context of the span");
    assert_eq!(context.trace_id, order.trace_id);
    assert_eq!(context.trace_segment_id, order.trace_segment_id);

    // The properties when connected, then a keepAlive and the properties every second beat.
    let management = consume_partition(&addr, "skywalking-managements", PARTITION_OF_CHECKOUT_1, 1);
    let registered = consume_partition(
        &addr,
        "skywalking-managements",
        PARTITION_OF_REGISTER_CHECKOUT_1,
        2,
    );
    for record in &registered {
        assert_eq!(key_of(record), "register-checkout-1");
        let properties: InstanceProperties = decode(record);
        assert_eq!(properties.service, "checkout");
        assert_eq!(properties.service_instance, "checkout-1");
        let language = properties
            .properties
            .iter()
            .find(|pair| pair.key == "language");
        assert_eq!(language.map(|pair| pair.value.as_str()), Some("rust"));
    }
    for record in &management {
        assert_eq!(key_of(record), "checkout-1");
        let ping: InstancePingPkg = decode(record);
        assert_eq!(
            (ping.service.as_str(), ping.service_instance.as_str()),
            ("checkout", "checkout-1")
        );
    }
    let stats = kafka.transport_stats();
    assert!(stats.management.sent >= 2, "{stats:?}");
    assert_eq!(stats.management.failed, 0);

    // Meter reports, keyed by instance: the one handed over, and the reporter's own readings.
    let meters = consume_partition(&addr, "skywalking-meters", PARTITION_OF_CHECKOUT_1, 2);
    let reports: Vec<MeterDataCollection> = meters
        .iter()
        .inspect(|record| assert_eq!(key_of(record), "checkout-1"))
        .map(decode)
        .collect();
    let names = |report: &MeterDataCollection| -> Vec<String> {
        report
            .meter_data
            .iter()
            .filter_map(|meter| match &meter.metric {
                Some(rust2sky::proto::v3::meter_data::Metric::SingleValue(single)) => {
                    Some(single.name.clone())
                }
                _ => None,
            })
            .collect()
    };
    assert!(
        reports
            .iter()
            .any(|report| names(report) == ["orders_in_flight"]),
        "the report handed over, as it was"
    );
    let sampled = reports
        .iter()
        .find(|report| {
            names(report)
                .iter()
                .any(|name| name == "instance_rust_agent_segments")
        })
        .expect("a report of the reporter's own");
    assert!(
        sampled
            .meter_data
            .iter()
            .all(|meter| meter.service == "checkout" && meter.service_instance == "checkout-1")
    );
    let stats = kafka.transport_stats();
    assert_eq!((stats.segments.sent, stats.logs.sent), (41, 1));
    assert_eq!(
        stats.segments.failed + stats.logs.failed + stats.meters.failed,
        0,
        "{stats:?}"
    );
}

#[test]
fn a_broker_that_restarts_gets_what_came_after_and_the_counts_add_up() {
    let Some(broker) = servers::tansu() else {
        return;
    };
    let port: u16 = broker.addr().rsplit(':').next().unwrap().parse().unwrap();
    create_topics(&broker.addr(), &TOPICS, 1);
    let config = kafka_config(&broker.addr(), |config| config);
    let kafka = KafkaReporter::start(&config).expect("the reporter starts");
    let tracer = Tracer::new(config, kafka.clone());
    let report = |operation: &'static str, count: usize| {
        tracer.in_scope(|| {
            for _ in 0..count {
                drop(rust2sky::entry_span(operation, &NoHeaders));
            }
        });
    };
    report("GET:/before", 3);
    assert!(kafka.flush(PATIENCE), "{:?}", kafka.stats());
    assert_eq!(consume(&broker.addr(), "skywalking-segments", 3).len(), 3);

    drop(broker);
    report("GET:/while-down", 4);
    assert!(!kafka.flush(Duration::from_millis(500)));

    // The same port, a new broker with nothing stored: the topics are made again.
    let Some(broker) = servers::tansu_on(port) else {
        return;
    };
    create_topics(&broker.addr(), &TOPICS, 1);
    // What was in flight when the broker went may have failed; it all ends one way or the other.
    kafka.flush(PATIENCE);
    let stats = kafka.stats();
    assert_eq!((stats.produced, stats.queued), (7, 0), "{stats:?}");
    assert_eq!(stats.sent + stats.failed, 7);

    report("GET:/after", 2);
    assert!(kafka.flush(PATIENCE), "{:?}", kafka.stats());
    assert!(eventually(|| kafka.is_connected()), "{:?}", kafka.stats());
    let stats = kafka.stats();
    assert_eq!(
        stats.produced,
        stats.sent + stats.failed + stats.dropped_full
    );
    let arrived = usize::try_from(stats.sent).unwrap() - 3;
    let records = consume_all(&broker.addr(), "skywalking-segments", arrived);
    assert_eq!(records.len(), arrived, "what was sent, and nothing twice");
    let mut operations: Vec<String> = records
        .iter()
        .map(|record| {
            decode::<SegmentObject>(record).spans[0]
                .operation_name
                .clone()
        })
        .collect();
    operations.sort();
    let mut expected = vec!["GET:/after".to_owned(); 2];
    expected.resize(arrived, "GET:/while-down".to_owned());
    assert_eq!(operations, expected);
}

#[test]
fn every_queue_is_bounded_and_counted_while_the_broker_is_away() {
    let addr = format!("127.0.0.1:{}", servers::free_loopback_port());
    let config = kafka_config(&addr, |config| config.max_send_queue_size(3));
    let kafka = KafkaReporter::start(&config).expect("the reporter starts");
    for _ in 0..5 {
        kafka.report_log(log_data("WARN", "cart", "slow".to_owned(), []));
    }
    for _ in 0..70 {
        kafka.report_meters(Vec::new());
        kafka.report_management(Management::KeepAlive(InstancePingPkg::default()));
    }
    let stats = kafka.transport_stats();
    let counts = |stats: rust2sky::reporter::ReporterStats| {
        (stats.produced, stats.queued, stats.dropped_full, stats.sent)
    };
    assert_eq!(counts(stats.logs), (5, 3, 2, 0));
    // Meter reports and management messages are periodic: a few waiting is plenty.
    assert_eq!(counts(stats.meters), (70, 64, 6, 0));
    assert_eq!(counts(stats.management), (70, 64, 6, 0));
    assert!(!kafka.is_connected());
}

/// Set in the process [`dropping_the_init_guard_delivers_everything_queued`] starts: the broker.
const SHUTDOWN_BROKER: &str = "RUST2SKY_TEST_KAFKA_SHUTDOWN_BROKER";

#[test]
fn dropping_the_init_guard_delivers_everything_queued() {
    if let Ok(broker) = std::env::var(SHUTDOWN_BROKER) {
        // In a process of its own, as an application's `main`: `init` installs the one global
        // tracer of the process.
        let config = kafka_config(&broker, |config| config.service_name("shutdown"));
        let kafka = KafkaReporter::start(&config).expect("the reporter starts");
        let guard = rust2sky::init(config, kafka.clone()).expect("the first init");
        for _ in 0..20 {
            drop(rust2sky::entry_span("GET:/bye", &NoHeaders));
        }
        kafka.report_log(log_data("INFO", "main", "shutting down".to_owned(), []));
        drop(guard);
        let stats = kafka.transport_stats();
        assert_eq!((stats.segments.sent, stats.logs.sent), (20, 1), "{stats:?}");
        return;
    }
    let Some(broker) = servers::tansu() else {
        return;
    };
    create_topics(&broker.addr(), &TOPICS, 1);
    assert!(passes_in_its_own_process(
        "kafka::dropping_the_init_guard_delivers_everything_queued",
        &[(SHUTDOWN_BROKER, &broker.addr())],
    ));
    let records = consume(&broker.addr(), "skywalking-segments", 20);
    assert_eq!(records.len(), 20);
    for record in &records {
        let segment: SegmentObject = decode(record);
        assert_eq!(segment.service, "shutdown");
        assert_eq!(segment.spans[0].operation_name, "GET:/bye");
    }
    let logs = consume(&broker.addr(), "skywalking-logs", 1);
    assert_eq!(key_of(&logs[0]), "shutdown");
}

/// Set in the process [`with_the_broker_away_the_reporter_thread_uses_under_one_percent_of_a_core`]
/// starts.
const IDLE_CHILD: &str = "RUST2SKY_TEST_KAFKA_IDLE";

/// The CPU time the threads named `name` of this process have used (the scheduler's count, in
/// nanoseconds), and how many there are.
fn cpu_time_of_threads(name: &str) -> (Duration, usize) {
    let mut total = Duration::ZERO;
    let mut threads = 0;
    for task in std::fs::read_dir("/proc/self/task").expect("/proc is there") {
        let path = task.expect("a task").path();
        let Ok(comm) = std::fs::read_to_string(path.join("comm")) else {
            continue; // it ended meanwhile
        };
        if comm.trim_end() != name {
            continue;
        }
        let schedstat = std::fs::read_to_string(path.join("schedstat")).expect("schedstat");
        let nanos: u64 = schedstat
            .split_whitespace()
            .next()
            .and_then(|nanos| nanos.parse().ok())
            .expect("the time on the CPU, in nanoseconds");
        total += Duration::from_nanos(nanos);
        threads += 1;
    }
    (total, threads)
}

#[test]
fn with_the_broker_away_the_reporter_thread_uses_under_one_percent_of_a_core() {
    if std::env::var_os(IDLE_CHILD).is_some() {
        // Alone in its process, so that the reporter's thread is the only one of its name.
        let addr = format!("127.0.0.1:{}", servers::free_loopback_port());
        let config = kafka_config(&addr, |config| {
            config
                .heartbeat_period(Duration::from_secs(1))
                .meter_report_interval(Duration::from_secs(1))
        });
        let kafka = KafkaReporter::start(&config).expect("the reporter starts");
        let tracer = Tracer::new(config, kafka.clone());
        tracer.in_scope(|| {
            for _ in 0..100 {
                drop(rust2sky::entry_span("GET:/waiting", &NoHeaders));
            }
        });
        // Past the first attempts, into the backoff.
        std::thread::sleep(Duration::from_secs(2));
        let (before, threads) = cpu_time_of_threads("rust2sky-kafka");
        assert_eq!(threads, 1, "the reporter's thread runs");
        let measured = Instant::now();
        std::thread::sleep(Duration::from_secs(8));
        let (after, _) = cpu_time_of_threads("rust2sky-kafka");
        let used = after.saturating_sub(before);
        let window = measured.elapsed();
        eprintln!("the Kafka reporter's thread used {used:?} of CPU in {window:?} with no broker");
        assert!(used < window / 100, "{used:?} in {window:?}");
        let stats = kafka.stats();
        assert_eq!(
            (stats.queued, stats.failed),
            (100, 0),
            "all wait, none lost"
        );
        return;
    }
    assert!(passes_in_its_own_process(
        "kafka::with_the_broker_away_the_reporter_thread_uses_under_one_percent_of_a_core",
        &[(IDLE_CHILD, "1")],
    ));
}

#[test]
fn one_setting_switches_from_grpc_to_kafka_and_the_dynamic_configuration_still_comes_over_grpc() {
    let Some(broker) = servers::tansu() else {
        return;
    };
    create_topics(&broker.addr(), &TOPICS, 1);
    let collector = Collector::builder()
        .configuration("v1", [("agent.sample_rate", "0.5")])
        .start()
        .expect("the collector starts");
    let config = Config::builder()
        .service_name("switched")
        .backends([collector.backend()])
        .kafka_bootstrap_servers([broker.addr()])
        .config_discovery_interval(Duration::from_secs(1))
        .build_with_env(|name| (name == "SW_AGENT_PROTOCOL").then(|| "kafka".to_owned()))
        .expect("a valid configuration");
    assert_eq!(config.protocol(), Protocol::Kafka);
    let transport = reporter::start(&config).expect("the transport starts");
    assert!(matches!(transport, StartedTransport::Kafka(_)));
    let tracer = Tracer::new(config, transport.clone());
    tracer.in_scope(|| drop(rust2sky::entry_span("GET:/switched", &NoHeaders)));
    assert!(tracer.flush(PATIENCE), "{:?}", transport.transport_stats());
    // Connected again at once if a round of another queue failed meanwhile (a busy machine).
    assert!(
        eventually(|| transport.is_connected()),
        "{:?}",
        transport.transport_stats()
    );
    assert_eq!(transport.stats().sent, 1);
    let records = consume(&broker.addr(), "skywalking-segments", 1);
    let segment: SegmentObject = decode(&records[0]);
    assert_eq!(segment.service, "switched");
    assert_eq!(segment.spans[0].operation_name, "GET:/switched");

    // The OAP's sample rate, fetched over gRPC, applies to the tracer that reports to Kafka.
    let started = Instant::now();
    while tracer.live_settings().sample_rate() != Some(0.5) {
        assert!(started.elapsed() < PATIENCE, "no dynamic configuration");
        std::thread::sleep(Duration::from_millis(50));
    }
    let dynamic = transport
        .dynamic_config()
        .expect("the configuration received");
    assert_eq!(dynamic.sample_rate(), Some(0.5));
    // Over gRPC only the fetches: the rest went to Kafka.
    let received = collector.received();
    assert!(!received.configuration_requests.is_empty());
    assert_eq!(received.configuration_requests[0].service, "switched");
    assert!(received.segments.is_empty(), "segments went to Kafka");
    assert!(received.instance_properties.is_empty() && received.pings.is_empty());
    assert!(received.logs.is_empty() && received.meters.is_empty());
}
