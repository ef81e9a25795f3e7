//! Log records to the OAP, each with the trace context of the span that was current when it was
//! made, so that the UI shows a trace's logs beside it.
//!
//! Two bridges hand records to a [`reporter::Transport`](crate::reporter::Transport) (the
//! [`GrpcReporter`](crate::reporter::GrpcReporter) sends them over `LogReportService/collect` on
//! its connection, from its own bounded queue: full, dropped and counted, never waited for):
//! - `SkyWalkingLogger` for the `log` crate (cargo feature `log`);
//! - `SkyWalkingLayer`, a `tracing_subscriber::Layer` (cargo feature `tracing-log`).
//!
//! Both send records at the transport's [`log_level`](crate::reporter::Transport::log_level)
//! ([`Config::log_reporter_level`](crate::config::Config::log_reporter_level) for the gRPC reporter)
//! and above (`SW_AGENT_LOG_REPORTER_LEVEL`, default `warn`), and leave out rust2sky's own
//! records. Logs that stay on stdout can carry the context too: [`crate::log_context`] formats the
//! official agents' `SW_CTX`.
//!
//! ```
//! // What a bridge sends for one record, made inside a span:
//! use rust2sky::{Tracer, config::Config, reporter::MemoryReporter};
//!
//! let tracer = Tracer::new(Config::default(), MemoryReporter::new());
//! let record = tracer.in_scope(|| {
//!     let _span = rust2sky::entry_span("GET:/cart", &rust2sky::propagation::NoHeaders).entered();
//!     rust2sky::logging::log_data("WARN", "cart", "cart is empty".to_owned(), [])
//! });
//! let context = record.trace_context.unwrap();
//! assert_eq!(context.span_id, 0);
//! assert_eq!(record.endpoint, "GET:/cart");
//! ```

use rust2sky_proto::v3::log_data_body::Content;
use rust2sky_proto::v3::{
    KeyStringValuePair, LogData, LogDataBody, LogTags, TextLog, TraceContext,
};

#[cfg(any(feature = "log", feature = "tracing-log"))]
use crate::reporter::Transport;

/// The target (and module path prefix) of rust2sky's own records, which the bridges leave out:
/// reporting the reporter's own trouble through the reporter helps nobody.
#[cfg(any(feature = "log", feature = "tracing-log", feature = "tracing"))]
const OWN_TARGET: &str = "rust2sky";

/// The record of one log line made now, on this thread: `message` as its text body, tags
/// `level`, `logger` and `thread` (as the Java agent's appenders send them) followed by `fields`,
/// and the current trace's ids and endpoint when there is one. The service and instance are left
/// for the reporter to fill in.
///
/// ```
/// let record = rust2sky::logging::log_data("ERROR", "payments", "card declined".to_owned(), [("order".to_owned(), "7".to_owned())]);
/// assert!(record.trace_context.is_none()); // no span here
/// let tags = record.tags.unwrap().data;
/// assert_eq!((tags[0].key.as_str(), tags[0].value.as_str()), ("level", "ERROR"));
/// assert_eq!((tags[3].key.as_str(), tags[3].value.as_str()), ("order", "7"));
/// ```
pub fn log_data(
    level: &str,
    logger: &str,
    message: String,
    fields: impl IntoIterator<Item = (String, String)>,
) -> LogData {
    let pair = |key: &str, value: &str| KeyStringValuePair {
        key: key.to_owned(),
        value: value.to_owned(),
    };
    let mut tags = vec![pair("level", level), pair("logger", logger)];
    if let Some(thread) = std::thread::current().name() {
        tags.push(pair("thread", thread));
    }
    tags.extend(
        fields
            .into_iter()
            .map(|(key, value)| KeyStringValuePair { key, value }),
    );
    let ids = crate::active_ids();
    LogData {
        timestamp: crate::clock::now_ms(),
        endpoint: ids
            .as_ref()
            .map(|ids| ids.endpoint.clone())
            .unwrap_or_default(),
        body: Some(LogDataBody {
            r#type: String::new(),
            content: Some(Content::Text(TextLog { text: message })),
        }),
        trace_context: ids.map(|ids| TraceContext {
            trace_id: ids.trace_id,
            trace_segment_id: ids.segment_id,
            span_id: ids.span_id,
        }),
        tags: Some(LogTags { data: tags }),
        ..LogData::default()
    }
}

/// Whether a record from `target`, made on this thread, is left out: rust2sky's own records,
/// and every record made on one of the agent's threads ([`crate::agent_thread`]).
#[cfg(any(feature = "log", feature = "tracing-log", feature = "tracing"))]
pub(crate) fn is_own(target: &str) -> bool {
    is_own_target(target) || crate::agent_thread::is_current()
}

/// Whether `target` is rust2sky's own.
#[cfg(any(feature = "log", feature = "tracing-log", feature = "tracing"))]
pub(crate) fn is_own_target(target: &str) -> bool {
    target
        .strip_prefix(OWN_TARGET)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
}

#[cfg(feature = "log")]
pub use self::log_bridge::SkyWalkingLogger;

#[cfg(feature = "log")]
mod log_bridge {
    use std::sync::Arc;

    use super::{Transport, is_own, log_data};

    /// A [`log::Log`] that sends records to the OAP through a [`Transport`] (a
    /// [`GrpcReporter`](crate::reporter::GrpcReporter), say), and optionally to another logger as
    /// well (to keep writing them to stdout).
    ///
    /// ```no_run
    /// use rust2sky::{config::Config, logging::SkyWalkingLogger, reporter::GrpcReporter};
    ///
    /// let config = Config::from_env()?;
    /// let reporter = GrpcReporter::start(&config)?;
    /// SkyWalkingLogger::new(reporter.clone()).install()?;
    /// let _guard = rust2sky::init(config, reporter)?;
    /// log::warn!("stock is low"); // sent, with the current trace's ids
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub struct SkyWalkingLogger {
        transport: Arc<dyn Transport>,
        level: log::LevelFilter,
        forward: Option<Box<dyn log::Log>>,
    }

    impl SkyWalkingLogger {
        /// A logger that sends records at the transport's [`Transport::log_level`] and above.
        ///
        /// ```no_run
        /// # use rust2sky::{config::Config, logging::SkyWalkingLogger, reporter::GrpcReporter};
        /// let logger = SkyWalkingLogger::new(GrpcReporter::start(&Config::default())?);
        /// # Ok::<(), rust2sky::reporter::GrpcError>(())
        /// ```
        pub fn new(transport: impl Transport) -> Self {
            SkyWalkingLogger {
                level: transport.log_level(),
                transport: Arc::new(transport),
                forward: None,
            }
        }

        /// Also hands every record to `logger` (its own filter applies), since a process has
        /// one `log` logger.
        ///
        /// ```no_run
        /// # use rust2sky::{config::Config, logging::SkyWalkingLogger, reporter::GrpcReporter};
        /// # struct Stdout;
        /// # impl log::Log for Stdout {
        /// #     fn enabled(&self, _: &log::Metadata<'_>) -> bool { true }
        /// #     fn log(&self, record: &log::Record<'_>) { println!("{}", record.args()) }
        /// #     fn flush(&self) {}
        /// # }
        /// let logger = SkyWalkingLogger::new(GrpcReporter::start(&Config::default())?).forward_to(Stdout);
        /// # Ok::<(), rust2sky::reporter::GrpcError>(())
        /// ```
        pub fn forward_to(mut self, logger: impl log::Log + 'static) -> Self {
            self.forward = Some(Box::new(logger));
            self
        }

        /// Installs this logger as the process's `log` logger.
        ///
        /// # Errors
        ///
        /// [`log::SetLoggerError`] if a logger is installed already.
        ///
        /// ```no_run
        /// # use rust2sky::{config::Config, logging::SkyWalkingLogger, reporter::GrpcReporter};
        /// SkyWalkingLogger::new(GrpcReporter::start(&Config::default())?).install()?;
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        pub fn install(self) -> Result<(), log::SetLoggerError> {
            // With a logger to forward to, its own filter decides what it writes, so every
            // record has to reach `log`.
            let max = match self.forward {
                Some(_) => log::LevelFilter::Trace,
                None => self.level,
            };
            log::set_boxed_logger(Box::new(self))?;
            log::set_max_level(max);
            Ok(())
        }

        fn sends(&self, metadata: &log::Metadata<'_>) -> bool {
            metadata.level() <= self.level && !is_own(metadata.target())
        }
    }

    impl log::Log for SkyWalkingLogger {
        fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
            self.sends(metadata)
                || self
                    .forward
                    .as_ref()
                    .is_some_and(|forward| forward.enabled(metadata))
        }

        fn log(&self, record: &log::Record<'_>) {
            if self.sends(record.metadata()) {
                self.transport.report_log(log_data(
                    record.level().as_str(),
                    record.target(),
                    record.args().to_string(),
                    [],
                ));
            }
            if let Some(forward) = &self.forward {
                forward.log(record);
            }
        }

        fn flush(&self) {
            if let Some(forward) = &self.forward {
                forward.flush();
            }
        }
    }

    impl std::fmt::Debug for SkyWalkingLogger {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("SkyWalkingLogger")
                .field("level", &self.level)
                .field("forwards", &self.forward.is_some())
                .finish_non_exhaustive()
        }
    }
}

#[cfg(feature = "tracing-log")]
pub use self::tracing_bridge::SkyWalkingLayer;

#[cfg(feature = "tracing-log")]
mod tracing_bridge {
    use std::fmt::Write as _;

    use tracing::field::{Field, Visit};
    use tracing::level_filters::LevelFilter;
    use tracing::{Event, Subscriber};
    use tracing_subscriber::layer::{Context, Layer};

    use std::sync::Arc;

    use super::{Transport, is_own, log_data};

    /// A [`tracing_subscriber::Layer`] that sends events to the OAP through a [`Transport`] (a
    /// [`GrpcReporter`](crate::reporter::GrpcReporter), say): the `message` field is the text,
    /// the other fields are tags.
    ///
    /// ```no_run
    /// use rust2sky::{config::Config, logging::SkyWalkingLayer, reporter::GrpcReporter};
    /// use tracing_subscriber::layer::SubscriberExt as _;
    ///
    /// let reporter = GrpcReporter::start(&Config::from_env()?)?;
    /// let subscriber = tracing_subscriber::registry().with(SkyWalkingLayer::new(reporter));
    /// tracing::subscriber::set_global_default(subscriber)?;
    /// tracing::warn!(order = 7, "payment retried");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[derive(Clone)]
    pub struct SkyWalkingLayer {
        transport: Arc<dyn Transport>,
        level: LevelFilter,
    }

    impl std::fmt::Debug for SkyWalkingLayer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("SkyWalkingLayer")
                .field("level", &self.level)
                .finish_non_exhaustive()
        }
    }

    impl SkyWalkingLayer {
        /// A layer that sends events at the transport's [`Transport::log_level`] and above.
        ///
        /// ```no_run
        /// # use rust2sky::{config::Config, logging::SkyWalkingLayer, reporter::GrpcReporter};
        /// let layer = SkyWalkingLayer::new(GrpcReporter::start(&Config::default())?);
        /// # Ok::<(), rust2sky::reporter::GrpcError>(())
        /// ```
        pub fn new(transport: impl Transport) -> Self {
            let level = match transport.log_level() {
                log::LevelFilter::Off => LevelFilter::OFF,
                log::LevelFilter::Error => LevelFilter::ERROR,
                log::LevelFilter::Warn => LevelFilter::WARN,
                log::LevelFilter::Info => LevelFilter::INFO,
                log::LevelFilter::Debug => LevelFilter::DEBUG,
                log::LevelFilter::Trace => LevelFilter::TRACE,
            };
            SkyWalkingLayer {
                transport: Arc::new(transport),
                level,
            }
        }
    }

    impl<S: Subscriber> Layer<S> for SkyWalkingLayer {
        fn on_event(&self, event: &Event<'_>, _context: Context<'_, S>) {
            let metadata = event.metadata();
            if *metadata.level() > self.level || is_own(metadata.target()) {
                return;
            }
            let mut fields = Fields::default();
            event.record(&mut fields);
            self.transport.report_log(log_data(
                metadata.level().as_str(),
                metadata.target(),
                fields.message,
                fields.tags,
            ));
        }
    }

    /// An event's fields: `message` as the text, the others as tags.
    #[derive(Default)]
    struct Fields {
        message: String,
        tags: Vec<(String, String)>,
    }

    impl Visit for Fields {
        fn record_str(&mut self, field: &Field, value: &str) {
            if field.name() == "message" {
                self.message.push_str(value);
            } else {
                self.tags.push((field.name().to_owned(), value.to_owned()));
            }
        }

        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            if field.name() == "message" {
                let _ = write!(self.message, "{value:?}");
            } else {
                self.tags
                    .push((field.name().to_owned(), format!("{value:?}")));
            }
        }
    }
}

#[cfg(all(test, any(feature = "log", feature = "tracing-log")))]
mod tests {
    use super::*;

    #[test]
    fn records_of_the_agent_and_its_threads_are_left_out() {
        assert!(is_own("rust2sky"));
        assert!(is_own("rust2sky::reporter"));
        assert!(!is_own("rust2sky_app"));
        assert!(!is_own("h2::codec"));
        let on_agent_thread = std::thread::spawn(|| {
            crate::agent_thread::mark();
            is_own("h2::codec")
        });
        assert!(on_agent_thread.join().unwrap());
        assert!(!is_own("h2::codec"), "only that thread is marked");
    }
}
