//! Text from outside (headers, URLs, operation names) made safe for one line of a log.
//!
//! A newline in a header would otherwise forge a log line of its own, and an escape sequence
//! would reach the operator's terminal.

use std::fmt::{self, Write as _};

/// How many characters of an outside value a log line shows.
const SHOWN_CHARS: usize = 256;

/// Shows `text` with control characters escaped (`\n`, `\u{1b}`), cut at [`SHOWN_CHARS`]
/// characters with a trailing `…`.
pub(crate) fn escaped(text: &str) -> Escaped<'_> {
    Escaped(text)
}

/// What [`escaped`] returns.
pub(crate) struct Escaped<'a>(&'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, c) in self.0.chars().enumerate() {
            if index == SHOWN_CHARS {
                return f.write_char('…');
            }
            if c.is_control() {
                write!(f, "{}", c.escape_debug())?;
            } else {
                f.write_char(c)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::escaped;

    #[test]
    fn control_characters_are_escaped_and_long_text_is_cut() {
        assert_eq!(
            escaped("GET:/\n[billing] forged\u{1b}[2J").to_string(),
            "GET:/\\n[billing] forged\\u{1b}[2J"
        );
        assert_eq!(escaped("ünïcode stays").to_string(), "ünïcode stays");
        let long = "a".repeat(1000);
        assert_eq!(escaped(&long).to_string(), format!("{}…", "a".repeat(256)));
    }
}
