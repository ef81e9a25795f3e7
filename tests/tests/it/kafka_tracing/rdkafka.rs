//! The same trace across a producer and a consumer, with rdkafka (librdkafka) on both sides.
//!
//! librdkafka 2.0.2 (Debian bookworm's) cannot read the answer tansu gives to its first request,
//! ApiVersions v3: tansu ends it with the four optional tagged fields (supported and finalized
//! features, their epoch, ZooKeeper migration) written out at their default values, where Kafka
//! leaves them out, and librdkafka fails with "Read underflow" and never connects. So the client
//! talks to tansu through [`Relay`], which passes every byte on unchanged but for those tagged
//! fields of ApiVersions answers. Everything else, the records and their headers included, is
//! what tansu and librdkafka send.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::producer::FutureRecord;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use rust2sky::integrations::kafka::rdkafka::{TracedProducer, consumer_spans};
use rust2sky::propagation::NoHeaders;

use super::{PATIENCE, Scene, check_consumer_span, check_reference_to, producer_exit};
use crate::servers;

#[test]
fn a_message_sent_and_received_with_rdkafka_makes_one_trace_across_the_two() {
    let relay_port = servers::free_loopback_port();
    let tansu_port = servers::free_loopback_port();
    let Some(_tansu) = servers::tansu_advertising(tansu_port, relay_port) else {
        return;
    };
    let _relay = Relay::start(relay_port, tansu_port);
    let broker = format!("127.0.0.1:{relay_port}");
    let topic = "orders-rdkafka";
    let Scene {
        orders,
        billing,
        runtime,
        ..
    } = Scene::new(&broker, topic);
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
    assert!(
        super::tag(entry, "transmission.latency").is_some(),
        "{entry:?}"
    );
}

/// A TCP relay on 127.0.0.1 in front of tansu, for librdkafka (see the module's comment). It
/// stops accepting when the test's process ends.
struct Relay;

impl Relay {
    fn start(port: u16, broker_port: u16) -> Relay {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).expect("the relay's port");
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(broker) = TcpStream::connect((Ipv4Addr::LOCALHOST, broker_port)) else {
                    continue;
                };
                relay(client, broker);
            }
        });
        Relay
    }
}

/// Relays one connection: requests as they are, answers frame by frame.
fn relay(client: TcpStream, broker: TcpStream) {
    let api_versions = Arc::new(Mutex::new(HashSet::new()));
    let (mut from_client, mut to_broker) =
        (client.try_clone().unwrap(), broker.try_clone().unwrap());
    let asked = api_versions.clone();
    std::thread::spawn(move || {
        while let Some(frame) = read_frame(&mut from_client) {
            // A request header starts with the API key (18 is ApiVersions), then its version
            // and the correlation id that the answer repeats.
            if frame.len() >= 8 && frame[..2] == [0, 18] {
                asked.lock().unwrap().insert(frame[4..8].to_vec());
            }
            if write_frame(&mut to_broker, &frame).is_err() {
                break;
            }
        }
        let _ = to_broker.shutdown(Shutdown::Both);
    });
    let (mut from_broker, mut to_client) = (broker, client);
    std::thread::spawn(move || {
        while let Some(mut frame) = read_frame(&mut from_broker) {
            let is_api_versions =
                frame.len() >= 4 && api_versions.lock().unwrap().remove(&frame[..4]);
            if is_api_versions {
                without_tagged_fields(&mut frame);
            }
            if write_frame(&mut to_client, &frame).is_err() {
                break;
            }
        }
        let _ = to_client.shutdown(Shutdown::Both);
    });
}

fn read_frame(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut size = [0; 4];
    stream.read_exact(&mut size).ok()?;
    let mut frame = vec![0; usize::try_from(i32::from_be_bytes(size)).ok()?];
    stream.read_exact(&mut frame).ok()?;
    Some(frame)
}

fn write_frame(stream: &mut TcpStream, frame: &[u8]) -> std::io::Result<()> {
    let size = i32::try_from(frame.len()).expect("a small frame");
    stream.write_all(&size.to_be_bytes())?;
    stream.write_all(frame)
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
