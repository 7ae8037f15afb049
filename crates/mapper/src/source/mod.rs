//! The raw Directory Insights event, read lazily: the top level (and any object the mapper looks
//! into) is a list of `(key, raw JSON)` pairs borrowed from the input; only the fields the mapper
//! uses are decoded, and only into borrowed strings where the JSON has no escapes.

use std::borrow::Cow;
use std::cell::{Cell, OnceCell};
use std::fmt;

use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

mod repair;
mod scan;
#[cfg(test)]
mod tests;

pub(crate) use repair::{has_wide_number, lone_surrogates_replaced, wide_numbers_as_strings};
use scan::{NESTED_CAPACITY, TOP_LEVEL_CAPACITY, scan_object, skip_whitespace};

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
