//! The tracer: the agent's settings and the reporter that finished segments go to.

use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::config::{Config, LiveSettings};
use crate::propagation::{CorrelationLimits, encode_piece};
use crate::reporter::Reporter;
use crate::sampling::Sampler;

/// How long [`TracerGuard`]'s drop waits for the reporter to deliver what it still holds.
///
/// ```
/// use rust2sky::{SHUTDOWN_FLUSH_TIMEOUT, Tracer, config::Config, reporter::MemoryReporter};
///
/// // A tracer that `init` did not install is flushed by hand, with the same bound.
/// let tracer = Tracer::new(Config::default(), MemoryReporter::new());
/// assert!(tracer.flush(SHUTDOWN_FLUSH_TIMEOUT));
/// assert_eq!(SHUTDOWN_FLUSH_TIMEOUT, std::time::Duration::from_secs(5));
/// ```
pub const SHUTDOWN_FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// The agent: its service and instance names, its sampling and limits, and its reporter.
///
/// Most applications install one with [`crate::init`] and never name it again: every span that
/// starts a new trace uses the global tracer. A `Tracer` can also be made with [`Tracer::new`] and
/// made current on one thread ([`Tracer::in_scope`]) or for one future
/// ([`crate::FutureExt::with_tracer`]), which is how tests give each case its own reporter.
/// Cloning is cheap and gives the same tracer.
///
/// ```
/// use rust2sky::{Tracer, config::Config, reporter::MemoryReporter};
///
/// let reporter = MemoryReporter::new();
/// let tracer = Tracer::new(Config::builder().service_name("checkout").build()?, reporter.clone());
/// tracer.in_scope(|| {
///     let _span = rust2sky::local_span("price").entered();
/// });
/// assert_eq!(reporter.segments()[0].service, "checkout");
/// # Ok::<(), rust2sky::config::ConfigError>(())
/// ```
pub struct Tracer {
    inner: Handle,
}

/// How a [`Tracer`] holds its settings and reporter. Segments and spans keep a tracer each, so a
/// reference count would be written by every request on every thread; the global tracer, which
/// lives as long as the process, is held by reference instead, and clones of it change no count.
enum Handle {
    Global(&'static TracerInner),
    Owned(Arc<TracerInner>),
}

impl Clone for Tracer {
    fn clone(&self) -> Tracer {
        let inner = match &self.inner {
            Handle::Global(inner) => Handle::Global(inner),
            Handle::Owned(owned) => match GLOBAL.get().map(|global| &global.inner) {
                Some(Handle::Owned(global)) if Arc::ptr_eq(global, owned) => Handle::Global(global),
                _ => Handle::Owned(Arc::clone(owned)),
            },
        };
        Tracer { inner }
    }
}

/// The settings only integrations read, each behind its own feature.
#[derive(Debug, Clone, Copy)]
#[allow(dead_code)] // which fields are read depends on the features compiled in
pub(crate) struct IntegrationSettings {
    /// [`Config::http_url_query`].
    pub(crate) http_url_query: bool,
    /// [`Config::sql_body_max_length`].
    pub(crate) sql_body_max_length: usize,
}

struct TracerInner {
    service: Arc<str>,
    instance: Arc<str>,
    /// The names as every `sw8` header carries them, encoded once.
    encoded_service: String,
    encoded_instance: String,
    span_limit: usize,
    correlation_limits: CorrelationLimits,
    ignore_incoming_context: bool,
    integrations: IntegrationSettings,
    sampler: Sampler,
    live: LiveSettings,
    reporter: Box<dyn Reporter>,
}

impl Tracer {
    /// A tracer with these settings, reporting to `reporter`. It is not installed anywhere.
    ///
    /// ```
    /// use rust2sky::{Tracer, config::Config, reporter::LogReporter};
    ///
    /// let tracer = Tracer::new(Config::default(), LogReporter::new());
    /// assert_eq!(tracer.service(), "rust-service");
    /// ```
    pub fn new(config: Config, reporter: impl Reporter) -> Tracer {
        crate::clock::calibrate_in_background();
        let live = LiveSettings::new(&config);
        reporter.attach(&live);
        Tracer {
            inner: Handle::Owned(Arc::new(TracerInner {
                service: Arc::from(config.service_name()),
                instance: Arc::from(config.instance_name()),
                encoded_service: encode_piece(config.service_name()),
                encoded_instance: encode_piece(config.instance_name()),
                span_limit: config.span_limit(),
                correlation_limits: config.correlation_limits(),
                ignore_incoming_context: config.ignore_incoming_context(),
                integrations: IntegrationSettings {
                    http_url_query: config.http_url_query(),
                    sql_body_max_length: config.sql_body_max_length(),
                },
                sampler: Sampler::new(&config, live.clone()),
                live,
                reporter: Box::new(reporter),
            })),
        }
    }

    /// Whether this is a handle on the global tracer that holds it by reference: one that lives
    /// as long as the process, which a thread may keep without keeping anything alive.
    pub(crate) fn is_global(&self) -> bool {
        matches!(self.inner, Handle::Global(_))
    }

    fn inner(&self) -> &TracerInner {
        match &self.inner {
            Handle::Global(inner) => inner,
            Handle::Owned(inner) => inner,
        }
    }

    /// The service name segments are reported under.
    ///
    /// ```
    /// # use rust2sky::{Tracer, config::Config, reporter::LogReporter};
    /// let tracer = Tracer::new(Config::builder().service_name("cart").build()?, LogReporter::new());
    /// assert_eq!(tracer.service(), "cart");
    /// # Ok::<(), rust2sky::config::ConfigError>(())
    /// ```
    pub fn service(&self) -> &str {
        &self.inner().service
    }

    /// The instance name segments are reported under.
    ///
    /// ```
    /// # use rust2sky::{Tracer, config::Config, reporter::LogReporter};
    /// let tracer = Tracer::new(Config::builder().instance_name("cart-1").build()?, LogReporter::new());
    /// assert_eq!(tracer.instance(), "cart-1");
    /// # Ok::<(), rust2sky::config::ConfigError>(())
    /// ```
    pub fn instance(&self) -> &str {
        &self.inner().instance
    }

    /// Asks the reporter to deliver what it still holds, waiting at most `timeout`; returns whether
    /// everything was delivered.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use rust2sky::{Tracer, config::Config, reporter::MemoryReporter};
    /// let tracer = Tracer::new(Config::default(), MemoryReporter::new());
    /// assert!(tracer.flush(Duration::from_secs(1)));
    /// ```
    pub fn flush(&self, timeout: Duration) -> bool {
        self.inner().reporter.flush(timeout)
    }

    /// The settings that can change while the tracer runs (the OAP's dynamic configuration
    /// changes them through the reporter).
    ///
    /// ```
    /// # use rust2sky::{Tracer, config::Config, reporter::MemoryReporter};
    /// let tracer = Tracer::new(Config::default(), MemoryReporter::new());
    /// tracer.live_settings().set_span_limit(Some(50));
    /// assert_eq!(tracer.live_settings().span_limit(), Some(50));
    /// ```
    pub fn live_settings(&self) -> &LiveSettings {
        &self.inner().live
    }

    /// The service name, shared with the segments that report it.
    /// The service name, without a reference count changed.
    pub(crate) fn service_arc(&self) -> &Arc<str> {
        &self.inner().service
    }

    /// The instance name, without a reference count changed.
    pub(crate) fn instance_arc(&self) -> &Arc<str> {
        &self.inner().instance
    }

    pub(crate) fn service_name(&self) -> Arc<str> {
        self.inner().service.clone()
    }

    /// The instance name, shared with the segments that report it.
    pub(crate) fn instance_name(&self) -> Arc<str> {
        self.inner().instance.clone()
    }

    /// The service name in standard Base64.
    pub(crate) fn encoded_service(&self) -> &str {
        &self.inner().encoded_service
    }

    /// The instance name in standard Base64.
    pub(crate) fn encoded_instance(&self) -> &str {
        &self.inner().encoded_instance
    }

    pub(crate) fn span_limit(&self) -> usize {
        self.inner()
            .live
            .span_limit()
            .unwrap_or(self.inner().span_limit)
    }

    pub(crate) fn correlation_limits(&self) -> CorrelationLimits {
        self.inner().correlation_limits
    }

    pub(crate) fn ignores_incoming_context(&self) -> bool {
        self.inner().ignore_incoming_context
    }

    // Which integrations read them depends on the features compiled in.
    #[allow(dead_code)]
    pub(crate) fn integrations(&self) -> IntegrationSettings {
        self.inner().integrations
    }

    pub(crate) fn sampler(&self) -> &Sampler {
        &self.inner().sampler
    }

    pub(crate) fn reporter(&self) -> &dyn Reporter {
        &*self.inner().reporter
    }
}

impl fmt::Debug for Tracer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tracer")
            .field("service", &self.inner().service)
            .field("instance", &self.inner().instance)
            .finish_non_exhaustive()
    }
}

static GLOBAL: OnceLock<Tracer> = OnceLock::new();

/// Why [`crate::init`] refused to install a tracer.
///
/// ```standalone_crate
/// use rust2sky::{InitError, config::Config, reporter::MemoryReporter};
///
/// let _guard = rust2sky::init(Config::default(), MemoryReporter::new())?;
/// let error = rust2sky::init(Config::default(), MemoryReporter::new()).unwrap_err();
/// assert_eq!(error, InitError::AlreadyInitialized);
/// eprintln!("tracing stays as it was: {error}");
/// # Ok::<(), InitError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InitError {
    /// A global tracer is installed already; it stays for the life of the process.
    #[error("rust2sky is initialised already; init may be called once per process")]
    AlreadyInitialized,
}

/// Installs the global tracer: from now on, spans that start a new trace report through it.
///
/// Returns a guard that flushes the reporter when dropped (waiting at most
/// [`SHUTDOWN_FLUSH_TIMEOUT`]); keep it alive for as long as the application runs, e.g. in `main`.
/// Spans made before `init`, or without it, are noops: they cost almost nothing and report
/// nothing. A second call is an error, never a panic.
///
/// ```standalone_crate
/// use rust2sky::{config::Config, reporter::LogReporter};
///
/// let _guard = rust2sky::init(Config::from_env()?, LogReporter::new())?;
/// assert!(rust2sky::init(Config::default(), LogReporter::new()).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn init(config: Config, reporter: impl Reporter) -> Result<TracerGuard, InitError> {
    let tracer = Tracer::new(config, reporter);
    GLOBAL
        .set(tracer.clone())
        .map_err(|_| InitError::AlreadyInitialized)?;
    Ok(TracerGuard { tracer })
}

/// The global tracer, if [`init`] installed one.
///
/// ```
/// // nothing installed in this example (examples that call `init` run in their own process)
/// assert!(rust2sky::global_tracer().is_none());
/// ```
pub fn global_tracer() -> Option<&'static Tracer> {
    GLOBAL.get()
}

/// Flushes the global tracer's reporter when dropped. Returned by [`init`].
///
/// ```standalone_crate
/// use rust2sky::{config::Config, reporter::MemoryReporter};
///
/// let reporter = MemoryReporter::new();
/// let guard = rust2sky::init(Config::default(), reporter.clone())?;
/// rust2sky::local_span("startup").end();
/// drop(guard); // at the end of `main`: the reporter delivers what it still holds
/// assert_eq!(reporter.segments().len(), 1);
/// # Ok::<(), rust2sky::InitError>(())
/// ```
#[derive(Debug)]
#[must_use = "dropping the guard flushes the reporter right away; keep it for the life of the application"]
pub struct TracerGuard {
    tracer: Tracer,
}

impl TracerGuard {
    /// The installed tracer.
    ///
    /// ```standalone_crate
    /// # use rust2sky::{config::Config, reporter::LogReporter};
    /// let guard = rust2sky::init(Config::default(), LogReporter::new())?;
    /// assert_eq!(guard.tracer().service(), "rust-service");
    /// # Ok::<(), rust2sky::InitError>(())
    /// ```
    pub fn tracer(&self) -> &Tracer {
        &self.tracer
    }
}

impl Drop for TracerGuard {
    fn drop(&mut self) {
        self.tracer.flush(SHUTDOWN_FLUSH_TIMEOUT);
    }
}
