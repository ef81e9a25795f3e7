//! The one Base64 flavour SkyWalking headers use.
//!
//! Standard alphabet (`+`, `/`), never the URL-safe one: its `-` is the sw8 field separator. We write
//! padding, as every official agent does, and accept input with or without it, as Java does.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_PAD_INDIFFERENT as ENGINE;

/// Appends the Base64 form of `input` to `out`.
pub(super) fn encode_into(input: &str, out: &mut String) {
    ENGINE.encode_string(input.as_bytes(), out);
}

/// The length of the padded Base64 form of `len` bytes.
pub(super) const fn encoded_len(len: usize) -> usize {
    len.div_ceil(3) * 4
}

/// Why a Base64 field could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FieldError {
    Base64,
    Utf8,
}

/// Decodes one Base64 field into UTF-8 text.
pub(super) fn decode(input: &str) -> Result<String, FieldError> {
    let bytes = ENGINE.decode(input).map_err(|_| FieldError::Base64)?;
    String::from_utf8(bytes).map_err(|_| FieldError::Utf8)
}
