//! The one Base64 flavour SkyWalking headers use.
//!
//! Standard alphabet (`+`, `/`), never the URL-safe one: its `-` is the sw8 field separator. We write
//! padding, as every official agent does, and accept input with or without it, as Java does.
//! `base64-simd` rather than `base64`: headers are decoded on every request, and its SIMD decoder
//! takes the `sw8` decode from about 350 ns to under 250 ns (see BENCHMARKS.md).

use base64_simd::{STANDARD, STANDARD_NO_PAD};

/// Appends the Base64 form of `input` to `out`.
pub(super) fn encode_into(input: &str, out: &mut String) {
    STANDARD.encode_append(input.as_bytes(), out);
}

/// The length of the padded Base64 form of `len` bytes.
pub(super) const fn encoded_len(len: usize) -> usize {
    len.div_ceil(3) * 4
}

/// The engine that reads `input`, padded or not.
fn engine_for(input: &[u8]) -> &'static base64_simd::Base64 {
    // Padded input always has a length divisible by 4; unpadded input of such a length has no
    // padding to check, so the padded decoder reads both.
    if input.len().is_multiple_of(4) {
        &STANDARD
    } else {
        &STANDARD_NO_PAD
    }
}

/// Why a Base64 field could not be read as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FieldError {
    Base64,
    Utf8,
}

/// Appends one Base64 field, padded or not, to `out` as text; on error `out` is as it was.
pub(super) fn decode_text_into(input: &str, out: &mut String) -> Result<(), FieldError> {
    // Header fields are short: they decode on the stack and are checked there, so that `out`
    // only ever receives valid text and need not be checked again as a whole.
    let input = input.as_bytes();
    let engine = engine_for(input);
    let mut stack = [0u8; 192];
    let mut heap = Vec::new();
    let decoded: &[u8] = if input.len() / 4 * 3 + 3 <= stack.len() {
        engine
            .decode(input, base64_simd::Out::from_slice(&mut stack))
            .map_err(|_| FieldError::Base64)?
    } else {
        engine
            .decode_append(input, &mut heap)
            .map_err(|_| FieldError::Base64)?;
        &heap
    };
    out.push_str(std::str::from_utf8(decoded).map_err(|_| FieldError::Utf8)?);
    Ok(())
}

/// Decodes one Base64 field into UTF-8 text.
pub(super) fn decode(input: &str) -> Option<String> {
    let mut out = String::new();
    decode_text_into(input, &mut out).ok()?;
    Some(out)
}
