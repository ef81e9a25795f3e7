//! A SkyWalking collector inside the process, for tests and local development.
//!
//! [`Collector`] is a real gRPC server on a TCP port (on `127.0.0.1` unless told otherwise) that
//! serves the services an agent calls, as the OAP does, and keeps what it receives so that a
//! test can look at it: segments, log records, meters, instance properties, heartbeats,
//! configuration fetches and the `authentication` token of every call. It runs on a thread of its
//! own, so it works the same from a plain `#[test]`, from inside any tokio runtime, and from
//! `main`.
//!
//! Enabled by the `testing` cargo feature.
//!
//! ```
//! use std::time::Duration;
//! use rust2sky::{config::Config, reporter::GrpcReporter, testing::Collector, Tracer};
//!
//! let collector = Collector::start()?;
//! let config = Config::builder().service_name("checkout").backends([collector.backend()]).build()?;
//! let tracer = Tracer::new(config.clone(), GrpcReporter::start(&config)?);
//! tracer.in_scope(|| {
//!     let _span = rust2sky::local_span("price cart").entered();
//! });
//!
//! let segments = collector.wait_for_segments(1, Duration::from_secs(10));
//! assert_eq!(segments[0].service, "checkout");
//! assert_eq!(segments[0].spans[0].operation_name, "price cart");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod builder;
mod collector;
mod service;
mod state;
mod waterfall;

pub use self::builder::CollectorBuilder;
pub use self::collector::Collector;
pub use self::waterfall::Waterfall;

use rust2sky_proto::v3::{
    ConfigurationSyncRequest, InstancePingPkg, InstanceProperties, LogData, MeterData,
    SegmentObject,
};

/// What a [`Collector`] has received so far, in the order it arrived.
///
/// ```
/// let received = rust2sky::testing::Received::default();
/// assert!(received.segments.is_empty());
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct Received {
    /// Every segment, from `collect` streams and `collectInSync` calls, including those of a
    /// stream that failed before the client saw its answer; only the last ones with
    /// [`CollectorBuilder::keep_last`], as for every list here.
    pub segments: Vec<SegmentObject>,
    /// How many segments arrived, including those no longer kept.
    pub segment_count: u64,
    /// Every `reportInstanceProperties` call.
    pub instance_properties: Vec<InstanceProperties>,
    /// Every `keepAlive` call.
    pub pings: Vec<InstancePingPkg>,
    /// Every `fetchConfigurations` call.
    pub configuration_requests: Vec<ConfigurationSyncRequest>,
    /// Every log record, from `LogReportService/collect` streams.
    pub logs: Vec<LogData>,
    /// Every meter reading, from `MeterReportService/collect` and `collectBatch` streams.
    pub meters: Vec<MeterData>,
    /// The `authentication` metadata of every call, in order (`None` where there was none).
    pub authentication: Vec<Option<String>>,
    /// How many `collect` streams were opened.
    pub segment_streams: usize,
    /// Calls refused because their `authentication` token was not the one required.
    pub unauthenticated: usize,
}
