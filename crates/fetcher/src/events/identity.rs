//! The two fields the fetcher reads from each event, `id` and `timestamp` (for dedup and for
//! the cursor); everything else is the mapper's.
//!
//! Every event has already been checked to be valid JSON when its page was split
//! (`serde_json` parses the page), so this only walks the top level of the object: string
//! values are skipped with `memchr`, nested values by counting brackets. It reads about a
//! kilobyte per event at memory speed, where a `serde` struct visitor spent a microsecond.

use memchr::memchr2;

/// An event's `id` and `timestamp`, when the event is an object and they are strings.
/// An object with either field twice yields neither (as `serde` rejects it).
pub(crate) fn identity(raw: &[u8]) -> (Option<String>, Option<String>) {
    scan(raw).unwrap_or((None, None))
}

fn scan(raw: &[u8]) -> Option<(Option<String>, Option<String>)> {
    let mut at = skip_ws(raw, 0);
    if raw.get(at) != Some(&b'{') {
        return None;
    }
    at = skip_ws(raw, at + 1);
    let mut id: Field = Field::Absent;
    let mut timestamp: Field = Field::Absent;
    if raw.get(at) == Some(&b'}') {
        return Some((None, None));
    }
    loop {
        let key_end = skip_string(raw, at)?;
        let key = &raw[at..key_end];
        at = skip_ws(raw, key_end);
        if raw.get(at) != Some(&b':') {
            return None;
        }
        let value_start = skip_ws(raw, at + 1);
        let value_end = skip_value(raw, value_start)?;
        let slot = if key == b"\"id\"" {
            Some(&mut id)
        } else if key == b"\"timestamp\"" {
            Some(&mut timestamp)
        } else if key.contains(&b'\\') {
            // An escaped key may still spell one of the two: decode it (rare).
            match serde_json::from_slice::<String>(key).ok().as_deref() {
                Some("id") => Some(&mut id),
                Some("timestamp") => Some(&mut timestamp),
                _ => None,
            }
        } else {
            None
        };
        if let Some(slot) = slot {
            *slot = match slot {
                Field::Absent => Field::Value(&raw[value_start..value_end]),
                _ => Field::Duplicate,
            };
        }
        at = skip_ws(raw, value_end);
        match raw.get(at) {
            Some(b',') => at = skip_ws(raw, at + 1),
            Some(b'}') => break,
            _ => return None,
        }
    }
    if matches!(id, Field::Duplicate) || matches!(timestamp, Field::Duplicate) {
        return Some((None, None));
    }
    Some((id.into_string(), timestamp.into_string()))
}

enum Field<'a> {
    Absent,
    Value(&'a [u8]),
    Duplicate,
}

impl Field<'_> {
    fn into_string(self) -> Option<String> {
        match self {
            Field::Value(value) if value.first() == Some(&b'"') => {
                if value.contains(&b'\\') {
                    serde_json::from_slice(value).ok()
                } else {
                    // Valid JSON without escapes: the text between the quotes is the string.
                    std::str::from_utf8(&value[1..value.len() - 1])
                        .ok()
                        .map(str::to_owned)
                }
            }
            _ => None,
        }
    }
}

fn skip_ws(raw: &[u8], mut at: usize) -> usize {
    while let Some(b' ' | b'\t' | b'\n' | b'\r') = raw.get(at) {
        at += 1;
    }
    at
}

/// `raw[at]` is `"`: the index just past the closing quote.
fn skip_string(raw: &[u8], at: usize) -> Option<usize> {
    if raw.get(at) != Some(&b'"') {
        return None;
    }
    let mut at = at + 1;
    loop {
        let found = at + memchr2(b'"', b'\\', raw.get(at..)?)?;
        if raw[found] == b'"' {
            return Some(found + 1);
        }
        at = found + 2;
    }
}

/// The index just past the value starting at `raw[at]`.
fn skip_value(raw: &[u8], at: usize) -> Option<usize> {
    match raw.get(at)? {
        b'"' => skip_string(raw, at),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut at = at;
            loop {
                match raw.get(at)? {
                    b'"' => {
                        at = skip_string(raw, at)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(at + 1);
                        }
                    }
                    _ => {}
                }
                at += 1;
            }
        }
        _ => {
            let mut at = at;
            while let Some(byte) = raw.get(at) {
                if matches!(byte, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r') {
                    break;
                }
                at += 1;
            }
            Some(at)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::Value;

    /// What `serde` reads: the reference this scanner must agree with.
    fn reference(raw: &[u8]) -> (Option<String>, Option<String>) {
        #[derive(serde::Deserialize)]
        struct Identity {
            #[serde(default)]
            id: Option<Value>,
            #[serde(default)]
            timestamp: Option<Value>,
        }
        if raw.trim_ascii_start().first() != Some(&b'{') {
            return (None, None);
        }
        match serde_json::from_slice::<Identity>(raw) {
            Ok(identity) => {
                let text = |v: Option<Value>| match v {
                    Some(Value::String(s)) => Some(s),
                    _ => None,
                };
                (text(identity.id), text(identity.timestamp))
            }
            Err(_) => (None, None),
        }
    }

    #[test]
    fn reads_string_id_and_timestamp_only() {
        type Expected = (Option<&'static str>, Option<&'static str>);
        let cases: &[(&str, Expected)] = &[
            (
                r#"{"id":"a1","timestamp":"2026-01-01T00:00:00.5Z","x":{"id":1}}"#,
                (Some("a1"), Some("2026-01-01T00:00:00.5Z")),
            ),
            (r#"{"event_type":"x"}"#, (None, None)),
            (r#"{"id":17,"timestamp":null}"#, (None, None)),
            ("42", (None, None)),
            (r#"["id","2026-01-01T00:00:00Z"]"#, (None, None)),
            (
                r#" { "a" : [1, {"id": "inner"}] , "id" : "outer" } "#,
                (Some("outer"), None),
            ),
            (
                r#"{"i\u0064":"esc","timestamp":"t\"q"}"#,
                (Some("esc"), Some("t\"q")),
            ),
            (r#"{"id":"a","id":"b"}"#, (None, None)),
            (r#"{}"#, (None, None)),
            (
                r#"{"s":"\\","id":"after-backslash"}"#,
                (Some("after-backslash"), None),
            ),
        ];
        for (raw, (id, timestamp)) in cases {
            let expected = (id.map(str::to_owned), timestamp.map(str::to_owned));
            assert_eq!(identity(raw.as_bytes()), expected, "{raw}");
            assert_eq!(reference(raw.as_bytes()), expected, "reference on {raw}");
        }
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Value::from),
            ".{0,12}".prop_map(Value::String),
            prop_oneof![Just("id"), Just("timestamp"), Just("x\\\"")]
                .prop_map(|s| Value::String(s.to_owned())),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                prop::collection::vec(
                    (
                        prop_oneof![
                            Just("id".to_owned()),
                            Just("timestamp".to_owned()),
                            ".{0,6}"
                        ],
                        inner
                    ),
                    0..5
                )
                .prop_map(|fields| Value::Object(fields.into_iter().collect())),
            ]
        })
    }

    proptest! {
        /// On any valid JSON (compact or pretty), the scanner reads what serde reads.
        #[test]
        fn agrees_with_serde(value in json_value(), pretty in any::<bool>()) {
            let text = if pretty {
                serde_json::to_string_pretty(&value).unwrap()
            } else {
                serde_json::to_string(&value).unwrap()
            };
            prop_assert_eq!(identity(text.as_bytes()), reference(text.as_bytes()));
        }

        /// Duplicate keys (which `serde_json::Value` cannot express) yield neither field.
        #[test]
        fn duplicates_agree_with_serde(
            first in ".{0,8}",
            second in ".{0,8}",
            key in prop_oneof![Just("id"), Just("timestamp")],
            other in prop_oneof![Just("id"), Just("timestamp"), Just("x")],
        ) {
            let text = format!(
                "{{{}:{},{}:\"t\",{}:{}}}",
                serde_json::to_string(key).unwrap(),
                serde_json::to_string(&first).unwrap(),
                serde_json::to_string(other).unwrap(),
                serde_json::to_string(key).unwrap(),
                serde_json::to_string(&second).unwrap()
            );
            prop_assert_eq!(identity(text.as_bytes()), reference(text.as_bytes()));
        }
    }
}
