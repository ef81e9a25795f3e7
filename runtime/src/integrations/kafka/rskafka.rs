//! Kafka tracing with [rskafka](https://docs.rs/rskafka), the pure-Rust client: wrap a
//! `PartitionClient` in a [`TracedPartitionClient`] to produce with exit spans, and read a
//! consumed [`Record`]'s headers with [`ConsumerSpans`], since a `Record` is an
//! [`Extractor`] (and an [`Injector`]).
//!
//! ```no_run
//! use std::sync::Arc;
//! use rskafka::client::{ClientBuilder, partition::{Compression, UnknownTopicHandling}};
//! use rskafka::record::Record;
//! use rust2sky::integrations::kafka::rskafka::TracedPartitionClient;
//!
//! # async fn example() -> Result<(), rskafka::client::error::Error> {
//! let brokers = vec!["kafka-1:9092".to_owned()];
//! let client = ClientBuilder::new(brokers.clone()).build().await?;
//! let orders = client.partition_client("orders", 0, UnknownTopicHandling::Retry).await?;
//! let orders = TracedPartitionClient::new(Arc::new(orders), &brokers.join(","));
//!
//! // Producing: an exit span `Kafka/orders/Producer`, `sw8` in the record's headers.
//! let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
//! let record = Record {
//!     key: None,
//!     value: Some(b"order 7".to_vec()),
//!     headers: Default::default(),
//!     timestamp: rskafka::chrono::DateTime::from_timestamp_millis(now.as_millis() as i64)
//!         .unwrap_or_default(),
//! };
//! orders.produce(vec![record], Compression::NoCompression).await?;
//!
//! // Consuming: an entry span continuing the producer's trace, for the records fetched.
//! let consumer = orders.consumer_spans("billing");
//! let (records, _high_watermark) = orders.inner().fetch_records(0, 1..1_000_000, 500).await?;
//! let span = consumer.batch_span(&records);
//! span.in_scope(|| { /* handle the records */ });
//! # Ok(())
//! # }
//! ```
//!
//! Enabled by the `kafka` cargo feature.

use std::borrow::Cow;
use std::future::Future;
use std::sync::Arc;

use rskafka::client::error::Error;
use rskafka::client::partition::{Compression, PartitionClient};
use rskafka::record::{Record, RecordAndOffset};

use super::{ConsumerSpans, broker_list, producer_span, send_failed};
use crate::context::future::Instrumented;
use crate::propagation::{Extractor, Injector};

/// A `PartitionClient` whose [`produce`](TracedPartitionClient::produce) calls are exit spans.
///
/// rskafka's client does not tell which brokers it was built with, so the wrapper is given
/// them: the list the `ClientBuilder` got, what SkyWalking names the Kafka node after.
///
/// ```no_run
/// use std::sync::Arc;
/// use rskafka::client::{ClientBuilder, partition::UnknownTopicHandling};
/// use rust2sky::integrations::kafka::rskafka::TracedPartitionClient;
///
/// # async fn example() -> Result<(), rskafka::client::error::Error> {
/// let client = ClientBuilder::new(vec!["kafka-1:9092".to_owned()]).build().await?;
/// let partition = client.partition_client("orders", 0, UnknownTopicHandling::Retry).await?;
/// let orders = TracedPartitionClient::new(Arc::new(partition), "kafka-1:9092");
/// assert_eq!(orders.brokers(), "kafka-1:9092");
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct TracedPartitionClient {
    inner: Arc<PartitionClient>,
    brokers: Arc<str>,
}

impl TracedPartitionClient {
    /// Wraps `client`, which talks to the brokers `brokers` (bootstrap servers separated by
    /// `,` or `;`).
    ///
    /// ```no_run
    /// # use std::sync::Arc;
    /// # use rust2sky::integrations::kafka::rskafka::TracedPartitionClient;
    /// # fn example(partition: rskafka::client::partition::PartitionClient) {
    /// let orders = TracedPartitionClient::new(Arc::new(partition), "kafka-1:9092,kafka-2:9092");
    /// assert_eq!(orders.brokers(), "kafka-1:9092;kafka-2:9092");
    /// # }
    /// ```
    pub fn new(client: Arc<PartitionClient>, brokers: &str) -> Self {
        TracedPartitionClient {
            inner: client,
            brokers: Arc::from(broker_list(brokers)),
        }
    }

    /// The broker list the spans name, joined by `;` as the Java agent writes it.
    ///
    /// ```no_run
    /// # fn example(orders: rust2sky::integrations::kafka::rskafka::TracedPartitionClient) {
    /// println!("producing to {}", orders.brokers());
    /// # }
    /// ```
    pub fn brokers(&self) -> &str {
        &self.brokers
    }

    /// The wrapped client, for what is not traced: fetching, offsets, deleting records.
    ///
    /// ```no_run
    /// # async fn example(orders: rust2sky::integrations::kafka::rskafka::TracedPartitionClient) -> Result<(), rskafka::client::error::Error> {
    /// let (records, _high_watermark) = orders.inner().fetch_records(0, 1..1_000_000, 500).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn inner(&self) -> &Arc<PartitionClient> {
        &self.inner
    }

    /// Produces `records` as [`PartitionClient::produce`] does, as one exit span
    /// `Kafka/{topic}/Producer` (one request to the broker), a child of the current span or a
    /// new trace; every record's headers get the span's `sw8`. The span ends when the broker
    /// has answered, failed when the produce failed (the error is logged on it and returned
    /// unchanged). An empty batch sends nothing and records no span.
    ///
    /// ```no_run
    /// use rskafka::client::partition::Compression;
    /// use rskafka::record::Record;
    ///
    /// # async fn example(orders: rust2sky::integrations::kafka::rskafka::TracedPartitionClient) -> Result<(), rskafka::client::error::Error> {
    /// let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    /// let record = Record {
    ///     key: Some(b"7".to_vec()),
    ///     value: Some(b"order 7".to_vec()),
    ///     headers: Default::default(),
    ///     timestamp: rskafka::chrono::DateTime::from_timestamp_millis(now.as_millis() as i64)
    ///         .unwrap_or_default(),
    /// };
    /// let offsets = orders.produce(vec![record], Compression::NoCompression).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn produce(
        &self,
        mut records: Vec<Record>,
        compression: Compression,
    ) -> impl Future<Output = Result<Vec<i64>, Error>> + Send + '_ {
        let span = if records.is_empty() {
            crate::Span::noop()
        } else {
            let mut headers: Vec<(&'static str, String)> = Vec::new();
            let span = producer_span(self.inner.topic(), &self.brokers, &mut headers);
            for record in &mut records {
                for (name, value) in &headers {
                    record.inject(name, value.clone());
                }
            }
            span
        };
        Instrumented::with_outcome(
            self.inner.produce(records, compression),
            span,
            |span: &mut crate::Span, sent: &Result<Vec<i64>, Error>| {
                if let Err(error) = sent {
                    send_failed(span, error);
                }
            },
        )
    }

    /// The entry spans of consuming this partition's topic from these brokers, as `group`
    /// (rskafka has no consumer groups: name the application or the logic that consumes).
    ///
    /// ```no_run
    /// # fn example(orders: rust2sky::integrations::kafka::rskafka::TracedPartitionClient) {
    /// let consumer = orders.consumer_spans("billing");
    /// assert_eq!(consumer.operation(), "Kafka/orders/Consumer/billing");
    /// # }
    /// ```
    pub fn consumer_spans(&self, group: &str) -> ConsumerSpans {
        ConsumerSpans::new(&self.brokers, [self.inner.topic()], group)
    }
}

// A header is bytes; the SkyWalking ones are text, and one that is not is absent.
impl Extractor for Record {
    fn extract(&self, name: &str) -> Option<Cow<'_, str>> {
        let value = self.headers.get(name)?;
        std::str::from_utf8(value).ok().map(Cow::Borrowed)
    }
}

impl Extractor for RecordAndOffset {
    fn extract(&self, name: &str) -> Option<Cow<'_, str>> {
        self.record.extract(name)
    }
}

impl Injector for Record {
    fn inject(&mut self, name: &'static str, value: String) {
        self.headers.insert(name.to_owned(), value.into_bytes());
    }
}
