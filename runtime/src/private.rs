//! What the attribute macros expand to. Not a public API: it changes with the macros.

use std::fmt::{Debug, Display};

pub use crate::context::future::Instrumented;
pub use crate::propagation::{Extractor, Injector, NoHeaders};
pub use crate::span::{EnteredSpan, Span, entry_span, exit_span, local_span};
pub use rust2sky_proto::v3::SpanLayer;
use std::borrow::Cow;
use std::sync::OnceLock;

/// Checks a carrier expression for `extract` where the user wrote it, so that a wrong type is
/// reported on their expression, once: what it returns has the same type whatever the carrier.
pub fn extractor<E: Extractor>(carrier: &E) -> DynExtractor<'_> {
    DynExtractor(carrier)
}

/// As [`extractor`], for `inject`. Closures behind `&mut dyn FnMut(..)` are carriers too, though
/// they can't be made a `dyn Injector`.
pub fn injector<I: InjectCarrier + ?Sized>(carrier: &mut I) -> DynInjector<'_> {
    carrier.as_carrier()
}

/// A carrier that [`injector`] accepts.
#[diagnostic::on_unimplemented(
    message = "`{Self}` can't take request headers: it is not an `Injector`",
    label = "not an `Injector`",
    note = "pass `&mut` to an `http::HeaderMap`, tonic's `MetadataMap`, a `HashMap<String, String>` or a `Vec<(String, String)>`, or a closure `FnMut(&'static str, String)`, or one of those behind `&mut dyn`"
)]
pub trait InjectCarrier {
    /// The carrier as one type, whatever its own.
    fn as_carrier(&mut self) -> DynInjector<'_>;
}

impl<I: Injector> InjectCarrier for I {
    fn as_carrier(&mut self) -> DynInjector<'_> {
        DynInjector::Carrier(self)
    }
}

// The `dyn` carriers are not offered as alternatives in a wrong carrier's error: its note
// names what to pass.
#[diagnostic::do_not_recommend]
impl InjectCarrier for dyn Injector + '_ {
    fn as_carrier(&mut self) -> DynInjector<'_> {
        DynInjector::Carrier(self)
    }
}

#[diagnostic::do_not_recommend]
impl InjectCarrier for dyn FnMut(&'static str, String) + '_ {
    fn as_carrier(&mut self) -> DynInjector<'_> {
        DynInjector::Closure(self)
    }
}

#[diagnostic::do_not_recommend]
impl InjectCarrier for dyn FnMut(&'static str, String) + Send + '_ {
    fn as_carrier(&mut self) -> DynInjector<'_> {
        DynInjector::Closure(self)
    }
}

/// A checked `extract` carrier.
#[allow(missing_debug_implementations)] // a carrier of any type; nothing to show
pub struct DynExtractor<'a>(&'a dyn Extractor);

impl Extractor for DynExtractor<'_> {
    fn extract(&self, name: &str) -> Option<std::borrow::Cow<'_, str>> {
        self.0.extract(name)
    }
}

/// A checked `inject` carrier.
#[allow(missing_debug_implementations)] // a carrier of any type; nothing to show
pub enum DynInjector<'a> {
    /// A sized carrier, or one already behind `dyn Injector`.
    Carrier(&'a mut dyn Injector),
    /// A closure behind `dyn FnMut`.
    Closure(&'a mut dyn FnMut(&'static str, String)),
}

impl Injector for DynInjector<'_> {
    fn inject(&mut self, name: &'static str, value: String) {
        match self {
            DynInjector::Carrier(carrier) => carrier.inject(name, value),
            DynInjector::Closure(closure) => closure(name, value),
        }
    }
}

/// A tag value written as `key = expr` or `key = %expr`, whose type picks how it is written:
/// text as it is, an integer with `itoa`, anything else through `Display`. The macros call
/// `(&&TagValue(&value)).tag_into(..)`: method lookup tries the receivers `&&TagValue` (the
/// integer impl), `&&&TagValue` (the text impl), then `&TagValue` (the inherent `Display` one),
/// so the cheapest one the type allows wins.
#[allow(missing_debug_implementations)] // a value of any type; nothing to show
pub struct TagValue<'a, T: ?Sized>(pub &'a T);

/// Text tag values, copied as they are.
pub trait TagAsText {
    /// Tags `span`.
    fn tag_into(&self, span: &mut Span, key: &str);
}

impl<T: AsRef<str> + ?Sized> TagAsText for &&TagValue<'_, T> {
    fn tag_into(&self, span: &mut Span, key: &str) {
        span.tag(key, self.0.as_ref());
    }
}

/// Integer tag values, written with `itoa`.
pub trait TagAsInteger {
    /// Tags `span`.
    fn tag_into(&self, span: &mut Span, key: &str);
}

impl<T: itoa::Integer + Copy> TagAsInteger for &TagValue<'_, T> {
    fn tag_into(&self, span: &mut Span, key: &str) {
        if span.is_recording() {
            span.tag(key, itoa::Buffer::new().format(*self.0));
        }
    }
}

impl<T: ?Sized> TagValue<'_, T> {
    /// Any other `Display` tag value. An inherent method, found last and always: a value that is
    /// not `Display` is then reported as not `Display`, on the user's expression.
    pub fn tag_into(&self, span: &mut Span, key: &str)
    where
        T: Display,
    {
        tag_display(span, key, self.0);
    }
}

/// Tags `span` with `key = expr` or `key = %expr`: formatted only when the span is recorded,
/// into a buffer the thread reuses, so that a tag costs no allocation of its own.
pub fn tag_display<T: Display + ?Sized>(span: &mut Span, key: &str, value: &T) {
    tag_formatted(span, key, format_args!("{value}"));
}

/// As [`tag_display`], for `key = ?expr`.
pub fn tag_debug<T: Debug + ?Sized>(span: &mut Span, key: &str, value: &T) {
    tag_formatted(span, key, format_args!("{value:?}"));
}

fn tag_formatted(span: &mut Span, key: &str, value: std::fmt::Arguments<'_>) {
    use std::cell::RefCell;
    use std::fmt::Write as _;

    thread_local! {
        static BUFFER: RefCell<String> = const { RefCell::new(String::new()) };
    }
    /// A buffer grown past this by one huge value is let go rather than kept for the thread.
    const KEPT_CAPACITY: usize = 4096;

    if !span.is_recording() {
        return;
    }
    // The value's `Display` is the user's code and may tag a span itself: then the buffer is
    // in use, and that tag gets a `String` of its own.
    let tagged = BUFFER.try_with(|buffer| {
        let Ok(mut buffer) = buffer.try_borrow_mut() else {
            return false;
        };
        buffer.clear();
        let _ = buffer.write_fmt(value);
        span.tag(key, buffer.as_str());
        if buffer.capacity() > KEPT_CAPACITY {
            *buffer = String::new();
        }
        true
    });
    if tagged != Ok(true) {
        span.tag(key, value.to_string());
    }
}

/// The `Type::method` operation name of one method, worked out once.
///
/// A default trait method is one function, with one `static`, for every type that implements
/// the trait: the cache keeps the name for the first `Self` it sees, and other types get theirs
/// worked out per call rather than a wrong one.
#[derive(Debug)]
pub struct MethodName(OnceLock<(&'static str, String)>);

impl MethodName {
    /// An empty cache, for a `static`.
    #[allow(clippy::new_without_default)] // only ever built in a `static`
    pub const fn new() -> Self {
        MethodName(OnceLock::new())
    }

    /// `Type::method` for `self_type` (from `std::any::type_name::<Self>()`).
    pub fn get(&'static self, self_type: &'static str, method: &str) -> Cow<'static, str> {
        let (cached_type, name) = self
            .0
            .get_or_init(|| (self_type, method_name(self_type, method)));
        // The same type gives the same `&'static str`, so the pointer check is the fast path.
        if std::ptr::eq(*cached_type, self_type) || *cached_type == self_type {
            Cow::Borrowed(name.as_str())
        } else {
            Cow::Owned(method_name(self_type, method))
        }
    }
}

/// `Type::method` from `std::any::type_name::<Self>()`, without the path or generics.
pub fn method_name(self_type: &str, method: &str) -> String {
    let without_generics = self_type.split('<').next().unwrap_or(self_type);
    let short = without_generics
        .rsplit("::")
        .next()
        .unwrap_or(without_generics);
    format!("{short}::{method}")
}

/// Wraps the future of an `async` function: the span is current while it runs, and `on_ready`
/// sees the output before the span ends.
pub fn instrument<F, O>(future: F, span: Span, on_ready: O) -> Instrumented<F, O>
where
    F: std::future::Future,
    O: FnOnce(&mut Span, &F::Output),
{
    Instrumented::with_outcome(future, span, on_ready)
}

/// A function's return value, for the macros to tell an `Err` apart (by autoref
/// specialisation: the most specific trait whose receiver matches wins).
#[derive(Debug)]
pub struct Outcome<'a, T>(pub &'a T);

/// The traits of [`Outcome`]'s specialisation; the expansion imports them all.
pub mod outcome {
    use super::{Debug, Display, Outcome, Span};

    /// `Err(e)` where `e: Display`: the message is `e`'s `Display`.
    pub trait ErrDisplay {
        /// Records the outcome on the span.
        fn __sw_record(&self, span: &mut Span);
    }

    impl<T, E: Display> ErrDisplay for &&&Outcome<'_, Result<T, E>> {
        fn __sw_record(&self, span: &mut Span) {
            if let Err(error) = self.0 {
                span.error(short_type_name::<E>(), error);
            }
        }
    }

    /// `Err(e)` where `e: Debug`: the message is `e`'s `Debug`.
    pub trait ErrDebug {
        /// Records the outcome on the span.
        fn __sw_record(&self, span: &mut Span);
    }

    impl<T, E: Debug> ErrDebug for &&Outcome<'_, Result<T, E>> {
        fn __sw_record(&self, span: &mut Span) {
            if let Err(error) = self.0 {
                span.error(short_type_name::<E>(), &format_args!("{error:?}"));
            }
        }
    }

    /// `Err(e)` that can't be printed: the span is marked, with the error's type.
    pub trait ErrOpaque {
        /// Records the outcome on the span.
        fn __sw_record(&self, span: &mut Span);
    }

    impl<T, E> ErrOpaque for &Outcome<'_, Result<T, E>> {
        fn __sw_record(&self, span: &mut Span) {
            if self.0.is_err() {
                span.error(short_type_name::<E>(), &"an error that has no message");
            }
        }
    }

    /// Any other value: nothing to record.
    pub trait NotAResult {
        /// Records nothing.
        fn __sw_record(&self, span: &mut Span);
    }

    impl<T> NotAResult for Outcome<'_, T> {
        fn __sw_record(&self, _span: &mut Span) {}
    }

    fn short_type_name<E>() -> &'static str {
        let name = std::any::type_name::<E>();
        let without_generics = name.split('<').next().unwrap_or(name);
        without_generics
            .rsplit("::")
            .next()
            .unwrap_or(without_generics)
    }
}
