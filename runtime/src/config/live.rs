//! The settings that may change while the agent runs, as the OAP's dynamic configuration does.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};

use parking_lot::RwLock;

use super::Config;
use crate::sampling::IgnoreRules;

/// A tracer's settings that can change while it runs: the sample rate, the span limit and the
/// ignore rules. Each is either overridden here or, with `None`, the [`Config`] value.
///
/// Every [`Tracer`](crate::Tracer) has one ([`Tracer::live_settings`](crate::Tracer::live_settings))
/// and hands it to its reporter ([`Reporter::attach`](crate::reporter::Reporter::attach)): the
/// gRPC reporter applies the OAP's `agent.sample_rate`, `agent.span_limit_per_segment`,
/// `agent.ignore_suffix` and `agent.trace.ignore_path` through it. An application can change them
/// too, e.g. from its own feature flags. A change applies to traces and spans that start after
/// it. Cloning gives another handle to the same settings.
///
/// ```
/// use rust2sky::{Tracer, config::Config, reporter::MemoryReporter};
///
/// let reporter = MemoryReporter::new();
/// let tracer = Tracer::new(Config::default(), reporter.clone());
/// tracer.live_settings().set_sample_rate(Some(0.0));
/// tracer.in_scope(|| drop(rust2sky::entry_span("GET:/", &rust2sky::propagation::NoHeaders)));
/// assert!(reporter.segments().is_empty());
///
/// tracer.live_settings().set_sample_rate(None); // back to the configured rate, 1
/// tracer.in_scope(|| drop(rust2sky::entry_span("GET:/", &rust2sky::propagation::NoHeaders)));
/// assert_eq!(reporter.segments().len(), 1);
/// ```
#[derive(Clone)]
pub struct LiveSettings {
    inner: Arc<Inner>,
}

struct Inner {
    /// The rate's `f64` bits; NaN while not overridden.
    sample_rate: AtomicU64,
    /// Zero while not overridden.
    span_limit: AtomicUsize,
    /// Whether `ignore` holds overriding rules: the common case reads no lock.
    ignore_overridden: AtomicBool,
    ignore: RwLock<Ignore>,
}

struct Ignore {
    configured_suffixes: Vec<String>,
    configured_paths: Vec<String>,
    suffixes: Option<Vec<String>>,
    paths: Option<Vec<String>>,
    /// The rules for the lists above, when either is overridden.
    rules: Option<Arc<IgnoreRules>>,
}

impl LiveSettings {
    /// Nothing overridden, over `config`'s ignore lists.
    pub(crate) fn new(config: &Config) -> Self {
        LiveSettings {
            inner: Arc::new(Inner {
                sample_rate: AtomicU64::new(f64::NAN.to_bits()),
                span_limit: AtomicUsize::new(0),
                ignore_overridden: AtomicBool::new(false),
                ignore: RwLock::new(Ignore {
                    configured_suffixes: config.ignore_suffixes().to_vec(),
                    configured_paths: config.trace_ignore_paths().to_vec(),
                    suffixes: None,
                    paths: None,
                    rules: None,
                }),
            }),
        }
    }

    /// The overriding sample rate, if any.
    ///
    /// ```
    /// # use rust2sky::{Tracer, config::Config, reporter::MemoryReporter};
    /// let tracer = Tracer::new(Config::default(), MemoryReporter::new());
    /// assert_eq!(tracer.live_settings().sample_rate(), None);
    /// ```
    pub fn sample_rate(&self) -> Option<f64> {
        let rate = f64::from_bits(self.inner.sample_rate.load(Ordering::Relaxed));
        (!rate.is_nan()).then_some(rate)
    }

    /// Overrides the share of new traces that are sampled (clamped to 0..=1), or with `None`
    /// returns to [`Config::sample_rate`].
    ///
    /// ```
    /// # use rust2sky::{Tracer, config::Config, reporter::MemoryReporter};
    /// let tracer = Tracer::new(Config::default(), MemoryReporter::new());
    /// tracer.live_settings().set_sample_rate(Some(2.0));
    /// assert_eq!(tracer.live_settings().sample_rate(), Some(1.0));
    /// ```
    pub fn set_sample_rate(&self, rate: Option<f64>) {
        let rate = rate.map_or(f64::NAN, |rate| rate.clamp(0.0, 1.0));
        self.inner
            .sample_rate
            .store(rate.to_bits(), Ordering::Relaxed);
    }

    /// The overriding span limit, if any.
    ///
    /// ```
    /// # use rust2sky::{Tracer, config::Config, reporter::MemoryReporter};
    /// let tracer = Tracer::new(Config::default(), MemoryReporter::new());
    /// assert_eq!(tracer.live_settings().span_limit(), None);
    /// ```
    pub fn span_limit(&self) -> Option<usize> {
        match self.inner.span_limit.load(Ordering::Relaxed) {
            0 => None,
            limit => Some(limit),
        }
    }

    /// Overrides the maximum number of spans in one segment (at least 1), or with `None`
    /// returns to [`Config::span_limit`].
    ///
    /// ```
    /// # use rust2sky::{Tracer, config::Config, reporter::MemoryReporter};
    /// let tracer = Tracer::new(Config::default(), MemoryReporter::new());
    /// tracer.live_settings().set_span_limit(Some(0));
    /// assert_eq!(tracer.live_settings().span_limit(), Some(1));
    /// ```
    pub fn set_span_limit(&self, limit: Option<usize>) {
        let limit = limit.map_or(0, |limit| limit.max(1));
        self.inner.span_limit.store(limit, Ordering::Relaxed);
    }

    /// Overrides the suffixes of operation names whose traces are not sampled, or with `None`
    /// returns to [`Config::ignore_suffixes`].
    ///
    /// ```
    /// # use rust2sky::{Tracer, config::Config, reporter::MemoryReporter};
    /// let reporter = MemoryReporter::new();
    /// let tracer = Tracer::new(Config::default(), reporter.clone());
    /// tracer.live_settings().set_ignore_suffixes(Some(vec![".txt".to_owned()]));
    /// tracer.in_scope(|| drop(rust2sky::entry_span("GET:/robots.txt", &rust2sky::propagation::NoHeaders)));
    /// assert!(reporter.segments().is_empty());
    /// ```
    pub fn set_ignore_suffixes(&self, suffixes: Option<Vec<String>>) {
        self.change_ignore(|ignore| ignore.suffixes = suffixes);
    }

    /// Overrides the Ant-style patterns of endpoints that are not traced, or with `None` returns
    /// to [`Config::trace_ignore_paths`].
    ///
    /// ```
    /// # use rust2sky::{Tracer, config::Config, reporter::MemoryReporter};
    /// let reporter = MemoryReporter::new();
    /// let tracer = Tracer::new(Config::default(), reporter.clone());
    /// tracer.live_settings().set_trace_ignore_paths(Some(vec!["/health".to_owned()]));
    /// tracer.in_scope(|| drop(rust2sky::entry_span("GET:/health", &rust2sky::propagation::NoHeaders)));
    /// assert!(reporter.segments().is_empty());
    /// ```
    pub fn set_trace_ignore_paths(&self, patterns: Option<Vec<String>>) {
        self.change_ignore(|ignore| ignore.paths = patterns);
    }

    /// A handle that does not keep the settings alive, for a reporter that outlives tracers.
    pub(crate) fn downgrade(&self) -> WeakLiveSettings {
        WeakLiveSettings(Arc::downgrade(&self.inner))
    }

    /// The overriding ignore rules, if either list is overridden.
    pub(crate) fn ignore_rules(&self) -> Option<Arc<IgnoreRules>> {
        if !self.inner.ignore_overridden.load(Ordering::Acquire) {
            return None;
        }
        self.inner.ignore.read().rules.clone()
    }

    fn change_ignore(&self, change: impl FnOnce(&mut Ignore)) {
        let mut ignore = self.inner.ignore.write();
        change(&mut ignore);
        ignore.rules = (ignore.suffixes.is_some() || ignore.paths.is_some()).then(|| {
            Arc::new(IgnoreRules::new(
                ignore
                    .suffixes
                    .as_deref()
                    .unwrap_or(&ignore.configured_suffixes),
                ignore.paths.as_deref().unwrap_or(&ignore.configured_paths),
            ))
        });
        self.inner
            .ignore_overridden
            .store(ignore.rules.is_some(), Ordering::Release);
    }
}

/// [`LiveSettings`] that may be gone: their tracer was dropped.
#[derive(Clone)]
pub(crate) struct WeakLiveSettings(Weak<Inner>);

impl WeakLiveSettings {
    pub(crate) fn upgrade(&self) -> Option<LiveSettings> {
        self.0.upgrade().map(|inner| LiveSettings { inner })
    }

    pub(crate) fn is_gone(&self) -> bool {
        self.0.strong_count() == 0
    }
}

impl fmt::Debug for LiveSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ignore = self.inner.ignore.read();
        f.debug_struct("LiveSettings")
            .field("sample_rate", &self.sample_rate())
            .field("span_limit", &self.span_limit())
            .field("ignore_suffixes", &ignore.suffixes)
            .field("trace_ignore_paths", &ignore.paths)
            .finish()
    }
}
