//! Valid JSON that common parsers refuse or read differently, made readable: numbers wider
//! than a double, `\u` escapes of lone surrogates.

use std::borrow::Cow;

/// Whether the JSON number `token` is wider than a double (serde_json refuses it).
pub(super) fn is_wide_number(token: &[u8]) -> bool {
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
