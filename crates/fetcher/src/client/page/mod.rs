//! Reading an events page. The body is a JSON array of event objects; one hand-written pass
//! splits it into its elements, each a zero-copy slice of the body, and reads the two fields the
//! fetcher needs from each: `id` and `timestamp` (dedup and the cursor) and `organization` (a
//! grouped request's page is split by it). Everything else is the mapper's.
//!
//! The pass checks the whole body against the JSON grammar (structure, strings and their
//! escapes, numbers, literals; nesting as deep as memory allows, as serde's skipping does), so a
//! truncated or corrupt page is an error (and is fetched again), never a handful of odd events. What it accepts and what it
//! reads are exactly what `serde_json` gives (the tests hold it to a serde reference, on valid
//! and on corrupted pages); it is hand-written because the page is the one input read in full
//! before mapping, and serde's visitor machinery cost about 17 instructions per byte here.
//! Strings the fetcher does not read are not checked for UTF-8: the mapper checks each event and
//! dead-letters one that is not.

use bytes::Bytes;

/// One element of an events page, as received.
#[derive(Debug, Clone)]
pub struct PageEvent {
    /// The element's exact JSON text: a slice of the response body (the body lives as long as
    /// any of its events).
    pub bytes: Bytes,
    /// `id`, when the element is an object whose `id` is a string.
    pub id: Option<String>,
    /// `timestamp`, likewise.
    pub timestamp: Option<String>,
    /// `organization`, likewise (splits the page of a request for several organisations).
    pub organization: Option<String>,
}

/// Splits an events page (a JSON array) into its elements, reading each object's `id` and
/// `timestamp` in the same pass. Elements that are not objects are kept with neither field, and
/// so are objects that `serde` would refuse as a struct of the two (either key given twice, a
/// key that is not valid UTF-8 or has a bad escape, either value not valid UTF-8): the mapper
/// decides what they are. Any JSON syntax error in the body fails the whole page.
pub fn split_page(body: &Bytes) -> Result<Vec<PageEvent>, String> {
    let mut reader = Reader {
        body,
        at: 0,
        open: Vec::new(),
    };
    read_page(&mut reader, body).map_err(|Syntax(what)| format!("at byte {}: {what}", reader.at))
}

/// What is wrong where the reader stopped.
struct Syntax(&'static str);

fn read_page(reader: &mut Reader<'_>, body: &Bytes) -> Result<Vec<PageEvent>, Syntax> {
    reader.skip_ws();
    if reader.peek() != Some(b'[') {
        return Err(Syntax("expected `[`"));
    }
    reader.at += 1;
    reader.skip_ws();
    let mut events = Vec::new();
    if reader.peek() == Some(b']') {
        reader.at += 1;
    } else {
        loop {
            let start = reader.at;
            let (id, timestamp, organization) = if reader.peek() == Some(b'{') {
                let identity = reader.top_object()?;
                (
                    identity.text_of(identity.id),
                    identity.text_of(identity.timestamp),
                    identity.organization_text(),
                )
            } else {
                reader.value()?;
                (None, None, None)
            };
            events.push(PageEvent {
                bytes: body.slice(start..reader.at),
                id,
                timestamp,
                organization,
            });
            if reader.after_member(b']')? {
                break;
            }
        }
    }
    reader.skip_ws();
    if reader.at != body.len() {
        return Err(Syntax("trailing characters after the array"));
    }
    Ok(events)
}

/// `id` and `timestamp` of one element: the JSON text of their values, as serde's
/// `Option<&RawValue>` fields would hold them.
#[derive(Default)]
struct Identity<'a> {
    id: Option<&'a str>,
    timestamp: Option<&'a str>,
    /// `organization`, read on its own: a duplicate or odd key among `id`/`timestamp` does not
    /// hide it (and one given twice is not read).
    organization: Option<&'a str>,
    organization_twice: bool,
    /// serde would refuse the object as a struct of the two: read neither.
    refused: bool,
}

impl<'a> Identity<'a> {
    /// `organization`, when it is a string given once.
    fn organization_text(&self) -> Option<String> {
        if self.organization_twice {
            return None;
        }
        let text = self.organization?;
        if !text.starts_with('"') {
            return None;
        }
        if text.contains('\\') {
            serde_json::from_str(text).ok()
        } else {
            text.get(1..text.len() - 1).map(str::to_owned)
        }
    }

    /// A value's string, when it is a JSON string (`null`, numbers, objects: none).
    fn text_of(&self, value: Option<&str>) -> Option<String> {
        if self.refused {
            return None;
        }
        let text = value?;
        if !text.starts_with('"') {
            return None;
        }
        if text.contains('\\') {
            serde_json::from_str(text).ok()
        } else {
            // Valid JSON without escapes: the text between the quotes is the string.
            text.get(1..text.len() - 1).map(str::to_owned)
        }
    }

    /// Records `value`, the JSON text of top-level key `key` (the text between its quotes).
    fn field(&mut self, key: &[u8], key_flags: StringFlags, value: &'a [u8]) {
        let decoded;
        let name: &[u8] = if key_flags.escaped {
            // serde reads the key with its escapes decoded (and refuses a lone surrogate).
            match decode_key(key) {
                Some(text) => {
                    decoded = text;
                    decoded.as_bytes()
                }
                None => {
                    self.refused = true;
                    return;
                }
            }
        } else {
            // serde reads every key as `str`: one that is not UTF-8 fails the struct.
            if key_flags.maybe_non_ascii && std::str::from_utf8(key).is_err() {
                self.refused = true;
            }
            key
        };
        let slot = match name {
            b"id" => &mut self.id,
            b"timestamp" => &mut self.timestamp,
            b"organization" => {
                if self.organization.is_some() {
                    self.organization_twice = true;
                } else {
                    self.organization = std::str::from_utf8(value).ok();
                }
                return;
            }
            _ => return,
        };
        if slot.is_some() {
            // Given twice: serde refuses the struct.
            self.refused = true;
            return;
        }
        // serde reads both values as raw JSON text, which must be UTF-8.
        match std::str::from_utf8(value) {
            Ok(text) => *slot = Some(text),
            Err(_) => self.refused = true,
        }
    }
}

/// A key with escapes, decoded as serde decodes it; `None` where serde fails.
fn decode_key(key: &[u8]) -> Option<String> {
    let mut quoted = Vec::with_capacity(key.len() + 2);
    quoted.push(b'"');
    quoted.extend_from_slice(key);
    quoted.push(b'"');
    serde_json::from_slice(&quoted).ok()
}

/// What a string held, as far as its readers care.
#[derive(Debug, Default, Clone, Copy)]
struct StringFlags {
    /// It has a backslash escape.
    escaped: bool,
    /// It may have a byte of 0x80 or more (the check runs a word at a time and can see bytes
    /// just past the closing quote; it never misses one inside).
    maybe_non_ascii: bool,
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// The high bit of (at least) the first byte of `word`, in memory order, that ends a run of
/// plain string bytes: a quote, a backslash, or a control character (below 0x20). Bits may also
/// be set for later bytes (a borrow runs upward), so only the lowest one is meaningful.
const fn string_stops(word: u64) -> u64 {
    let quotes = word ^ (ONES * b'"' as u64);
    let backslashes = word ^ (ONES * b'\\' as u64);
    ((quotes.wrapping_sub(ONES) & !quotes)
        | (backslashes.wrapping_sub(ONES) & !backslashes)
        | (word.wrapping_sub(ONES * 0x20) & !word))
        & HIGHS
}

/// A cursor over the page body.
struct Reader<'a> {
    body: &'a [u8],
    at: usize,
    /// The closing bytes of the containers open around the cursor (reused from value to value).
    open: Vec<u8>,
}

impl<'a> Reader<'a> {
    #[inline(always)]
    fn peek(&self) -> Option<u8> {
        self.body.get(self.at).copied()
    }

    #[inline(always)]
    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.at += 1;
        }
    }

    /// One JSON value at the cursor; leaves the cursor past it. Iterative, with the open
    /// containers on a stack (like serde's skipping, so nesting has no limit but memory).
    fn value(&mut self) -> Result<(), Syntax> {
        self.open.clear();
        loop {
            match self.peek() {
                Some(b'"') => {
                    self.at += 1;
                    self.string()?;
                }
                Some(b'{') => {
                    self.at += 1;
                    self.skip_ws();
                    if self.peek() == Some(b'}') {
                        self.at += 1;
                    } else {
                        self.open.push(b'}');
                        self.key()?;
                        continue;
                    }
                }
                Some(b'[') => {
                    self.at += 1;
                    self.skip_ws();
                    if self.peek() == Some(b']') {
                        self.at += 1;
                    } else {
                        self.open.push(b']');
                        continue;
                    }
                }
                Some(b't') => self.literal(b"true")?,
                Some(b'f') => self.literal(b"false")?,
                Some(b'n') => self.literal(b"null")?,
                Some(b'-' | b'0'..=b'9') => self.number()?,
                Some(_) => return Err(Syntax("expected a value")),
                None => return Err(Syntax("expected a value, found the end")),
            }
            // A value ended: close what it ends, up to the next member.
            loop {
                let Some(&close) = self.open.last() else {
                    return Ok(());
                };
                if self.after_member(close)? {
                    self.open.pop();
                } else {
                    if close == b'}' {
                        self.key()?;
                    }
                    break;
                }
            }
        }
    }

    /// An object member's key and colon, the cursor at the key's opening quote: the key's text
    /// between its quotes, and what it held.
    #[inline(always)]
    fn key(&mut self) -> Result<(&'a [u8], StringFlags), Syntax> {
        if self.peek() != Some(b'"') {
            return Err(Syntax("expected a key"));
        }
        self.at += 1;
        let start = self.at;
        let flags = self.string()?;
        let key = &self.body[start..self.at - 1];
        self.colon()?;
        Ok((key, flags))
    }

    /// A page element that is an object: checked like any object, and its top-level `id` and
    /// `timestamp` located.
    fn top_object(&mut self) -> Result<Identity<'a>, Syntax> {
        let mut identity = Identity::default();
        self.at += 1;
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.at += 1;
            return Ok(identity);
        }
        loop {
            let (key, key_flags) = self.key()?;
            let value_start = self.at;
            self.value()?;
            identity.field(key, key_flags, &self.body[value_start..self.at]);
            if self.after_member(b'}')? {
                return Ok(identity);
            }
        }
    }

    /// After a key: whitespace, `:`, whitespace.
    #[inline(always)]
    fn colon(&mut self) -> Result<(), Syntax> {
        self.skip_ws();
        if self.peek() != Some(b':') {
            return Err(Syntax("expected `:`"));
        }
        self.at += 1;
        self.skip_ws();
        Ok(())
    }

    /// After a member of a container closed by `close`: `true` once it is closed, `false` when
    /// another member follows (the cursor then at it).
    #[inline(always)]
    fn after_member(&mut self, close: u8) -> Result<bool, Syntax> {
        self.skip_ws();
        match self.peek() {
            Some(b',') => {
                self.at += 1;
                self.skip_ws();
                Ok(false)
            }
            Some(byte) if byte == close => {
                self.at += 1;
                Ok(true)
            }
            Some(_) => Err(Syntax(if close == b'}' {
                "expected `,` or `}`"
            } else {
                "expected `,` or `]`"
            })),
            None => Err(Syntax(if close == b'}' {
                "the object is not closed"
            } else {
                "the array is not closed"
            })),
        }
    }

    /// The rest of a string, the cursor just past its opening quote; leaves it past the closing
    /// one. Plain bytes are skipped a word at a time.
    #[inline(always)]
    fn string(&mut self) -> Result<StringFlags, Syntax> {
        let mut flags = StringFlags::default();
        loop {
            while let Some(word) = self.body.get(self.at..).and_then(<[u8]>::first_chunk::<8>) {
                let word = u64::from_le_bytes(*word);
                flags.maybe_non_ascii |= word & HIGHS != 0;
                let stops = string_stops(word);
                if stops != 0 {
                    self.at += (stops.trailing_zeros() / 8) as usize;
                    break;
                }
                self.at += 8;
            }
            match self.peek() {
                Some(b'"') => {
                    self.at += 1;
                    return Ok(flags);
                }
                Some(b'\\') => {
                    flags.escaped = true;
                    self.at += 1;
                    self.escape()?;
                }
                Some(0..0x20) => return Err(Syntax("control character in a string")),
                Some(byte) => {
                    flags.maybe_non_ascii |= byte >= 0x80;
                    self.at += 1;
                }
                None => return Err(Syntax("unterminated string")),
            }
        }
    }

    /// An escape, the cursor just past its backslash.
    fn escape(&mut self) -> Result<(), Syntax> {
        match self.peek() {
            Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {
                self.at += 1;
                Ok(())
            }
            Some(b'u') => {
                let hex = self.body.get(self.at + 1..self.at + 5);
                if hex.is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit)) {
                    self.at += 5;
                    Ok(())
                } else {
                    Err(Syntax("invalid \\u escape"))
                }
            }
            Some(_) => Err(Syntax("invalid escape")),
            None => Err(Syntax("unterminated string")),
        }
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), Syntax> {
        if self.body.get(self.at..self.at + word.len()) == Some(word) {
            self.at += word.len();
            Ok(())
        } else {
            Err(Syntax("invalid literal"))
        }
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
    fn number(&mut self) -> Result<(), Syntax> {
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        match self.peek() {
            Some(b'0') => {
                self.at += 1;
                if let Some(b'0'..=b'9') = self.peek() {
                    return Err(Syntax("invalid number (leading zero)"));
                }
            }
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(Syntax("invalid number")),
        }
        if self.peek() == Some(b'.') {
            self.at += 1;
            self.one_or_more_digits()?;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.at += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.at += 1;
            }
            self.one_or_more_digits()?;
        }
        Ok(())
    }

    fn digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.at += 1;
        }
    }

    fn one_or_more_digits(&mut self) -> Result<(), Syntax> {
        if !matches!(self.peek(), Some(b'0'..=b'9')) {
            return Err(Syntax("invalid number"));
        }
        self.digits();
        Ok(())
    }
}

#[cfg(test)]
mod tests;
