//! rust2sky: the Apache SkyWalking agent for Rust.
//!
//! rust2sky records entry, local and exit spans, carries trace context between services in
//! SkyWalking's `sw8` headers, and hands finished segments to a [`reporter`].
//!
//! ```
//! use std::collections::HashMap;
//! use rust2sky::{config::Config, reporter::MemoryReporter, tags, Tracer};
//!
//! let reporter = MemoryReporter::new();
//! let tracer = Tracer::new(Config::builder().service_name("checkout").build()?, reporter.clone());
//! tracer.in_scope(|| {
//!     // a request comes in, with or without an sw8 header
//!     let incoming: HashMap<String, String> = HashMap::new();
//!     let mut request = rust2sky::entry_span("POST:/checkout", &incoming).entered();
//!     request.tag(tags::HTTP_METHOD, "POST");
//!
//!     {
//!         let _pricing = rust2sky::local_span("price cart").entered();
//!     }
//!     // an outgoing call carries the context in its headers
//!     let mut outgoing = HashMap::new();
//!     let _call = rust2sky::exit_span("POST:/charge", "payments:8080", &mut outgoing);
//!     assert!(outgoing.contains_key("sw8"));
//! });
//!
//! let segment = &reporter.segments()[0];
//! assert_eq!(segment.service, "checkout");
//! assert_eq!(segment.spans.len(), 3);
//! # Ok::<(), rust2sky::config::ConfigError>(())
//! ```
//!
//! Modules:
//! - [`propagation`]: the `sw8`, `sw8-correlation` and `sw8-x` header codecs, byte-compatible with
//!   the official Java, Go and Python agents, and the [`propagation::Extractor`] /
//!   [`propagation::Injector`] carriers;
//! - [`config`]: the agent's configuration, from code and from the `SW_AGENT_*` environment;
//! - [`reporter`]: where finished segments go;
//! - [`id`]: globally unique trace and segment ids in the layout the official agents use;
//! - [`tags`] and [`component`]: the tag keys and component ids OAP understands;
//! - [`diagnostics`]: counters of the bad input the agent ignored on the host's behalf;
//! - [`logging`]: log records to the OAP with their trace context (`log` and `tracing` bridges);
//! - [`meter`]: counters, gauges and histograms, reported to the OAP with the process's figures;
//! - `testing` (cargo feature `testing`): a real gRPC collector inside the process, for tests.

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;
mod agent_thread;
mod clock;
pub mod component;
pub mod config;
mod context;
pub mod diagnostics;
mod escape;
pub mod id;
pub mod integrations;
pub mod logging;
pub mod meter;
pub mod propagation;
pub mod reporter;
mod sampling;
mod segment;
mod span;
pub mod tags;
#[cfg(feature = "testing")]
pub mod testing;
mod text;
mod tracer;

pub use context::current::{
    ActiveIds, LogContext, active_ids, correlation, log_context, outgoing_headers, set_correlation,
    trace_id,
};
pub use context::future;
pub use context::future::{FutureExt, spawn};
pub use context::snapshot::{ContextSnapshot, capture};
pub use rust2sky_macros::{sw_entry, sw_exit, sw_local};
pub use rust2sky_proto as proto;
pub use rust2sky_proto::v3::SpanLayer;
pub use span::{EnteredSpan, Span, entry_span, exit_span, local_span, with_active_span};
pub use tracer::{InitError, SHUTDOWN_FLUSH_TIMEOUT, Tracer, TracerGuard, global_tracer, init};

/// The README's examples, compiled and run as doctests so that it cannot drift from the code.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
