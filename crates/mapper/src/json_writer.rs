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

    pub fn begin_object(&mut self) {
        self.out.push(b'{');
        self.first = true;
    }

    pub fn end_object(&mut self) {
        self.out.push(b'}');
        self.first = false;
    }

    pub fn begin_array(&mut self) {
        self.out.push(b'[');
        self.first = true;
    }

    pub fn end_array(&mut self) {
        self.out.push(b']');
        self.first = false;
    }

    /// Starts an array element (writes the comma when needed).
    pub fn element(&mut self) {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
    }

    /// Writes `"key":` (with the comma when needed) for a key of this crate: plain ASCII that
    /// needs no escaping (checked in debug builds).
    pub fn key(&mut self, key: &'static str) {
        debug_assert!(!key.bytes().any(|b| NEEDS_ESCAPE[usize::from(b)]));
        self.element();
        self.out.push(b'"');
        self.out.extend_from_slice(key.as_bytes());
        self.out.extend_from_slice(b"\":");
    }

    /// Writes `"key":` for a key from the input (escaped).
    pub fn key_escaped(&mut self, key: &str) {
        self.element();
        self.escaped(key);
        self.out.push(b':');
    }

    pub fn string(&mut self, value: &str) {
        self.escaped(value);
        self.first = false;
    }

    /// Writes JSON text (valid JSON, e.g. a whole input event) as a JSON string. Valid JSON holds
    /// no raw control characters except whitespace, so when it has no tab/CR/LF only `"` and `\\`
    /// need escaping, found with a SIMD search.
    pub fn json_text_as_string(&mut self, json: &str) {
        let bytes = json.as_bytes();
        if memchr::memchr3(b'\n', b'\r', b'\t', bytes).is_some() {
            self.string(json);
            return;
        }
        // Eight bytes at a time: chunks without `"` or `\\` (most of long values) are copied
        // whole; the others byte by byte, into a buffer sized for the worst case.
        let out = &mut *self.out;
        let start = out.len();
        out.resize(start + 2 * bytes.len() + 2, 0);
        let buffer = &mut out[start..];
        buffer[0] = b'"';
        let mut at = 1;
        let chunks = bytes.chunks_exact(8);
        let tail = chunks.remainder();
        for chunk in chunks {
            let Ok(eight) = <[u8; 8]>::try_from(chunk) else {
                continue;
            };
            let word = u64::from_le_bytes(eight);
            if !has_byte(word, b'"') && !has_byte(word, b'\\') {
                buffer[at..at + 8].copy_from_slice(&eight);
                at += 8;
                continue;
            }
            for byte in eight {
                if byte == b'"' || byte == b'\\' {
                    buffer[at] = b'\\';
                    at += 1;
                }
                buffer[at] = byte;
                at += 1;
            }
        }
        for &byte in tail {
            if byte == b'"' || byte == b'\\' {
                buffer[at] = b'\\';
                at += 1;
            }
            buffer[at] = byte;
            at += 1;
        }
        buffer[at] = b'"';
        out.truncate(start + at + 1);
        self.first = false;
    }

    /// Writes the concatenation of three strings as one JSON string.
    pub fn string_parts(&mut self, first: &str, second: &str, third: &str) {
        self.escaped(first);
        self.out.pop();
        let start = self.out.len();
        self.escaped(second);
        self.out.remove(start);
        self.out.pop();
        let start = self.out.len();
        self.escaped(third);
        self.out.remove(start);
        self.first = false;
    }

    pub fn integer(&mut self, value: i64) {
        let mut buffer = itoa::Buffer::new();
        self.out.extend_from_slice(buffer.format(value).as_bytes());
        self.first = false;
    }

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
    pub fn field_cow(&mut self, key: &'static str, value: &Cow<'_, str>) {
        self.key(key);
        self.cow(value);
    }

    pub fn field_opt_cow(&mut self, key: &'static str, value: &Option<Cow<'_, str>>) {
        if let Some(value) = value {
            self.field_cow(key, value);
        }
    }

    /// A constant string value of this crate (no escaping needed).
    pub fn field_static(&mut self, key: &'static str, value: &'static str) {
        self.field_cow(key, &Cow::Borrowed(value));
    }

    pub fn field_str(&mut self, key: &'static str, value: &str) {
        self.key(key);
        self.string(value);
    }

    pub fn field_int(&mut self, key: &'static str, value: i64) {
        self.key(key);
        self.integer(value);
    }

    pub fn field_bool(&mut self, key: &'static str, value: bool) {
        self.key(key);
        self.boolean(value);
    }

    fn escaped(&mut self, value: &str) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let out = &mut *self.out;
        let bytes = value.as_bytes();
        out.reserve(bytes.len() + 2);
        out.push(b'"');
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
        out.push(b'"');
    }
}

/// Whether any of the eight bytes of `word` equals `byte` (SWAR zero-byte test).
#[inline]
fn has_byte(word: u64, byte: u8) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let x = word ^ (ONES * u64::from(byte));
    (x.wrapping_sub(ONES) & !x & HIGHS) != 0
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
