//! The `sw8` header (SkyWalking cross-process propagation, protocol v3).

use std::fmt;
use std::str::FromStr;

use super::base64;
use crate::text::Text;

/// The longest `sw8` value [`Sw8Header::decode`] reads, in bytes.
///
/// SkyWalking documents the header as staying under 2 KiB. OAP's own limits (ids of 150 characters,
/// names of 70, endpoints of 150, peers of 200) keep a real header under about 3 KiB even in 4-byte
/// UTF-8, so 8 KiB leaves room for every agent we know of while a hostile header costs nothing.
///
/// ```
/// use rust2sky::propagation::{MAX_SW8_LEN, Sw8Error, Sw8Header};
///
/// let hostile = "1-".repeat(MAX_SW8_LEN);
/// assert_eq!(Sw8Header::decode(&hostile), Err(Sw8Error::TooLong { len: 2 * MAX_SW8_LEN }));
/// ```
pub const MAX_SW8_LEN: usize = 8 * 1024;

/// The contents of an `sw8` header: the context of the caller that sent the request.
///
/// A server decodes it from the incoming request and links its entry span to the caller with it; a
/// client encodes one for the exit span it is about to call through.
///
/// ```
/// use rust2sky::propagation::Sw8Header;
///
/// let header = Sw8Header {
///     sampled: true,
///     trace_id: "trace-1".into(),
///     parent_segment_id: "segment-1".into(),
///     parent_span_id: 3,
///     parent_service: "checkout".into(),
///     parent_service_instance: "checkout-1".into(),
///     parent_endpoint: "GET:/cart".into(),
///     target_address: "payments:8080".into(),
/// };
/// let value = header.encode();
/// assert!(value.starts_with("1-dHJhY2UtMQ==-"));
/// assert_eq!(Sw8Header::decode(&value), Ok(header));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Sw8Header {
    /// Field 1: `true` for `1` (trace this), `false` for `0` (the caller chose not to sample).
    pub sampled: bool,
    /// Field 2: the id of the whole distributed trace.
    pub trace_id: String,
    /// Field 3: the id of the caller's segment.
    pub parent_segment_id: String,
    /// Field 4: the id, within the caller's segment, of the exit span that made the call.
    pub parent_span_id: i32,
    /// Field 5: the caller's service name.
    pub parent_service: String,
    /// Field 6: the caller's service instance name.
    pub parent_service_instance: String,
    /// Field 7: the caller's endpoint: the operation name of its segment's first entry span.
    pub parent_endpoint: String,
    /// Field 8: the address the caller used to reach us; equal to its exit span's `peer`.
    pub target_address: String,
}

/// One of the eight fields of an `sw8` header, for error messages.
///
/// ```
/// use rust2sky::propagation::{Sw8Error, Sw8Field, Sw8Header};
///
/// let error = Sw8Header::decode("1-dA==-cw==-0-c3Zj-aQ==-ZQ==-!!!!").unwrap_err();
/// assert_eq!(error, Sw8Error::Base64(Sw8Field::TargetAddress));
/// assert_eq!(error.to_string(), "sw8 field 8 (target address) is not valid Base64");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Sw8Field {
    /// Field 1, the sample flag.
    Sampled,
    /// Field 2, the trace id.
    TraceId,
    /// Field 3, the parent segment id.
    ParentSegmentId,
    /// Field 4, the parent span id.
    ParentSpanId,
    /// Field 5, the parent service.
    ParentService,
    /// Field 6, the parent service instance.
    ParentServiceInstance,
    /// Field 7, the parent endpoint.
    ParentEndpoint,
    /// Field 8, the target address.
    TargetAddress,
}

impl Sw8Field {
    /// The Base64 fields, in header order (fields 2, 3, 5, 6, 7 and 8).
    const TEXT: [Sw8Field; 6] = [
        Sw8Field::TraceId,
        Sw8Field::ParentSegmentId,
        Sw8Field::ParentService,
        Sw8Field::ParentServiceInstance,
        Sw8Field::ParentEndpoint,
        Sw8Field::TargetAddress,
    ];

    /// The field's position in the header, from 1.
    ///
    /// ```
    /// use rust2sky::propagation::{Sw8Error, Sw8Header};
    ///
    /// let result = Sw8Header::decode("1-dA==-cw==-0-cw==-aQ==-ZQ==-");
    /// let Err(Sw8Error::EmptyField(field)) = result else { panic!("{result:?}") };
    /// assert_eq!(field.position(), 8);
    /// ```
    pub const fn position(self) -> usize {
        match self {
            Sw8Field::Sampled => 1,
            Sw8Field::TraceId => 2,
            Sw8Field::ParentSegmentId => 3,
            Sw8Field::ParentSpanId => 4,
            Sw8Field::ParentService => 5,
            Sw8Field::ParentServiceInstance => 6,
            Sw8Field::ParentEndpoint => 7,
            Sw8Field::TargetAddress => 8,
        }
    }

    const fn name(self) -> &'static str {
        match self {
            Sw8Field::Sampled => "sample flag",
            Sw8Field::TraceId => "trace id",
            Sw8Field::ParentSegmentId => "parent segment id",
            Sw8Field::ParentSpanId => "parent span id",
            Sw8Field::ParentService => "parent service",
            Sw8Field::ParentServiceInstance => "parent service instance",
            Sw8Field::ParentEndpoint => "parent endpoint",
            Sw8Field::TargetAddress => "target address",
        }
    }
}

impl fmt::Display for Sw8Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "field {} ({})", self.position(), self.name())
    }
}

/// Why an `sw8` value was rejected. A server that gets one ignores the header and starts a new trace.
///
/// The rules are the strict union of the official agents' (see the crate's protocol notes): Java and
/// Python reject every case below, so a header we accept is one they accept too.
///
/// ```
/// use rust2sky::propagation::{Sw8Error, Sw8Field, Sw8Header};
///
/// assert_eq!(Sw8Header::decode("1-a-b"), Err(Sw8Error::FieldCount { found: 3 }));
/// assert_eq!(
///     Sw8Header::decode("1-dA==-cw==-x-cw==-aQ==-ZQ==-YQ=="),
///     Err(Sw8Error::SpanId)
/// );
/// assert_eq!(
///     Sw8Header::decode("1-dA==-cw==-0-cw==-aQ==-ZQ==-"),
///     Err(Sw8Error::EmptyField(Sw8Field::TargetAddress))
/// );
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Sw8Error {
    /// The value is empty; senders write an empty value when they have no context.
    #[error("sw8 header is empty")]
    Empty,
    /// The value is longer than [`MAX_SW8_LEN`].
    #[error("sw8 header is {len} bytes long, over the limit of {MAX_SW8_LEN}")]
    TooLong {
        /// The length of the value that was refused.
        len: usize,
    },
    /// The value does not split into exactly eight `-`-separated fields.
    #[error("sw8 header has {found} `-`-separated fields, expected 8")]
    FieldCount {
        /// How many fields the value has.
        found: usize,
    },
    /// The sample flag is neither `0` nor `1`.
    #[error("sw8 field 1 (sample flag) is not `0` or `1`")]
    SampleFlag,
    /// The parent span id is not a decimal integer from 0 to `i32::MAX`.
    #[error("sw8 field 4 (parent span id) is not an integer from 0 to 2147483647")]
    SpanId,
    /// A field is not valid standard Base64.
    #[error("sw8 {0} is not valid Base64")]
    Base64(Sw8Field),
    /// A field's Base64 decodes to bytes that are not UTF-8.
    #[error("sw8 {0} is not UTF-8 text")]
    Utf8(Sw8Field),
    /// A field is empty once decoded.
    #[error("sw8 {0} is empty")]
    EmptyField(Sw8Field),
    /// The trace id or parent segment id is longer than [`MAX_ID_LEN`] or holds a character
    /// other than an ASCII letter, a digit, `.`, `-` or `_` (what every official agent's ids are
    /// made of). Ids are printed in log lines and stored by the OAP, so nothing else is taken
    /// from a caller.
    #[error(
        "sw8 {0} is over {MAX_ID_LEN} characters or not made of letters, digits, `.`, `-` and `_`"
    )]
    UnsafeId(Sw8Field),
}

/// The longest trace id or segment id taken from a caller: the OAP's storage columns hold 150
/// characters.
///
/// ```
/// assert_eq!(rust2sky::propagation::MAX_ID_LEN, 150);
/// ```
pub const MAX_ID_LEN: usize = 150;

/// Whether `id` may be a trace id or segment id taken from a caller.
fn is_safe_id(id: &str) -> bool {
    // Every byte is looked at, with no early exit: the compiler then checks many at once, where
    // stopping at the first bad byte cost about 8 instructions a byte (ids are 40 to 60 bytes,
    // and two are read from every incoming header).
    let unsafe_bytes = id.bytes().fold(0_u8, |unsafe_bytes, byte| {
        unsafe_bytes | u8::from(!is_id_byte(byte))
    });
    id.len() <= MAX_ID_LEN && unsafe_bytes == 0
}

/// An ASCII letter or digit, `.`, `-` or `_`; written as comparisons with no branch.
fn is_id_byte(byte: u8) -> bool {
    (byte | 0x20).is_ascii_lowercase()
        | byte.is_ascii_digit()
        | (byte == b'.')
        | (byte == b'-')
        | (byte == b'_')
}

impl Sw8Header {
    /// Reads an `sw8` header value.
    ///
    /// Accepts exactly eight fields with a `0`/`1` flag, a span id from 0 to `i32::MAX`, and six
    /// non-empty UTF-8 strings in standard Base64 (padding optional). Surrounding whitespace is
    /// ignored. Never panics, whatever the input.
    ///
    /// ```
    /// use rust2sky::propagation::Sw8Header;
    ///
    /// let parent: Sw8Header = "1-dA==-cw==-4-c3Zj-aW5zdA==-ZW5kcG9pbnQ=-cGVlcjo4MA==".parse()?;
    /// assert_eq!(parent.trace_id, "t");
    /// assert_eq!(parent.parent_span_id, 4);
    /// assert_eq!(parent.target_address, "peer:80");
    /// # Ok::<(), rust2sky::propagation::Sw8Error>(())
    /// ```
    pub fn decode(value: &str) -> Result<Self, Sw8Error> {
        // Decoded Base64 is shorter than its text: one allocation holds all six fields.
        let mut text = String::with_capacity(value.len().min(MAX_SW8_LEN));
        Ok(decode_into(value, &mut text)?.to_header(&text))
    }

    /// Writes the header value, in one allocation of exactly the right size.
    ///
    /// The output always has padding and the standard Base64 alphabet, as every official agent
    /// writes it. Values are encoded as they are: a sender should not send a header whose strings
    /// are empty, since receivers reject it (see [`Sw8Error::EmptyField`]).
    ///
    /// ```
    /// use rust2sky::propagation::Sw8Header;
    ///
    /// let header = Sw8Header {
    ///     sampled: true,
    ///     trace_id: "t".into(),
    ///     parent_segment_id: "s".into(),
    ///     parent_span_id: 0,
    ///     parent_service: "svc~~~".into(),
    ///     parent_service_instance: "i".into(),
    ///     parent_endpoint: "e".into(),
    ///     target_address: "a".into(),
    /// };
    /// // `~~~` is `fn5+` in standard Base64, never the URL-safe `fn5-`.
    /// assert_eq!(header.encode(), "1-dA==-cw==-0-c3Zjfn5+-aQ==-ZQ==-YQ==");
    /// ```
    pub fn encode(&self) -> String {
        encode_fields(self.sampled, self.text_fields(), self.parent_span_id)
    }

    /// Appends the header value to `out`, for callers that reuse a buffer.
    ///
    /// ```
    /// use rust2sky::propagation::Sw8Header;
    ///
    /// # let header = Sw8Header::decode("1-dA==-cw==-0-c3Zj-aQ==-ZQ==-YQ==").unwrap();
    /// let mut buf = String::new();
    /// header.encode_into(&mut buf);
    /// assert_eq!(buf, header.encode());
    /// ```
    pub fn encode_into(&self, out: &mut String) {
        write_fields(out, self.sampled, self.text_fields(), self.parent_span_id);
    }

    /// The exact length of [`Sw8Header::encode`]'s output.
    ///
    /// ```
    /// use rust2sky::propagation::Sw8Header;
    ///
    /// let header = Sw8Header::decode("1-dA==-cw==-0-c3Zj-aQ==-ZQ==-YQ==")?;
    /// let mut buf = String::with_capacity(header.encoded_len());
    /// header.encode_into(&mut buf);
    /// assert_eq!(buf.len(), header.encoded_len());
    /// # Ok::<(), rust2sky::propagation::Sw8Error>(())
    /// ```
    pub fn encoded_len(&self) -> usize {
        fields_len(self.text_fields(), self.parent_span_id)
    }

    fn text_fields(&self) -> [Piece<'_>; 6] {
        [
            &self.trace_id,
            &self.parent_segment_id,
            &self.parent_service,
            &self.parent_service_instance,
            &self.parent_endpoint,
            &self.target_address,
        ]
        .map(|text| Piece::Text(text))
    }
}

impl FromStr for Sw8Header {
    type Err = Sw8Error;

    fn from_str(value: &str) -> Result<Self, Sw8Error> {
        Sw8Header::decode(value)
    }
}

impl fmt::Display for Sw8Header {
    /// Writes the header value, as [`Sw8Header::encode`] does.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.encode())
    }
}

/// One text field of a header being written: text to encode, or text already in Base64 (a
/// tracer encodes its service and instance names once, not on every call).
#[derive(Clone, Copy)]
pub(crate) enum Piece<'a> {
    Text(&'a str),
    Base64(&'a str),
    /// Text whose start is already in Base64: the first part must decode to a whole number of
    /// 3-byte groups, so that it ends without padding and the second part's Base64 can follow.
    Base64Then(&'a str, &'a str),
}

impl Piece<'_> {
    fn encoded_len(self) -> usize {
        match self {
            Piece::Text(text) => base64::encoded_len(text.len()),
            Piece::Base64(encoded) => encoded.len(),
            Piece::Base64Then(encoded, text) => encoded.len() + base64::encoded_len(text.len()),
        }
    }

    fn write(self, out: &mut String) {
        match self {
            Piece::Text(text) => base64::encode_into(text, out),
            Piece::Base64(encoded) => out.push_str(encoded),
            Piece::Base64Then(encoded, text) => {
                out.push_str(encoded);
                base64::encode_into(text, out);
            }
        }
    }
}

/// The standard Base64 form of `text`, for [`Piece::Base64`].
pub(crate) fn encode_piece(text: &str) -> String {
    let mut out = String::with_capacity(base64::encoded_len(text.len()));
    base64::encode_into(text, &mut out);
    out
}

/// Encodes a header from its text fields (in header order: trace id, parent segment id, parent
/// service, parent instance, parent endpoint, target address), in one exact-size allocation.
pub(crate) fn encode_fields(sampled: bool, text: [Piece<'_>; 6], span_id: i32) -> String {
    // `write_fields` reserves the exact length, which for an empty `String` is its one
    // allocation.
    let mut out = String::new();
    write_fields(&mut out, sampled, text, span_id);
    out
}

fn write_fields(out: &mut String, sampled: bool, text: [Piece<'_>; 6], span_id: i32) {
    let mut digits = itoa::Buffer::new();
    let span_id = digits.format(span_id);
    out.reserve(pieces_len(text, span_id));
    out.push(if sampled { '1' } else { '0' });
    for (position, piece) in text.into_iter().enumerate() {
        out.push('-');
        piece.write(out);
        if position == 1 {
            out.push('-');
            out.push_str(span_id);
        }
    }
}

fn fields_len(text: [Piece<'_>; 6], span_id: i32) -> usize {
    pieces_len(text, itoa::Buffer::new().format(span_id))
}

fn pieces_len(text: [Piece<'_>; 6], span_id: &str) -> usize {
    let text: usize = text.into_iter().map(Piece::encoded_len).sum();
    // flag + 7 separators + the span id's digits
    1 + 7 + span_id.len() + text
}

fn parse_span_id(digits: &str) -> Result<i32, Sw8Error> {
    // `i32::from_str` also takes a leading `+`; Python's agent rejects it, so we do too.
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Sw8Error::SpanId);
    }
    digits.parse().map_err(|_| Sw8Error::SpanId)
}

/// An `sw8` header read into a caller's buffer, for the entry span's segment to keep.
#[derive(Clone, Copy)]
pub(crate) struct Sw8Fields {
    pub(crate) sampled: bool,
    pub(crate) parent_span_id: i32,
    /// Ranges of the buffer, in header order: trace id, parent segment id, parent service,
    /// parent instance, parent endpoint, target address.
    pub(crate) text: [Text; 6],
    /// The trace id as the caller wrote it, when that is the Base64 this agent writes too: the
    /// headers of calls onward copy it instead of encoding the id again.
    pub(crate) trace_id_base64: Option<Text>,
}

impl Sw8Fields {
    /// The header, with its fields copied out of `buffer`.
    pub(crate) fn to_header(self, buffer: &str) -> Sw8Header {
        let [
            trace_id,
            parent_segment_id,
            parent_service,
            parent_service_instance,
            parent_endpoint,
            target_address,
        ] = self.text.map(|field| field.get(buffer).to_owned());
        Sw8Header {
            sampled: self.sampled,
            trace_id,
            parent_segment_id,
            parent_span_id: self.parent_span_id,
            parent_service,
            parent_service_instance,
            parent_endpoint,
            target_address,
        }
    }
}

/// Reads an `sw8` header as [`Sw8Header::decode`] does, appending its six text fields to
/// `buffer` instead of allocating a `String` for each. On error `buffer` is left as it was.
pub(crate) fn decode_into(value: &str, buffer: &mut String) -> Result<Sw8Fields, Sw8Error> {
    if value.len() > MAX_SW8_LEN {
        return Err(Sw8Error::TooLong { len: value.len() });
    }
    let value = value.trim();
    if value.is_empty() {
        return Err(Sw8Error::Empty);
    }
    let [
        flag,
        trace,
        segment,
        span,
        service,
        instance,
        endpoint,
        address,
    ] = split_fields(value)?;

    let sampled = match flag {
        "1" => true,
        "0" => false,
        _ => return Err(Sw8Error::SampleFlag),
    };
    let parent_span_id = parse_span_id(span)?;
    let before = buffer.len();
    let text = decode_text_fields(
        [trace, segment, service, instance, endpoint, address],
        buffer,
    )?;
    for (field, range) in Sw8Field::TEXT.into_iter().zip(text).take(2) {
        if !is_safe_id(range.get(buffer)) {
            buffer.truncate(before);
            return Err(Sw8Error::UnsafeId(field));
        }
    }
    // A field that decoded is canonical Base64 (the decoder refuses stray bits after the last
    // byte); a length divisible by four means it is padded as well, as every agent writes it.
    let trace_id_base64 = trace.len().is_multiple_of(4).then(|| {
        let start = buffer.len();
        buffer.push_str(trace);
        Text::from_range(start, buffer.len())
    });
    Ok(Sw8Fields {
        sampled,
        parent_span_id,
        text,
        trace_id_base64,
    })
}

/// The eight `-`-separated fields of a header.
fn split_fields(value: &str) -> Result<[&str; 8], Sw8Error> {
    // One SIMD scan for the separators: `str::split` searched field by field and was a third
    // of the whole decode.
    let separators = memchr::memchr_iter(b'-', value.as_bytes());
    let mut parts = [""; 8];
    let mut found = 0;
    let mut start = 0;
    for end in separators.chain(std::iter::once(value.len())) {
        if let Some(slot) = parts.get_mut(found) {
            // `-` is ASCII, so both ends are character boundaries.
            *slot = value.get(start..end).unwrap_or_default();
        }
        found += 1;
        start = end + 1;
    }
    if found == 8 {
        Ok(parts)
    } else {
        Err(Sw8Error::FieldCount { found })
    }
}

/// Appends the six Base64 fields (in header order) to `buffer` and returns their ranges; on
/// error `buffer` is as it was.
fn decode_text_fields(encoded: [&str; 6], buffer: &mut String) -> Result<[Text; 6], Sw8Error> {
    // Decoded as bytes, then checked as UTF-8 once for all six fields, which costs less than
    // six checks of short strings. `buffer` only ever holds text: it is taken as bytes here and
    // given back as a `String` on every path.
    let mut bytes = std::mem::take(buffer).into_bytes();
    let before = bytes.len();
    // The buffer as it was: its first `before` bytes are the text it held.
    let restore = |mut bytes: Vec<u8>| {
        bytes.truncate(before);
        String::from_utf8(bytes).unwrap_or_default()
    };
    let mut ends = [before; 6];
    let decoded = Sw8Field::TEXT
        .into_iter()
        .zip(encoded)
        .zip(&mut ends)
        .try_for_each(|((field, input), end)| {
            let start = bytes.len();
            base64::decode_append(input, &mut bytes).map_err(|_| Sw8Error::Base64(field))?;
            if bytes.len() == start {
                return Err(Sw8Error::EmptyField(field));
            }
            *end = bytes.len();
            Ok(())
        });
    if let Err(error) = decoded {
        *buffer = restore(bytes);
        return Err(error);
    }
    let mut starts = [before; 6];
    starts[1..].copy_from_slice(&ends[..5]);
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(error) => {
            let bytes = error.into_bytes();
            let field = first_non_text(&bytes, starts, ends);
            *buffer = restore(bytes);
            return Err(Sw8Error::Utf8(field));
        }
    };
    *buffer = text;
    // The whole is text, so each field is too, up to the first that ends inside a character.
    if let Some(split) = ends.iter().position(|&end| !buffer.is_char_boundary(end)) {
        buffer.truncate(before);
        return Err(Sw8Error::Utf8(Sw8Field::TEXT[split]));
    }
    let mut text = [Text::default(); 6];
    for ((range, start), end) in text.iter_mut().zip(starts).zip(ends) {
        *range = Text::from_range(start, end);
    }
    Ok(text)
}

/// The first field, by its decoded bytes `bytes[starts[i]..ends[i]]`, that is not UTF-8.
fn first_non_text(bytes: &[u8], starts: [usize; 6], ends: [usize; 6]) -> Sw8Field {
    let not_text = |(start, end): &(usize, usize)| {
        bytes
            .get(*start..*end)
            .is_none_or(|field| std::str::from_utf8(field).is_err())
    };
    let position = starts
        .into_iter()
        .zip(ends)
        .position(|range| not_text(&range));
    Sw8Field::TEXT[position.unwrap_or(0)]
}
