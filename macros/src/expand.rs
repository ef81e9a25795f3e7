//! Code generation: the user's function, with a span around its body.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{AttrStyle, Expr, FnArg, ItemFn, ReturnType, Stmt};

use crate::args::{Args, ErrFormat, Kind, TagFormat, span_of};
use crate::item::{self, Shape};

/// Names the expansion introduces. `mixed_site` hygiene makes them invisible to the user's code,
/// so the body can't name (or shadow) them.
struct Names {
    span: syn::Ident,
    ret: syn::Ident,
    output: syn::Ident,
}

impl Names {
    fn new() -> Self {
        let at = Span::mixed_site();
        Names {
            span: syn::Ident::new("__sw_span", at),
            ret: syn::Ident::new("__sw_ret", at),
            output: syn::Ident::new("__sw_output", at),
        }
    }
}

/// The traced function.
pub(crate) fn expand(kind: Kind, args: &Args, mut function: ItemFn, shape: Shape) -> TokenStream {
    let krate = match &args.crate_path {
        Some(path) => quote!(#path),
        None => quote!(::rust2sky),
    };
    let names = Names::new();
    let start = start_span(kind, args, &function, &krate, &names);

    // Inner attributes (`#![allow(..)]`) stay at the top of the body.
    let (inner, outer): (Vec<_>, Vec<_>) = std::mem::take(&mut function.attrs)
        .into_iter()
        .partition(|attr| matches!(attr.style, AttrStyle::Inner(_)));
    let body = match shape {
        Shape::Sync => sync_body(args, &function, &krate, &names, &start),
        Shape::Async => async_body(args, &function, &krate, &names, &start),
        Shape::BoxedAsync => boxed_body(args, &function, &krate, &names, &start),
        Shape::ImplFuture => future_body(args, &function, &krate, &names, &start),
    };
    let ItemFn { vis, sig, .. } = &function;
    quote! {
        #(#outer)*
        #vis #sig {
            #(#inner)*
            #body
        }
    }
}

/// Statements that start the span (evaluating every argument expression once, in the function's
/// scope, before the body) and bind it to `names.span`.
fn start_span(
    kind: Kind,
    args: &Args,
    function: &ItemFn,
    krate: &TokenStream,
    names: &Names,
) -> TokenStream {
    let span = &names.span;
    let name = operation_name(args, function, krate);
    let create = match kind {
        Kind::Entry => {
            let headers = match &args.extract {
                Some(expr) => {
                    quote_spanned!(span_of(expr)=> &#krate::__private::extractor(&(#expr)))
                }
                None => quote!(&#krate::__private::NoHeaders),
            };
            quote!(#krate::__private::entry_span(#name, #headers))
        }
        Kind::Local => quote!(#krate::__private::local_span(#name)),
        Kind::Exit => {
            let peer = match &args.peer {
                Some(expr) => quote_spanned!(span_of(expr)=> #expr),
                // Reported as an error already; this keeps the expansion well-formed.
                None => quote!(""),
            };
            let headers = match &args.inject {
                Some(expr) => {
                    quote_spanned!(span_of(expr)=> #krate::__private::injector(&mut *(#expr)))
                }
                None => quote!(#krate::__private::NoHeaders),
            };
            quote!(#krate::__private::exit_span(#name, #peer, &mut #headers))
        }
    };
    let layer = args
        .layer
        .as_ref()
        .map(|layer| quote!(#span.set_layer(#krate::__private::SpanLayer::#layer);));
    let component = args
        .component
        .as_ref()
        .map(|expr| quote_spanned!(span_of(expr)=> #span.set_component(#expr);));
    let tags = args.tags.iter().map(|tag| {
        let key = &tag.key;
        let value = &tag.value;
        // The value's span is the user's expression, so that a missing `Display` or `Debug` is
        // reported there.
        match tag.format {
            TagFormat::Display => {
                // Every token of the call is located at the value (the span and the key through
                // copies of their names), so that the error of a value that is not `Display`
                // underlines the value alone.
                let at = span_of(value);
                let span_here = syn::Ident::new(&span.to_string(), span.span().located_at(at));
                let key = key.clone();
                let key_here = syn::Ident::new("__sw_key", Span::mixed_site().located_at(at));
                let krate_here = located_at(krate, at);
                let call = quote_spanned!(at=>
                    (&&#krate_here::__private::TagValue(&(#value))).tag_into(&mut #span_here, #key_here));
                quote! {{
                    #[allow(unused_imports)]
                    use #krate::__private::{TagAsInteger as _, TagAsText as _};
                    let #key_here: &str = #key;
                    #call;
                }}
            }
            TagFormat::Debug => {
                let value = quote_spanned!(span_of(value)=> &(#value));
                quote!(#krate::__private::tag_debug(&mut #span, #key, #value);)
            }
        }
    });
    quote! {
        #[allow(unused_mut)]
        let mut #span = #create;
        #layer
        #component
        #(#tags)*
    }
}

/// `tokens` as written, located at `at` (their hygiene unchanged).
fn located_at(tokens: &TokenStream, at: Span) -> TokenStream {
    tokens
        .clone()
        .into_iter()
        .map(|mut token| {
            token.set_span(token.span().located_at(at));
            token
        })
        .collect()
}

/// The operation name: `name = ...`, else `Type::method` for a method with a receiver, else the
/// function's name.
fn operation_name(args: &Args, function: &ItemFn, krate: &TokenStream) -> TokenStream {
    if let Some(expr) = &args.name {
        return quote_spanned!(span_of(expr)=> #expr);
    }
    let method = function.sig.ident.to_string();
    let has_receiver = matches!(function.sig.inputs.first(), Some(FnArg::Receiver(_)));
    if !has_receiver {
        return quote!(#method);
    }
    // `Self` names the type in a method. The static is shared by every `Self` of a default trait
    // method, so the cache checks which type it holds.
    quote! {{
        static NAME: #krate::__private::MethodName = #krate::__private::MethodName::new();
        NAME.get(::core::any::type_name::<Self>(), #method)
    }}
}

/// The call that records a returned `Err` on the span (autoref specialisation picks `Display`,
/// then `Debug`, then just the mark; anything that is not a `Result` records nothing).
fn record_outcome(
    args: &Args,
    krate: &TokenStream,
    span: &TokenStream,
    value: &TokenStream,
) -> TokenStream {
    let outcome = match args.err {
        // `__sw_record` takes `&self`, so a receiver with N references first finds the impl
        // for N - 1 of them: four reach `ErrDisplay`, three start at `ErrDebug`.
        Some(ErrFormat::Debug) => quote!((&&&#krate::__private::Outcome(#value))),
        Some(ErrFormat::Display) | None => quote!((&&&&#krate::__private::Outcome(#value))),
    };
    quote! {{
        #[allow(unused_imports)]
        use #krate::__private::outcome::{ErrDebug as _, ErrDisplay as _, ErrOpaque as _, NotAResult as _};
        #outcome.__sw_record(#span);
    }}
}

/// The declared return type, where it can be written in a `let` (not `impl Trait`).
fn declared_output(function: &ItemFn) -> Option<TokenStream> {
    match &function.sig.output {
        ReturnType::Default => Some(quote!(())),
        ReturnType::Type(_, ty) if !item::contains_impl_trait(ty) => {
            Some(quote_spanned!(ty.span()=> #ty))
        }
        ReturnType::Type(..) => None,
    }
}

fn sync_body(
    args: &Args,
    function: &ItemFn,
    krate: &TokenStream,
    names: &Names,
    start: &TokenStream,
) -> TokenStream {
    let span = &names.span;
    let block = &function.block;
    let inspect = args.err.is_some() || item::returns_result(&function.sig.output);
    if !inspect {
        // A guard is enough: it ends the span however the body leaves, `return`, `?` or panic.
        return quote! {
            #start
            let #span = #span.entered();
            #block
        };
    }
    // The value is inspected, so the body runs in a closure whose value we can look at.
    let ret = &names.ret;
    let typed = declared_output(function).map(|ty| quote!(-> #ty));
    let record = record_outcome(args, krate, &quote!(&mut *#span), &quote!(&#ret));
    quote! {
        #start
        let mut #span = #span.entered();
        #[allow(clippy::redundant_closure_call)]
        let #ret = (move || #typed #block)();
        #record
        #ret
    }
}

fn async_body(
    args: &Args,
    function: &ItemFn,
    krate: &TokenStream,
    names: &Names,
    start: &TokenStream,
) -> TokenStream {
    let block = &function.block;
    let ret = &names.ret;
    // A typed `let` keeps a mismatched `return` reported on the user's line.
    // The first `return` fixes the block's type to the declared one, so that a mismatched
    // `return` in the body is reported on the user's expression; the typed `let` does the same
    // for the tail.
    let inner = match declared_output(function) {
        Some(ty) => quote! {
            async move {
                #[allow(unreachable_code, clippy::diverging_sub_expression)]
                if let ::core::option::Option::Some(#ret) = ::core::option::Option::None::<#ty> {
                    return #ret;
                }
                let #ret: #ty = #block;
                #ret
            }
        },
        None => quote!(async move #block),
    };
    let instrumented = instrumented(args, krate, names, &inner);
    quote! {
        #start
        #instrumented.await
    }
}

fn boxed_body(
    args: &Args,
    function: &ItemFn,
    krate: &TokenStream,
    names: &Names,
    start: &TokenStream,
) -> TokenStream {
    let mut stmts = function.block.stmts.clone();
    let Some(Stmt::Expr(Expr::Call(mut call), None)) = stmts.pop() else {
        // `shape_of` only gives `BoxedAsync` for a body that ends in such a call.
        return sync_body(args, function, krate, names, start);
    };
    let Some(mut block) = call.args.pop().map(|pair| pair.into_value()) else {
        return sync_body(args, function, krate, names, start);
    };
    if let Expr::Async(future) = &mut block {
        mark_used_in_attribute(&mut future.block, start);
    }
    let instrumented = instrumented(args, krate, names, &quote!(#block));
    call.args.push(syn::parse_quote!(#instrumented));
    quote! {
        #(#stmts)*
        #start
        #call
    }
}

/// `#[async_trait]` moves each argument into its `async` block (`let meta = meta;`); an argument
/// that only the attribute reads (`extract = &meta`, evaluated before the block) would then be
/// reported as an unused variable there. A `let _ = &meta;` after those moves uses it.
fn mark_used_in_attribute(block: &mut syn::Block, attribute: &TokenStream) {
    let mut named = std::collections::HashSet::new();
    collect_idents(attribute.clone(), &mut named);
    // The moves come first, after `#[async_trait]`'s return-type check (`if let .. { return }`).
    let mut moves_end = 0;
    let mut used = Vec::new();
    for (index, stmt) in block.stmts.iter().enumerate() {
        match stmt {
            Stmt::Expr(Expr::If(_), _) if index == 0 => {}
            Stmt::Local(local) => match moved_argument(local) {
                Some(ident) => {
                    if named.contains(&ident.to_string()) {
                        used.push(ident.clone());
                    }
                }
                None => break,
            },
            _ => break,
        }
        moves_end = index + 1;
    }
    let uses = used
        .into_iter()
        .map(|ident| syn::parse_quote!(let _ = &#ident;));
    block.stmts.splice(moves_end..moves_end, uses);
}

/// `x` of a `let x = x;`, `let mut x = x;` or `let __self = self;`.
fn moved_argument(local: &syn::Local) -> Option<&syn::Ident> {
    let syn::Pat::Ident(pattern) = &local.pat else {
        return None;
    };
    let Some(Expr::Path(init)) = local.init.as_ref().map(|init| &*init.expr) else {
        return None;
    };
    init.path.get_ident().map(|_| &pattern.ident)
}

fn collect_idents(tokens: TokenStream, into: &mut std::collections::HashSet<String>) {
    for token in tokens {
        match token {
            proc_macro2::TokenTree::Ident(ident) => {
                into.insert(ident.to_string());
            }
            proc_macro2::TokenTree::Group(group) => collect_idents(group.stream(), into),
            _ => {}
        }
    }
}

fn future_body(
    args: &Args,
    function: &ItemFn,
    krate: &TokenStream,
    names: &Names,
    start: &TokenStream,
) -> TokenStream {
    let block = &function.block;
    let output = &names.output;
    let instrumented = instrumented(args, krate, names, &quote!(#output));
    quote! {
        #start
        #[allow(clippy::redundant_closure_call)]
        let #output = (move || #block)();
        #instrumented
    }
}

/// `future` wrapped so that the span is current while it runs and sees its output.
fn instrumented(
    args: &Args,
    krate: &TokenStream,
    names: &Names,
    future: &TokenStream,
) -> TokenStream {
    let span = &names.span;
    let ret = &names.ret;
    let record = record_outcome(args, krate, &quote!(#span), &quote!(#ret));
    // The closure is written in the call, so that its argument types come from `instrument`'s
    // bound, which the outcome's specialisation needs.
    quote! {
        #krate::__private::instrument(#future, #span, |#span, #ret| #record)
    }
}
