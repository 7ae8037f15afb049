//! The raw Directory Insights event, read lazily: the top level (and any object the mapper looks
//! into) is a list of `(key, raw JSON)` pairs borrowed from the input; only the fields the mapper
//! uses are decoded, and only into borrowed strings where the JSON has no escapes.

use std::borrow::Cow;
use std::cell::{Cell, OnceCell};
use std::fmt;

use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

/// A JSON object's members, in source order, each value still raw. A repeated key keeps its
/// last value (as `serde_json::Value` does).
#[derive(Debug, Default)]
pub(crate) struct RawObject<'a> {
    pub fields: Vec<Field<'a>>,
    /// Whether the source repeated a key (then it cannot be copied verbatim).
    pub had_duplicate_keys: bool,
    /// Whether the source holds a number wider than a double (`1e400`), valid JSON that
    /// serde_json and most consumers refuse (then it cannot be copied verbatim either; see
    /// [`wide_numbers_as_strings`]). Set by the caller that parsed the whole event.
    pub has_wide_number: bool,
    /// Whether the source held `\u` escapes of lone surrogates, read as U+FFFD (see
    /// [`lone_surrogates_replaced`]): the source as it came cannot be copied verbatim either.
    /// Set by the caller that parsed the whole event.
    pub had_lone_surrogates: bool,
}

/// A 64-bit filter bit of a key, from its length and last byte (to find repeated keys).
#[inline]
fn key_bit(key: &str) -> u64 {
    let last_byte = key.as_bytes().last().copied().unwrap_or(0);
    1_u64 << ((key.len() * 7 + usize::from(last_byte)) & 63)
}

/// Whether an OCSF attribute took a source field (decides what goes to `unmapped`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum FieldUse {
    /// Not mapped: written to `unmapped` as is.
    #[default]
    Unused,
    /// Mapped whole: left out of `unmapped`.
    Taken,
    /// An object some of whose members were mapped: written without them.
    Partly,
}

/// One member of a [`RawObject`]; an object value is parsed at most once, on first use.
#[derive(Debug)]
pub(crate) struct Field<'a> {
    pub key: Cow<'a, str>,
    /// The value's JSON text, exactly as in the source (no surrounding whitespace).
    pub value: &'a str,
    /// Whether `value` may hold a `\\` (then a string value is unescaped, not borrowed).
    value_has_escapes: bool,
    object: OnceCell<Option<RawObject<'a>>>,
    /// Set when the OCSF output is decided, read when `unmapped` is written.
    pub used: Cell<FieldUse>,
}

impl<'a> Field<'a> {
    /// The value as an object (parsed once), `None` when it is not one.
    pub fn object(&self) -> Option<&RawObject<'a>> {
        self.object
            .get_or_init(|| RawObject::parse(self.value))
            .as_ref()
    }
}

#[derive(Deserialize)]
struct Key<'a>(#[serde(borrow)] Cow<'a, str>);

#[derive(Deserialize)]
struct BorrowedStr<'a>(#[serde(borrow)] Cow<'a, str>);

struct RawObjectVisitor;

impl<'de> Visitor<'de> for RawObjectVisitor {
    type Value = RawObject<'de>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawObject<'de>, A::Error> {
        let mut fields: Vec<Field<'de>> = Vec::with_capacity(map.size_hint().unwrap_or(16));
        let mut had_duplicate_keys = false;
        while let Some(Key(key)) = map.next_key()? {
            let value: &'de RawValue = map.next_value()?;
            let value = value.get();
            let value_has_escapes = value.contains('\\');
            if let Some(slot) = fields.iter_mut().find(|field| same_key(&field.key, &key)) {
                slot.value = value;
                slot.value_has_escapes = value_has_escapes;
                slot.object = OnceCell::new();
                had_duplicate_keys = true;
            } else {
                fields.push(Field {
                    key,
                    value,
                    value_has_escapes,
                    object: OnceCell::new(),
                    used: Cell::new(FieldUse::Unused),
                });
            }
        }
        Ok(RawObject {
            fields,
            had_duplicate_keys,
            has_wide_number: false,
            had_lone_surrogates: false,
        })
    }
}

impl<'de> Deserialize<'de> for RawObject<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<RawObject<'de>, D::Error> {
        deserializer.deserialize_map(RawObjectVisitor)
    }
}

impl<'a> RawObject<'a> {
    /// Parses a raw value that should be an object; `None` when it is anything else.
    pub fn parse(raw: &'a str) -> Option<RawObject<'a>> {
        if !raw.starts_with('{') {
            return None;
        }
        RawObject::scan_with_capacity(raw, NESTED_CAPACITY)
            .or_else(|| serde_json::from_str(raw).ok())
    }

    pub fn field(&self, key: &str) -> Option<&Field<'a>> {
        self.fields.iter().find(|field| same_key(&field.key, key))
    }

    /// The raw value of `key`.
    pub fn get(&self, key: &str) -> Option<&'a str> {
        self.field(key).map(|field| field.value)
    }

    /// `key` as a string (`None` when absent or not a string).
    pub fn str(&self, key: &str) -> Option<Cow<'a, str>> {
        let field = self.field(key)?;
        let text = field.value;
        if !text.starts_with('"') {
            return None;
        }
        if !field.value_has_escapes {
            return text.get(1..text.len() - 1).map(Cow::Borrowed);
        }
        raw_str(text)
    }

    /// `key` as a non-empty string.
    pub fn non_empty_str(&self, key: &str) -> Option<Cow<'a, str>> {
        self.str(key).filter(|text| !text.trim().is_empty())
    }

    /// `key` as a boolean.
    pub fn bool(&self, key: &str) -> Option<bool> {
        self.get(key).and_then(raw_bool)
    }

    /// `key` as an object (parsed once per event).
    pub fn object(&self, key: &str) -> Option<&RawObject<'a>> {
        self.field(key).and_then(Field::object)
    }

    /// `key` as a JSON number, its text verbatim (valid JSON).
    pub fn number_text(&self, key: &str) -> Option<&'a str> {
        let raw = self.get(key)?;
        raw.starts_with(|c: char| c == '-' || c.is_ascii_digit())
            .then_some(raw)
    }
}

impl<'a> RawObject<'a> {
    /// The fast path of parsing an object: one pass over `text` that accepts only JSON that
    /// `serde_json` accepts too and gives the same members. `None` for anything it does not
    /// handle (invalid JSON, keys with escapes, `\\u` escapes of surrogates, deep nesting,
    /// trailing text); the caller then parses with `serde_json`, which decides (and words the
    /// error).
    pub fn scan(text: &'a str) -> Option<RawObject<'a>> {
        RawObject::scan_with_capacity(text, TOP_LEVEL_CAPACITY)
    }

    fn scan_with_capacity(text: &'a str, capacity: usize) -> Option<RawObject<'a>> {
        let bytes = text.as_bytes();
        let mut at = skip_whitespace(bytes, 0);
        let object = scan_object(text, &mut at, capacity)?;
        (skip_whitespace(bytes, at) == bytes.len()).then_some(object)
    }
}

/// Room for the members of an event's top level (DI events have about 10 to 25) and of a
/// nested object, so that the member list is allocated once.
const TOP_LEVEL_CAPACITY: usize = 32;
const NESTED_CAPACITY: usize = 12;

/// Nesting deeper than this is left to `serde_json` (well below its own limit of 128).
const SCAN_MAX_DEPTH: usize = 100;

/// Scans the object starting at `text[*at]` (`{`), leaving `*at` after its `}`.
fn scan_object<'a>(text: &'a str, at: &mut usize, capacity: usize) -> Option<RawObject<'a>> {
    let bytes = text.as_bytes();
    if bytes.get(*at) != Some(&b'{') {
        return None;
    }
    let mut fields: Vec<Field<'a>> = Vec::with_capacity(capacity);
    let mut had_duplicate_keys = false;
    let mut keys_seen = 0_u64;
    let mut index = skip_whitespace(bytes, *at + 1);
    if bytes.get(index) == Some(&b'}') {
        *at = index + 1;
        return Some(RawObject {
            fields,
            had_duplicate_keys,
            has_wide_number: false,
            had_lone_surrogates: false,
        });
    }
    loop {
        if bytes.get(index) != Some(&b'"') {
            return None;
        }
        let (key_end, key_has_escapes) = scan_string(bytes, index)?;
        if key_has_escapes {
            return None;
        }
        let key = text.get(index + 1..key_end - 1)?;
        index = skip_whitespace(bytes, key_end);
        if bytes.get(index) != Some(&b':') {
            return None;
        }
        let value_start = skip_whitespace(bytes, index + 1);
        let nested = OnceCell::new();
        let (value_end, value_has_escapes) = match bytes.get(value_start) {
            Some(b'"') => scan_string(bytes, value_start)?,
            // An event's nested objects (initiated_by, resource, geoip, ...) are nearly all
            // looked into: scan them now, in the same pass, instead of skipping them here and
            // scanning them again on first use.
            Some(b'{') if capacity == TOP_LEVEL_CAPACITY => {
                let mut end = value_start;
                match scan_object(text, &mut end, NESTED_CAPACITY) {
                    Some(object) => {
                        let _ = nested.set(Some(object));
                        (end, true)
                    }
                    None => (skip_value(bytes, value_start, 1)?, true),
                }
            }
            _ => (skip_value(bytes, value_start, 1)?, true),
        };
        let value = text.get(value_start..value_end)?;
        // The search for a repeated key only runs when the filter says it may be one.
        let key_bit = key_bit(key);
        let repeated = if keys_seen & key_bit != 0 {
            fields.iter_mut().find(|field| same_key(&field.key, key))
        } else {
            None
        };
        keys_seen |= key_bit;
        if let Some(slot) = repeated {
            slot.value = value;
            slot.value_has_escapes = value_has_escapes;
            slot.object = nested;
            had_duplicate_keys = true;
        } else {
            fields.push(Field {
                key: Cow::Borrowed(key),
                value,
                value_has_escapes,
                object: nested,
                used: Cell::new(FieldUse::Unused),
            });
        }
        index = skip_whitespace(bytes, value_end);
        match bytes.get(index) {
            Some(b',') => index = skip_whitespace(bytes, index + 1),
            Some(b'}') => {
                *at = index + 1;
                return Some(RawObject {
                    fields,
                    had_duplicate_keys,
                    has_wide_number: false,
                    had_lone_surrogates: false,
                });
            }
            _ => return None,
        }
    }
}

/// JSON whitespace.
#[inline]
fn skip_whitespace(bytes: &[u8], mut at: usize) -> usize {
    while let Some(b' ' | b'\n' | b'\r' | b'\t') = bytes.get(at) {
        at += 1;
    }
    at
}

/// The end (exclusive) of the value starting at `bytes[at]`, `None` when it is not valid JSON
/// the fast path handles.
fn skip_value(bytes: &[u8], at: usize, depth: usize) -> Option<usize> {
    match *bytes.get(at)? {
        b'"' => scan_string(bytes, at).map(|(end, _)| end),
        b'{' => {
            if depth >= SCAN_MAX_DEPTH {
                return None;
            }
            let mut index = skip_whitespace(bytes, at + 1);
            if bytes.get(index) == Some(&b'}') {
                return Some(index + 1);
            }
            loop {
                if bytes.get(index) != Some(&b'"') {
                    return None;
                }
                let (key_end, _) = scan_string(bytes, index)?;
                index = skip_whitespace(bytes, key_end);
                if bytes.get(index) != Some(&b':') {
                    return None;
                }
                index = skip_whitespace(bytes, index + 1);
                index = skip_whitespace(bytes, skip_value(bytes, index, depth + 1)?);
                match bytes.get(index) {
                    Some(b',') => index = skip_whitespace(bytes, index + 1),
                    Some(b'}') => return Some(index + 1),
                    _ => return None,
                }
            }
        }
        b'[' => {
            if depth >= SCAN_MAX_DEPTH {
                return None;
            }
            let mut index = skip_whitespace(bytes, at + 1);
            if bytes.get(index) == Some(&b']') {
                return Some(index + 1);
            }
            loop {
                index = skip_whitespace(bytes, skip_value(bytes, index, depth + 1)?);
                match bytes.get(index) {
                    Some(b',') => index = skip_whitespace(bytes, index + 1),
                    Some(b']') => return Some(index + 1),
                    _ => return None,
                }
            }
        }
        b't' => bytes[at..].starts_with(b"true").then_some(at + 4),
        b'f' => bytes[at..].starts_with(b"false").then_some(at + 5),
        b'n' => bytes[at..].starts_with(b"null").then_some(at + 4),
        b'-' | b'0'..=b'9' => scan_number(bytes, at),
        _ => None,
    }
}

/// The end of the number at `bytes[at]`: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
/// `None` also for a number wider than a double: the fast path never hands one out, and the
/// `serde_json` path marks the event ([`RawObject::has_wide_number`]).
fn scan_number(bytes: &[u8], at: usize) -> Option<usize> {
    let digits = |from: usize| {
        bytes[from.min(bytes.len())..]
            .iter()
            .take_while(|byte| byte.is_ascii_digit())
            .count()
    };
    let mut index = at;
    if bytes.get(index) == Some(&b'-') {
        index += 1;
    }
    match bytes.get(index) {
        Some(b'0') => index += 1,
        Some(b'1'..=b'9') => index += digits(index),
        _ => return None,
    }
    if bytes.get(index) == Some(&b'.') {
        let fraction = digits(index + 1);
        if fraction == 0 {
            return None;
        }
        index += 1 + fraction;
    }
    if let Some(b'e' | b'E') = bytes.get(index) {
        index += 1;
        if let Some(b'+' | b'-') = bytes.get(index) {
            index += 1;
        }
        let exponent = digits(index);
        if exponent == 0 {
            return None;
        }
        index += exponent;
        return (!is_wide_number(&bytes[at..index])).then_some(index);
    }
    // Without an exponent only some 309 digits and more can overflow a double.
    (index - at < 300 || !is_wide_number(&bytes[at..index])).then_some(index)
}

/// Whether the JSON number `token` is wider than a double (serde_json refuses it).
fn is_wide_number(token: &[u8]) -> bool {
    std::str::from_utf8(token)
        .ok()
        .and_then(|text| text.parse::<f64>().ok())
        .is_none_or(f64::is_infinite)
}

/// The spans of the numbers of valid JSON `text` that are wider than a double.
fn wide_number_spans(text: &str) -> impl Iterator<Item = (usize, usize)> + '_ {
    let bytes = text.as_bytes();
    let mut at = 0;
    std::iter::from_fn(move || {
        while let Some(&byte) = bytes.get(at) {
            match byte {
                b'"' => {
                    // Skip the string (valid JSON: every `\` escapes the next byte).
                    at += 1;
                    while let Some(&inner) = bytes.get(at) {
                        at += if inner == b'\\' { 2 } else { 1 };
                        if inner == b'"' {
                            break;
                        }
                    }
                }
                b'-' | b'0'..=b'9' => {
                    let start = at;
                    while let Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9') = bytes.get(at) {
                        at += 1;
                    }
                    if is_wide_number(&bytes[start..at]) {
                        return Some((start, at));
                    }
                }
                _ => at += 1,
            }
        }
        None
    })
}

/// Whether valid JSON `text` holds a number wider than a double.
pub(crate) fn has_wide_number(text: &str) -> bool {
    wide_number_spans(text).next().is_some()
}

/// Valid JSON `text` with every number wider than a double written as a string (`1e400` ->
/// `"1e400"`): what serde_json refuses becomes a value it reads, the digits kept.
pub(crate) fn wide_numbers_as_strings(text: &str) -> Cow<'_, str> {
    let mut spans = wide_number_spans(text).peekable();
    if spans.peek().is_none() {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    let mut copied = 0;
    for (start, end) in spans {
        out.push_str(&text[copied..start]);
        out.push('"');
        out.push_str(&text[start..end]);
        out.push('"');
        copied = end;
    }
    out.push_str(&text[copied..]);
    Cow::Owned(out)
}

/// The code unit of the `\\u` escape at `bytes[at]` (the backslash), when there is one.
fn escaped_unit(bytes: &[u8], at: usize) -> Option<u16> {
    if bytes.get(at..at + 2)? != b"\\u" {
        return None;
    }
    let hex = bytes.get(at + 2..at + 6)?;
    if !hex.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    u16::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()
}

/// The spans of the `\\u` escapes of lone surrogates in JSON `text`: a high surrogate not
/// followed by an escaped low one, or a low one not after a high one. `text` need not be valid
/// JSON yet (the caller's parser decides that afterwards).
fn lone_surrogate_spans(text: &str) -> impl Iterator<Item = (usize, usize)> + '_ {
    let bytes = text.as_bytes();
    let mut at = 0;
    std::iter::from_fn(move || {
        // In valid JSON a `\` is only ever inside a string, and escapes the byte after it.
        while let Some(offset) = memchr::memchr(b'\\', bytes.get(at..)?) {
            let start = at + offset;
            match escaped_unit(bytes, start) {
                Some(0xd800..=0xdbff)
                    if matches!(escaped_unit(bytes, start + 6), Some(0xdc00..=0xdfff)) =>
                {
                    at = start + 12;
                }
                Some(0xd800..=0xdfff) => {
                    at = start + 6;
                    return Some((start, start + 6));
                }
                Some(_) => at = start + 6,
                None => at = start + 2,
            }
        }
        None
    })
}

/// JSON `text` with every `\\u` escape of a lone surrogate written `\\ufffd` (U+FFFD, the
/// replacement character, as Go's `encoding/json` and `String::from_utf16_lossy` read one). Such
/// an escape is valid JSON grammar, but no Unicode string can hold it: serde_json and most
/// consumers refuse it, in an event's values and keys alike.
pub(crate) fn lone_surrogates_replaced(text: &str) -> Cow<'_, str> {
    let mut spans = lone_surrogate_spans(text).peekable();
    if spans.peek().is_none() {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for (start, end) in spans {
        out.push_str(&text[copied..start]);
        out.push_str("\\ufffd");
        copied = end;
    }
    out.push_str(&text[copied..]);
    Cow::Owned(out)
}

/// The end (after the closing quote) of the string whose opening quote is `bytes[at]`, and
/// whether it has escapes. Rejects
/// raw control characters, unknown escapes and `\\u` escapes of surrogates (left to
/// `serde_json`).
#[inline(always)]
fn scan_string(bytes: &[u8], at: usize) -> Option<(usize, bool)> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let mut index = at + 1;
    let mut has_escapes = false;
    loop {
        // Eight bytes at a time up to the first `"`, `\\` or control character. The classic
        // "has a zero byte" test may flag bytes after the first match, never before it: exact
        // for the lowest flagged byte, which is all that is used.
        while let Some(chunk) = bytes.get(index..index + 8) {
            let mut eight = [0_u8; 8];
            eight.copy_from_slice(chunk);
            let word = u64::from_le_bytes(eight);
            let quotes = word ^ (ONES * u64::from(b'"'));
            let backslashes = word ^ (ONES * u64::from(b'\\'));
            let special = ((quotes.wrapping_sub(ONES) & !quotes)
                | (backslashes.wrapping_sub(ONES) & !backslashes)
                | (word.wrapping_sub(ONES * 0x20) & !word))
                & HIGHS;
            if special != 0 {
                index += (special.trailing_zeros() / 8) as usize;
                break;
            }
            index += 8;
        }
        match *bytes.get(index)? {
            b'"' => return Some((index + 1, has_escapes)),
            b'\\' => match *bytes.get(index + 1)? {
                b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => {
                    has_escapes = true;
                    index += 2;
                }
                b'u' => {
                    has_escapes = true;
                    let hex = bytes.get(index + 2..index + 6)?;
                    let text = std::str::from_utf8(hex).ok()?;
                    if !hex.iter().all(u8::is_ascii_hexdigit) {
                        return None;
                    }
                    let code = u16::from_str_radix(text, 16).ok()?;
                    if (0xd800..0xe000).contains(&code) {
                        return None;
                    }
                    index += 6;
                }
                _ => return None,
            },
            0..0x20 => return None,
            _ => index += 1,
        }
    }
}

/// Key equality, cheap for the common miss: length and last byte before the full compare.
/// Key equality, cheap for the common miss: length and last byte before the full compare.
#[inline]
fn same_key(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.last() == b.last() && a == b
}

/// A raw value as a string, borrowed when it has no escapes.
pub(crate) fn raw_str(text: &str) -> Option<Cow<'_, str>> {
    if !text.starts_with('"') {
        return None;
    }
    let inner = &text[1..text.len() - 1];
    if !inner.contains('\\') {
        return Some(Cow::Borrowed(inner));
    }
    serde_json::from_str::<BorrowedStr<'_>>(text)
        .ok()
        .map(|value| value.0)
}

/// A raw value as a boolean.
pub(crate) fn raw_bool(raw: &str) -> Option<bool> {
    match raw {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

/// What kind of JSON value a text starts with (for the "not an object" error).
pub(crate) fn json_kind(text: &[u8]) -> &'static str {
    match text.first() {
        Some(b'[') => "array",
        Some(b'"') => "string",
        Some(b't' | b'f') => "boolean",
        Some(b'n') => "null",
        _ => "number",
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::RawObject;

    /// (key, value text) pairs and the duplicate flag, to compare the two parsers.
    fn members(object: &RawObject<'_>) -> (Vec<(String, String)>, bool) {
        let fields = object
            .fields
            .iter()
            .map(|field| (field.key.to_string(), field.value.to_owned()))
            .collect();
        (fields, object.had_duplicate_keys)
    }

    /// The fast scan accepts only what `serde_json` accepts, with the same members.
    fn assert_scan_agrees(text: &str) {
        let by_serde: Result<RawObject<'_>, _> = serde_json::from_str(text);
        if let Some(scanned) = RawObject::scan(text) {
            let by_serde = by_serde.unwrap_or_else(|error| panic!("{text:?}: {error}"));
            assert_eq!(members(&scanned), members(&by_serde), "{text:?}");
        }
    }

    #[test]
    fn scan_gives_the_members_serde_json_gives() {
        let text = r#" {"a":"x\"y\\z\u00e9","b" : [1, -2.5e+3, {"c":null}] ,"d":{},"e":[],"a":true,"n":0} "#;
        let scanned = RawObject::scan(text).unwrap();
        assert_eq!(
            members(&scanned).0,
            [
                ("a".to_owned(), "true".to_owned()),
                ("b".to_owned(), "[1, -2.5e+3, {\"c\":null}]".to_owned()),
                ("d".to_owned(), "{}".to_owned()),
                ("e".to_owned(), "[]".to_owned()),
                ("n".to_owned(), "0".to_owned()),
            ]
        );
        assert!(scanned.had_duplicate_keys);
        assert_scan_agrees(text);
    }

    #[test]
    fn keys_alike_in_the_filter_are_not_taken_for_repeated_ones() {
        // Same length and last byte: the same filter bit, different keys.
        let distinct = RawObject::scan(r#"{"ab":1,"cb":2}"#).unwrap();
        assert_eq!(
            members(&distinct),
            (
                vec![
                    ("ab".to_owned(), "1".to_owned()),
                    ("cb".to_owned(), "2".to_owned())
                ],
                false
            )
        );
        let repeated = RawObject::scan(r#"{"ab":1,"cb":2,"ab":{"x":3}}"#).unwrap();
        assert_eq!(
            members(&repeated),
            (
                vec![
                    ("ab".to_owned(), "{\"x\":3}".to_owned()),
                    ("cb".to_owned(), "2".to_owned())
                ],
                true
            )
        );
        assert_scan_agrees(r#"{"ab":1,"cb":2,"ab":{"x":3}}"#);
    }

    #[test]
    fn scan_leaves_what_it_does_not_handle_to_serde_json() {
        for text in [
            r#"{"k\"ey":1}"#,
            r#"{"a":"\ud800"}"#,
            r#"{"a":"\x"}"#,
            "{\"a\":\"\u{1}\"}",
            r#"{"a":01}"#,
            r#"{"a":1.}"#,
            r#"{"a":1e}"#,
            r#"{"a":tru}"#,
            r#"{"a":1,}"#,
            r#"{"a":1} x"#,
            r#"{"a" 1}"#,
            r#"{"a":[1 2]}"#,
            r#"{"a":"#,
            r#"{"a":"abcdefghijklmnop"#,
        ] {
            assert!(RawObject::scan(text).is_none(), "{text:?}");
        }
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(200), "]".repeat(200));
        assert!(RawObject::scan(&deep).is_none());
    }

    #[test]
    fn numbers_wider_than_a_double_leave_the_fast_path_and_can_be_written_as_strings() {
        let text = r#"{"a":[1e400,-2E+999,1.5e308],"s":"1e999 \"2e999\"","n":1e-999}"#;
        assert!(RawObject::scan(text).is_none());
        assert!(serde_json::from_str::<RawObject<'_>>(text).is_ok());
        assert!(super::has_wide_number(text));
        assert_eq!(
            super::wide_numbers_as_strings(text),
            r#"{"a":["1e400","-2E+999",1.5e308],"s":"1e999 \"2e999\"","n":1e-999}"#
        );
        let long = format!(r#"{{"n":{}}}"#, "9".repeat(400));
        assert!(RawObject::scan(&long).is_none() && super::has_wide_number(&long));
        let fine = format!(r#"{{"n":{},"m":-0.0e0,"s":"1e999"}}"#, "9".repeat(300));
        assert!(RawObject::scan(&fine).is_some());
        assert!(!super::has_wide_number(&fine));
        assert!(matches!(
            super::wide_numbers_as_strings(&fine),
            std::borrow::Cow::Borrowed(_)
        ));
    }

    #[test]
    fn lone_surrogate_escapes_are_replaced_and_pairs_kept() {
        for (text, expected) in [
            (r#"{"a":"x"}"#, None),
            (r#"{"a":"\ud83d\ude00 \uD83D\uDE00 \u00e9"}"#, None),
            (r#"{"a":"\udc00"}"#, Some(r#"{"a":"\ufffd"}"#)),
            (r#"{"a":"\ud800"}"#, Some(r#"{"a":"\ufffd"}"#)),
            (r#"{"a":"\uDBFFx"}"#, Some(r#"{"a":"\ufffdx"}"#)),
            (
                r#"{"a":"\ud83d\ud83d\ude00\ude00"}"#,
                Some(r#"{"a":"\ufffd\ud83d\ude00\ufffd"}"#),
            ),
            (r#"{"a":"\ud800\\udc00"}"#, Some(r#"{"a":"\ufffd\\udc00"}"#)),
            (
                r#"{"a":"\\ud800","b":"\\\ud800"}"#,
                Some(r#"{"a":"\\ud800","b":"\\\ufffd"}"#),
            ),
            (
                r#"{"\udc00":["\ud800\u0041"]}"#,
                Some(r#"{"\ufffd":["\ufffd\u0041"]}"#),
            ),
        ] {
            let replaced = super::lone_surrogates_replaced(text);
            match expected {
                None => assert!(matches!(replaced, std::borrow::Cow::Borrowed(_)), "{text}"),
                Some(expected) => {
                    assert_eq!(replaced, expected, "{text}");
                    assert!(serde_json::from_str::<serde_json::Value>(&replaced).is_ok());
                }
            }
        }
        // The text is read before it is parsed: invalid JSON must not trip it up (found by
        // fuzz/: an event ending in a backslash).
        for text in [
            r#"{"a":"\"#,
            r#"{"a":"\u"#,
            r#"{"a":"\ud80"#,
            r#"{"a":"\ud800\"#,
        ] {
            let _ = super::lone_surrogates_replaced(text);
        }
        assert_eq!(
            super::lone_surrogates_replaced(r#"{"a":"\udc00"#),
            r#"{"a":"\ufffd"#
        );
    }

    /// Every fixture event takes the fast path, with the members `serde_json` gives.
    #[test]
    fn every_fixture_event_is_scanned_like_serde_json_parses_it() {
        let mut events = 0;
        for dir in [
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../tests/fixtures/public/jumpcloud-events"
            ),
            concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/events"),
        ] {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.extension().is_none_or(|ext| ext != "ndjson") {
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap();
                for line in text.lines().filter(|line| !line.trim().is_empty()) {
                    let scanned = RawObject::scan(line)
                        .unwrap_or_else(|| panic!("{}: not scanned: {line}", path.display()));
                    let by_serde: RawObject<'_> = serde_json::from_str(line).unwrap();
                    assert_eq!(members(&scanned), members(&by_serde), "{line}");
                    for field in &scanned.fields {
                        if let Some(nested) = field.object() {
                            let nested_by_serde: RawObject<'_> =
                                serde_json::from_str(field.value).unwrap();
                            assert_eq!(members(nested), members(&nested_by_serde), "{line}");
                        }
                    }
                    events += 1;
                }
            }
        }
        assert!(events >= 331, "{events} fixture events");
    }

    fn json_value() -> impl Strategy<Value = serde_json::Value> {
        use serde_json::Value;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            (-1e300_f64..1e300).prop_map(Value::from),
            "[ -~\u{e9}\u{1F600}\n\u{1}]{0,20}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                proptest::collection::vec(("[a-z_]{0,8}", inner), 0..6)
                    .prop_map(|members| Value::Object(members.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn scan_takes_arbitrary_valid_objects_like_serde_json(
            members in proptest::collection::vec(("[a-z_]{1,8}", json_value()), 0..8),
            pretty in any::<bool>(),
        ) {
            let object = serde_json::Value::Object(members.into_iter().collect());
            let text = if pretty {
                serde_json::to_string_pretty(&object).unwrap()
            } else {
                serde_json::to_string(&object).unwrap()
            };
            prop_assert!(RawObject::scan(&text).is_some(), "{}", text);
            assert_scan_agrees(&text);
        }

        #[test]
        fn scan_agrees_with_serde_json_on_arbitrary_text(text in "\\{[\"\\\\a-c:,{}\\[\\] 0-9.eE+\\-tfrulsn\u{e9}\u{1}]{0,40}") {
            assert_scan_agrees(&text);
        }

        #[test]
        fn scan_agrees_with_serde_json_on_arbitrary_objects(
            value in proptest::collection::hash_map("[a-z\"\\\\]{0,12}", "[ -~\u{e9}\n]{0,30}", 0..8)
        ) {
            let text = serde_json::to_string(&value).unwrap();
            prop_assert!(RawObject::scan(&text).is_some() || text.contains("\\\"") || text.contains("\\\\"));
            assert_scan_agrees(&text);
        }
    }
}
