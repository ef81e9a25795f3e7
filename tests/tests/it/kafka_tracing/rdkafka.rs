//! The same trace across a producer and a consumer, with rdkafka (librdkafka) on both sides.
//!
//! librdkafka 2.0.2 (Debian bookworm's) cannot read the answer tansu gives to its first request,
//! ApiVersions v3: tansu ends it with the four optional tagged fields (supported and finalized
//! features, their epoch, ZooKeeper migration) written out at their default values, where Kafka
//! leaves them out, and librdkafka fails with "Read underflow" and never connects. So the client
//! talks to tansu through a [`Relay`], which passes every byte on unchanged but for those tagged
//! fields of ApiVersions answers. Everything else, the records and their headers included, is
//! what tansu and librdkafka send.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::client::ClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::message::{
    BorrowedMessage, DeliveryResult, Header, Headers as _, Message as _, OwnedHeaders,
};
use rdkafka::producer::{BaseRecord, FutureRecord, Producer as _, ProducerContext};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use rust2sky::integrations::kafka::rdkafka::{
    TracedBaseProducer, TracedProducer, TracedThreadedProducer, consumer_spans,
};
use rust2sky::propagation::NoHeaders;

use super::{PATIENCE, Scene, Service, check_consumer_span, check_reference_to, producer_exit};
use crate::relay::{Frames, Relay};
use crate::servers;

#[test]
fn a_message_sent_and_received_with_rdkafka_makes_one_trace_across_the_two() {
    let Some((_tansu, _relay, broker)) = broker_for_librdkafka() else {
        return;
    };
    let topic = "orders-rdkafka";
    let Scene {
        orders,
        billing,
        runtime,
        ..
    } = Scene::new(&broker, topic);
    let config = billing_config(&broker);

    let producer = TracedProducer::from_config(&config).expect("a producer");
    let (order, send) = orders.tracer.in_scope(|| {
        let order = rust2sky::entry_span("POST:/orders", &NoHeaders);
        let record = FutureRecord::to(topic).key("7").payload("order 7");
        let send = order.in_scope(|| producer.send(record, Duration::from_secs(5)));
        (order, send)
    });
    let delivered = runtime.block_on(send);
    assert!(
        delivered.is_ok(),
        "{:?}",
        delivered.map_err(|(error, _)| error)
    );
    drop(order);
    let produced = orders.reporter.segments();
    assert_eq!(produced.len(), 1);
    let exit = producer_exit(&produced[0], topic, &broker);

    let consumer: BaseConsumer = config.create().expect("a consumer");
    let mut assignment = TopicPartitionList::new();
    assignment
        .add_partition_offset(topic, 0, Offset::Beginning)
        .expect("an assignment");
    consumer
        .assign(&assignment)
        .expect("the partition is assigned");
    let started = Instant::now();
    let message = loop {
        assert!(started.elapsed() < PATIENCE, "no message on {topic}");
        match consumer.poll(Duration::from_millis(500)) {
            Some(Ok(message)) => break message,
            Some(Err(error)) => eprintln!("polling {topic}: {error}"),
            None => {}
        }
    };
    let spans = consumer_spans(&config, [topic]).with_tracer(billing.tracer.clone());
    spans.record_span(&message).end();

    let consumed = billing.reporter.segments();
    assert_eq!(consumed.len(), 1);
    let segment = &consumed[0];
    assert_eq!(
        segment.trace_id, produced[0].trace_id,
        "one trace across the two"
    );
    let entry = &segment.spans[0];
    check_consumer_span(entry, topic, &broker);
    assert_eq!(entry.refs.len(), 1);
    check_reference_to(&entry.refs[0], &produced[0], exit, &broker);
    assert!(
        super::tag(entry, "transmission.latency").is_some(),
        "{entry:?}"
    );
}

#[test]
fn messages_sent_by_threaded_and_base_producers_continue_their_traces_in_the_consumer() {
    let Some((_tansu, _relay, broker)) = broker_for_librdkafka() else {
        return;
    };
    let topic = "orders-rdkafka-base";
    let Scene {
        orders, billing, ..
    } = Scene::new(&broker, topic);
    let config = billing_config(&broker);

    // One order through each producer, the first with a header of the application's own.
    let threaded = TracedThreadedProducer::from_config(&config).expect("a threaded producer");
    let base = TracedBaseProducer::from_config(&config).expect("a base producer");
    orders.tracer.in_scope(|| {
        let order = rust2sky::entry_span("POST:/orders", &NoHeaders);
        order.in_scope(|| {
            let headers = OwnedHeaders::new().insert(Header {
                key: "origin",
                value: Some("web"),
            });
            let record = BaseRecord::to(topic)
                .key("7")
                .payload("order 7")
                .headers(headers);
            threaded
                .send(record)
                .map_err(|(error, _)| error)
                .expect("queued");
        });
        threaded
            .inner()
            .flush(PATIENCE)
            .expect("the broker acknowledges order 7");
    });
    orders.tracer.in_scope(|| {
        let order = rust2sky::entry_span("POST:/orders", &NoHeaders);
        order.in_scope(|| {
            let record = BaseRecord::to(topic).key("8").payload("order 8");
            base.send(record)
                .map_err(|(error, _)| error)
                .expect("queued");
        });
        drop(order);
        // The exit span ends in the delivery report, which only polling serves.
        let started = Instant::now();
        while orders.reporter.segments().len() < 2 {
            assert!(
                started.elapsed() < PATIENCE,
                "no delivery report for order 8"
            );
            base.poll(Duration::from_millis(100));
        }
    });
    let produced = orders.reporter.segments();
    assert_eq!(produced.len(), 2);
    let exits: Vec<_> = produced
        .iter()
        .map(|segment| producer_exit(segment, topic, &broker))
        .collect();

    let messages = consume(&config, topic, 2);
    let spans = consumer_spans(&config, [topic]).with_tracer(billing.tracer.clone());
    for message in &messages {
        spans.record_span(message).end();
    }
    assert_eq!(
        header(&messages[0], "origin"),
        Some("web"),
        "the application's header is kept"
    );
    let consumed = billing.reporter.segments();
    assert_eq!(consumed.len(), 2);
    for (index, (segment, message)) in consumed.iter().zip(&messages).enumerate() {
        let order = usize::from(message.key() == Some(b"8".as_slice()));
        assert_eq!(
            order, index,
            "the messages come in the order they were sent"
        );
        assert_eq!(segment.trace_id, produced[order].trace_id);
        let entry = &segment.spans[0];
        check_consumer_span(entry, topic, &broker);
        assert_eq!(entry.refs.len(), 1);
        check_reference_to(&entry.refs[0], &produced[order], exits[order], &broker);
    }
}

#[test]
fn sends_that_fail_end_their_spans_failed_and_the_application_keeps_its_opaque_values() {
    // No broker: every send fails, queued (then timed out) or refused at once.
    let broker = format!("127.0.0.1:{}", servers::free_loopback_port());
    let orders = Service::new("orders");
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", &broker)
        .set("message.timeout.ms", "1000")
        .set("queue.buffering.max.messages", "1");
    let context = Deliveries::default();
    let producer =
        TracedBaseProducer::from_config_and_context(&config, context).expect("a producer");

    let refused = orders.tracer.in_scope(|| {
        let order = rust2sky::entry_span("POST:/orders", &NoHeaders);
        order.in_scope(|| {
            let first =
                BaseRecord::<(), str, _>::with_opaque_to("orders", Box::new(1)).payload("order 1");
            producer
                .send(first)
                .map_err(|(error, _)| error)
                .expect("queued");
            let second =
                BaseRecord::<(), str, _>::with_opaque_to("orders", Box::new(2)).payload("order 2");
            producer
                .send(second)
                .expect_err("the queue holds one message")
        })
    });
    let (error, record) = refused;
    assert_eq!(
        *record.delivery_opaque, 2,
        "the record comes back as it was sent"
    );
    assert!(error.to_string().contains("Queue full"), "{error}");

    let started = Instant::now();
    while producer
        .inner()
        .context()
        .inner()
        .reports
        .lock()
        .unwrap()
        .is_empty()
    {
        assert!(
            started.elapsed() < PATIENCE,
            "no delivery report for order 1"
        );
        producer.poll(Duration::from_millis(100));
    }
    assert_eq!(
        *producer.inner().context().inner().reports.lock().unwrap(),
        [(1, false)],
        "the application's context gets its report, with its own opaque value"
    );
    let segments = orders.reporter.segments();
    assert_eq!(segments.len(), 1);
    let spans = &segments[0].spans;
    assert_eq!(spans.len(), 3, "{spans:?}");
    // The refused send ends first, then the request, then the send that timed out.
    let operations: Vec<_> = spans
        .iter()
        .map(|span| span.operation_name.as_str())
        .collect();
    assert_eq!(
        operations,
        [
            "Kafka/orders/Producer",
            "POST:/orders",
            "Kafka/orders/Producer"
        ]
    );
    for (exit, error) in [(&spans[0], "Queue full"), (&spans[2], "timed out")] {
        assert!(exit.is_error, "{exit:?}");
        assert_eq!(exit.logs.len(), 1, "{exit:?}");
        let fields: Vec<_> = exit.logs[0]
            .data
            .iter()
            .map(|field| (field.key.as_str(), field.value.as_str()))
            .collect();
        assert_eq!(
            fields[..2],
            [("event", "error"), ("error.kind", "KafkaError")]
        );
        assert!(fields[2].1.contains(error), "{fields:?}");
    }
    assert!(!spans[1].is_error);
}

/// An application's producer context: it keeps each delivery report's opaque value and
/// whether the send succeeded.
#[derive(Default)]
struct Deliveries {
    reports: Mutex<Vec<(u32, bool)>>,
}

impl ClientContext for Deliveries {}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = Box<u32>;

    fn delivery(&self, result: &DeliveryResult<'_>, opaque: Box<u32>) {
        self.reports.lock().unwrap().push((*opaque, result.is_ok()));
    }
}

/// The first `count` messages of partition 0 of `topic`.
fn consume(
    config: &ClientConfig,
    topic: &str,
    count: usize,
) -> Vec<rdkafka::message::OwnedMessage> {
    let consumer: BaseConsumer = config.create().expect("a consumer");
    let mut assignment = TopicPartitionList::new();
    assignment
        .add_partition_offset(topic, 0, Offset::Beginning)
        .expect("an assignment");
    consumer
        .assign(&assignment)
        .expect("the partition is assigned");
    let started = Instant::now();
    let mut messages = Vec::new();
    while messages.len() < count {
        assert!(
            started.elapsed() < PATIENCE,
            "{} messages on {topic}",
            messages.len()
        );
        match consumer.poll(Duration::from_millis(500)) {
            Some(Ok(message)) => messages.push(BorrowedMessage::detach(&message)),
            Some(Err(error)) => eprintln!("polling {topic}: {error}"),
            None => {}
        }
    }
    messages
}

/// The value of the header `name` of `message`, as text.
fn header<'m>(message: &'m rdkafka::message::OwnedMessage, name: &str) -> Option<&'m str> {
    let header = message
        .headers()?
        .iter()
        .find(|header| header.key == name)?;
    std::str::from_utf8(header.value?).ok()
}

/// The settings of the tests' producers and of the `billing` group's consumer.
fn billing_config(broker: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", broker)
        .set("group.id", "billing")
        .set("enable.auto.commit", "false")
        .set("message.timeout.ms", "20000");
    config
}

/// What librdkafka needs of tansu's answers (see the module's comment).
struct WithoutApiVersionsTags;

impl Frames for WithoutApiVersionsTags {
    fn answer(&self, api_key: i16, frame: &mut Vec<u8>) {
        // 18 is ApiVersions.
        if api_key == 18 {
            without_tagged_fields(frame);
        }
    }
}

/// A tansu broker behind a relay for librdkafka, and the relay's address, which tansu
/// advertises; `None` (said) without tansu.
fn broker_for_librdkafka() -> Option<(servers::Tansu, Relay, String)> {
    let relay_port = servers::free_loopback_port();
    let tansu_port = servers::free_loopback_port();
    let tansu = servers::tansu_advertising(tansu_port, relay_port)?;
    let relay = Relay::start(relay_port, tansu_port, Arc::new(WithoutApiVersionsTags));
    Some((tansu, relay, format!("127.0.0.1:{relay_port}")))
}

/// Drops the tagged fields at the end of an ApiVersions v3 answer (correlation id, error code,
/// the compact array of API keys each with tagged fields of its own, throttle time, tagged
/// fields), leaving an empty set of them; an answer of another shape is left as it is.
fn without_tagged_fields(frame: &mut Vec<u8>) {
    let mut at = 6;
    let Some(count) = varint(frame, &mut at) else {
        return;
    };
    for _ in 0..count.saturating_sub(1) {
        at += 6;
        let Some(tags) = varint(frame, &mut at) else {
            return;
        };
        for _ in 0..tags {
            let (Some(_tag), Some(len)) = (varint(frame, &mut at), varint(frame, &mut at)) else {
                return;
            };
            at += len;
        }
    }
    at += 4;
    if at < frame.len() {
        frame.truncate(at);
        frame.push(0);
    }
}

/// The unsigned varint at `at`, moving past it.
fn varint(frame: &[u8], at: &mut usize) -> Option<usize> {
    let mut value = 0;
    for shift in (0..35).step_by(7) {
        let byte = *frame.get(*at)?;
        *at += 1;
        value |= usize::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}
