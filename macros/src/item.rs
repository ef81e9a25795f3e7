//! What kind of function the attribute is on, and whether it can be traced at all.

use proc_macro2::TokenStream;
use syn::spanned::Spanned;
use syn::{Expr, ExprAsync, ItemFn, ReturnType, Signature, Stmt, Type};

/// How the function produces its result, which decides where the span starts and ends.
pub(crate) enum Shape {
    /// A plain function: the span covers the call.
    Sync,
    /// An `async fn`: the span covers the future, from its first poll to its completion.
    Async,
    /// A function whose body ends in `Box::pin(async move { .. })`, as `#[async_trait]` writes
    /// every method: the span covers the boxed future.
    BoxedAsync,
    /// A function returning `impl Future`: the span covers the returned future.
    ImplFuture,
}

/// Parses the annotated item as a function the attributes can trace.
///
/// Anything else is an error pointing at the keyword at fault: a non-function item, a `const fn`
/// (a span can't be recorded at compile time), or an `extern "C" fn` (a panic must not unwind
/// out of it through our guard).
pub(crate) fn parse(attribute: &str, tokens: TokenStream) -> Result<(ItemFn, Shape), syn::Error> {
    let function: ItemFn = syn::parse2(tokens.clone()).map_err(|_| {
        let at = tokens.into_iter().find(|token| {
            !matches!(token, proc_macro2::TokenTree::Punct(p) if p.as_char() == '#')
                && !matches!(token, proc_macro2::TokenTree::Group(_))
        });
        let span = at.map_or_else(proc_macro2::Span::call_site, |token| token.span());
        syn::Error::new(
            span,
            format!("{attribute} can only be applied to a function"),
        )
    })?;
    check_signature(attribute, &function.sig)?;
    let shape = shape_of(&function);
    Ok((function, shape))
}

fn check_signature(attribute: &str, signature: &Signature) -> Result<(), syn::Error> {
    if let Some(constness) = &signature.constness {
        return Err(syn::Error::new(
            constness.span,
            format!("{attribute} can't trace a `const fn`: spans are recorded at run time"),
        ));
    }
    if let Some(abi) = &signature.abi {
        return Err(syn::Error::new(
            abi.span(),
            format!(
                "{attribute} can't trace an `extern` function: a panic must not unwind out of it"
            ),
        ));
    }
    Ok(())
}

fn shape_of(function: &ItemFn) -> Shape {
    if function.sig.asyncness.is_some() {
        Shape::Async
    } else if boxed_async_block(function).is_some() {
        Shape::BoxedAsync
    } else if returns_impl_future(&function.sig.output) {
        Shape::ImplFuture
    } else {
        Shape::Sync
    }
}

/// The `async` block of a body that ends in `Box::pin(async move { .. })`.
pub(crate) fn boxed_async_block(function: &ItemFn) -> Option<&ExprAsync> {
    let Some(Stmt::Expr(Expr::Call(call), None)) = function.block.stmts.last() else {
        return None;
    };
    let Expr::Path(callee) = &*call.func else {
        return None;
    };
    let segments: Vec<String> = callee
        .path
        .segments
        .iter()
        .map(|segment| segment.ident.to_string())
        .collect();
    if !segments.ends_with(&["Box".to_owned(), "pin".to_owned()]) || call.args.len() != 1 {
        return None;
    }
    match call.args.first() {
        Some(Expr::Async(block)) => Some(block),
        _ => None,
    }
}

fn returns_impl_future(output: &ReturnType) -> bool {
    let ReturnType::Type(_, ty) = output else {
        return false;
    };
    let Type::ImplTrait(impl_trait) = &**ty else {
        return false;
    };
    impl_trait.bounds.iter().any(|bound| match bound {
        syn::TypeParamBound::Trait(bound) => bound
            .path
            .segments
            .last()
            .is_some_and(|segment| segment.ident == "Future"),
        _ => false,
    })
}

/// Whether the declared return type is a `Result` (by its last path segment, so `io::Result<T>`
/// and `anyhow::Result<T>` count), the case where a sync function's value is inspected.
pub(crate) fn returns_result(output: &ReturnType) -> bool {
    let ReturnType::Type(_, ty) = output else {
        return false;
    };
    let Type::Path(path) = &**ty else {
        return false;
    };
    path.path
        .segments
        .last()
        .is_some_and(|segment| segment.ident == "Result")
}

/// Whether a type mentions `impl Trait` anywhere, in which case it can't be written in a `let`.
pub(crate) fn contains_impl_trait(ty: &Type) -> bool {
    struct Finder(bool);
    impl<'ast> syn::visit::Visit<'ast> for Finder {
        fn visit_type_impl_trait(&mut self, _: &'ast syn::TypeImplTrait) {
            self.0 = true;
        }
    }
    let mut finder = Finder(false);
    syn::visit::visit_type(&mut finder, ty);
    finder.0
}
