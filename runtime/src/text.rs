//! One text buffer per segment.
//!
//! Operation names, peers, tags, logs and the caller's `sw8` fields are copied into a single
//! `String` that the segment owns, and records keep [`Text`] ranges into it. A request then
//! allocates once for all its strings instead of once per string; the reporter copies the ranges
//! into the protobuf bytes off the request path.

/// How much text a segment may hold; past it, new strings are dropped and counted, so that a
/// span tagged in a loop cannot grow memory without bound.
pub(crate) const MAX_TEXT_LEN: usize = 1 << 20;

/// What a new segment reserves: enough for the names and tags of a typical request.
pub(crate) const INITIAL_CAPACITY: usize = 256;

/// A range of a segment's text buffer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Text {
    start: u32,
    end: u32,
}

impl Text {
    /// The range `start..end` of a buffer, as written by code that appends to it.
    pub(crate) fn from_range(start: usize, end: usize) -> Text {
        // Buffers never pass `MAX_TEXT_LEN` (plus one header's worth), far below `u32::MAX`.
        let clamp = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        Text {
            start: clamp(start),
            end: clamp(end),
        }
    }

    /// This range's text in `buffer`; empty if `buffer` no longer holds it.
    pub(crate) fn get(self, buffer: &str) -> &str {
        buffer
            .get(self.start as usize..self.end as usize)
            .unwrap_or_default()
    }

    /// Appends `value` to `buffer` and returns its range, or `None` when the buffer would pass
    /// [`MAX_TEXT_LEN`].
    pub(crate) fn push(buffer: &mut String, value: &str) -> Option<Text> {
        if buffer.len() + value.len() > MAX_TEXT_LEN {
            return None;
        }
        let start = buffer.len();
        buffer.push_str(value);
        Some(Text::from_range(start, buffer.len()))
    }
}

/// Runs `f` on `pieces` joined, in a buffer on the stack when they fit: the names an integration
/// makes for every request (`GET:/users/{id}`, `users:8080`), which the span copies into its
/// segment's text anyway, then cost no allocation.
#[cfg(any(feature = "tower", feature = "reqwest"))]
pub(crate) fn with_joined<R>(pieces: &[&str], f: impl FnOnce(&str) -> R) -> R {
    const ON_STACK: usize = 256;
    let len: usize = pieces.iter().map(|piece| piece.len()).sum();
    if len <= ON_STACK {
        let mut buffer = [0_u8; ON_STACK];
        let mut end = 0;
        for piece in pieces {
            if let Some(slot) = buffer.get_mut(end..end + piece.len()) {
                slot.copy_from_slice(piece.as_bytes());
            }
            end += piece.len();
        }
        // Whole `str`s joined are UTF-8: the check cannot fail.
        if let Some(Ok(joined)) = buffer.get(..end).map(std::str::from_utf8) {
            return f(joined);
        }
    }
    f(&pieces.concat())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(any(feature = "tower", feature = "reqwest"))]
    #[test]
    fn joined_pieces_read_as_one_text_on_the_stack_or_not() {
        assert_eq!(
            with_joined(&["GET", ":", "/users/{id}"], str::to_owned),
            "GET:/users/{id}"
        );
        assert_eq!(with_joined(&[], str::len), 0);
        let long = "é".repeat(200);
        assert_eq!(
            with_joined(&["POST:", &long], str::to_owned),
            format!("POST:{long}")
        );
    }

    #[test]
    fn ranges_read_back_what_was_pushed() {
        let mut buffer = String::new();
        let a = Text::push(&mut buffer, "GET:/orders").unwrap();
        let b = Text::push(&mut buffer, "").unwrap();
        let c = Text::push(&mut buffer, "naïve").unwrap();
        assert_eq!(
            (a.get(&buffer), b.get(&buffer), c.get(&buffer)),
            ("GET:/orders", "", "naïve")
        );
    }

    #[test]
    fn a_full_buffer_refuses_more_and_a_stale_range_reads_empty() {
        let mut buffer = "x".repeat(MAX_TEXT_LEN - 1);
        assert!(Text::push(&mut buffer, "ab").is_none());
        let last = Text::push(&mut buffer, "a").unwrap();
        assert_eq!(last.get(&buffer), "a");
        assert_eq!(last.get(""), "");
    }
}
