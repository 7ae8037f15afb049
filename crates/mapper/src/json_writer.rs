//! A minimal append-only JSON writer into a reused `Vec<u8>` (no intermediate tree).

use std::borrow::Cow;

/// Writes compact JSON. Commas are handled by [`JsonWriter::key`] and [`JsonWriter::element`];
/// the caller keeps the structure balanced.
pub(crate) struct JsonWriter<'o> {
    out: &'o mut Vec<u8>,
    first: bool,
}

impl<'o> JsonWriter<'o> {
    pub fn new(out: &'o mut Vec<u8>) -> JsonWriter<'o> {
        JsonWriter { out, first: true }
    }

    #[inline(always)]
    pub fn begin_object(&mut self) {
        self.out.push(b'{');
        self.first = true;
    }

    #[inline(always)]
    pub fn end_object(&mut self) {
        self.out.push(b'}');
        self.first = false;
    }

    #[inline(always)]
    pub fn begin_array(&mut self) {
        self.out.push(b'[');
        self.first = true;
    }

    #[inline(always)]
    pub fn end_array(&mut self) {
        self.out.push(b']');
        self.first = false;
    }

    /// Starts an array element (writes the comma when needed).
    #[inline(always)]
    pub fn element(&mut self) {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
    }

    /// Writes `"key":` (with the comma when needed) for a key of this crate: plain ASCII that
    /// needs no escaping (checked in debug builds).
    #[inline(always)]
    pub fn key(&mut self, key: &'static str) {
        debug_assert!(!key.bytes().any(|b| NEEDS_ESCAPE[usize::from(b)]));
        self.element();
        self.out.push(b'"');
        self.out.extend_from_slice(key.as_bytes());
        self.out.extend_from_slice(b"\":");
    }

    /// Writes `"key":` for a key from the input: escaped when owned (see [`JsonWriter::cow`]).
    #[expect(
        clippy::ptr_arg,
        reason = "Borrowed vs Owned decides whether to escape"
    )]
    pub fn key_from_input(&mut self, key: &Cow<'_, str>) {
        self.element();
        self.cow(key);
        self.out.push(b':');
    }

    pub fn string(&mut self, value: &str) {
        self.escaped(value);
        self.first = false;
    }

    /// Writes JSON text (valid JSON, e.g. a whole input event) as a JSON string. Valid JSON holds
    /// no raw control characters except whitespace, so when it has no tab/CR/LF only `"` and `\\`
    /// need escaping.
    pub fn json_text_as_string(&mut self, json: &str) {
        let bytes = json.as_bytes();
        if memchr::memchr3(b'\n', b'\r', b'\t', bytes).is_some() {
            self.string(json);
            return;
        }
        // Eight bytes at a time (SWAR): each word is stored whole; for each `"` or `\\` in it
        // (found with an exact per-byte zero test) a backslash is stored and the rest of the
        // word stored again one byte further on. The buffer is sized for the worst case plus
        // one word of slack for the whole-word stores.
        let out = &mut *self.out;
        let start = out.len();
        out.resize(start + 2 * bytes.len() + 2 + 2 * WORD, 0);
        let buffer = &mut out[start..];
        buffer[0] = b'"';
        let mut at = 1;
        let chunks = bytes.chunks_exact(WORD);
        let tail = chunks.remainder();
        for chunk in chunks {
            let mut eight = [0_u8; WORD];
            eight.copy_from_slice(chunk);
            at = escape_word(buffer, at, u64::from_le_bytes(eight), WORD);
        }
        if !tail.is_empty() {
            // Padded with zero bytes, which need no escaping and are cut off by the length.
            let mut eight = [0_u8; WORD];
            eight[..tail.len()].copy_from_slice(tail);
            at = escape_word(buffer, at, u64::from_le_bytes(eight), tail.len());
        }
        buffer[at] = b'"';
        out.truncate(start + at + 1);
        self.first = false;
    }

    /// Writes `prefix` and `separator` (constants of this crate: nothing to escape) followed by
    /// `value` as one JSON string; `value` is escaped only when owned (see [`JsonWriter::cow`]).
    #[expect(
        clippy::ptr_arg,
        reason = "Borrowed vs Owned decides whether to escape"
    )]
    pub fn string_with_prefix(
        &mut self,
        prefix: &'static str,
        separator: &'static str,
        value: &Cow<'_, str>,
    ) {
        debug_assert!(!prefix.bytes().any(|b| NEEDS_ESCAPE[usize::from(b)]));
        debug_assert!(!separator.bytes().any(|b| NEEDS_ESCAPE[usize::from(b)]));
        self.out.push(b'"');
        self.out.extend_from_slice(prefix.as_bytes());
        self.out.extend_from_slice(separator.as_bytes());
        match value {
            Cow::Borrowed(text) => {
                debug_assert!(!text.bytes().any(|b| NEEDS_ESCAPE[usize::from(b)]));
                self.out.extend_from_slice(text.as_bytes());
            }
            Cow::Owned(text) => escape_into(self.out, text),
        }
        self.out.push(b'"');
        self.first = false;
    }

    #[inline(always)]
    pub fn integer(&mut self, value: i64) {
        let mut buffer = itoa::Buffer::new();
        self.out.extend_from_slice(buffer.format(value).as_bytes());
        self.first = false;
    }

    #[inline(always)]
    pub fn boolean(&mut self, value: bool) {
        self.out
            .extend_from_slice(if value { b"true" } else { b"false" });
        self.first = false;
    }

    /// Writes already-valid JSON text, dropping line breaks between tokens so the output stays
    /// one line (a literal CR/LF can only be whitespace in valid JSON).
    pub fn raw(&mut self, json: &str) {
        let bytes = json.as_bytes();
        if memchr::memchr2(b'\n', b'\r', bytes).is_none() {
            self.out.extend_from_slice(bytes);
        } else {
            self.out
                .extend(bytes.iter().copied().filter(|b| *b != b'\n' && *b != b'\r'));
        }
        self.first = false;
    }

    /// Writes a string that is either borrowed from the input JSON without escapes (or a
    /// constant of this crate), so it needs no escaping, or owned (unescaped text), so it is
    /// escaped. [`crate::source`] hands out `Cow::Borrowed` only for strings that had no `\\`
    /// in the input, and valid JSON strings hold no raw `"` or control characters.
    #[expect(
        clippy::ptr_arg,
        reason = "Borrowed vs Owned decides whether to escape"
    )]
    #[inline(always)]
    pub fn cow(&mut self, value: &Cow<'_, str>) {
        match value {
            Cow::Borrowed(text) => {
                debug_assert!(
                    !text.bytes().any(|b| NEEDS_ESCAPE[usize::from(b)]),
                    "{text:?}"
                );
                self.out.reserve(text.len() + 2);
                self.out.push(b'"');
                self.out.extend_from_slice(text.as_bytes());
                self.out.push(b'"');
                self.first = false;
            }
            Cow::Owned(text) => self.string(text),
        }
    }

    #[expect(
        clippy::ptr_arg,
        reason = "Borrowed vs Owned decides whether to escape"
    )]
    #[inline(always)]
    pub fn field_cow(&mut self, key: &'static str, value: &Cow<'_, str>) {
        self.key(key);
        self.cow(value);
    }

    #[inline(always)]
    pub fn field_opt_cow(&mut self, key: &'static str, value: &Option<Cow<'_, str>>) {
        if let Some(value) = value {
            self.field_cow(key, value);
        }
    }

    /// A constant string value of this crate (no escaping needed).
    #[inline(always)]
    pub fn field_static(&mut self, key: &'static str, value: &'static str) {
        self.field_cow(key, &Cow::Borrowed(value));
    }

    #[inline(always)]
    pub fn field_str(&mut self, key: &'static str, value: &str) {
        self.key(key);
        self.string(value);
    }

    #[inline(always)]
    pub fn field_int(&mut self, key: &'static str, value: i64) {
        self.key(key);
        self.integer(value);
    }

    #[inline(always)]
    pub fn field_bool(&mut self, key: &'static str, value: bool) {
        self.key(key);
        self.boolean(value);
    }

    fn escaped(&mut self, value: &str) {
        self.out.reserve(value.len() + 2);
        self.out.push(b'"');
        escape_into(self.out, value);
        self.out.push(b'"');
    }
}

/// Appends `value` escaped for the inside of a JSON string (no quotes).
fn escape_into(out: &mut Vec<u8>, value: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = value.as_bytes();
    let mut start = 0;
    while let Some(offset) = bytes[start..]
        .iter()
        .position(|b| NEEDS_ESCAPE[usize::from(*b)])
    {
        let index = start + offset;
        let byte = bytes[index];
        out.extend_from_slice(&bytes[start..index]);
        match byte {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            _ => {
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(byte >> 4)]);
                out.push(HEX[usize::from(byte & 0xf)]);
            }
        }
        start = index + 1;
    }
    out.extend_from_slice(&bytes[start..]);
}

const WORD: usize = 8;

/// The high bit of each byte of `word` that is zero, and no other bit (exact: no false
/// positives from borrows, unlike the cheaper `(x - 0x01..) & !x & 0x80..` test).
#[inline]
fn zero_bytes(word: u64) -> u64 {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    !(((word & LOW7).wrapping_add(LOW7)) | word | LOW7)
}

/// Writes the first `len` bytes of `word` (little-endian) to `buffer` at `at` with `"` and `\\`
/// escaped; returns the position after them. `buffer` must have `2 * WORD` bytes of room at
/// `at` (whole words are stored; the bytes past the end are overwritten by the next write or
/// cut off).
#[inline]
fn escape_word(buffer: &mut [u8], at: usize, word: u64, len: usize) -> usize {
    const QUOTES: u64 = 0x2222_2222_2222_2222;
    const BACKSLASHES: u64 = 0x5c5c_5c5c_5c5c_5c5c;
    let mut escapes = zero_bytes(word ^ QUOTES) | zero_bytes(word ^ BACKSLASHES);
    buffer[at..at + WORD].copy_from_slice(&word.to_le_bytes());
    let mut shift = 0;
    while escapes != 0 {
        let index = (escapes.trailing_zeros() / 8) as usize;
        escapes &= escapes - 1;
        let position = at + index + shift;
        buffer[position] = b'\\';
        buffer[position + 1..position + 1 + WORD]
            .copy_from_slice(&(word >> (8 * index)).to_le_bytes());
        shift += 1;
    }
    at + len + shift
}

/// Bytes that must be escaped inside a JSON string.
static NEEDS_ESCAPE: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 0x20 {
        table[byte] = true;
        byte += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table
};

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::JsonWriter;

    fn as_string(json: &str) -> String {
        let mut out = b"prefix".to_vec();
        JsonWriter::new(&mut out).json_text_as_string(json);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn json_text_as_string_escapes_quotes_and_backslashes_at_every_position() {
        for len in 0..40 {
            for position in 0..len {
                for special in ['"', '\\'] {
                    let mut text: String = "abcdefghijklmnopqrstuvwxyz0123456789ABCD"[..len].into();
                    text.replace_range(position..=position, &special.to_string());
                    let expected = format!("prefix{}", serde_json::to_string(&text).unwrap());
                    assert_eq!(as_string(&text), expected, "{text:?}");
                }
            }
        }
    }

    #[test]
    fn json_text_as_string_of_a_whole_event_round_trips() {
        let event = r#"{"a":"x\"y\\z","b":[1,2,{"c":"\u00e9\\n"}],"d":"\\\\\"\""}"#;
        let written = as_string(event);
        let back: String = serde_json::from_str(&written["prefix".len()..]).unwrap();
        assert_eq!(back, event);
        assert_eq!(
            written,
            format!("prefix{}", serde_json::to_string(event).unwrap())
        );
    }

    proptest! {
        #[test]
        fn json_text_as_string_matches_serde_json(text in "[\"\\\\a-z\u{e9}\u{1F600}\n\t ]{0,80}") {
            prop_assert_eq!(
                as_string(&text),
                format!("prefix{}", serde_json::to_string(&text).unwrap())
            );
        }
    }
}
