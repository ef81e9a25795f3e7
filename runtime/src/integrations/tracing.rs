//! `tracing` spans as SkyWalking spans: [`SpanBridge`], a `tracing_subscriber` layer.
//!
//! With the layer installed, every `tracing` span (tower-http's `TraceLayer`,
//! `#[tracing::instrument]`, the spans of the crates an application uses) is also a span of the
//! current SkyWalking segment, and the two kinds nest in one tree: a `tracing` span opened inside
//! an `#[sw_entry]` handler is a child of its entry span, and an `#[sw_local]` function called
//! inside an instrumented function is a child of that function's span.
//!
//! What a `tracing` span becomes is read from the fields crates already write, as OpenTelemetry
//! names them:
//!
//! | field | becomes |
//! |---|---|
//! | `otel.kind` (or `span.kind`) `server` / `consumer` | an entry span, continuing the `sw8`, `sw8_correlation` and `sw8_x` fields' context if the span has them |
//! | `otel.kind` `client` / `producer` | an exit span to the peer below; [`crate::outgoing_headers`] inside it gives the headers to send |
//! | anything else | a local span |
//! | `otel.name` | the operation name (else the span's name) |
//! | `peer`, `server.address` + `server.port`, `net.peer.name` + `net.peer.port` | the peer |
//! | `http.request.method`, `http.method` | tag `http.method` |
//! | `url.full`, `http.url`, else `url.path`, `http.target` | tag `url`, without credentials, and without the query unless [`Config::http_url_query`](crate::config::Config::http_url_query) |
//! | `http.response.status_code`, `http.status_code` | tag `http.status_code`; 500 and above (400 for a client) mark an error |
//! | `otel.status_code = "ERROR"`, `error` (`true`, or a message), `exception.message` | the span is an error |
//! | any other field | a tag, cut at [`SpanBridge::max_tag_len`] characters |
//!
//! Fields recorded later with `span.record(..)` count as well. Events inside a span become its
//! logs (`level`, `message` and their fields). Spans below INFO, and those of `h2`, `hyper` and
//! rust2sky itself, are not recorded by default; [`SpanBridge::with_max_level`] and
//! [`SpanBridge::ignore_target`] change that, and per-layer filters (`.with_filter(..)`) work as
//! for any layer.

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::fmt::{self, Write as _};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use ::tracing::field::{Field, Visit};
use ::tracing::span::{Attributes, Id, Record};
use ::tracing::{Event, Level, Metadata, Subscriber};
use rust2sky_proto::v3::SpanLayer;
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

use crate::component;
use crate::context::stack;
use crate::propagation::{Extractor, NoHeaders};
use crate::span::{Span, entry_span, exit_span, local_span, with_active_span};
use crate::tags;
use crate::tracer::Tracer;

/// The default cut of a tag value, in characters.
const DEFAULT_MAX_TAG_LEN: usize = 1024;

/// Targets whose spans are left out by default: the HTTP/2 and HTTP machinery under every
/// request, whose spans would outnumber the application's.
const DEFAULT_IGNORED_TARGETS: [&str; 3] = ["h2", "hyper", "hyper_util"];

/// A [`tracing_subscriber::Layer`] that records `tracing` spans as SkyWalking spans of the
/// current segment (see the [module docs](self) for how fields map).
///
/// It records with the tracer current where a span starts, as the attribute macros do, so it
/// needs [`crate::init`] (or a [`Tracer`] in scope); spans made without one are ignored at the
/// cost of a check.
///
/// ```
/// use rust2sky::integrations::tracing::SpanBridge;
/// use rust2sky::{Tracer, config::Config, reporter::MemoryReporter};
/// use tracing_subscriber::layer::SubscriberExt as _;
///
/// let reporter = MemoryReporter::new();
/// let tracer = Tracer::new(Config::default(), reporter.clone());
/// let subscriber = tracing_subscriber::registry().with(SpanBridge::new());
/// tracing::subscriber::with_default(subscriber, || {
///     tracer.in_scope(|| {
///         let _request = tracing::info_span!("checkout", cart = 7).entered();
///         drop(rust2sky::local_span("price")); // a child of `checkout`
///     })
/// });
/// let spans = &reporter.segments()[0].spans;
/// assert_eq!(spans.len(), 2);
/// assert!(spans.iter().any(|span| span.operation_name == "checkout" && span.tags[0].key == "cart"));
/// ```
#[derive(Debug, Clone)]
pub struct SpanBridge {
    max_level: Level,
    ignored_targets: Vec<Cow<'static, str>>,
    max_tag_len: usize,
    /// Names these settings in the threads' caches of [`Verdict`]s: a new one whenever one that a
    /// verdict depends on (the level, the ignored targets) changes, the same in a clone.
    settings_id: u64,
}

/// Hands out [`SpanBridge::settings_id`]s, from 1 (0 marks an empty cache entry).
static NEXT_SETTINGS_ID: AtomicU64 = AtomicU64::new(1);

fn next_settings_id() -> u64 {
    NEXT_SETTINGS_ID.fetch_add(1, Ordering::Relaxed)
}

/// What the bridge makes of a callsite, the same for every span or event it makes: whether its
/// level and target are recorded, and whether any of its fields mean something to SkyWalking
/// (see [`Meaning`]).
#[derive(Clone, Copy, Default)]
struct Verdict {
    records: bool,
    meaningful: bool,
}

/// How many callsites' verdicts a thread keeps; more share entries, and take turns in them.
const VERDICTS: usize = 64;

thread_local! {
    /// Recent callsites' verdicts, by the address of their metadata (`'static`, one per
    /// callsite) and the settings that made them: reading the target against every ignored one
    /// and each field name against every meaningful one took about 250 instructions a span.
    static VERDICT_CACHE: [Cell<(usize, u64, Verdict)>; VERDICTS] =
        const { [const { Cell::new((0, 0, Verdict { records: false, meaningful: false })) }; VERDICTS] };
}

impl Default for SpanBridge {
    fn default() -> Self {
        SpanBridge::new()
    }
}

impl SpanBridge {
    /// A bridge recording spans at INFO and above, except those of `h2`, `hyper`, `hyper_util`
    /// and rust2sky.
    ///
    /// ```
    /// let bridge = rust2sky::integrations::tracing::SpanBridge::new();
    /// ```
    pub fn new() -> Self {
        SpanBridge {
            max_level: Level::INFO,
            ignored_targets: DEFAULT_IGNORED_TARGETS.map(Cow::Borrowed).to_vec(),
            max_tag_len: DEFAULT_MAX_TAG_LEN,
            settings_id: next_settings_id(),
        }
    }

    /// Records spans and events up to `level` (`Level::DEBUG` records DEBUG too).
    ///
    /// ```
    /// let bridge = rust2sky::integrations::tracing::SpanBridge::new().with_max_level(tracing::Level::DEBUG);
    /// ```
    #[must_use]
    pub fn with_max_level(mut self, level: Level) -> Self {
        self.max_level = level;
        self.settings_id = next_settings_id();
        self
    }

    /// Leaves out spans whose target is `target` or starts with `target::`.
    ///
    /// ```
    /// let bridge = rust2sky::integrations::tracing::SpanBridge::new().ignore_target("sqlx");
    /// ```
    #[must_use]
    pub fn ignore_target(mut self, target: impl Into<Cow<'static, str>>) -> Self {
        self.ignored_targets.push(target.into());
        self.settings_id = next_settings_id();
        self
    }

    /// Cuts tag values and log fields at `len` characters (1024 by default).
    ///
    /// ```
    /// let bridge = rust2sky::integrations::tracing::SpanBridge::new().max_tag_len(256);
    /// ```
    #[must_use]
    pub fn max_tag_len(mut self, len: usize) -> Self {
        self.max_tag_len = len;
        self
    }

    /// The verdict on `metadata`'s callsite, from this thread's cache when it has it. Spans and
    /// events made on rust2sky's own threads are never recorded.
    fn verdict(&self, metadata: &'static Metadata<'static>) -> Verdict {
        if crate::agent_thread::is_current() {
            return Verdict::default();
        }
        let address = std::ptr::from_ref(metadata) as usize;
        let judge = || self.judge(metadata);
        VERDICT_CACHE
            .try_with(|cache| {
                // Metadata is a few dozen bytes or more: the bits above the lowest few differ.
                let entry = &cache[(address >> 5) % VERDICTS];
                match entry.get() {
                    (cached, settings, verdict)
                        if cached == address && settings == self.settings_id =>
                    {
                        verdict
                    }
                    _ => {
                        let verdict = judge();
                        entry.set((address, self.settings_id, verdict));
                        verdict
                    }
                }
            })
            .unwrap_or_else(|_| judge())
    }

    fn judge(&self, metadata: &Metadata<'_>) -> Verdict {
        let target = metadata.target();
        let records = *metadata.level() <= self.max_level
            && !crate::logging::is_own_target(target)
            && !self.ignored_targets.iter().any(|ignored| {
                target
                    .strip_prefix(ignored.as_ref())
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
            });
        let meaningful = metadata
            .fields()
            .iter()
            .any(|field| Meaning::of(field.name()).is_some());
        Verdict {
            records,
            meaningful,
        }
    }
}

/// What the bridge keeps in a `tracing` span's extensions.
struct Bridged {
    span: Span,
    is_client: bool,
    /// How many times the span is entered now, on any thread: more than none when it closes
    /// means a guard was leaked (`mem::forget`) on some thread, whose entry must be let go.
    entered: AtomicU32,
}

/// Counts the spans closed while still entered: a thread whose last look at it saw another
/// count lets go of the entries of closed spans it holds. Written only on that misuse, so the
/// request path only reads it.
static CLOSED_WHILE_ENTERED: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// The bridged spans entered on this thread, innermost last, with their context guards.
    static ENTERED: RefCell<Vec<(Id, stack::Entered)>> = const { RefCell::new(Vec::new()) };
    /// The count of [`CLOSED_WHILE_ENTERED`] this thread last let go of entries for.
    static SWEPT: Cell<u64> = const { Cell::new(0) };
}

impl<S> Layer<S> for SpanBridge
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let verdict = self.verdict(attrs.metadata());
        if !verdict.records || !Tracer::is_available() {
            return;
        }
        let mut fields = Fields::new(self.max_tag_len);
        // Most spans have no field that means something to SkyWalking, which their metadata
        // tells without a value visited: their fields are then only tags.
        let meaningful = verdict.meaningful;
        if meaningful {
            attrs.record(&mut fields);
        }
        let operation = fields
            .name
            .take()
            .map_or(Cow::Borrowed(attrs.metadata().name()), Cow::Owned);
        let start = || fields.start(&operation);
        let mut span = if let Some(parent) = attrs.parent() {
            // An explicit parent: the span goes under the nearest bridged one of its line.
            match bridged_ancestor(&ctx, parent) {
                Some(parent) => parent.in_scope(start),
                None => start(),
            }
        } else if attrs.is_root() {
            match Tracer::current() {
                Some(tracer) => tracer.in_scope(start),
                None => start(),
            }
        } else {
            // A contextual parent is the current context: the bridged spans entered on this
            // thread are in it, and so are the attribute macros' spans.
            start()
        };
        if span.is_noop() {
            return;
        }
        let is_client = fields.is_client();
        fields.apply(&mut span, is_client);
        let mut tags = Tags {
            span: &mut span,
            max_len: self.max_tag_len,
            errored: false,
            meaningful,
        };
        attrs.record(&mut tags);
        if tags.errored && !meaningful {
            // What `Fields` would have made of an error value, had it visited them.
            span.set_error(true);
        }
        if let Some(entry) = ctx.span(id) {
            entry.extensions_mut().insert(Bridged {
                span,
                is_client,
                entered: AtomicU32::new(0),
            });
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        // The fields' `Debug` is the application's code, which may use tracing itself: it runs
        // on a handle of the span, with the span's extensions no longer locked.
        let Some((mut span, is_client)) = bridged_handle(&ctx, id) else {
            return;
        };
        let mut fields = Fields::new(self.max_tag_len);
        values.record(&mut fields);
        if let Some(name) = fields.name.take() {
            span.set_operation_name(name);
        }
        fields.apply(&mut span, is_client);
        values.record(&mut Tags {
            span: &mut span,
            max_len: self.max_tag_len,
            errored: false,
            meaningful: true,
        });
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        let Some(entry) = ctx.span(id) else { return };
        let extensions = entry.extensions();
        let Some(bridged) = extensions.get::<Bridged>() else {
            return;
        };
        let entered = bridged.span.enter();
        let _ = ENTERED.try_with(|entered_here| {
            if let Ok(mut entered_here) = entered_here.try_borrow_mut() {
                entered_here.push((id.clone(), entered));
                bridged.entered.fetch_add(1, Ordering::Relaxed);
            }
        });
    }

    fn on_exit(&self, id: &Id, ctx: Context<'_, S>) {
        // The guards are dropped after the borrow: dropping one leaves the context.
        let left = ENTERED.try_with(|entered_here| {
            let mut entered_here = entered_here.try_borrow_mut().ok()?;
            let exited = entered_here
                .iter()
                .rposition(|(entered, ..)| entered == id)
                .map(|index| entered_here.remove(index));
            if exited.is_some() {
                with_bridged(&ctx, id, |bridged| {
                    bridged.entered.fetch_sub(1, Ordering::Relaxed);
                });
            }
            // Spans closed on another thread while entered on this one, which is rare: they
            // are looked for only when some span somewhere was.
            let mut closed_elsewhere = Vec::new();
            let closed_while_entered = CLOSED_WHILE_ENTERED.load(Ordering::Relaxed);
            if SWEPT.replace(closed_while_entered) != closed_while_entered {
                let (closed, open) = std::mem::take(&mut *entered_here)
                    .into_iter()
                    .partition(|(id, _)| with_bridged(&ctx, id, |_| ()).is_none());
                *entered_here = open;
                closed_elsewhere = closed;
            }
            Some((exited, closed_elsewhere))
        });
        drop(left);
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let metadata = event.metadata();
        if !self.verdict(metadata).records {
            return;
        }
        let mut fields = EventFields::new(self.max_tag_len, metadata.level());
        let mut log = |span: &mut Span| {
            event.record(&mut fields);
            span.log(fields.entries.iter().map(|(k, v)| (k.as_ref(), v.as_str())));
        };
        match event.parent() {
            Some(parent) => {
                // As in `on_record`: on a handle, with the extensions unlocked.
                if let Some((mut span, _)) = bridged_handle(&ctx, parent) {
                    log(&mut span);
                }
            }
            None if event.is_contextual() => {
                with_active_span(log);
            }
            None => {}
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(entry) = ctx.span(&id) else { return };
        let Some(bridged) = entry.extensions_mut().remove::<Bridged>() else {
            return;
        };
        // Closed while still entered on this thread (a span dropped inside its own scope).
        let left = ENTERED
            .try_with(|entered_here| {
                let mut entered_here = entered_here.try_borrow_mut().ok()?;
                let index = entered_here
                    .iter()
                    .rposition(|(entered, _)| *entered == id)?;
                Some(entered_here.remove(index))
            })
            .ok()
            .flatten();
        let entered_elsewhere = bridged.entered.load(Ordering::Relaxed) > u32::from(left.is_some());
        if entered_elsewhere {
            CLOSED_WHILE_ENTERED.fetch_add(1, Ordering::Relaxed);
        }
        drop(left);
        // The span ends here, wherever it was entered.
        drop(bridged);
    }
}

/// Runs `f` on what the bridge keeps for the span `id`, unless the span is closed or not bridged.
fn with_bridged<S, R>(ctx: &Context<'_, S>, id: &Id, f: impl FnOnce(&Bridged) -> R) -> Option<R>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let entry = ctx.span(id)?;
    let extensions = entry.extensions();
    extensions.get::<Bridged>().map(f)
}

/// A handle on the bridged span of `id` (which does not end it), and whether it is a client's.
fn bridged_handle<S>(ctx: &Context<'_, S>, id: &Id) -> Option<(Span, bool)>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let entry = ctx.span(id)?;
    let extensions = entry.extensions();
    let bridged = extensions.get::<Bridged>()?;
    Some((bridged.span.clone_handle(), bridged.is_client))
}

/// The span of the nearest ancestor of `id`, itself included, that the bridge records.
fn bridged_ancestor<S>(ctx: &Context<'_, S>, id: &Id) -> Option<Span>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let entry = ctx.span(id)?;
    entry.scope().find_map(|ancestor| {
        ancestor
            .extensions()
            .get::<Bridged>()
            .map(|bridged| bridged.span.clone_handle())
    })
}

/// What a span's kind field says it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Internal,
    Server,
    Client,
    Producer,
    Consumer,
}

/// The fields of a span, sorted into what they mean to SkyWalking.
struct Fields {
    max_tag_len: usize,
    name: Option<String>,
    kind: Kind,
    host: Option<String>,
    port: Option<String>,
    method: Option<String>,
    url: Option<String>,
    path: Option<String>,
    status: Option<u16>,
    error: Option<bool>,
    error_message: Option<String>,
    sw8: Option<String>,
    correlation: Option<String>,
    sw8_x: Option<String>,
}

impl Fields {
    fn new(max_tag_len: usize) -> Self {
        Fields {
            max_tag_len,
            name: None,
            kind: Kind::Internal,
            host: None,
            port: None,
            method: None,
            url: None,
            path: None,
            status: None,
            error: None,
            error_message: None,
            sw8: None,
            correlation: None,
            sw8_x: None,
        }
    }

    fn is_client(&self) -> bool {
        matches!(self.kind, Kind::Client | Kind::Producer)
    }

    fn peer(&self) -> String {
        match (&self.host, &self.port) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.clone(),
            _ => String::new(),
        }
    }

    /// Starts the span these fields describe, at the current context.
    fn start(&self, operation: &str) -> Span {
        let http = self.method.is_some() || self.url.is_some() || self.status.is_some();
        match self.kind {
            Kind::Server | Kind::Consumer => {
                let mut span = entry_span(operation, self);
                if self.kind == Kind::Consumer {
                    span.set_layer(SpanLayer::Mq);
                } else if http || self.path.is_some() {
                    span.set_layer(SpanLayer::Http)
                        .set_component(component::HTTP);
                }
                span
            }
            Kind::Client | Kind::Producer => {
                let mut span = exit_span(operation, self.peer(), &mut NoHeaders);
                if self.kind == Kind::Producer {
                    span.set_layer(SpanLayer::Mq);
                } else if http {
                    span.set_layer(SpanLayer::Http)
                        .set_component(component::HTTP_CLIENT);
                }
                span
            }
            Kind::Internal => local_span(operation),
        }
    }

    /// Writes what the fields say onto `span`.
    fn apply(&mut self, span: &mut Span, is_client: bool) {
        if self.host.is_some() {
            span.set_peer(self.peer());
        }
        if let Some(method) = &self.method {
            span.tag(tags::HTTP_METHOD, method);
        }
        if let Some(url) = self.url.as_deref().or(self.path.as_deref()) {
            let shown = super::url::text_tag(span, url);
            if let Some(shown) = shown {
                span.tag(tags::URL, shown);
            }
        }
        if let Some(status) = self.status {
            span.tag(tags::HTTP_STATUS_CODE, itoa::Buffer::new().format(status));
            if status >= if is_client { 400 } else { 500 } {
                span.set_error(true);
            }
        }
        match (self.error, self.error_message.take()) {
            (_, Some(message)) => {
                span.error("error", &message);
            }
            (Some(is_error), None) => {
                span.set_error(is_error);
            }
            (None, None) => {}
        }
    }

    fn text(&mut self, meaning: Meaning, value: String) {
        match meaning {
            Meaning::Name => self.name = Some(value),
            Meaning::Kind => {
                self.kind = match value.to_ascii_lowercase().as_str() {
                    "server" => Kind::Server,
                    "client" => Kind::Client,
                    "producer" => Kind::Producer,
                    "consumer" => Kind::Consumer,
                    _ => Kind::Internal,
                }
            }
            Meaning::Status => {
                if value.eq_ignore_ascii_case("error") {
                    self.error = Some(true);
                }
            }
            Meaning::Error => self.error_message = Some(cut(value, self.max_tag_len)),
            Meaning::Host => self.host = Some(cut(value, self.max_tag_len)),
            Meaning::Port => self.port = Some(value),
            Meaning::Method => self.method = Some(cut(value, 32)),
            Meaning::Url => self.url = Some(value),
            Meaning::Path => self.path = Some(value),
            Meaning::HttpStatus => self.status = value.parse().ok(),
            Meaning::Sw8 => self.sw8 = Some(value),
            Meaning::Correlation => self.correlation = Some(value),
            Meaning::Sw8x => self.sw8_x = Some(value),
        }
    }
}

/// What a field means to SkyWalking, for those that are more than a tag: [`Fields`] reads them,
/// and [`Tags`] leaves them out.
#[derive(Debug, Clone, Copy)]
enum Meaning {
    Name,
    Kind,
    Status,
    Error,
    Host,
    Port,
    Method,
    Url,
    Path,
    HttpStatus,
    Sw8,
    Correlation,
    Sw8x,
}

impl Meaning {
    fn of(name: &str) -> Option<Meaning> {
        Some(match name {
            "otel.name" => Meaning::Name,
            "otel.kind" | "span.kind" => Meaning::Kind,
            "otel.status_code" => Meaning::Status,
            "error" | "exception.message" => Meaning::Error,
            "peer" | "peer.address" | "server.address" | "net.peer.name" => Meaning::Host,
            "server.port" | "net.peer.port" => Meaning::Port,
            "http.request.method" | "http.method" => Meaning::Method,
            "url.full" | "http.url" => Meaning::Url,
            "url.path" | "http.target" => Meaning::Path,
            "http.response.status_code" | "http.status_code" => Meaning::HttpStatus,
            "sw8" => Meaning::Sw8,
            "sw8_correlation" => Meaning::Correlation,
            "sw8_x" => Meaning::Sw8x,
            _ => return None,
        })
    }
}

// Other fields are left to `Tags`, without being formatted here.
impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if let Some(meaning) = Meaning::of(field.name()) {
            self.text(meaning, value.to_owned());
        }
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        if field.name() == "error" {
            self.error = Some(value);
        } else if let Some(meaning) = Meaning::of(field.name()) {
            self.text(meaning, value.to_string());
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        if let Some(meaning) = Meaning::of(field.name()) {
            self.text(meaning, itoa::Buffer::new().format(value).to_owned());
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        if let Some(meaning) = Meaning::of(field.name()) {
            self.text(meaning, itoa::Buffer::new().format(value).to_owned());
        }
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        if let Some(meaning) = Meaning::of(field.name()) {
            self.text(meaning, value.to_string());
        }
        if field.name() != "error" {
            self.error = Some(true);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if let Some(meaning) = Meaning::of(field.name()) {
            let mut text = String::new();
            let _ = write!(text, "{value:?}");
            self.text(meaning, text);
        }
    }
}

/// Writes a span's other fields as tags, straight into its segment: numbers and strings are not
/// copied on the way.
struct Tags<'a> {
    span: &'a mut Span,
    max_len: usize,
    /// A field's value was an error.
    errored: bool,
    /// Whether any field may mean something to SkyWalking (else every field is a tag).
    meaningful: bool,
}

impl Tags<'_> {
    /// Whether `field` is a tag rather than something [`Fields`] reads.
    fn is_tag(&self, field: &Field) -> bool {
        !self.meaningful || Meaning::of(field.name()).is_none()
    }

    fn tag(&mut self, field: &Field, value: &str) {
        if self.is_tag(field) {
            self.span.tag(field.name(), super::cut(value, self.max_len));
        }
    }
}

impl Visit for Tags<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.tag(field, value);
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.tag(field, if value { "true" } else { "false" });
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.tag(field, itoa::Buffer::new().format(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.tag(field, itoa::Buffer::new().format(value));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if self.is_tag(field) {
            let mut text = String::new();
            let _ = write!(text, "{value:?}");
            self.tag(field, &text);
        }
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.errored = true;
        if self.is_tag(field) {
            self.tag(field, &value.to_string());
        }
    }
}

/// The caller's context carried in a server span's `sw8`, `sw8_correlation` and `sw8_x` fields.
impl Extractor for Fields {
    fn extract(&self, name: &str) -> Option<Cow<'_, str>> {
        let value = match name {
            "sw8" => &self.sw8,
            "sw8-correlation" => &self.correlation,
            "sw8-x" => &self.sw8_x,
            _ => return None,
        };
        value.as_deref().map(Cow::Borrowed)
    }
}

/// An event's fields as a span log: `level`, `message`, then the others.
struct EventFields {
    max_len: usize,
    entries: Vec<(Cow<'static, str>, String)>,
}

impl EventFields {
    fn new(max_len: usize, level: &Level) -> Self {
        EventFields {
            max_len,
            entries: vec![(Cow::Borrowed("level"), level.as_str().to_owned())],
        }
    }
}

impl Visit for EventFields {
    fn record_str(&mut self, field: &Field, value: &str) {
        let value = cut(value.to_owned(), self.max_len);
        self.entries.push((Cow::Borrowed(field.name()), value));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let mut text = String::new();
        let _ = write!(text, "{value:?}");
        self.entries
            .push((Cow::Borrowed(field.name()), cut(text, self.max_len)));
    }
}

/// `text` cut at `max` characters.
fn cut(mut text: String, max: usize) -> String {
    let len = super::cut(&text, max).len();
    text.truncate(len);
    text
}

// ------------------------------------------------------------------------------ helpers

/// The target of the spans [`server_span`] and [`client_span`] make: not rust2sky's own, whose
/// records the bridges leave out.
const HTTP_TARGET: &str = "http";

/// A server span for `request`, for tower-http's `TraceLayer::make_span_with`: an INFO span of
/// kind `server` named `{METHOD}:{route}` (axum's route template with the `axum` feature), with
/// the request's `sw8` headers as fields, so that the bridge continues the caller's trace, and
/// `http.response.status_code` to be recorded by [`on_response`].
///
/// ```
/// use rust2sky::integrations::tracing::server_span;
///
/// let request = http::Request::get("/cart/7").header("sw8", "1-...").body(()).unwrap();
/// let span = server_span(&request);
/// # drop(span);
/// ```
///
/// With tower-http: `TraceLayer::new_for_http().make_span_with(server_span).on_response(on_response)`.
pub fn server_span<B>(request: &http::Request<B>) -> ::tracing::Span {
    let header = |name| {
        request
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
    };
    ::tracing::info_span!(
        target: HTTP_TARGET,
        "request",
        otel.kind = "server",
        otel.name = %format_args!("{}:{}", request.method(), super::route(request)),
        http.request.method = %request.method(),
        url.path = request.uri().path(),
        http.response.status_code = ::tracing::field::Empty,
        sw8 = header("sw8"),
        sw8_correlation = header("sw8-correlation"),
        sw8_x = header("sw8-x"),
    )
}

/// Records a response's status on the span [`server_span`] made, for tower-http's
/// `TraceLayer::on_response`.
///
/// ```
/// let span = tracing::info_span!("request", http.response.status_code = tracing::field::Empty);
/// let response = http::Response::new(());
/// rust2sky::integrations::tracing::on_response(&response, std::time::Duration::ZERO, &span);
/// ```
pub fn on_response<B>(
    response: &http::Response<B>,
    _latency: std::time::Duration,
    span: &::tracing::Span,
) {
    span.record("http.response.status_code", response.status().as_u16());
}

/// A client span for a call to `url`: an INFO span of kind `client` named `{METHOD}:{path}`,
/// whose peer is the URL's `host:port`. Inside it (entered, or instrumenting the call's future),
/// [`crate::outgoing_headers`] gives the `sw8` headers to send.
///
/// ```
/// let span = rust2sky::integrations::tracing::client_span(&http::Method::GET, &"http://stock:8080/items".parse().unwrap());
/// let _call = span.entered();
/// let headers = rust2sky::outgoing_headers(); // empty here: no tracer is installed
/// # assert!(headers.is_empty());
/// ```
pub fn client_span(method: &http::Method, url: &http::Uri) -> ::tracing::Span {
    let port = url.port_u16().unwrap_or(match url.scheme_str() {
        Some("https") => 443,
        _ => 80,
    });
    ::tracing::info_span!(
        target: HTTP_TARGET,
        "request",
        otel.kind = "client",
        otel.name = %format_args!("{method}:{}", url.path()),
        http.request.method = %method,
        server.address = url.host().unwrap_or_default(),
        server.port = port,
        url.full = %url,
        http.response.status_code = ::tracing::field::Empty,
    )
}
