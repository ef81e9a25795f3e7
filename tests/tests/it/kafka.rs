//! The Kafka reporter against a real Kafka-compatible broker on 127.0.0.1 (`tansu`, see
//! `servers.rs`), read back with the `rskafka` client as the OAP's kafka-fetcher would read it.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rskafka::client::ClientBuilder;
use rskafka::client::partition::UnknownTopicHandling;
use rskafka::record::RecordAndOffset;
use rust2sky::config::{Config, ConfigBuilder};
use rust2sky::propagation::NoHeaders;
use rust2sky::proto::prost::Message as _;
use rust2sky::proto::v3::{SegmentObject, SpanLayer, SpanType};
use rust2sky::reporter::{FinishedSegment, KafkaReporter, MemoryReporter, Reporter};
use rust2sky::{Tracer, component, tags};

use crate::grpc_reporter::Both;
use crate::servers;

/// Long enough for anything that should happen to happen on a loaded 2-core machine.
const PATIENCE: Duration = Duration::from_secs(30);

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

fn kafka_config(broker: &str, more: impl FnOnce(ConfigBuilder) -> ConfigBuilder) -> Config {
    more(
        Config::builder()
            .service_name("payments")
            .instance_name("payments-1")
            .kafka_bootstrap_servers([broker]),
    )
    .build_with_env(|_| None)
    .expect("a valid configuration")
}

/// Creates `topic`, with one partition, as the OAP's kafka-fetcher does at its start.
fn create_topic(broker: &str, topic: &str) {
    runtime().block_on(async {
        let client = ClientBuilder::new(vec![broker.to_owned()])
            .build()
            .await
            .expect("the broker answers");
        client
            .controller_client()
            .expect("a controller")
            .create_topic(topic, 1, 1, 5_000)
            .await
            .expect("the topic is created");
    });
}

/// Every record of partition 0 of `topic`, waiting until there are at least `count`.
fn consume(broker: &str, topic: &str, count: usize) -> Vec<RecordAndOffset> {
    runtime().block_on(async {
        let client = ClientBuilder::new(vec![broker.to_owned()])
            .build()
            .await
            .expect("the broker answers");
        let partition = client
            .partition_client(topic, 0, UnknownTopicHandling::Error)
            .await
            .expect("the topic exists");
        let started = Instant::now();
        let mut records = Vec::new();
        while records.len() < count {
            assert!(
                started.elapsed() < PATIENCE,
                "{} of {count} records on {topic}",
                records.len()
            );
            let offset = records
                .last()
                .map_or(0, |last: &RecordAndOffset| last.offset + 1);
            let (batch, _high_watermark) = partition
                .fetch_records(offset, 1..1_000_000, 500)
                .await
                .expect("the records can be fetched");
            records.extend(batch);
        }
        records
    })
}

#[test]
fn a_request_arrives_on_the_namespaced_topic_keyed_by_its_segment_id() {
    let Some(broker) = servers::tansu() else {
        return;
    };
    let topic = "staging-skywalking-segments";
    create_topic(&broker.addr(), topic);
    let config = kafka_config(&broker.addr(), |config| config.namespace("staging"));
    let kafka = KafkaReporter::start(&config).expect("the reporter starts");
    let memory = MemoryReporter::new();
    let tracer = Tracer::new(config, Both(memory.clone(), kafka.clone()));

    tracer.in_scope(|| {
        for order in ["1", "2"] {
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
    });
    assert!(tracer.flush(PATIENCE), "{:?}", kafka.stats());
    let stats = kafka.stats();
    assert_eq!((stats.produced, stats.sent, stats.failed), (2, 2, 0));
    assert!(kafka.is_connected());

    let made: Vec<SegmentObject> = memory
        .take_finished()
        .iter()
        .map(FinishedSegment::to_proto)
        .collect();
    let records = consume(&broker.addr(), topic, 2);
    assert_eq!(records.len(), 2, "one record a segment, nothing more");
    for (record, made) in records.iter().zip(&made) {
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
fn with_the_broker_down_the_queue_is_bounded_and_a_late_broker_gets_what_waited() {
    let port = servers::free_loopback_port();
    let addr = format!("127.0.0.1:{port}");
    let config = kafka_config(&addr, |config| config.max_send_queue_size(5));
    let kafka = KafkaReporter::start(&config).expect("the reporter starts");
    let tracer = Tracer::new(config, kafka.clone());
    tracer.in_scope(|| {
        for _ in 0..12 {
            drop(rust2sky::entry_span("GET:/cart", &NoHeaders));
        }
    });
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
