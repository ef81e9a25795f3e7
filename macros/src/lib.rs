//! Attribute macros of rust2sky: `#[sw_entry]`, `#[sw_local]` and `#[sw_exit]`.
//!
//! Users never depend on this crate directly: they depend on `rust2sky`, which re-exports the
//! macros and documents them; the expansion only calls `::rust2sky::__private`.

mod args;
mod expand;
mod item;

use proc_macro::TokenStream;

use crate::args::Kind;

/// Traces a function as an entry span: the server side of a request. See `rust2sky::sw_entry`.
#[proc_macro_attribute]
pub fn sw_entry(args: TokenStream, item: TokenStream) -> TokenStream {
    trace(Kind::Entry, args.into(), item.into()).into()
}

/// Traces a function as a local span: in-process work. See `rust2sky::sw_local`.
#[proc_macro_attribute]
pub fn sw_local(args: TokenStream, item: TokenStream) -> TokenStream {
    trace(Kind::Local, args.into(), item.into()).into()
}

/// Traces a function as an exit span: a call to another service. See `rust2sky::sw_exit`.
#[proc_macro_attribute]
pub fn sw_exit(args: TokenStream, item: TokenStream) -> TokenStream {
    trace(Kind::Exit, args.into(), item.into()).into()
}

fn trace(
    kind: Kind,
    args: proc_macro2::TokenStream,
    item: proc_macro2::TokenStream,
) -> proc_macro2::TokenStream {
    let parsed_args = args::parse(kind, args);
    let parsed_item = item::parse(kind.attribute(), item.clone());
    match (parsed_args, parsed_item) {
        (Ok(args), Ok((function, shape))) if cfg!(feature = "enable") => {
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
