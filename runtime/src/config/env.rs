//! The names of the environment variables the agent reads, and a table describing them.
//!
//! ```
//! use rust2sky::config::env;
//!
//! assert_eq!(env::SERVICE_NAME, "SW_AGENT_NAME");
//! assert!(env::variables().iter().any(|var| var.name == env::SAMPLE));
//! ```

// The names are rows of the table in `settings.rs`, like everything else about a setting.
pub use super::settings::names::*;

/// One environment variable: its name, its default as text and what it means.
///
/// ```
/// use rust2sky::config::env;
///
/// let span_limit = env::variables().iter().find(|var| var.name == env::SPAN_LIMIT);
/// assert_eq!(span_limit.map(|var| var.default), Some("300"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct EnvVar {
    /// The variable's name, e.g. `SW_AGENT_NAME`.
    pub name: &'static str,
    /// The default when neither the code nor the environment sets it, as plain text
    /// (`(unset)` when there is none).
    pub default: &'static str,
    /// What the variable configures, in one sentence.
    pub meaning: &'static str,
}

/// Every environment variable the agent reads, in the order of the README table.
///
/// ```
/// for var in rust2sky::config::env::variables() {
///     println!("| `{}` | {} | {} |", var.name, var.default, var.meaning);
/// }
/// ```
pub fn variables() -> &'static [EnvVar] {
    super::settings::VARIABLES
}
