//! rust2sky: the Apache SkyWalking agent for Rust.
//!
//! rust2sky carries trace context between services in SkyWalking's `sw8` headers and (as the crate
//! grows) records spans and reports finished segments to a SkyWalking OAP collector.
//!
//! What is here today:
//! - [`propagation`]: the `sw8`, `sw8-correlation` and `sw8-x` header codecs, byte-compatible with
//!   the official Java, Go and Python agents;
//! - [`config`]: the agent's configuration, from code and from the `SW_AGENT_*` environment;
//! - [`id`]: globally unique trace and segment ids in the layout the official agents use;
//! - [`diagnostics`]: counters of the bad input the agent ignored on the host's behalf.
//!
//! ```
//! use rust2sky::propagation::Sw8Header;
//!
//! let incoming = "1-dHJhY2U=-c2VnbWVudA==-2-b3JkZXJz-b3JkZXJzLTE=-R0VUOi9vcmRlcnM=-aW52ZW50b3J5OjgwODA=";
//! let parent = Sw8Header::decode(incoming)?;
//! assert_eq!(parent.parent_service, "orders");
//! assert_eq!(parent.encode(), incoming);
//! # Ok::<(), rust2sky::propagation::Sw8Error>(())
//! ```

pub mod config;
pub mod diagnostics;
pub mod id;
pub mod propagation;

/// The README's examples, compiled and run as doctests so that it cannot drift from the code.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
