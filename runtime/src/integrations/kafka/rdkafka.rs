//! Kafka tracing with [rdkafka](https://docs.rs/rdkafka), the client on librdkafka: a
//! [`TracedProducer`] in place of a `FutureProducer`, and [`consumer_spans`] for the entry
//! spans of what a consumer receives, since rdkafka's messages are [`Extractor`]s.
//!
//! ```no_run
//! use std::time::Duration;
//! use rdkafka::ClientConfig;
//! use rdkafka::consumer::{Consumer as _, StreamConsumer};
//! use rdkafka::producer::FutureRecord;
//! use rust2sky::integrations::kafka::rdkafka::{TracedProducer, consumer_spans};
//!
//! # async fn example() -> Result<(), rdkafka::error::KafkaError> {
//! let mut config = ClientConfig::new();
//! config.set("bootstrap.servers", "kafka-1:9092").set("group.id", "billing");
//!
//! // Producing: an exit span `Kafka/orders/Producer`, `sw8` in the message's headers.
//! let producer = TracedProducer::from_config(&config)?;
//! let record = FutureRecord::to("orders").key("7").payload("order 7");
//! producer.send(record, Duration::from_secs(5)).await.map_err(|(error, _)| error)?;
//!
//! // Consuming: an entry span `Kafka/orders/Consumer/billing` a message, continuing the
//! // producer's trace.
//! let consumer: StreamConsumer = config.create()?;
//! consumer.subscribe(&["orders"])?;
//! let spans = consumer_spans(&config, ["orders"]);
//! let message = consumer.recv().await?;
//! spans.record_span(&message).in_scope(|| { /* handle the message */ });
//! # Ok(())
//! # }
//! ```
//!
//! Enabled by the `rdkafka` cargo feature, which links the system's librdkafka (2.0.2 or newer,
//! found with pkg-config: Debian's `librdkafka-dev`). The feature pins rdkafka 0.29, the last
//! release whose bindings accept librdkafka 2.0.2; an application on a newer rdkafka cannot link
//! a second one, and uses [`producer_span`] and
//! [`ConsumerSpans`] with its own client instead.

use std::borrow::Cow;
use std::future::Future;
use std::sync::Arc;

use rdkafka::ClientConfig;
use rdkafka::client::{ClientContext, DefaultClientContext};
use rdkafka::config::FromClientConfig;
use rdkafka::error::KafkaResult;
use rdkafka::message::{
    BorrowedMessage, Header, Headers, Message, OwnedHeaders, OwnedMessage, ToBytes,
};
use rdkafka::producer::future_producer::OwnedDeliveryResult;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::util::{AsyncRuntime, DefaultRuntime, Timeout};

use super::{ConsumerSpans, broker_list, producer_span, send_failed};
use crate::Span;
use crate::context::future::Instrumented;
use crate::propagation::Extractor;

/// A `FutureProducer` whose sends are exit spans `Kafka/{topic}/Producer`, with the span's
/// `sw8` in each message's headers.
///
/// Cheap to clone, as the producer is.
///
/// ```no_run
/// use rdkafka::ClientConfig;
/// use rust2sky::integrations::kafka::rdkafka::TracedProducer;
///
/// # fn example() -> Result<(), rdkafka::error::KafkaError> {
/// let mut config = ClientConfig::new();
/// config.set("bootstrap.servers", "kafka-1:9092,kafka-2:9092");
/// let producer = TracedProducer::from_config(&config)?;
/// assert_eq!(producer.brokers(), "kafka-1:9092;kafka-2:9092");
/// # Ok(())
/// # }
/// ```
pub struct TracedProducer<C = DefaultClientContext, R = DefaultRuntime>
where
    C: ClientContext + 'static,
{
    inner: FutureProducer<C, R>,
    brokers: Arc<str>,
}

impl TracedProducer {
    /// Creates the producer `config` describes, whose `bootstrap.servers` the spans name.
    ///
    /// ```no_run
    /// use rdkafka::ClientConfig;
    /// use rust2sky::integrations::kafka::rdkafka::TracedProducer;
    ///
    /// # fn example() -> Result<(), rdkafka::error::KafkaError> {
    /// let producer = TracedProducer::from_config(ClientConfig::new().set("bootstrap.servers", "kafka-1:9092"))?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn from_config(config: &ClientConfig) -> KafkaResult<Self> {
        let producer = FutureProducer::from_config(config)?;
        Ok(TracedProducer::new(producer, bootstrap_servers(config)))
    }
}

impl<C: ClientContext + 'static, R: AsyncRuntime> TracedProducer<C, R> {
    /// Wraps `producer`, which talks to the brokers `brokers` (its `bootstrap.servers`,
    /// separated by `,` or `;`).
    ///
    /// ```no_run
    /// use rdkafka::ClientConfig;
    /// use rdkafka::producer::FutureProducer;
    /// use rust2sky::integrations::kafka::rdkafka::TracedProducer;
    ///
    /// # fn example() -> Result<(), rdkafka::error::KafkaError> {
    /// let producer: FutureProducer = ClientConfig::new().set("bootstrap.servers", "kafka-1:9092").create()?;
    /// let producer = TracedProducer::new(producer, "kafka-1:9092");
    /// # Ok(())
    /// # }
    /// ```
    pub fn new(producer: FutureProducer<C, R>, brokers: &str) -> Self {
        TracedProducer {
            inner: producer,
            brokers: Arc::from(broker_list(brokers)),
        }
    }

    /// The broker list the spans name, joined by `;` as the Java agent writes it.
    ///
    /// ```no_run
    /// # fn example(producer: rust2sky::integrations::kafka::rdkafka::TracedProducer) {
    /// println!("producing to {}", producer.brokers());
    /// # }
    /// ```
    pub fn brokers(&self) -> &str {
        &self.brokers
    }

    /// The wrapped producer, for what is not traced (flushing, transactions); sends made
    /// through it directly are not recorded.
    ///
    /// ```no_run
    /// use rdkafka::producer::Producer as _;
    ///
    /// # fn example(producer: rust2sky::integrations::kafka::rdkafka::TracedProducer) -> Result<(), rdkafka::error::KafkaError> {
    /// producer.inner().flush(std::time::Duration::from_secs(5))?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn inner(&self) -> &FutureProducer<C, R> {
        &self.inner
    }

    /// Sends `record` as [`FutureProducer::send`] does, as an exit span, a child of the current
    /// span or a new trace; the record's headers (kept if it had some) get the span's `sw8`.
    /// The span ends when the delivery is known: acknowledged by the broker, or failed (the
    /// error is logged on the span and returned unchanged).
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use rdkafka::producer::FutureRecord;
    ///
    /// # async fn example(producer: rust2sky::integrations::kafka::rdkafka::TracedProducer) {
    /// let record = FutureRecord::to("orders").key("7").payload("order 7");
    /// match producer.send(record, Duration::from_secs(5)).await {
    ///     Ok((partition, offset)) => println!("order 7 at {partition}/{offset}"),
    ///     Err((error, _message)) => eprintln!("order 7 not sent: {error}"),
    /// }
    /// # }
    /// ```
    pub fn send<K, P, T>(
        &self,
        mut record: FutureRecord<'_, K, P>,
        queue_timeout: T,
    ) -> impl Future<Output = OwnedDeliveryResult>
    where
        K: ToBytes + ?Sized,
        P: ToBytes + ?Sized,
        T: Into<Timeout>,
    {
        let mut headers: Vec<(&'static str, String)> = Vec::new();
        let span = producer_span(record.topic, &self.brokers, &mut headers);
        let mut owned = record.headers.take().unwrap_or_default();
        for (key, value) in &headers {
            owned = owned.insert(Header {
                key,
                value: Some(value.as_str()),
            });
        }
        record.headers = Some(owned);
        Instrumented::with_outcome(
            self.inner.send(record, queue_timeout),
            span,
            |span: &mut Span, sent: &OwnedDeliveryResult| {
                if let Err((error, _message)) = sent {
                    send_failed(span, error);
                }
            },
        )
    }
}

impl<C: ClientContext + 'static, R> Clone for TracedProducer<C, R> {
    fn clone(&self) -> Self {
        TracedProducer {
            inner: self.inner.clone(),
            brokers: self.brokers.clone(),
        }
    }
}

impl<C: ClientContext + 'static, R> std::fmt::Debug for TracedProducer<C, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TracedProducer")
            .field("brokers", &self.brokers)
            .finish_non_exhaustive()
    }
}

/// The entry spans of a consumer that `config` describes (its `bootstrap.servers` and
/// `group.id`), reading `topics`.
///
/// ```
/// use rdkafka::ClientConfig;
/// use rust2sky::integrations::kafka::rdkafka::consumer_spans;
///
/// let mut config = ClientConfig::new();
/// config.set("bootstrap.servers", "kafka-1:9092").set("group.id", "billing");
/// let spans = consumer_spans(&config, ["orders"]);
/// assert_eq!(spans.operation(), "Kafka/orders/Consumer/billing");
/// assert_eq!(spans.brokers(), "kafka-1:9092");
/// ```
pub fn consumer_spans<T: AsRef<str>>(
    config: &ClientConfig,
    topics: impl IntoIterator<Item = T>,
) -> ConsumerSpans {
    let group = config.get("group.id").unwrap_or_default();
    ConsumerSpans::new(bootstrap_servers(config), topics, group)
}

fn bootstrap_servers(config: &ClientConfig) -> &str {
    config
        .get("bootstrap.servers")
        .or_else(|| config.get("metadata.broker.list"))
        .unwrap_or_default()
}

/// The value of the header `name` of a message with `headers`, when it is text.
fn header<'m, H: Headers>(headers: Option<&'m H>, name: &str) -> Option<Cow<'m, str>> {
    let header = headers?.iter().find(|header| header.key == name)?;
    std::str::from_utf8(header.value?).ok().map(Cow::Borrowed)
}

impl Extractor for BorrowedMessage<'_> {
    fn extract(&self, name: &str) -> Option<Cow<'_, str>> {
        header(self.headers(), name)
    }
}

impl Extractor for OwnedMessage {
    fn extract(&self, name: &str) -> Option<Cow<'_, str>> {
        header(self.headers(), name)
    }
}

impl Extractor for OwnedHeaders {
    fn extract(&self, name: &str) -> Option<Cow<'_, str>> {
        header(Some(self), name)
    }
}
