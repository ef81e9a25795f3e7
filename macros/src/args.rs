//! The attribute's arguments: `name = ..., tags(...), layer = ..., component = ..., err, crate = ...`,
//! plus `extract` (entry), `peer` and `inject` (exit).

use proc_macro2::{Span, TokenStream, TokenTree};
use syn::parse::{Parse, ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Expr, Ident, Lit, LitStr, Path, Token, parenthesized};

mod kw {
    syn::custom_keyword!(name);
    syn::custom_keyword!(tags);
    syn::custom_keyword!(layer);
    syn::custom_keyword!(component);
    syn::custom_keyword!(err);
    syn::custom_keyword!(extract);
    syn::custom_keyword!(inject);
    syn::custom_keyword!(peer);
    syn::custom_keyword!(Debug);
    syn::custom_keyword!(Display);
}

/// Which attribute is being expanded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Entry,
    Local,
    Exit,
}

impl Kind {
    pub(crate) fn attribute(self) -> &'static str {
        match self {
            Kind::Entry => "#[sw_entry]",
            Kind::Local => "#[sw_local]",
            Kind::Exit => "#[sw_exit]",
        }
    }
}

/// How a returned `Err` is written into the span's error log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrFormat {
    Display,
    Debug,
}

/// How a tag value is turned into text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TagFormat {
    /// `key = expr` and `key = %expr`: `Display`.
    Display,
    /// `key = ?expr`: `Debug`.
    Debug,
}

pub(crate) struct Tag {
    pub(crate) key: LitStr,
    pub(crate) format: TagFormat,
    pub(crate) value: Expr,
}

/// The span layers a user may name, with the proto enum variant each means.
const LAYERS: &[(&str, &str)] = &[
    ("Unknown", "Unknown"),
    ("Database", "Database"),
    ("RPCFramework", "RpcFramework"),
    ("RpcFramework", "RpcFramework"),
    ("Http", "Http"),
    ("MQ", "Mq"),
    ("Mq", "Mq"),
    ("Cache", "Cache"),
    ("FAAS", "Faas"),
    ("Faas", "Faas"),
    ("GenAI", "GenAi"),
    ("GenAi", "GenAi"),
];

/// The parsed arguments of one attribute.
#[derive(Default)]
pub(crate) struct Args {
    pub(crate) name: Option<Expr>,
    pub(crate) tags: Vec<Tag>,
    /// The `SpanLayer` variant, spanned at the user's identifier.
    pub(crate) layer: Option<Ident>,
    pub(crate) component: Option<Expr>,
    pub(crate) err: Option<ErrFormat>,
    pub(crate) crate_path: Option<Path>,
    pub(crate) extract: Option<Expr>,
    pub(crate) inject: Option<Expr>,
    pub(crate) peer: Option<Expr>,
}

/// One `key ...` argument, before it is checked against the attribute kind.
enum Arg {
    Name(Span, Expr),
    Tags(Span, Vec<Tag>),
    Layer(Span, Ident),
    Component(Span, Expr),
    Err(Span, ErrFormat),
    Crate(Span, Path),
    Extract(Span, Expr),
    Inject(Span, Expr),
    Peer(Span, Expr),
}

impl Arg {
    fn key(&self) -> (&'static str, Span) {
        match self {
            Arg::Name(span, _) => ("name", *span),
            Arg::Tags(span, _) => ("tags", *span),
            Arg::Layer(span, _) => ("layer", *span),
            Arg::Component(span, _) => ("component", *span),
            Arg::Err(span, _) => ("err", *span),
            Arg::Crate(span, _) => ("crate", *span),
            Arg::Extract(span, _) => ("extract", *span),
            Arg::Inject(span, _) => ("inject", *span),
            Arg::Peer(span, _) => ("peer", *span),
        }
    }
}

impl Parse for Arg {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let lookahead = input.lookahead1();
        if lookahead.peek(kw::name) {
            let key = input.parse::<kw::name>()?;
            input.parse::<Token![=]>()?;
            let value: Expr = input.parse()?;
            if let Expr::Lit(literal) = &value
                && !matches!(literal.lit, Lit::Str(_))
            {
                return Err(syn::Error::new(
                    literal.lit.span(),
                    "`name` must be a string literal or an expression that gives a string",
                ));
            }
            Ok(Arg::Name(key.span, value))
        } else if lookahead.peek(kw::tags) {
            let key = input.parse::<kw::tags>()?;
            let content;
            parenthesized!(content in input);
            let tags = Punctuated::<Tag, Token![,]>::parse_terminated(&content)?;
            Ok(Arg::Tags(key.span, tags.into_iter().collect()))
        } else if lookahead.peek(kw::layer) {
            let key = input.parse::<kw::layer>()?;
            input.parse::<Token![=]>()?;
            let layer: Ident = input.parse()?;
            let Some((_, variant)) = LAYERS.iter().find(|(name, _)| layer == name) else {
                return Err(syn::Error::new(
                    layer.span(),
                    "unknown layer; expected one of `Http`, `Database`, `RPCFramework`, `MQ`, \
                     `Cache`, `FAAS`, `GenAI`, `Unknown`",
                ));
            };
            Ok(Arg::Layer(key.span, Ident::new(variant, layer.span())))
        } else if lookahead.peek(kw::component) {
            let key = input.parse::<kw::component>()?;
            input.parse::<Token![=]>()?;
            Ok(Arg::Component(key.span, input.parse()?))
        } else if lookahead.peek(kw::err) {
            let key = input.parse::<kw::err>()?;
            let format = if input.peek(syn::token::Paren) {
                let content;
                parenthesized!(content in input);
                let lookahead = content.lookahead1();
                if lookahead.peek(kw::Debug) {
                    content.parse::<kw::Debug>()?;
                    ErrFormat::Debug
                } else if lookahead.peek(kw::Display) {
                    content.parse::<kw::Display>()?;
                    ErrFormat::Display
                } else {
                    return Err(lookahead.error());
                }
            } else {
                ErrFormat::Display
            };
            Ok(Arg::Err(key.span, format))
        } else if lookahead.peek(Token![crate]) {
            let key = input.parse::<Token![crate]>()?;
            input.parse::<Token![=]>()?;
            Ok(Arg::Crate(key.span, input.parse()?))
        } else if lookahead.peek(kw::extract) {
            let key = input.parse::<kw::extract>()?;
            input.parse::<Token![=]>()?;
            Ok(Arg::Extract(key.span, input.parse()?))
        } else if lookahead.peek(kw::inject) {
            let key = input.parse::<kw::inject>()?;
            input.parse::<Token![=]>()?;
            Ok(Arg::Inject(key.span, input.parse()?))
        } else if lookahead.peek(kw::peer) {
            let key = input.parse::<kw::peer>()?;
            input.parse::<Token![=]>()?;
            Ok(Arg::Peer(key.span, input.parse()?))
        } else {
            Err(lookahead.error())
        }
    }
}

impl Parse for Tag {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let key = if input.peek(LitStr) {
            input.parse::<LitStr>()?
        } else {
            let ident = input.call(Ident::parse_any_ident)?;
            LitStr::new(&ident.to_string(), ident.span())
        };
        if key.value().is_empty() {
            return Err(syn::Error::new(key.span(), "a tag key must not be empty"));
        }
        input.parse::<Token![=]>()?;
        let format = if input.peek(Token![%]) {
            input.parse::<Token![%]>()?;
            TagFormat::Display
        } else if input.peek(Token![?]) {
            input.parse::<Token![?]>()?;
            TagFormat::Debug
        } else {
            TagFormat::Display
        };
        Ok(Tag {
            key,
            format,
            value: input.parse()?,
        })
    }
}

trait ParseAnyIdent {
    fn parse_any_ident(input: ParseStream<'_>) -> syn::Result<Ident>;
}

impl ParseAnyIdent for Ident {
    fn parse_any_ident(input: ParseStream<'_>) -> syn::Result<Ident> {
        use syn::ext::IdentExt;
        Ident::parse_any(input)
    }
}

/// Splits the attribute's tokens at top-level commas, so that each argument is parsed on its
/// own and every bad one is reported, not just the first.
fn split_at_commas(tokens: TokenStream) -> Vec<TokenStream> {
    let mut parts = vec![TokenStream::new()];
    for token in tokens {
        match &token {
            TokenTree::Punct(punct) if punct.as_char() == ',' => parts.push(TokenStream::new()),
            _ => parts
                .last_mut()
                .into_iter()
                .for_each(|part| part.extend([token.clone()])),
        }
    }
    parts.retain(|part| !part.is_empty());
    parts
}

/// Parses the attribute's arguments for `kind`, collecting every error into one.
pub(crate) fn parse(kind: Kind, tokens: TokenStream) -> Result<Args, syn::Error> {
    let mut errors: Option<syn::Error> = None;
    let mut push = |error: syn::Error| match &mut errors {
        Some(errors) => errors.combine(error),
        None => errors = Some(error),
    };

    let mut args = Args::default();
    let mut seen: Vec<&'static str> = Vec::new();
    for part in split_at_commas(tokens) {
        let arg = match Arg::parse.parse2(part) {
            Ok(arg) => arg,
            Err(error) => {
                push(error);
                continue;
            }
        };
        let (key, span) = arg.key();
        if seen.contains(&key) {
            push(syn::Error::new(span, format!("`{key}` is given twice")));
            continue;
        }
        seen.push(key);
        let misplaced = |allowed: &str| {
            syn::Error::new(
                span,
                format!(
                    "`{key}` is not an argument of {}; {allowed}",
                    kind.attribute()
                ),
            )
        };
        match arg {
            Arg::Name(_, value) => args.name = Some(value),
            Arg::Tags(_, tags) => args.tags = tags,
            Arg::Layer(_, layer) => args.layer = Some(layer),
            Arg::Component(_, value) => args.component = Some(value),
            Arg::Err(_, format) => args.err = Some(format),
            Arg::Crate(_, path) => args.crate_path = Some(path),
            Arg::Extract(_, value) if kind == Kind::Entry => args.extract = Some(value),
            Arg::Extract(..) => push(misplaced(
                "only #[sw_entry] reads incoming headers (an exit span writes them with `inject`)",
            )),
            Arg::Inject(_, value) if kind == Kind::Exit => args.inject = Some(value),
            Arg::Inject(..) => push(misplaced(
                "only #[sw_exit] writes outgoing headers (an entry span reads them with `extract`)",
            )),
            Arg::Peer(_, value) if kind == Kind::Exit => args.peer = Some(value),
            Arg::Peer(..) => push(misplaced("only #[sw_exit] calls a peer")),
        }
    }
    if kind == Kind::Exit && args.peer.is_none() && !seen.contains(&"peer") {
        push(syn::Error::new(
            Span::call_site(),
            "#[sw_exit] needs `peer = ...`: the address the call goes to, e.g. \
             `peer = \"users:8080\"`",
        ));
    }
    match errors {
        Some(errors) => Err(errors),
        None => Ok(args),
    }
}

/// The span of an expression, for errors and `quote_spanned!`.
pub(crate) fn span_of(expr: &Expr) -> Span {
    expr.span()
}
