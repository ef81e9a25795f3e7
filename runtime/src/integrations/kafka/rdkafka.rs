//! Kafka tracing with [rdkafka](https://docs.rs/rdkafka), the client on librdkafka: a
//! [`TracedProducer`] in place of a `FutureProducer`, a [`TracedThreadedProducer`] or
//! [`TracedBaseProducer`] in place of those, and [`consumer_spans`] for the entry spans of what
//! a consumer receives, since rdkafka's messages are [`Extractor`]s.
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
use rdkafka::client::{ClientContext, DefaultClientContext, OAuthToken};
use rdkafka::config::{FromClientConfig, FromClientConfigAndContext, RDKafkaLogLevel};
use rdkafka::error::{KafkaError, KafkaResult};
use rdkafka::message::{
    BorrowedMessage, DeliveryResult, Header, Headers, Message, OwnedHeaders, OwnedMessage, ToBytes,
};
use rdkafka::producer::future_producer::OwnedDeliveryResult;
use rdkafka::producer::{
    BaseProducer, BaseRecord, DefaultProducerContext, FutureProducer, FutureRecord,
    ProducerContext, ThreadedProducer,
};
use rdkafka::statistics::Statistics;
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
        let (span, headers) = traced_send(record.topic, &self.brokers, record.headers.take());
        record.headers = Some(headers);
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

/// Starts the exit span of a send to `topic`, and gives the record's headers (`headers`, or
/// new ones) with the span's `sw8` added.
fn traced_send(topic: &str, brokers: &str, headers: Option<OwnedHeaders>) -> (Span, OwnedHeaders) {
    let mut added: Vec<(&'static str, String)> = Vec::new();
    let span = producer_span(topic, brokers, &mut added);
    let mut headers = headers.unwrap_or_default();
    for (key, value) in &added {
        headers = headers.insert(Header {
            key,
            value: Some(value.as_str()),
        });
    }
    (span, headers)
}

/// A producer context that ends the exit span of each send of a [`TracedBaseProducer`] or
/// [`TracedThreadedProducer`] when the send's delivery report comes, then hands the report to
/// the application's own context `C`, with the application's own opaque value.
///
/// Every other callback (logs, statistics, errors, OAuth tokens) is `C`'s.
///
/// ```no_run
/// use rdkafka::ClientConfig;
/// use rdkafka::config::FromClientConfigAndContext;
/// use rdkafka::producer::{DefaultProducerContext, ThreadedProducer};
/// use rust2sky::integrations::kafka::rdkafka::{TracedProducerContext, TracedThreadedProducer};
///
/// # fn example() -> Result<(), rdkafka::error::KafkaError> {
/// let mut config = ClientConfig::new();
/// config.set("bootstrap.servers", "kafka-1:9092");
/// let context = TracedProducerContext::new(DefaultProducerContext);
/// let producer = ThreadedProducer::from_config_and_context(&config, context)?;
/// let producer = TracedThreadedProducer::new(producer, "kafka-1:9092");
/// # Ok(())
/// # }
/// ```
pub struct TracedProducerContext<C = DefaultProducerContext> {
    inner: C,
}

impl<C: ProducerContext> TracedProducerContext<C> {
    /// Wraps the application's context `inner`.
    ///
    /// ```
    /// use rdkafka::producer::DefaultProducerContext;
    /// use rust2sky::integrations::kafka::rdkafka::TracedProducerContext;
    ///
    /// let context = TracedProducerContext::new(DefaultProducerContext);
    /// ```
    pub fn new(inner: C) -> Self {
        TracedProducerContext { inner }
    }

    /// The application's context.
    ///
    /// ```
    /// use rdkafka::producer::DefaultProducerContext;
    /// use rust2sky::integrations::kafka::rdkafka::TracedProducerContext;
    ///
    /// let context = TracedProducerContext::new(DefaultProducerContext);
    /// let _: &DefaultProducerContext = context.inner();
    /// ```
    pub fn inner(&self) -> &C {
        &self.inner
    }
}

impl<C> std::fmt::Debug for TracedProducerContext<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TracedProducerContext")
            .finish_non_exhaustive()
    }
}

/// What a traced send hands librdkafka for its delivery report: the send's exit span and the
/// application's own opaque value.
pub struct TracedDelivery<D> {
    span: Span,
    opaque: D,
}

impl<D> std::fmt::Debug for TracedDelivery<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TracedDelivery").finish_non_exhaustive()
    }
}

impl<C: ProducerContext> ClientContext for TracedProducerContext<C> {
    const ENABLE_REFRESH_OAUTH_TOKEN: bool = C::ENABLE_REFRESH_OAUTH_TOKEN;

    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        self.inner.log(level, fac, log_message);
    }

    fn stats(&self, statistics: Statistics) {
        self.inner.stats(statistics);
    }

    fn stats_raw(&self, statistics: &[u8]) {
        self.inner.stats_raw(statistics);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        self.inner.error(error, reason);
    }

    fn generate_oauth_token(
        &self,
        oauthbearer_config: Option<&str>,
    ) -> Result<OAuthToken, Box<dyn std::error::Error>> {
        self.inner.generate_oauth_token(oauthbearer_config)
    }
}

impl<C: ProducerContext> ProducerContext for TracedProducerContext<C> {
    type DeliveryOpaque = Box<TracedDelivery<C::DeliveryOpaque>>;

    fn delivery(&self, result: &DeliveryResult<'_>, delivery: Self::DeliveryOpaque) {
        let TracedDelivery { mut span, opaque } = *delivery;
        if let Err((error, _message)) = result {
            send_failed(&mut span, error);
        }
        // The span ends before the application's callback runs: it times the send alone.
        drop(span);
        self.inner.delivery(result, opaque);
    }
}

/// `record` with the exit span of its send, and its headers carrying the span.
fn traced_record<'a, K, P, D>(
    record: BaseRecord<'a, K, P, D>,
    brokers: &str,
) -> BaseRecord<'a, K, P, Box<TracedDelivery<D>>>
where
    K: ToBytes + ?Sized,
    P: ToBytes + ?Sized,
    D: rdkafka::util::IntoOpaque,
{
    let (span, headers) = traced_send(record.topic, brokers, record.headers);
    BaseRecord {
        topic: record.topic,
        partition: record.partition,
        payload: record.payload,
        key: record.key,
        timestamp: record.timestamp,
        headers: Some(headers),
        delivery_opaque: Box::new(TracedDelivery {
            span,
            opaque: record.delivery_opaque,
        }),
    }
}

/// The application's record back from a send librdkafka refused (its queue is full, say),
/// with the send's span ended as failed.
fn refused<'a, K, P, D>(
    (error, record): (KafkaError, BaseRecord<'a, K, P, Box<TracedDelivery<D>>>),
) -> (KafkaError, BaseRecord<'a, K, P, D>)
where
    K: ToBytes + ?Sized,
    P: ToBytes + ?Sized,
    D: rdkafka::util::IntoOpaque,
{
    let TracedDelivery { mut span, opaque } = *record.delivery_opaque;
    send_failed(&mut span, &error);
    drop(span);
    let record = BaseRecord {
        topic: record.topic,
        partition: record.partition,
        payload: record.payload,
        key: record.key,
        timestamp: record.timestamp,
        headers: record.headers,
        delivery_opaque: opaque,
    };
    (error, record)
}

/// Writes the two traced producers, which differ only in the producer they wrap.
macro_rules! traced_base_producer {
    ($(#[$doc:meta])* $name:ident, $producer:ident) => {
        $(#[$doc])*
        pub struct $name<C = DefaultProducerContext>
        where
            C: ProducerContext + 'static,
        {
            inner: $producer<TracedProducerContext<C>>,
            brokers: Arc<str>,
        }

        impl $name {
            /// Creates the producer `config` describes, whose `bootstrap.servers` the spans
            /// name, with rdkafka's default context.
            ///
            /// ```no_run
            /// use rdkafka::ClientConfig;
            #[doc = concat!("use rust2sky::integrations::kafka::rdkafka::", stringify!($name), ";")]
            ///
            /// # fn example() -> Result<(), rdkafka::error::KafkaError> {
            #[doc = concat!("let producer = ", stringify!($name), "::from_config(ClientConfig::new().set(\"bootstrap.servers\", \"kafka-1:9092\"))?;")]
            /// # Ok(())
            /// # }
            /// ```
            pub fn from_config(config: &ClientConfig) -> KafkaResult<Self> {
                Self::from_config_and_context(config, DefaultProducerContext)
            }
        }

        impl<C: ProducerContext + 'static> $name<C> {
            /// Creates the producer `config` describes, with the application's context
            /// `context`.
            ///
            /// ```no_run
            /// use rdkafka::ClientConfig;
            /// use rdkafka::producer::DefaultProducerContext;
            #[doc = concat!("use rust2sky::integrations::kafka::rdkafka::", stringify!($name), ";")]
            ///
            /// # fn example() -> Result<(), rdkafka::error::KafkaError> {
            /// let mut config = ClientConfig::new();
            /// config.set("bootstrap.servers", "kafka-1:9092");
            #[doc = concat!("let producer = ", stringify!($name), "::from_config_and_context(&config, DefaultProducerContext)?;")]
            /// # Ok(())
            /// # }
            /// ```
            pub fn from_config_and_context(config: &ClientConfig, context: C) -> KafkaResult<Self> {
                let context = TracedProducerContext::new(context);
                let producer = $producer::from_config_and_context(config, context)?;
                Ok(Self::new(producer, bootstrap_servers(config)))
            }

            /// Wraps `producer`, made with a [`TracedProducerContext`], which talks to the
            /// brokers `brokers` (its `bootstrap.servers`, separated by `,` or `;`).
            ///
            /// ```no_run
            /// use rdkafka::ClientConfig;
            /// use rdkafka::config::FromClientConfigAndContext;
            #[doc = concat!("use rdkafka::producer::{DefaultProducerContext, ", stringify!($producer), "};")]
            #[doc = concat!("use rust2sky::integrations::kafka::rdkafka::{TracedProducerContext, ", stringify!($name), "};")]
            ///
            /// # fn example() -> Result<(), rdkafka::error::KafkaError> {
            /// let mut config = ClientConfig::new();
            /// config.set("bootstrap.servers", "kafka-1:9092");
            /// let context = TracedProducerContext::new(DefaultProducerContext);
            #[doc = concat!("let producer = ", stringify!($producer), "::from_config_and_context(&config, context)?;")]
            #[doc = concat!("let producer = ", stringify!($name), "::new(producer, \"kafka-1:9092\");")]
            /// # Ok(())
            /// # }
            /// ```
            pub fn new(producer: $producer<TracedProducerContext<C>>, brokers: &str) -> Self {
                $name {
                    inner: producer,
                    brokers: Arc::from(broker_list(brokers)),
                }
            }

            /// The broker list the spans name, joined by `;` as the Java agent writes it.
            ///
            /// ```no_run
            #[doc = concat!("# fn example(producer: rust2sky::integrations::kafka::rdkafka::", stringify!($name), ") {")]
            /// println!("producing to {}", producer.brokers());
            /// # }
            /// ```
            pub fn brokers(&self) -> &str {
                &self.brokers
            }

            /// The wrapped producer, for what is not traced (flushing, transactions); a send
            /// made through it directly needs a record made by this wrapper.
            ///
            /// ```no_run
            /// use rdkafka::producer::Producer as _;
            ///
            #[doc = concat!("# fn example(producer: rust2sky::integrations::kafka::rdkafka::", stringify!($name), ") -> Result<(), rdkafka::error::KafkaError> {")]
            /// producer.inner().flush(std::time::Duration::from_secs(5))?;
            /// # Ok(())
            /// # }
            /// ```
            pub fn inner(&self) -> &$producer<TracedProducerContext<C>> {
                &self.inner
            }

            #[doc = concat!("Sends `record` as [`", stringify!($producer), "::send`] does, as an exit span `Kafka/{topic}/Producer`,")]
            /// a child of the current span or a new trace; the record's headers (kept if it
            /// had some) get the span's `sw8`. The span ends when the delivery report comes:
            /// the broker acknowledged the record, or the send failed (the error is logged on
            /// the span). A send librdkafka refuses at once (its queue is full) ends the span
            /// as failed and gives the record back, as rdkafka does.
            ///
            /// ```no_run
            /// use rdkafka::producer::BaseRecord;
            ///
            #[doc = concat!("# fn example(producer: rust2sky::integrations::kafka::rdkafka::", stringify!($name), ") {")]
            /// let record = BaseRecord::to("orders").key("7").payload("order 7");
            /// if let Err((error, _record)) = producer.send(record) {
            ///     eprintln!("order 7 not sent: {error}");
            /// }
            /// # }
            /// ```
            #[allow(clippy::type_complexity, clippy::result_large_err, reason = "rdkafka's own signature")]
            pub fn send<'a, K, P>(
                &self,
                record: BaseRecord<'a, K, P, C::DeliveryOpaque>,
            ) -> Result<(), (KafkaError, BaseRecord<'a, K, P, C::DeliveryOpaque>)>
            where
                K: ToBytes + ?Sized,
                P: ToBytes + ?Sized,
            {
                self.inner
                    .send(traced_record(record, &self.brokers))
                    .map_err(refused)
            }
        }

        impl<C: ProducerContext + 'static> std::fmt::Debug for $name<C> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("brokers", &self.brokers)
                    .finish_non_exhaustive()
            }
        }
    };
}

traced_base_producer!(
    /// A `BaseProducer` whose sends are exit spans `Kafka/{topic}/Producer`, with the span's
    /// `sw8` in each message's headers; the spans end in the delivery reports, which
    /// [`TracedBaseProducer::poll`] serves as `BaseProducer::poll` does.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use rdkafka::ClientConfig;
    /// use rdkafka::producer::BaseRecord;
    /// use rust2sky::integrations::kafka::rdkafka::TracedBaseProducer;
    ///
    /// # fn example() -> Result<(), rdkafka::error::KafkaError> {
    /// let producer = TracedBaseProducer::from_config(ClientConfig::new().set("bootstrap.servers", "kafka-1:9092"))?;
    /// producer.send(BaseRecord::to("orders").key("7").payload("order 7")).map_err(|(error, _)| error)?;
    /// producer.poll(Duration::from_millis(100));
    /// # Ok(())
    /// # }
    /// ```
    TracedBaseProducer,
    BaseProducer
);

traced_base_producer!(
    /// A `ThreadedProducer` whose sends are exit spans `Kafka/{topic}/Producer`, with the
    /// span's `sw8` in each message's headers; the spans end in the delivery reports, which
    /// the producer's own thread serves.
    ///
    /// ```no_run
    /// use rdkafka::ClientConfig;
    /// use rdkafka::producer::BaseRecord;
    /// use rust2sky::integrations::kafka::rdkafka::TracedThreadedProducer;
    ///
    /// # fn example() -> Result<(), rdkafka::error::KafkaError> {
    /// let producer = TracedThreadedProducer::from_config(ClientConfig::new().set("bootstrap.servers", "kafka-1:9092"))?;
    /// producer.send(BaseRecord::to("orders").key("7").payload("order 7")).map_err(|(error, _)| error)?;
    /// # Ok(())
    /// # }
    /// ```
    TracedThreadedProducer,
    ThreadedProducer
);

impl<C: ProducerContext + 'static> TracedBaseProducer<C> {
    /// Serves the delivery reports that have come (ending their sends' spans), waiting at most
    /// `timeout`, as `BaseProducer::poll` does; returns how many it served.
    ///
    /// ```no_run
    /// # fn example(producer: rust2sky::integrations::kafka::rdkafka::TracedBaseProducer) {
    /// producer.poll(std::time::Duration::from_millis(100));
    /// # }
    /// ```
    pub fn poll<T: Into<Timeout>>(&self, timeout: T) -> i32 {
        self.inner.poll(timeout)
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
