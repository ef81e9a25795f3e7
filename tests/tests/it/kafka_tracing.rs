//! Tracing Kafka producers and consumers (`integrations::kafka`) through a real Kafka-compatible
//! broker on 127.0.0.1 (`tansu`, see `servers.rs`): a record produced under one service's trace
//! and consumed by another makes one trace across the two.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rskafka::client::ClientBuilder;
use rskafka::client::partition::{Compression, UnknownTopicHandling};
use rskafka::record::{Record, RecordAndOffset};
use rust2sky::config::Config;
use rust2sky::integrations::kafka::rskafka::TracedPartitionClient;
use rust2sky::propagation::{NoHeaders, Sw8Header, Sw8x};
use rust2sky::proto::v3::{RefType, SegmentObject, SpanLayer, SpanObject, SpanType};
use rust2sky::reporter::MemoryReporter;
use rust2sky::{Tracer, component};

use crate::servers;

#[cfg(feature = "rdkafka")]
mod rdkafka;

/// Without the `rdkafka` feature the rdkafka tests are not built, as they need librdkafka to
/// link; said loudly. CI builds them in a run of their own (`.ci/run`).
#[cfg(not(feature = "rdkafka"))]
#[test]
fn the_rdkafka_tests_are_built_with_the_rdkafka_feature() {
    eprintln!(
        "SKIPPED: the rdkafka tests were not built: they need librdkafka (Debian: apt-get \
         install librdkafka-dev pkg-config) and `cargo test -p rust2sky-tests --test it \
         --features rdkafka kafka_tracing`"
    );
}

/// Long enough for anything that should happen to happen on a loaded 2-core machine.
const PATIENCE: Duration = Duration::from_secs(30);

/// A service of the test, recording into memory.
struct Service {
    tracer: Tracer,
    reporter: MemoryReporter,
}

impl Service {
    fn new(name: &str) -> Service {
        let reporter = MemoryReporter::new();
        let config = Config::builder()
            .service_name(name)
            .instance_name(format!("{name}-1"))
            .build_with_env(|_| None)
            .expect("a valid configuration");
        Service {
            tracer: Tracer::new(config, reporter.clone()),
            reporter,
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

/// What each test has: the producing service `orders`, the consuming one `billing`, a runtime,
/// and `topic` made on the broker (one partition), with a traced client of its partition.
struct Scene {
    orders: Service,
    billing: Service,
    runtime: tokio::runtime::Runtime,
    partition: TracedPartitionClient,
}

impl Scene {
    /// A `tansu` of the test's own and its address, with the scene on it; `None` (said loudly)
    /// without tansu.
    fn on_tansu(topic: &str) -> Option<(servers::Tansu, String, Scene)> {
        let tansu = servers::tansu()?;
        let broker = tansu.addr();
        let scene = Scene::new(&broker, topic);
        Some((tansu, broker, scene))
    }

    fn parts(
        &self,
    ) -> (
        &Service,
        &Service,
        &tokio::runtime::Runtime,
        &TracedPartitionClient,
    ) {
        (&self.orders, &self.billing, &self.runtime, &self.partition)
    }

    fn new(broker: &str, topic: &str) -> Scene {
        let runtime = runtime();
        let partition = runtime.block_on(async {
            let client = ClientBuilder::new(vec![broker.to_owned()])
                .build()
                .await
                .expect("the broker answers");
            let controller = client.controller_client().expect("a controller");
            controller
                .create_topic(topic, 1, 1, 5_000)
                .await
                .expect("the topic is made");
            client
                .partition_client(topic, 0, UnknownTopicHandling::Retry)
                .await
                .expect("the topic has a partition")
        });
        Scene {
            orders: Service::new("orders"),
            billing: Service::new("billing"),
            runtime,
            partition: TracedPartitionClient::new(Arc::new(partition), broker),
        }
    }
}

/// At least `count` records of the partition, from offset 0.
async fn fetch(partition: &TracedPartitionClient, count: usize) -> Vec<RecordAndOffset> {
    let started = Instant::now();
    let mut records = Vec::new();
    while records.len() < count {
        assert!(
            started.elapsed() < PATIENCE,
            "{} of {count} records",
            records.len()
        );
        let offset = records
            .last()
            .map_or(0, |last: &RecordAndOffset| last.offset + 1);
        let (batch, _high_watermark) = partition
            .inner()
            .fetch_records(offset, 1..1_000_000, 200)
            .await
            .expect("the records can be fetched");
        records.extend(batch);
    }
    records
}

fn record(value: &str) -> Record {
    Record {
        key: None,
        value: Some(value.as_bytes().to_vec()),
        headers: BTreeMap::new(),
        timestamp: rskafka::chrono::DateTime::from_timestamp_millis(now_ms()).expect("a time"),
    }
}

fn now_ms() -> i64 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    i64::try_from(now.expect("after 1970").as_millis()).expect("before 2262")
}

fn tag<'a>(span: &'a SpanObject, key: &str) -> Option<&'a str> {
    let tag = span.tags.iter().find(|tag| tag.key == key)?;
    Some(tag.value.as_str())
}

/// The producer's segment: an entry span `POST:/orders` whose child is the exit span of sending
/// to `topic`, checked field by field; returns the exit span.
fn producer_exit<'a>(segment: &'a SegmentObject, topic: &str, broker: &str) -> &'a SpanObject {
    assert_eq!(segment.service, "orders");
    assert_eq!(segment.spans.len(), 2, "{segment:?}");
    // Spans are reported in the order they ended, and a send may end after its request.
    let by_id = |id| segment.spans.iter().find(|span| span.span_id == id);
    let (Some(entry), Some(exit)) = (by_id(0), by_id(1)) else {
        panic!("spans 0 and 1: {segment:?}");
    };
    assert_eq!(exit.operation_name, format!("Kafka/{topic}/Producer"));
    assert_eq!(exit.span_type, SpanType::Exit as i32);
    assert_eq!(exit.span_layer, SpanLayer::Mq as i32);
    assert_eq!(exit.component_id, component::KAFKA_PRODUCER);
    assert_eq!(exit.component_id, 40);
    assert_eq!(exit.peer, broker);
    assert_eq!(tag(exit, "mq.broker"), Some(broker));
    assert_eq!(tag(exit, "mq.topic"), Some(topic));
    assert_eq!((exit.span_id, exit.parent_span_id), (1, 0));
    assert!(!exit.is_error, "{exit:?}");
    assert!(exit.start_time <= exit.end_time);
    assert_eq!(entry.operation_name, "POST:/orders");
    exit
}

/// The consumer's entry span, checked field by field but for its references.
fn check_consumer_span(span: &SpanObject, topic: &str, broker: &str) {
    assert_eq!(
        span.operation_name,
        format!("Kafka/{topic}/Consumer/billing")
    );
    assert_eq!(span.span_type, SpanType::Entry as i32);
    assert_eq!(span.span_layer, SpanLayer::Mq as i32);
    assert_eq!(span.component_id, component::KAFKA_CONSUMER);
    assert_eq!(span.component_id, 41);
    assert_eq!(tag(span, "mq.broker"), Some(broker));
    assert_eq!(tag(span, "mq.topic"), Some(topic));
    assert_eq!((span.span_id, span.parent_span_id), (0, -1));
    assert!(!span.is_error);
}

/// Checks that `reference` points at span `exit` of the producer's segment `producer`.
fn check_reference_to(
    reference: &rust2sky::proto::v3::SegmentReference,
    producer: &SegmentObject,
    exit: &SpanObject,
    broker: &str,
) {
    assert_eq!(reference.ref_type, RefType::CrossProcess as i32);
    assert_eq!(reference.trace_id, producer.trace_id);
    assert_eq!(reference.parent_trace_segment_id, producer.trace_segment_id);
    assert_eq!(reference.parent_span_id, exit.span_id);
    assert_eq!(reference.parent_service, "orders");
    assert_eq!(reference.parent_service_instance, "orders-1");
    assert_eq!(reference.parent_endpoint, "POST:/orders");
    assert_eq!(reference.network_address_used_at_peer, broker);
}

/// Produces `value` to `partition` under an entry span `POST:/orders` of `service`.
async fn produce_order(service: &Service, partition: &TracedPartitionClient, value: &str) {
    let send = service.tracer.in_scope(|| {
        let order = rust2sky::entry_span("POST:/orders", &NoHeaders);
        let send =
            order.in_scope(|| partition.produce(vec![record(value)], Compression::NoCompression));
        (order, send)
    });
    let (order, send) = send;
    let offsets = send.await.expect("the broker takes the record");
    assert_eq!(offsets.len(), 1);
    drop(order);
}

#[test]
fn a_record_produced_and_consumed_with_rskafka_makes_one_trace_across_the_two() {
    let topic = "orders-placed";
    let Some((_tansu, broker, scene)) = Scene::on_tansu(topic) else {
        return;
    };
    let (orders, billing, runtime, partition) = scene.parts();

    runtime.block_on(produce_order(orders, partition, "order 7"));
    let records = runtime.block_on(fetch(partition, 1));

    let produced = orders.reporter.segments();
    assert_eq!(produced.len(), 1);
    let producer = &produced[0];
    let exit = producer_exit(producer, topic, &broker);

    // What travelled in the record: the exit span's context, addressed to the broker.
    let record = &records[0].record;
    assert_eq!(record.value.as_deref(), Some(&b"order 7"[..]));
    let sw8 = std::str::from_utf8(&record.headers["sw8"]).expect("text");
    let sw8 = Sw8Header::decode(sw8).expect("a valid sw8");
    assert!(sw8.sampled);
    assert_eq!(sw8.trace_id, producer.trace_id);
    assert_eq!(sw8.parent_segment_id, producer.trace_segment_id);
    assert_eq!(sw8.parent_span_id, exit.span_id);
    assert_eq!(sw8.target_address, broker);
    // And when it was sent, for the consumer's latency, as the Java agent writes it.
    let sw8x = std::str::from_utf8(&record.headers["sw8-x"]).expect("text");
    let sent = Sw8x::decode(sw8x).expect("a valid sw8-x");
    assert!(!sent.skip_analysis);
    let sent = sent.send_time_ms.expect("a sending time");
    assert!(
        (exit.start_time..=exit.end_time).contains(&sent),
        "{sent} {exit:?}"
    );

    let consumer = partition
        .consumer_spans("billing")
        .with_tracer(billing.tracer.clone());
    consumer.record_span(&records[0]).in_scope(|| {
        rust2sky::local_span("charge order").end();
    });

    let consumed = billing.reporter.segments();
    assert_eq!(consumed.len(), 1);
    let segment = &consumed[0];
    assert_eq!(segment.service, "billing");
    assert_eq!(
        segment.trace_id, producer.trace_id,
        "one trace across the two"
    );
    assert_ne!(segment.trace_segment_id, producer.trace_segment_id);
    assert_eq!(segment.spans.len(), 2);
    assert_eq!(segment.spans[0].operation_name, "charge order");
    assert_eq!(
        segment.spans[0].parent_span_id, 0,
        "the handling is the entry span's child"
    );
    let entry = &segment.spans[1];
    check_consumer_span(entry, topic, &broker);
    assert_eq!(entry.refs.len(), 1);
    check_reference_to(&entry.refs[0], producer, exit, &broker);
    let latency = tag(entry, "transmission.latency").expect("the latency from sw8-x");
    let latency: i64 = latency.parse().expect("milliseconds");
    assert!(
        (0..PATIENCE.as_millis() as i64).contains(&latency),
        "{latency}"
    );
}

#[test]
fn a_batch_span_refers_to_every_traced_record_and_bad_headers_start_fresh_traces() {
    let topic = "orders-batched";
    let Some((_tansu, broker, scene)) = Scene::on_tansu(topic) else {
        return;
    };
    let (orders, billing, runtime, partition) = scene.parts();

    // An untraced record, one whose `sw8` is garbage, then two traced ones.
    let mut malformed = record("order 2");
    malformed
        .headers
        .insert("sw8".to_owned(), b"1-not-a-header".to_vec());
    let untraced = vec![record("order 1"), malformed];
    runtime
        .block_on(
            partition
                .inner()
                .produce(untraced, Compression::NoCompression),
        )
        .expect("the broker takes the records");
    runtime.block_on(produce_order(orders, partition, "order 3"));
    runtime.block_on(produce_order(orders, partition, "order 4"));
    let records = runtime.block_on(fetch(partition, 4));
    let produced = orders.reporter.segments();
    assert_eq!(produced.len(), 2);

    let consumer = partition
        .consumer_spans("billing")
        .with_tracer(billing.tracer.clone());
    let malformed_before = rust2sky::diagnostics::counters().malformed_sw8;
    consumer.batch_span(&records).end();
    let consumed = billing.reporter.take_finished();
    assert_eq!(consumed.len(), 1);
    let batch = consumed[0].to_proto();
    assert_eq!(
        batch.trace_id, produced[0].trace_id,
        "the first traced record's trace"
    );
    assert_eq!(batch.spans.len(), 1);
    let entry = &batch.spans[0];
    check_consumer_span(entry, topic, &broker);
    assert_eq!(
        entry.refs.len(),
        2,
        "one reference a traced record: {:?}",
        entry.refs
    );
    for (reference, producer) in entry.refs.iter().zip(&produced) {
        check_reference_to(reference, producer, &producer.spans[0], &broker);
    }
    assert!(rust2sky::diagnostics::counters().malformed_sw8 > malformed_before);

    // One span a record: the untraced and the malformed ones start traces of their own.
    for record in &records[..2] {
        consumer.record_span(record).end();
    }
    let fresh = billing.reporter.take_finished();
    assert_eq!(fresh.len(), 2);
    for segment in fresh.iter().map(|segment| segment.to_proto()) {
        let entry = &segment.spans[0];
        check_consumer_span(entry, topic, &broker);
        assert!(entry.refs.is_empty(), "a new trace: {:?}", entry.refs);
        assert!(
            produced
                .iter()
                .all(|producer| producer.trace_id != segment.trace_id)
        );
    }
}
