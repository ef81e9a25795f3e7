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

/// Appends the bytes one Base64 field, padded or not, decodes to; on error `out` is as it was.
///
/// Bytes rather than text: an `sw8` header checks its six fields as UTF-8 in one pass, which
/// costs less than six checks of short strings.
pub(super) fn decode_append(input: &str, out: &mut Vec<u8>) -> Result<(), base64_simd::Error> {
    let input = input.as_bytes();
    engine_for(input).decode_append(input, out)
}

/// Decodes one Base64 field into UTF-8 text.
pub(super) fn decode(input: &str) -> Option<String> {
    let mut out = Vec::new();
    decode_append(input, &mut out).ok()?;
    String::from_utf8(out).ok()
}
