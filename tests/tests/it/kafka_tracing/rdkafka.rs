//! The same trace across a producer and a consumer, with rdkafka (librdkafka) on both sides.

use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::producer::FutureRecord;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use rust2sky::integrations::kafka::rdkafka::{TracedProducer, consumer_spans};
use rust2sky::propagation::NoHeaders;

use super::{PATIENCE, Service, check_consumer_span, check_reference_to, producer_exit, runtime};
use crate::servers;

#[test]
fn a_message_sent_and_received_with_rdkafka_makes_one_trace_across_the_two() {
    let Some(tansu) = servers::tansu() else {
        return;
    };
    let broker = tansu.addr();
    let topic = "orders-rdkafka";
    let (orders, billing) = (Service::new("orders"), Service::new("billing"));
    let runtime = runtime();
    let _client = runtime.block_on(super::partition(&broker, topic));
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", &broker)
        .set("group.id", "billing")
        .set("enable.auto.commit", "false")
        .set("message.timeout.ms", "20000");

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
}
