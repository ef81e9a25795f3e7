//! What one row of the table in `settings.rs` becomes: the `env` constant, its line in
//! `env::variables()`, the field, its default, its `Debug` line, the getter, the setter and the
//! reading of the variable. Each is written here once, for every row, so that no setting can
//! forget one of them or do it differently.
//!
//! The type in a row's parentheses is what [`Config`](super::Config) stores; the getter and the
//! setter take the form the public API has for that type (`&str` out and `impl Into<String>` in
//! for a `String`, and so on: see [`getter`] and [`setter`]).

/// Turns the table of settings into the configuration's items; see `settings.rs` for a row.
macro_rules! settings {
    ($(
        $(#[$doc:meta])*
        $field:ident($arg:ident: $($ty:tt)+) {
            env: $var:ident = $name:literal,
            kind: $kind:expr,
            default: $default:expr, shown as $shown:literal,
            meaning: $meaning:literal,
            example: $code:expr, env $text:literal => $expected:expr
            $(, with $with:ident($with_code:expr), env $with_var:ident = $with_text:literal)*
            $(,)?
        }
    )*) => {
        /// The names of the variables; [`env`](super::env) re-exports them.
        pub(super) mod names {
            $(
                #[doc = concat!($meaning, ".")]
                #[doc = ""]
                $(#[$doc])*
                #[doc = ""]
                #[doc = concat!(
                    "Read into [`Config::", stringify!($field), "`]",
                    "(crate::config::Config::", stringify!($field), ")",
                    "; the default is `", $shown, "`.",
                )]
                #[doc = ""]
                #[doc = $crate::config::generate::env_example!(
                    $field, $var = $text => $expected $(, $with_var = $with_text)*
                )]
                pub const $var: &str = $name;
            )*
        }

        pub(super) static VARIABLES: &[super::env::EnvVar] = &[$(
            super::env::EnvVar {
                name: names::$var,
                default: $shown,
                meaning: $meaning,
            },
        )*];

        /// One field a row; [`Config`](super::Config) wraps them so that its fields can be
        /// generated here while its definition and documentation stay in `mod.rs`.
        #[derive(Clone, PartialEq)]
        pub(super) struct Values {
            $($field: $($ty)+,)*
        }

        impl Values {
            /// Each row's value from its variable, else from the code, in the table's order;
            /// `get` gives a variable's value, trimmed, or `None` when it is unset or blank.
            pub(super) fn resolve(
                self,
                mut get: impl FnMut(&'static str) -> Option<String>,
            ) -> Result<Self, super::ConfigError> {
                Ok(Self {$(
                    $field: super::kinds::resolve(
                        &$kind,
                        names::$var,
                        get(names::$var),
                        stringify!($field),
                        self.$field,
                    )?,
                )*})
            }
        }

        impl Default for super::Config {
            /// All defaults; the environment is not read.
            fn default() -> Self {
                Self {
                    values: Values {
                        $($field: $default,)*
                    },
                }
            }
        }

        impl std::fmt::Debug for super::Config {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                use super::kinds::Kind as _;
                f.debug_struct("Config")
                    $(.field(stringify!($field), &$kind.debug(&self.values.$field)))*
                    .finish()
            }
        }

        impl super::Config {$(
            $crate::config::generate::getter! {
                #[doc = concat!($meaning, ".")]
                #[doc = ""]
                $(#[$doc])*
                #[doc = ""]
                #[doc = concat!(
                    "Set by [`env::", stringify!($var), "`](crate::config::env::", stringify!($var),
                    ") (default `", $shown, "`) or [`ConfigBuilder::", stringify!($field), "`]",
                    "(crate::config::ConfigBuilder::", stringify!($field), ").",
                )]
                #[doc = ""]
                #[doc = $crate::config::generate::code_example!(
                    $field($code) => $expected $(, $with($with_code))*
                )]
                $field: $($ty)+
            }
        )*}

        impl super::ConfigBuilder {$(
            $crate::config::generate::setter! {
                [
                    #[doc = concat!(
                        "Sets [`Config::", stringify!($field), "`](crate::config::Config::",
                        stringify!($field), "): ", $meaning, "; [`env::", stringify!($var),
                        "`](crate::config::env::", stringify!($var), ") overrides it.",
                    )]
                    #[doc = ""]
                    $(#[$doc])*
                ]
                [
                    #[doc = ""]
                    #[doc = $crate::config::generate::code_example!(
                        $field($code) => $expected $(, $with($with_code))*
                    )]
                ]
                $field($arg: $($ty)+)
            }
        )*}
    };
}

/// The getter of a field, by the type stored: a borrowed view of what is owned, a copy of the
/// rest.
macro_rules! getter {
    (@fn $(#[$doc:meta])* $field:ident -> $out:ty, $view:path) => {
        $(#[$doc])*
        pub fn $field(&self) -> $out {
            $view(&self.values.$field)
        }
    };
    ($(#[$doc:meta])* $field:ident: String) => {
        $crate::config::generate::getter!(@fn $(#[$doc])* $field -> &str, String::as_str);
    };
    ($(#[$doc:meta])* $field:ident: Option<String>) => {
        $crate::config::generate::getter!(@fn $(#[$doc])* $field -> Option<&str>, Option::as_deref);
    };
    ($(#[$doc:meta])* $field:ident: Vec<String>) => {
        $crate::config::generate::getter!(@fn $(#[$doc])* $field -> &[String], Vec::as_slice);
    };
    ($(#[$doc:meta])* $field:ident: Option<PathBuf>) => {
        $crate::config::generate::getter!(@fn $(#[$doc])* $field -> Option<&Path>, Option::as_deref);
    };
    ($(#[$doc:meta])* $field:ident: $copy:ty) => {
        $crate::config::generate::getter!(@fn $(#[$doc])* $field -> $copy, Clone::clone);
    };
}

/// The setter of a field, by the type stored: it takes what is convenient to pass and stores
/// it unchecked, since a value set in code is checked only if no variable overrides it. The first
/// bracket is the documentation before the setter's own note, the second the rest.
macro_rules! setter {
    (@fn $(#[$doc:meta])* $field:ident $(<$generic:ident>)? ($arg:ident: $in:ty)
        $(where [$($bound:tt)+])? => $stored:expr) => {
        $(#[$doc])*
        pub fn $field $(<$generic>)? (mut self, $arg: $in) -> Self $(where $($bound)+)? {
            self.config.values.$field = $stored;
            self
        }
    };
    ([$($head:tt)*] [$($tail:tt)*] $field:ident($arg:ident: String)) => {
        $crate::config::generate::setter!(
            @fn $($head)* $($tail)* $field($arg: impl Into<String>) => $arg.into()
        );
    };
    ([$($head:tt)*] [$($tail:tt)*] $field:ident($arg:ident: Option<String>)) => {
        $crate::config::generate::setter!(
            @fn $($head)* #[doc = ""] #[doc = "An empty string means none."] $($tail)*
            $field($arg: impl Into<String>) => Some($arg.into())
        );
    };
    ([$($head:tt)*] [$($tail:tt)*] $field:ident($arg:ident: Vec<String>)) => {
        $crate::config::generate::setter!(
            @fn $($head)* $($tail)* $field<I>($arg: I) where [I: IntoIterator, I::Item: Into<String>]
            => $arg.into_iter().map(Into::into).collect()
        );
    };
    ([$($head:tt)*] [$($tail:tt)*] $field:ident($arg:ident: Option<PathBuf>)) => {
        $crate::config::generate::setter!(
            @fn $($head)* #[doc = ""] #[doc = "An empty path means none."] $($tail)*
            $field($arg: impl Into<PathBuf>) => Some($arg.into())
        );
    };
    ([$($head:tt)*] [$($tail:tt)*] $field:ident($arg:ident: Option<Duration>)) => {
        $crate::config::generate::setter!(
            @fn $($head)* #[doc = ""] #[doc = "[`Duration::ZERO`] turns it off."] $($tail)*
            $field($arg: Duration) => (!$arg.is_zero()).then_some($arg)
        );
    };
    ([$($head:tt)*] [$($tail:tt)*] $field:ident($arg:ident: $copy:ty)) => {
        $crate::config::generate::setter!(@fn $($head)* $($tail)* $field($arg: $copy) => $arg);
    };
}

/// A doctest that sets the variable (and the one it goes with, if any) and reads the getter.
macro_rules! env_example {
    ($field:ident, $var:ident = $text:literal => $expected:expr
        $(, $with_var:ident = $with_text:literal)*) => {
        concat!(
            "```\n",
            "# use std::{path::Path, time::Duration};\n",
            "use rust2sky::config::{Config, env};\n",
            "\n",
            "let config = Config::builder().build_with_env(|name| match name {\n",
            "    env::", stringify!($var), " => Some(", stringify!($text), ".to_owned()),\n",
            $("    env::", stringify!($with_var), " => Some(", stringify!($with_text), ".to_owned()),\n",)*
            "    _ => None,\n",
            "})?;\n",
            "assert_eq!(config.", stringify!($field), "(), ", stringify!($expected), ");\n",
            "# Ok::<(), rust2sky::config::ConfigError>(())\n",
            "```",
        )
    };
}

/// A doctest that calls the setter (and the one it goes with, if any) and reads the getter.
macro_rules! code_example {
    ($field:ident($code:expr) => $expected:expr $(, $with:ident($with_code:expr))*) => {
        concat!(
            "```\n",
            "# use std::{path::Path, time::Duration};\n",
            "let config = rust2sky::config::Config::builder()\n",
            "    .", stringify!($field), "(", stringify!($code), ")\n",
            $("    .", stringify!($with), "(", stringify!($with_code), ")\n",)*
            "    .build_with_env(|_| None)?;\n",
            "assert_eq!(config.", stringify!($field), "(), ", stringify!($expected), ");\n",
            "# Ok::<(), rust2sky::config::ConfigError>(())\n",
            "```",
        )
    };
}

pub(super) use {code_example, env_example, getter, setter, settings};
