//! The `sw8-x` extension header.

use std::fmt;

/// The contents of an `sw8-x` header: `<tracing mode>-<send timestamp>`, neither part Base64.
///
/// ```
/// use rust2sky::propagation::Sw8x;
///
/// let x = Sw8x::decode("1-1735689600123")?;
/// assert!(x.skip_analysis);
/// assert_eq!(x.send_time_ms, Some(1735689600123));
/// assert_eq!(x.encode(), "1-1735689600123");
/// # Ok::<(), rust2sky::propagation::Sw8xError>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Sw8x {
    /// Tracing mode `1`: every span of this trace asks OAP to skip analysis, downstream too.
    pub skip_analysis: bool,
    /// When the sender sent the message, in epoch milliseconds (set per message by MQ producers).
    pub send_time_ms: Option<i64>,
}

/// Why an `sw8-x` value was rejected; a receiver ignores such a header.
///
/// ```
/// use rust2sky::propagation::{Sw8x, Sw8xError};
///
/// let error = Sw8x::decode("1-yesterday").unwrap_err();
/// assert_eq!(error, Sw8xError::Timestamp);
/// assert_eq!(error.to_string(), "sw8-x send timestamp is not a number of milliseconds");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Sw8xError {
    /// The tracing mode is not empty, `0` or `1`.
    #[error("sw8-x tracing mode is not `0` or `1`")]
    TracingMode,
    /// The timestamp is not empty and not a non-negative decimal integer.
    #[error("sw8-x send timestamp is not a number of milliseconds")]
    Timestamp,
}

impl Sw8x {
    /// Reads an `sw8-x` value.
    ///
    /// Each part is trimmed, since Java and Python write a single space for a missing timestamp
    /// (`0- `); a blank or missing part counts as absent, and fields after the second are ignored,
    /// as the protocol reserves them for later use. Never panics, whatever the input.
    ///
    /// ```
    /// use rust2sky::propagation::{Sw8x, Sw8xError};
    ///
    /// assert_eq!(Sw8x::decode("0- "), Ok(Sw8x::default()));
    /// assert_eq!(Sw8x::decode("1"), Ok(Sw8x { skip_analysis: true, send_time_ms: None }));
    /// assert_eq!(Sw8x::decode("2-5"), Err(Sw8xError::TracingMode));
    /// ```
    pub fn decode(value: &str) -> Result<Self, Sw8xError> {
        let mut parts = value.split('-').map(str::trim);
        let skip_analysis = match parts.next().unwrap_or_default() {
            "" | "0" => false,
            "1" => true,
            _ => return Err(Sw8xError::TracingMode),
        };
        let send_time_ms = match parts.next().unwrap_or_default() {
            "" => None,
            digits if digits.bytes().all(|b| b.is_ascii_digit()) => {
                Some(digits.parse().map_err(|_| Sw8xError::Timestamp)?)
            }
            _ => return Err(Sw8xError::Timestamp),
        };
        Ok(Sw8x {
            skip_analysis,
            send_time_ms,
        })
    }

    /// Writes the header value the way the Java agent does, including its `<mode>- ` placeholder
    /// when there is no timestamp.
    ///
    /// ```
    /// use rust2sky::propagation::Sw8x;
    ///
    /// assert_eq!(Sw8x::default().encode(), "0- ");
    /// let x = Sw8x { skip_analysis: false, send_time_ms: Some(1735689600123) };
    /// assert_eq!(x.encode(), "0-1735689600123");
    /// ```
    pub fn encode(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Sw8x {
    /// Writes the header value, as [`Sw8x::encode`] does.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.skip_analysis { "1-" } else { "0-" })?;
        match self.send_time_ms {
            Some(ms) => write!(f, "{ms}"),
            None => f.write_str(" "),
        }
    }
}
