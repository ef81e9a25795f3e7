//! The current trace context: which span code runs in, and how that follows the code across
//! `.await`, into spawned tasks and onto other threads.

pub(crate) mod current;
pub mod future;
mod scope;
pub(crate) mod snapshot;
pub(crate) mod stack;
