//! A minimal append-only JSON writer into a reused `Vec<u8>` (no intermediate tree).

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

    /// Writes `"key":` (with the comma when needed). `key` must need no escaping or is escaped.
    pub fn key(&mut self, key: &str) {
        self.element();
        self.escaped(key);
        self.out.push(b':');
    }

    pub fn string(&mut self, value: &str) {
        self.escaped(value);
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

    pub fn field_str(&mut self, key: &str, value: &str) {
        self.key(key);
        self.string(value);
    }

    pub fn field_int(&mut self, key: &str, value: i64) {
        self.key(key);
        self.integer(value);
    }

    pub fn field_bool(&mut self, key: &str, value: bool) {
        self.key(key);
        self.boolean(value);
    }

    pub fn field_opt_str(&mut self, key: &str, value: Option<&str>) {
        if let Some(value) = value {
            self.field_str(key, value);
        }
    }

    fn escaped(&mut self, value: &str) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let out = &mut *self.out;
        out.reserve(value.len() + 2);
        out.push(b'"');
        let bytes = value.as_bytes();
        let mut start = 0;
        for (index, &byte) in bytes.iter().enumerate() {
            let escape: &[u8] = match byte {
                b'"' => b"\\\"",
                b'\\' => b"\\\\",
                b'\n' => b"\\n",
                b'\r' => b"\\r",
                b'\t' => b"\\t",
                0x00..=0x1f => b"",
                _ => continue,
            };
            out.extend_from_slice(&bytes[start..index]);
            if escape.is_empty() {
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(byte >> 4)]);
                out.push(HEX[usize::from(byte & 0xf)]);
            } else {
                out.extend_from_slice(escape);
            }
            start = index + 1;
        }
        out.extend_from_slice(&bytes[start..]);
        out.push(b'"');
    }
}
