//! The one-pass object scanner: accepts only JSON that `serde_json` accepts too, with the same
//! members; anything else is left to `serde_json`.

use std::borrow::Cow;
use std::cell::{Cell, OnceCell};

use super::repair::is_wide_number;
use super::{Field, FieldUse, RawObject, key_bit, same_key};

/// Room for the members of an event's top level (DI events have about 10 to 25) and of a
/// nested object, so that the member list is allocated once.
pub(super) const TOP_LEVEL_CAPACITY: usize = 32;
pub(super) const NESTED_CAPACITY: usize = 12;

/// Nesting deeper than this is left to `serde_json` (well below its own limit of 128). The
/// mapper relies on it: an object the scan accepts is never deeper than
/// [`crate::MAX_NESTING_DEPTH`], so only the fallback path checks the depth (a test holds it).
pub(crate) const SCAN_MAX_DEPTH: usize = 100;
const _: () = assert!(SCAN_MAX_DEPTH < crate::MAX_NESTING_DEPTH);

/// Scans the object starting at `text[*at]` (`{`), leaving `*at` after its `}`.
pub(super) fn scan_object<'a>(
    text: &'a str,
    at: &mut usize,
    capacity: usize,
) -> Option<RawObject<'a>> {
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
pub(super) fn skip_whitespace(bytes: &[u8], mut at: usize) -> usize {
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
