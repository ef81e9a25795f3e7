//! Which tracer is current: the one a context entered, else the global one.
//!
//! This lives with the context rather than with [`Tracer`] so that the tracer does not depend
//! on the context stack that holds it.

use super::stack::{self, Position};
use crate::tracer::Tracer;

impl Tracer {
    /// Runs `f` with this tracer current on this thread: traces that start inside use it.
    ///
    /// ```
    /// # use rust2sky::{Tracer, config::Config, reporter::MemoryReporter};
    /// let reporter = MemoryReporter::new();
    /// let tracer = Tracer::new(Config::default(), reporter.clone());
    /// let answer = tracer.in_scope(|| {
    ///     let _span = rust2sky::local_span("answer").entered();
    ///     42
    /// });
    /// assert_eq!((answer, reporter.segments().len()), (42, 1));
    /// ```
    pub fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        let _entered = stack::enter(Position::Tracer(self.clone()));
        f()
    }

    /// Runs `f`, which starts a server's span for one request, from a clean context: with
    /// `tracer` (the server's own, if it was given one) or else the tracer current here, but no
    /// span of whatever the server's task has current as its parent.
    #[cfg_attr(
        not(any(
            feature = "tower",
            feature = "actix-web",
            feature = "kafka",
            feature = "rdkafka"
        )),
        allow(dead_code)
    )]
    pub(crate) fn start_request<R>(tracer: Option<&Tracer>, f: impl FnOnce() -> R) -> R {
        match tracer {
            Some(tracer) => tracer.in_scope(f),
            None => match Tracer::current() {
                Some(tracer) => tracer.in_scope(f),
                None => f(),
            },
        }
    }

    /// Whether a span started here would have a tracer, without taking a reference to it.
    #[cfg_attr(not(feature = "tracing"), allow(dead_code))]
    pub(crate) fn is_available() -> bool {
        stack::with_current(|position| position.is_some()) || crate::global_tracer().is_some()
    }

    /// The tracer new traces use here: the current context's, else the global one.
    pub(crate) fn current() -> Option<Tracer> {
        stack::with_current(|position| position.map(|position| position.tracer().clone()))
            .or_else(|| crate::global_tracer().cloned())
    }
}
