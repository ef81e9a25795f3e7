//! The `sw8-correlation` header: user key/value pairs that travel with the trace.

use std::fmt;

use super::base64;

/// How much correlation data a context may carry.
///
/// The defaults are the Java agent's: at most 3 keys, values of at most 128 characters. Length is
/// counted as Java's `String.length()` counts it, in UTF-16 code units, so that a value one agent
/// accepts is accepted by all.
///
/// ```
/// use rust2sky::propagation::CorrelationLimits;
///
/// let limits = CorrelationLimits::default();
/// assert_eq!((limits.max_keys, limits.max_value_len), (3, 128));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CorrelationLimits {
    /// The most keys a context holds (`SW_CORRELATION_ELEMENT_MAX_NUMBER`).
    pub max_keys: usize,
    /// The longest value, in UTF-16 code units (`SW_CORRELATION_VALUE_MAX_LENGTH`).
    pub max_value_len: usize,
}

impl Default for CorrelationLimits {
    fn default() -> Self {
        CorrelationLimits {
            max_keys: 3,
            max_value_len: 128,
        }
    }
}

/// The longest correlation key, in UTF-16 code units as values are counted. Java sets no limit
/// on keys; a key is a name (`tenant`, `scene`), and this bounds what a caller can make every
/// downstream service hold and forward.
///
/// ```
/// assert_eq!(rust2sky::propagation::MAX_CORRELATION_KEY_LEN, 128);
/// ```
pub const MAX_CORRELATION_KEY_LEN: usize = 128;

/// The longest `sw8-correlation` header read; a longer one is ignored whole (and counted as
/// over the limits) without being decoded. The default limits fit in a tenth of it.
///
/// ```
/// assert_eq!(rust2sky::propagation::MAX_CORRELATION_HEADER_LEN, 8 * 1024);
/// ```
pub const MAX_CORRELATION_HEADER_LEN: usize = 8 * 1024;

/// Why [`Correlation::set`] refused an entry.
///
/// ```
/// use rust2sky::propagation::{Correlation, CorrelationError, CorrelationLimits};
///
/// let mut correlation = Correlation::new(CorrelationLimits::default());
/// let error = correlation.set("", "acme").unwrap_err();
/// assert_eq!(error, CorrelationError::EmptyKey);
/// assert_eq!(error.to_string(), "correlation key is empty");
/// // Outside a trace there is nothing to set it on.
/// assert_eq!(rust2sky::set_correlation("tenant", "acme"), Err(CorrelationError::NoTrace));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CorrelationError {
    /// The key is empty.
    #[error("correlation key is empty")]
    EmptyKey,
    /// There is no current trace to set it on.
    #[error("no trace is active here")]
    NoTrace,
    /// The context already holds the most keys its limits allow.
    #[error("correlation already holds {max_keys} keys")]
    TooManyKeys {
        /// The limit that was reached.
        max_keys: usize,
    },
    /// The key is longer than [`MAX_CORRELATION_KEY_LEN`].
    #[error(
        "correlation key is {len} characters long, over the limit of {MAX_CORRELATION_KEY_LEN}"
    )]
    KeyTooLong {
        /// The key's length, in UTF-16 code units.
        len: usize,
    },
    /// The value is longer than the limits allow.
    #[error("correlation value is {len} characters long, over the limit of {max_value_len}")]
    ValueTooLong {
        /// The value's length, in UTF-16 code units.
        len: usize,
        /// The limit.
        max_value_len: usize,
    },
}

/// Correlation context: a few key/value pairs that follow a trace through every service.
///
/// Keys keep the order in which they were first set. The limits are enforced on every way in:
/// [`Correlation::set`] refuses an entry over them, and [`Correlation::decode`] drops it.
///
/// ```
/// use rust2sky::propagation::{Correlation, CorrelationLimits};
///
/// let mut correlation = Correlation::new(CorrelationLimits::default());
/// correlation.set("tenant", "acme")?;
/// correlation.set("region", "eu-west-1")?;
/// assert_eq!(correlation.encode(), "dGVuYW50:YWNtZQ==,cmVnaW9u:ZXUtd2VzdC0x");
/// assert_eq!(correlation.get("tenant"), Some("acme"));
/// # Ok::<(), rust2sky::propagation::CorrelationError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Correlation {
    entries: Vec<(String, String)>,
    limits: CorrelationLimits,
}

/// What [`Correlation::decode`] read, and how much of the header it had to leave out.
///
/// ```
/// use rust2sky::propagation::{Correlation, CorrelationLimits};
///
/// let decoded = Correlation::decode("dXNlcg==:YWxpY2U=,oops", CorrelationLimits::default());
/// assert_eq!(decoded.correlation.get("user"), Some("alice"));
/// assert_eq!((decoded.over_limit, decoded.malformed), (0, 1));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DecodedCorrelation {
    /// The entries that were kept.
    pub correlation: Correlation,
    /// Well-formed entries left out because they were over the limits.
    pub over_limit: usize,
    /// Entries left out because they were malformed (not `key:value`, bad Base64, not UTF-8, or an
    /// empty key).
    pub malformed: usize,
}

impl Correlation {
    /// An empty correlation context with the given limits.
    ///
    /// ```
    /// use rust2sky::propagation::{Correlation, CorrelationLimits};
    ///
    /// assert!(Correlation::new(CorrelationLimits::default()).is_empty());
    /// ```
    pub fn new(limits: CorrelationLimits) -> Self {
        Correlation {
            entries: Vec::new(),
            limits,
        }
    }

    /// Sets `key` to `value`; an empty value removes the key, as in the Java agent.
    ///
    /// Refuses a new key when the context is full and a value over the length limit; the context is
    /// then unchanged.
    ///
    /// ```
    /// use rust2sky::propagation::{Correlation, CorrelationError, CorrelationLimits};
    ///
    /// let mut correlation = Correlation::new(CorrelationLimits { max_keys: 1, max_value_len: 4 });
    /// correlation.set("user", "bob")?;
    /// assert_eq!(correlation.set("team", "x"), Err(CorrelationError::TooManyKeys { max_keys: 1 }));
    /// assert!(matches!(correlation.set("user", "alice"), Err(CorrelationError::ValueTooLong { .. })));
    /// correlation.set("user", "")?;
    /// assert!(correlation.is_empty());
    /// # Ok::<(), CorrelationError>(())
    /// ```
    pub fn set(
        &mut self,
        key: impl Into<String>,
        value: impl Into<String>,
    ) -> Result<(), CorrelationError> {
        let key = key.into();
        let value = value.into();
        if key.is_empty() {
            return Err(CorrelationError::EmptyKey);
        }
        let key_len = key.encode_utf16().count();
        if key_len > MAX_CORRELATION_KEY_LEN {
            return Err(CorrelationError::KeyTooLong { len: key_len });
        }
        let position = self.entries.iter().position(|(k, _)| *k == key);
        if value.is_empty() {
            if let Some(position) = position {
                self.entries.remove(position);
            }
            return Ok(());
        }
        let len = value.encode_utf16().count();
        if len > self.limits.max_value_len {
            return Err(CorrelationError::ValueTooLong {
                len,
                max_value_len: self.limits.max_value_len,
            });
        }
        match position {
            Some(position) => self.entries[position].1 = value,
            None if self.entries.len() >= self.limits.max_keys => {
                return Err(CorrelationError::TooManyKeys {
                    max_keys: self.limits.max_keys,
                });
            }
            None => self.entries.push((key, value)),
        }
        Ok(())
    }

    /// The value of `key`, if it is set.
    ///
    /// ```
    /// # use rust2sky::propagation::{Correlation, CorrelationLimits};
    /// let correlation = Correlation::decode("dXNlcg==:YWxpY2U=", CorrelationLimits::default()).correlation;
    /// assert_eq!(correlation.get("user"), Some("alice"));
    /// assert_eq!(correlation.get("team"), None);
    /// ```
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The entries, in the order their keys were first set.
    ///
    /// ```
    /// # use rust2sky::propagation::{Correlation, CorrelationLimits};
    /// let mut correlation = Correlation::new(CorrelationLimits::default());
    /// correlation.set("a", "1")?;
    /// correlation.set("b", "2")?;
    /// let pairs: Vec<_> = correlation.iter().collect();
    /// assert_eq!(pairs, [("a", "1"), ("b", "2")]);
    /// # Ok::<(), rust2sky::propagation::CorrelationError>(())
    /// ```
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &str)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// How many keys are set.
    ///
    /// ```
    /// # use rust2sky::propagation::{Correlation, CorrelationLimits};
    /// assert_eq!(Correlation::new(CorrelationLimits::default()).len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no key is set. An empty context is sent as an empty header value.
    ///
    /// ```
    /// # use rust2sky::propagation::{Correlation, CorrelationLimits};
    /// assert!(Correlation::new(CorrelationLimits::default()).is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The limits this context enforces.
    ///
    /// ```
    /// # use rust2sky::propagation::{Correlation, CorrelationLimits};
    /// let limits = CorrelationLimits { max_keys: 5, max_value_len: 64 };
    /// assert_eq!(Correlation::new(limits).limits(), limits);
    /// ```
    pub fn limits(&self) -> CorrelationLimits {
        self.limits
    }

    /// Reads an `sw8-correlation` value: `base64(key):base64(value)` entries joined by `,`.
    ///
    /// Lenient, as the official agents are: a malformed entry is skipped, an entry over the limits
    /// is dropped, and the rest is kept; [`DecodedCorrelation`] says how many of each. A repeated key
    /// keeps its last value. A header longer than [`MAX_CORRELATION_HEADER_LEN`] is ignored whole,
    /// and counts as one over the limits. Never panics, whatever the input.
    ///
    /// ```
    /// use rust2sky::propagation::{Correlation, CorrelationLimits};
    ///
    /// // four well-formed entries and one that is not `key:value`
    /// let header = "YQ==:MQ==,Yg==:Mg==,garbage,Yw==:Mw==,ZA==:NA==";
    /// let decoded = Correlation::decode(header, CorrelationLimits::default());
    /// assert_eq!(decoded.correlation.encode(), "YQ==:MQ==,Yg==:Mg==,Yw==:Mw==");
    /// assert_eq!((decoded.over_limit, decoded.malformed), (1, 1));
    /// ```
    pub fn decode(value: &str, limits: CorrelationLimits) -> DecodedCorrelation {
        let mut decoded = DecodedCorrelation {
            correlation: Correlation::new(limits),
            over_limit: 0,
            malformed: 0,
        };
        if value.len() > MAX_CORRELATION_HEADER_LEN {
            decoded.over_limit = 1;
            return decoded;
        }
        for element in value.split(',').map(str::trim) {
            if element.is_empty() {
                continue;
            }
            let Some((key, value)) = decode_entry(element) else {
                decoded.malformed += 1;
                continue;
            };
            match decoded.correlation.set(key, value) {
                Ok(()) => {}
                Err(CorrelationError::EmptyKey | CorrelationError::NoTrace) => {
                    decoded.malformed += 1
                }
                Err(
                    CorrelationError::TooManyKeys { .. }
                    | CorrelationError::KeyTooLong { .. }
                    | CorrelationError::ValueTooLong { .. },
                ) => decoded.over_limit += 1,
            }
        }
        decoded
    }

    /// Writes the header value; an empty context gives an empty string.
    ///
    /// ```
    /// # use rust2sky::propagation::{Correlation, CorrelationLimits};
    /// let mut correlation = Correlation::new(CorrelationLimits::default());
    /// assert_eq!(correlation.encode(), "");
    /// correlation.set("user", "alice")?;
    /// assert_eq!(correlation.encode(), "dXNlcg==:YWxpY2U=");
    /// # Ok::<(), rust2sky::propagation::CorrelationError>(())
    /// ```
    pub fn encode(&self) -> String {
        let len = self
            .entries
            .iter()
            .map(|(k, v)| base64::encoded_len(k.len()) + 1 + base64::encoded_len(v.len()))
            .sum::<usize>()
            + self.entries.len().saturating_sub(1);
        let mut out = String::with_capacity(len);
        for (index, (key, value)) in self.entries.iter().enumerate() {
            if index > 0 {
                out.push(',');
            }
            base64::encode_into(key, &mut out);
            out.push(':');
            base64::encode_into(value, &mut out);
        }
        out
    }
}

impl Default for Correlation {
    /// An empty context with the default limits.
    fn default() -> Self {
        Correlation::new(CorrelationLimits::default())
    }
}

impl fmt::Display for Correlation {
    /// Writes the header value, as [`Correlation::encode`] does.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.encode())
    }
}

fn decode_entry(element: &str) -> Option<(String, String)> {
    let mut parts = element.split(':');
    let (Some(key), Some(value), None) = (parts.next(), parts.next(), parts.next()) else {
        return None;
    };
    Some((base64::decode(key)?, base64::decode(value)?))
}
