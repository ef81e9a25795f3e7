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

#[cfg(test)]
mod tests {
    use super::*;

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
