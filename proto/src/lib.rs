//! Apache SkyWalking v3 agent protocol for Rust: [prost] messages and `tonic` gRPC stubs.
//!
//! Everything lives in [`v3`], which mirrors the proto package `skywalking.v3`. The messages,
//! enums and services are described in the `.proto` files under `skywalking/v3/` in this crate;
//! the Rust code in `src/generated/` is produced from them with `protox` (a pure-Rust protobuf
//! compiler, so no `protoc` is needed) and `tonic-prost-build`, and is committed. A test
//! (`cargo test -p rust2sky-proto --test proto codegen`) checks that it is up to date.
//!
//! # Names
//!
//! Field names follow prost's conventions: the proto field `traceSegmentId` is
//! `trace_segment_id`, a field called `type` is `r#type`, and acronyms are camel-cased
//! (`CPU` is [`v3::Cpu`], `SpanLayer.FAAS` is [`v3::SpanLayer::Faas`], `SpanLayer.GenAI` is
//! [`v3::SpanLayer::GenAi`]). Enum-typed fields are stored as `i32`; use `X as i32` to set them
//! and the generated getters (e.g. [`v3::SpanObject::span_type`]) to read them. None of this
//! changes what goes on the wire: gRPC paths keep the proto spelling, e.g.
//! `/skywalking.v3.TraceSegmentReportService/collectInSync`.
//!
//! # Cargo features
//!
//! * `client` (default): tonic client stubs such as
//!   `v3::trace_segment_report_service_client::TraceSegmentReportServiceClient`. They work with
//!   any `tonic::client::GrpcService` (for example a tonic `Channel`); this crate itself does not
//!   enable tonic's transport.
//! * `server`: tonic server stubs such as
//!   `v3::trace_segment_report_service_server::{TraceSegmentReportService, TraceSegmentReportServiceServer}`,
//!   useful for test collectors.
//!
//! Without either feature the crate only depends on `prost`.
//!
//! # Example
//!
//! ```
//! use prost::Message;
//! use rust2sky_proto::v3::{KeyStringValuePair, SegmentObject, SpanLayer, SpanObject, SpanType};
//!
//! let segment = SegmentObject {
//!     trace_id: "trace-1".to_owned(),
//!     trace_segment_id: "segment-1".to_owned(),
//!     service: "order-service".to_owned(),
//!     service_instance: "instance-1@10.0.0.12".to_owned(),
//!     spans: vec![SpanObject {
//!         span_id: 0,
//!         parent_span_id: -1,
//!         start_time: 1_735_689_600_000,
//!         end_time: 1_735_689_600_042,
//!         operation_name: "GET:/api/orders/{id}".to_owned(),
//!         span_type: SpanType::Entry as i32,
//!         span_layer: SpanLayer::Http as i32,
//!         component_id: 11000,
//!         tags: vec![KeyStringValuePair {
//!             key: "http.method".to_owned(),
//!             value: "GET".to_owned(),
//!         }],
//!         ..Default::default()
//!     }],
//!     ..Default::default()
//! };
//!
//! let bytes = segment.encode_to_vec();
//! let decoded = SegmentObject::decode(bytes.as_slice()).unwrap();
//! assert_eq!(decoded, segment);
//! assert_eq!(decoded.spans[0].span_layer(), SpanLayer::Http);
//! ```

/// Code generated from `skywalking/v3/*.proto`; do not edit by hand.
#[rustfmt::skip]
#[allow(
    missing_docs,
    unreachable_pub,
    missing_debug_implementations,
    rust_2018_idioms,
    clippy::all
)]
mod generated {
    include!("generated/skywalking.v3.rs");
}

/// The `skywalking.v3` protocol package: messages, enums, and (with the `client` / `server`
/// features) the tonic stubs of every agent-facing service.
pub mod v3 {
    pub use crate::generated::*;
}

pub use prost;
