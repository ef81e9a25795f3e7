//! Kafka producers and consumers, traced as the Java agent's Kafka plugin traces them: an exit
//! span for each send, whose `sw8` headers travel in the record's headers, and an entry span
//! for each record (or each batch) consumed, continuing the producer's trace.
//!
//! The spans, whatever the client:
//!
//! - producer: an exit span `Kafka/{topic}/Producer`, peer the broker list, layer MQ, component
//!   kafka-producer (40), tags `mq.broker` and `mq.topic`; the record's headers get `sw8`,
//!   `sw8-x` with the sending time, and `sw8-correlation` when there is a correlation to carry.
//!   It ends when the broker has acknowledged the record, or the send failed (logged on the
//!   span);
//! - consumer: an entry span `Kafka/{topics}/Consumer/{group}`, layer MQ, component
//!   kafka-consumer (41), tags `mq.broker` and `mq.topic`, with a `CrossProcess` reference to
//!   the producer's exit span, and `transmission.latency` (milliseconds from sending to
//!   consuming, from `sw8-x`); [`ConsumerSpans::batch_span`] makes one span for the records of a
//!   poll with a reference to each record's producer, as the Java agent does,
//!   [`ConsumerSpans::record_span`] one span a record. A record without a valid `sw8` starts a
//!   new trace; a malformed header is ignored and counted (see [`crate::diagnostics`]).
//!
//! The broker list is written as the Java agent writes it, the bootstrap servers joined by `;`
//! (`kafka-1:9092;kafka-2:9092`), so that OAP shows one Kafka node for agents of every language.
//!
//! Two clients are supported, each in a module of its own: `rskafka` (pure Rust, the `kafka`
//! feature) and `rdkafka` (librdkafka, the `rdkafka` feature). Any other client works with
//! [`producer_span`] and [`ConsumerSpans`] over its own headers.
//!
//! ```
//! use std::collections::HashMap;
//! use rust2sky::integrations::kafka::{ConsumerSpans, producer_span};
//! use rust2sky::{Tracer, config::Config, reporter::MemoryReporter};
//!
//! let reporter = MemoryReporter::new();
//! let tracer = Tracer::new(Config::default(), reporter.clone());
//! // The producer's side: the headers travel with the record.
//! let mut headers = HashMap::new();
//! tracer.in_scope(|| producer_span("orders", "kafka-1:9092", &mut headers).end());
//! // The consumer's side, from the record's headers.
//! let consumer = ConsumerSpans::new("kafka-1:9092", ["orders"], "billing").with_tracer(tracer);
//! consumer.record_span(&headers).end();
//!
//! let segments = reporter.segments();
//! assert_eq!(segments[1].spans[0].operation_name, "Kafka/orders/Consumer/billing");
//! assert_eq!(segments[1].spans[0].refs[0].parent_trace_segment_id, segments[0].trace_segment_id);
//! ```

#[cfg(feature = "kafka")]
pub mod rskafka;

#[cfg(feature = "rdkafka")]
pub mod rdkafka;

use std::sync::Arc;

use crate::clock::now_ms;
use crate::propagation::{Extractor, Injector, SW8, SW8_X, Sw8x};
use crate::span::{Span, batch_entry_span, entry_span, exit_span};
use crate::tracer::Tracer;
use crate::{SpanLayer, component, tags};

/// Starts the exit span of sending a record to `topic` through the brokers `brokers` (the
/// client's bootstrap servers, separated by `,` or `;`), and writes the headers that carry it
/// into `headers`: for a client this module does not wrap.
///
/// The span is a child of the current span, or starts a trace. End it when the broker has
/// acknowledged the record; mark it failed (with [`Span::error`]) when the send fails.
///
/// ```
/// use rust2sky::integrations::kafka::producer_span;
/// use rust2sky::{Tracer, config::Config, reporter::MemoryReporter};
///
/// let reporter = MemoryReporter::new();
/// let tracer = Tracer::new(Config::default(), reporter.clone());
/// let mut headers: Vec<(String, String)> = Vec::new();
/// tracer.in_scope(|| producer_span("orders", "kafka-1:9092,kafka-2:9092", &mut headers).end());
/// assert_eq!(headers[0].0, "sw8");
/// let span = &reporter.segments()[0].spans[0];
/// assert_eq!(span.operation_name, "Kafka/orders/Producer");
/// assert_eq!(span.peer, "kafka-1:9092;kafka-2:9092");
/// ```
pub fn producer_span(topic: &str, brokers: &str, headers: &mut (impl Injector + ?Sized)) -> Span {
    let brokers = broker_list(brokers);
    // As the Java agent does, a record carries its sending time in `sw8-x`, from which the
    // consumer's span gets `transmission.latency` (OAP's consume latency); `skip_analysis` is
    // kept from the extension the exit span writes, which it writes only to say that.
    let mut extension: Option<Sw8x> = None;
    let mut collect = |name: &'static str, value: String| match name {
        SW8_X => extension.get_or_insert_default().skip_analysis = value.starts_with('1'),
        _ => {
            if name == SW8 {
                extension.get_or_insert_default();
            }
            headers.inject(name, value);
        }
    };
    let mut span = exit_span(format!("Kafka/{topic}/Producer"), &brokers, &mut collect);
    if let Some(mut extension) = extension {
        extension.send_time_ms = Some(now_ms());
        headers.inject(SW8_X, extension.encode());
    }
    span.set_layer(SpanLayer::Mq)
        .set_component(component::KAFKA_PRODUCER)
        .tag(tags::MQ_BROKER, &brokers)
        .tag(tags::MQ_TOPIC, topic);
    span
}

/// The entry spans of one consumer: what it reads (brokers, topics) and as which group.
///
/// Cheap to clone. Each span starts from a clean context: it continues the record's producer,
/// or starts a new trace, and is never the child of a span that happens to be current where the
/// consumer runs.
///
/// ```
/// use rust2sky::integrations::kafka::ConsumerSpans;
///
/// let consumer = ConsumerSpans::new("kafka-1:9092", ["orders", "refunds"], "billing");
/// assert_eq!(consumer.operation(), "Kafka/orders;refunds/Consumer/billing");
/// ```
#[derive(Debug, Clone)]
pub struct ConsumerSpans {
    operation: Arc<str>,
    brokers: Arc<str>,
    topics: Arc<str>,
    tracer: Option<Tracer>,
}

impl ConsumerSpans {
    /// The spans of a consumer in `group` reading `topics` from the brokers `brokers` (its
    /// bootstrap servers, separated by `,` or `;`). A client without consumer groups (rskafka)
    /// names the application or the logic that consumes: it is what the operation ends with.
    ///
    /// ```
    /// use rust2sky::integrations::kafka::ConsumerSpans;
    ///
    /// let consumer = ConsumerSpans::new("kafka-1:9092, kafka-2:9092", ["orders"], "billing");
    /// assert_eq!(consumer.brokers(), "kafka-1:9092;kafka-2:9092");
    /// ```
    pub fn new<T: AsRef<str>>(
        brokers: &str,
        topics: impl IntoIterator<Item = T>,
        group: &str,
    ) -> Self {
        let topics = join(topics.into_iter().map(|topic| topic.as_ref().to_owned()));
        ConsumerSpans {
            operation: Arc::from(format!("Kafka/{topics}/Consumer/{group}")),
            brokers: Arc::from(broker_list(brokers)),
            topics: Arc::from(topics),
            tracer: None,
        }
    }

    /// Records the spans with `tracer` rather than the global one (several services in one
    /// process, tests).
    ///
    /// ```
    /// use rust2sky::integrations::kafka::ConsumerSpans;
    /// use rust2sky::{Tracer, config::Config, reporter::MemoryReporter};
    ///
    /// let tracer = Tracer::new(Config::default(), MemoryReporter::new());
    /// let consumer = ConsumerSpans::new("kafka-1:9092", ["orders"], "billing").with_tracer(tracer);
    /// ```
    #[must_use]
    pub fn with_tracer(mut self, tracer: Tracer) -> Self {
        self.tracer = Some(tracer);
        self
    }

    /// The spans' operation name, `Kafka/{topics}/Consumer/{group}` (topics joined by `;`).
    ///
    /// ```
    /// use rust2sky::integrations::kafka::ConsumerSpans;
    ///
    /// let consumer = ConsumerSpans::new("kafka-1:9092", ["orders"], "billing");
    /// assert_eq!(consumer.operation(), "Kafka/orders/Consumer/billing");
    /// ```
    pub fn operation(&self) -> &str {
        &self.operation
    }

    /// The broker list the spans name, as the Java agent writes it (joined by `;`).
    ///
    /// ```
    /// use rust2sky::integrations::kafka::ConsumerSpans;
    ///
    /// let consumer = ConsumerSpans::new("kafka-1:9092,kafka-2:9092", ["orders"], "billing");
    /// assert_eq!(consumer.brokers(), "kafka-1:9092;kafka-2:9092");
    /// ```
    pub fn brokers(&self) -> &str {
        &self.brokers
    }

    /// Starts the entry span of handling one record, whose headers are `headers`: it continues
    /// the record's producer (one `CrossProcess` reference) or, without a valid `sw8`, starts a
    /// new trace. Make it current while the record is handled ([`Span::in_scope`],
    /// [`crate::FutureExt::in_span`]) so that the spans of the handling are its children.
    ///
    /// ```
    /// use std::collections::HashMap;
    /// use rust2sky::integrations::kafka::ConsumerSpans;
    /// use rust2sky::{Tracer, config::Config, reporter::MemoryReporter};
    ///
    /// let reporter = MemoryReporter::new();
    /// let tracer = Tracer::new(Config::default(), reporter.clone());
    /// let consumer = ConsumerSpans::new("kafka-1:9092", ["orders"], "billing").with_tracer(tracer);
    /// let headers: HashMap<String, String> = HashMap::new(); // a record sent untraced
    /// consumer.record_span(&headers).in_scope(|| { /* handle the record */ });
    /// let span = &reporter.segments()[0].spans[0];
    /// assert!(span.refs.is_empty()); // a trace of its own
    /// assert_eq!(span.component_id, rust2sky::component::KAFKA_CONSUMER);
    /// ```
    pub fn record_span(&self, headers: &impl Extractor) -> Span {
        let span = Tracer::start_request(self.tracer.as_ref(), || {
            entry_span(&*self.operation, headers)
        });
        self.consumer(span)
    }

    /// Starts one entry span for a batch of records handled together (the records of one
    /// poll), as the Java agent does: it continues the producer of the first record with a
    /// valid `sw8`, and refers to the producer of every other record as well, a
    /// `CrossProcess` reference each (at most 500; more are counted as dropped). Records
    /// without a valid `sw8` add no reference; a batch with none starts a new trace.
    ///
    /// ```
    /// use std::collections::HashMap;
    /// use rust2sky::integrations::kafka::{ConsumerSpans, producer_span};
    /// use rust2sky::{Tracer, config::Config, reporter::MemoryReporter};
    ///
    /// let reporter = MemoryReporter::new();
    /// let tracer = Tracer::new(Config::default(), reporter.clone());
    /// let records: Vec<HashMap<String, String>> = (0..3)
    ///     .map(|_| {
    ///         let mut headers = HashMap::new();
    ///         tracer.in_scope(|| producer_span("orders", "kafka-1:9092", &mut headers).end());
    ///         headers
    ///     })
    ///     .collect();
    /// let consumer = ConsumerSpans::new("kafka-1:9092", ["orders"], "billing").with_tracer(tracer);
    /// consumer.batch_span(&records).end();
    /// let segments = reporter.segments();
    /// assert_eq!(segments[3].spans[0].refs.len(), 3);
    /// ```
    pub fn batch_span<'a, E: Extractor + 'a>(
        &self,
        records: impl IntoIterator<Item = &'a E>,
    ) -> Span {
        let span = Tracer::start_request(self.tracer.as_ref(), || {
            batch_entry_span(&self.operation, records)
        });
        self.consumer(span)
    }

    fn consumer(&self, mut span: Span) -> Span {
        span.set_layer(SpanLayer::Mq)
            .set_component(component::KAFKA_CONSUMER)
            .tag(tags::MQ_BROKER, &*self.brokers)
            .tag(tags::MQ_TOPIC, &*self.topics);
        span
    }
}

/// The bootstrap servers `servers` (separated by `,` or `;`, as a client's configuration and the
/// Java agent write them) as the Java agent names them: joined by `;`.
fn broker_list(servers: &str) -> String {
    join(
        servers
            .split([',', ';'])
            .map(str::trim)
            .filter(|server| !server.is_empty())
            .map(str::to_owned),
    )
}

fn join(parts: impl Iterator<Item = String>) -> String {
    parts.collect::<Vec<_>>().join(";")
}

/// Marks the exit span of a send failed: the broker did not take the record.
#[cfg_attr(not(any(feature = "kafka", feature = "rdkafka")), allow(dead_code))]
fn send_failed(span: &mut Span, error: &dyn std::fmt::Display) {
    span.error("KafkaError", error);
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::config::Config;
    use crate::reporter::MemoryReporter;

    #[test]
    fn a_batch_refers_to_at_most_500_producers_and_counts_the_rest() {
        let reporter = MemoryReporter::new();
        let tracer = Tracer::new(Config::default(), reporter.clone());
        let records: Vec<HashMap<String, String>> = (0..600)
            .map(|_| {
                let mut headers = HashMap::new();
                tracer.in_scope(|| producer_span("orders", "kafka-1:9092", &mut headers).end());
                headers
            })
            .collect();
        let dropped_before = crate::diagnostics::counters().span_text_dropped;
        let consumer =
            ConsumerSpans::new("kafka-1:9092", ["orders"], "billing").with_tracer(tracer);
        consumer.batch_span(&records).end();

        let segments = reporter.segments();
        let batch = &segments[600];
        let refs = &batch.spans[0].refs;
        assert_eq!(refs.len(), 500);
        for (reference, producer) in refs.iter().zip(&segments) {
            assert_eq!(reference.parent_trace_segment_id, producer.trace_segment_id);
        }
        assert_eq!(batch.trace_id, segments[0].trace_id);
        assert!(crate::diagnostics::counters().span_text_dropped >= dropped_before + 100);
    }

    #[test]
    fn a_batch_without_a_valid_sw8_starts_a_trace_and_skips_the_bad_headers() {
        let reporter = MemoryReporter::new();
        let tracer = Tracer::new(Config::default(), reporter.clone());
        let garbage = HashMap::from([("sw8".to_owned(), "1-x-y".to_owned())]);
        let empty = HashMap::from([("sw8".to_owned(), " ".to_owned())]);
        let consumer =
            ConsumerSpans::new("kafka-1:9092", ["orders"], "billing").with_tracer(tracer);
        consumer
            .batch_span([&garbage, &empty, &HashMap::new()])
            .end();
        let span = &reporter.segments()[0].spans[0];
        assert!(span.refs.is_empty());
        assert_eq!(span.operation_name, "Kafka/orders/Consumer/billing");
    }

    #[test]
    fn broker_lists_are_joined_by_semicolons_whatever_they_were_given_with() {
        assert_eq!(
            broker_list("a:9092, b:9092;c:9092,,"),
            "a:9092;b:9092;c:9092"
        );
        assert_eq!(broker_list(""), "");
    }
}
