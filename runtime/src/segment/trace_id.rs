//! Trace ids: one made here, or a caller's, kept inline when it is short enough.

use std::fmt;
use std::sync::Arc;

use crate::id::{self, Id, IdText};
use crate::propagation::Piece;

/// A trace id: made here, or received in an `sw8` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TraceId {
    Local(Id),
    /// A caller's id kept inline, as most fit (the official agents' are 36 to 56 bytes long):
    /// the request then makes no allocation for it. Built only by [`TraceId::remote`].
    Short {
        len: u8,
        bytes: [u8; SHORT_ID_MAX],
    },
    /// A caller's id too long to keep inline.
    Remote(Arc<str>),
}

/// The longest caller's trace id kept inline; the enum is then 64 bytes.
const SHORT_ID_MAX: usize = 62;

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TraceId::Local(id) => id.fmt(f),
            TraceId::Short { .. } | TraceId::Remote(_) => f.write_str(self.remote_text()),
        }
    }
}

impl TraceId {
    /// A trace id received from a caller.
    pub(crate) fn remote(text: &str) -> TraceId {
        let mut bytes = [0; SHORT_ID_MAX];
        match (bytes.get_mut(..text.len()), u8::try_from(text.len())) {
            (Some(inline), Ok(len)) => {
                inline.copy_from_slice(text.as_bytes());
                TraceId::Short { len, bytes }
            }
            _ => TraceId::Remote(Arc::from(text)),
        }
    }

    /// A caller's id as text; empty for an id made here.
    fn remote_text(&self) -> &str {
        match self {
            // Copied from a `str` whole, so always text.
            TraceId::Short { len, bytes } => bytes
                .get(..usize::from(*len))
                .and_then(|text| std::str::from_utf8(text).ok())
                .unwrap_or_default(),
            TraceId::Remote(text) => text,
            TraceId::Local(_) => "",
        }
    }

    /// The decimal part of an id made here (see [`Id::text_after_uuid`]); `None` for a
    /// caller's.
    pub(super) fn text_after_uuid(&self) -> Option<IdText> {
        match self {
            TraceId::Local(id) => Some(id.text_after_uuid()),
            TraceId::Short { .. } | TraceId::Remote(_) => None,
        }
    }

    /// A caller's id as bytes, as [`TraceId::remote_text`] without checking them again: they
    /// were copied from a `str` whole.
    pub(super) fn remote_bytes(&self) -> &[u8] {
        match self {
            TraceId::Short { len, bytes } => bytes.get(..usize::from(*len)).unwrap_or_default(),
            TraceId::Remote(text) => text.as_bytes(),
            TraceId::Local(_) => &[],
        }
    }

    /// Runs `f` with the id as an `sw8` field, without allocating.
    pub(super) fn with_piece<R>(&self, f: impl FnOnce(Piece<'_>) -> R) -> R {
        match self {
            TraceId::Local(id) => f(Piece::Base64Then(
                id::uuid_dot_base64(),
                id.text_after_uuid().as_str(),
            )),
            TraceId::Short { .. } | TraceId::Remote(_) => f(Piece::Text(self.remote_text())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callers_trace_ids_of_any_length_read_back_as_sent() {
        for len in [1, SHORT_ID_MAX, SHORT_ID_MAX + 1, 150] {
            let text: String = "é3f2c9a1b.".chars().cycle().take(len).collect();
            let id = TraceId::remote(&text);
            assert_eq!(id.to_string(), text);
            assert_eq!(
                matches!(id, TraceId::Short { .. }),
                text.len() <= SHORT_ID_MAX
            );
        }
    }
}
