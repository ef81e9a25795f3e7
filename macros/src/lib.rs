//! Attribute macros of rust2sky: `#[sw_entry]`, `#[sw_local]` and `#[sw_exit]`.
//!
//! Users never depend on this crate directly: they depend on `rust2sky`, which re-exports the
//! macros and documents them; the expansion only calls `::rust2sky::__private`.

mod args;
mod expand;
mod item;

use proc_macro::TokenStream;

use crate::args::Kind;

/// Traces a function as an entry span: the server side of a request.
///
/// The span reads the caller's context from the headers given by `extract` (any
/// `rust2sky::propagation::Extractor`: an `http::HeaderMap`, tonic's `MetadataMap`, a
/// `HashMap<String, String>`, a closure `Fn(&str) -> Option<String>`, or a reference to one);
/// without `extract` it starts a new trace (or is a child of the current span). It ends when the
/// function returns, or for an `async fn` when its future completes; a returned `Err` and a panic
/// mark it as an error.
///
/// ```
/// use std::collections::HashMap;
/// use rust2sky::sw_entry;
///
/// #[sw_entry(extract = headers, name = format!("GET:{route}"), layer = Http, tags("http.method" = "GET"))]
/// fn handle(headers: &HashMap<String, String>, route: &str) -> String {
///     format!("hello from {route}")
/// }
///
/// # let reporter = rust2sky::reporter::MemoryReporter::new();
/// # let tracer = rust2sky::Tracer::new(rust2sky::config::Config::default(), reporter.clone());
/// # tracer.in_scope(|| {
/// assert_eq!(handle(&HashMap::new(), "/hello"), "hello from /hello");
/// # });
/// # assert_eq!(reporter.segments()[0].spans[0].operation_name, "GET:/hello");
/// ```
///
/// Arguments, all optional:
/// - `extract = expr`: the incoming headers;
/// - `name = "literal"` or `name = expr`: the operation name (default: the function's name, or
///   `Type::method` for a method with a `self` receiver);
/// - `tags(key = expr, "dotted.key" = %expr, other = ?expr)`: tags, from `Display` (plain or `%`)
///   or `Debug` (`?`) values;
/// - `layer = Http | Database | RPCFramework | MQ | Cache | FAAS | GenAI | Unknown`;
/// - `component = expr`: a component id (see `rust2sky::component`);
/// - `err` or `err(Debug)`: how a returned `Err` is written in the span's log (`Display` by
///   default, `Debug` with `err(Debug)`). A function whose return type is a `Result` is always
///   inspected; `err` also inspects other return types (an alias of `Result`, say);
/// - `crate = path`: where `rust2sky` is, if the dependency is renamed.
///
/// Argument expressions are evaluated once, before the body, in the function's scope: they may
/// use its arguments, and do not move them.
#[proc_macro_attribute]
pub fn sw_entry(args: TokenStream, item: TokenStream) -> TokenStream {
    trace(Kind::Entry, args.into(), item.into()).into()
}

/// Traces a function as a local span: in-process work, a child of the current span.
///
/// ```
/// use rust2sky::sw_local;
///
/// #[sw_local(tags(items = items.len()))]
/// fn price(items: &[u32]) -> u32 {
///     items.iter().sum()
/// }
///
/// #[sw_local(name = "parse quantity")]
/// fn parse(raw: &str) -> Result<u32, std::num::ParseIntError> {
///     raw.parse() // an `Err` marks the span as an error, with the error's message
/// }
///
/// # let reporter = rust2sky::reporter::MemoryReporter::new();
/// # let tracer = rust2sky::Tracer::new(rust2sky::config::Config::default(), reporter.clone());
/// # tracer.in_scope(|| {
/// assert_eq!(price(&[1, 2]), 3);
/// assert!(parse("x").is_err());
/// # });
/// # let segments = reporter.segments();
/// # assert!(segments[1].spans[0].is_error);
/// ```
///
/// Arguments: `name`, `tags`, `layer`, `component`, `err`, `crate`, as for `#[sw_entry]`.
#[proc_macro_attribute]
pub fn sw_local(args: TokenStream, item: TokenStream) -> TokenStream {
    trace(Kind::Local, args.into(), item.into()).into()
}

/// Traces a function as an exit span: a call from this service to `peer`.
///
/// `peer = expr` is required: the address the call goes to (`host:port`), which OAP uses to join
/// the two ends of the call. With `inject = expr` (a `&mut` to any
/// `rust2sky::propagation::Injector`: an `http::HeaderMap`, tonic's `MetadataMap`, a
/// `HashMap<String, String>`, ...) the span writes the `sw8` headers there before the body runs;
/// a body that builds its own request can call `rust2sky::outgoing_headers()` instead. The body
/// tags its own span (the status its call got, say) through `rust2sky::with_active_span`.
///
/// ```
/// use std::collections::HashMap;
/// use rust2sky::sw_exit;
///
/// #[sw_exit(peer = "users:8080", inject = headers, layer = Http, component = rust2sky::component::HTTP_CLIENT)]
/// async fn fetch_user(id: u64, headers: &mut HashMap<String, String>) -> Result<String, String> {
///     // send the request with `headers`, which now hold `sw8`
///     Ok(format!("user {id}"))
/// }
///
/// #[sw_exit(peer = format!("{host}:80"), name = "GET:/status")]
/// fn status(host: &str) -> Vec<(&'static str, String)> {
///     let headers = rust2sky::outgoing_headers(); // the headers for this call
///     rust2sky::with_active_span(|span| {
///         span.tag(rust2sky::tags::HTTP_STATUS_CODE, "200"); // the answer's status
///     });
///     headers
/// }
///
/// # let reporter = rust2sky::reporter::MemoryReporter::new();
/// # let tracer = rust2sky::Tracer::new(rust2sky::config::Config::default(), reporter.clone());
/// # tracer.in_scope(|| {
/// let mut headers = HashMap::new();
/// # let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// # runtime.block_on(async {
/// assert_eq!(fetch_user(7, &mut headers).await.unwrap(), "user 7");
/// # });
/// assert!(headers.contains_key("sw8"));
/// assert_eq!(status("health")[0].0, "sw8");
/// # });
/// # let status_span = &reporter.segments()[1].spans[0];
/// # assert_eq!(status_span.tags[0].value, "200");
/// ```
///
/// Arguments: `peer` (required), `inject`, and `name`, `tags`, `layer`, `component`, `err`,
/// `crate` as for `#[sw_entry]`.
#[proc_macro_attribute]
pub fn sw_exit(args: TokenStream, item: TokenStream) -> TokenStream {
    trace(Kind::Exit, args.into(), item.into()).into()
}

fn trace(
    kind: Kind,
    args: proc_macro2::TokenStream,
    item: proc_macro2::TokenStream,
) -> proc_macro2::TokenStream {
    expand_or_keep(cfg!(feature = "enable"), kind, args, item)
}

/// The expansion when tracing is `enabled`, else the item unchanged; errors either way.
fn expand_or_keep(
    enabled: bool,
    kind: Kind,
    args: proc_macro2::TokenStream,
    item: proc_macro2::TokenStream,
) -> proc_macro2::TokenStream {
    let parsed_args = args::parse(kind, args);
    let parsed_item = item::parse(kind.attribute(), item.clone());
    match (parsed_args, parsed_item) {
        (Ok(args), Ok((function, shape))) if enabled => {
            expand::expand(kind, &args, function, shape)
        }
        // Tracing is compiled out: the function stays as it is (its arguments were checked).
        (Ok(_), Ok(_)) => item,
        // On any error the function is still emitted unchanged, so that the macro's error is the
        // only one its callers see.
        (args, function) => {
            let mut errors = args.err();
            if let Err(error) = function {
                match &mut errors {
                    Some(errors) => errors.combine(error),
                    None => errors = Some(error),
                }
            }
            let errors = errors.map(|errors| errors.to_compile_error());
            quote::quote!(#errors #item)
        }
    }
}

#[cfg(test)]
mod tests {
    use quote::quote;

    use super::*;

    #[test]
    fn without_the_enable_feature_the_function_is_unchanged() {
        let item = quote! {
            async fn fetch(id: u64) -> Result<String, String> { Ok(id.to_string()) }
        };
        let kept = expand_or_keep(false, Kind::Exit, quote!(peer = "users:80"), item.clone());
        assert_eq!(kept.to_string(), item.to_string());
        let traced = expand_or_keep(true, Kind::Exit, quote!(peer = "users:80"), item.clone());
        assert!(traced.to_string().contains("exit_span"), "{traced}");
    }

    #[test]
    fn without_the_enable_feature_arguments_are_still_checked() {
        let item = quote!(
            fn work() {}
        );
        let checked = expand_or_keep(false, Kind::Local, quote!(peer = "x:1"), item);
        let text = checked.to_string();
        assert!(text.contains("compile_error"), "{text}");
        assert!(text.contains("fn work"), "{text}");
    }
}
