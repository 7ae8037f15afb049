//! Reading an events page. The body is a JSON array of event objects; one `serde_json` pass
//! splits it into its elements, each a zero-copy slice of the body, and reads the two fields the
//! fetcher needs from each: `id` and `timestamp` (dedup and the cursor). Everything else is the
//! mapper's. The whole body is parsed as JSON, so a truncated or corrupt page is an error (and
//! is fetched again), never a handful of odd events. Strings the fetcher does not read are not
//! checked for UTF-8 here: the mapper checks each event and dead-letters one that is not.

use bytes::Bytes;
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::value::RawValue;

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
}

/// The two fields as `serde` reads an object: absent, `null` or not a string gives `None`; an
/// object naming either twice is refused by `serde` and yields neither (see [`split_page`]).
#[derive(Deserialize)]
struct Identity<'a> {
    #[serde(borrow)]
    id: Option<&'a RawValue>,
    #[serde(borrow)]
    timestamp: Option<&'a RawValue>,
}

fn text_of(value: Option<&RawValue>) -> Option<String> {
    let text = value?.get();
    if !text.starts_with('"') {
        return None;
    }
    if text.contains('\\') {
        serde_json::from_str(text).ok()
    } else {
        // Valid JSON without escapes: the text between the quotes is the string.
        Some(text[1..text.len() - 1].to_owned())
    }
}

/// Parses one JSON value starting at `body[at]`: the value and the index just past it.
fn value_at<'a, T: Deserialize<'a>>(body: &'a [u8], at: usize) -> Result<(T, usize), String> {
    let mut values = serde_json::Deserializer::from_slice(&body[at..]).into_iter::<T>();
    match values.next() {
        Some(Ok(value)) => Ok((value, at + values.byte_offset())),
        Some(Err(error)) => Err(format!("at byte {at}: {error}")),
        None => Err(format!("at byte {at}: expected a value, found the end")),
    }
}

fn skip_ws(body: &[u8], mut at: usize) -> usize {
    while let Some(b' ' | b'\t' | b'\n' | b'\r') = body.get(at) {
        at += 1;
    }
    at
}

/// Splits an events page (a JSON array) into its elements, reading each object's `id` and
/// `timestamp` in the same pass. Elements that are not objects, or objects `serde` refuses as a
/// struct (a key given twice), are kept with neither field: the mapper decides what they are.
pub(crate) fn split_page(body: &Bytes) -> Result<Vec<PageEvent>, String> {
    let mut at = skip_ws(body, 0);
    if body.get(at) != Some(&b'[') {
        return Err(format!("at byte {at}: expected `[`"));
    }
    at = skip_ws(body, at + 1);
    let mut events = Vec::new();
    if body.get(at) == Some(&b']') {
        at += 1;
    } else {
        loop {
            let start = at;
            let read = if body.get(start) == Some(&b'{') {
                value_at::<Identity<'_>>(body, start)
                    .ok()
                    .map(|(identity, end)| (text_of(identity.id), text_of(identity.timestamp), end))
            } else {
                None
            };
            let (id, timestamp, end) = match read {
                Some(read) => read,
                // Not an object, or one serde refuses as a struct: still a value to keep, as
                // long as it is valid JSON.
                None => (None, None, value_at::<IgnoredAny>(body, start)?.1),
            };
            events.push(PageEvent {
                bytes: body.slice(start..end),
                id,
                timestamp,
            });
            at = skip_ws(body, end);
            match body.get(at) {
                Some(b',') => at = skip_ws(body, at + 1),
                Some(b']') => {
                    at += 1;
                    break;
                }
                Some(_) => return Err(format!("at byte {at}: expected `,` or `]`")),
                None => return Err(format!("at byte {at}: the array is not closed")),
            }
        }
    }
    at = skip_ws(body, at);
    if at != body.len() {
        return Err(format!("at byte {at}: trailing characters after the array"));
    }
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::Value;

    /// `id` and `timestamp` of `element` as the page reader reads them, inside a page.
    fn identity_of(element: &str) -> (Option<String>, Option<String>) {
        let body = Bytes::from(format!("[{element}]"));
        let events = split_page(&body).unwrap_or_else(|e| panic!("{e}: {element}"));
        assert_eq!(events.len(), 1, "{element}");
        assert_eq!(&events[0].bytes[..], element.trim().as_bytes());
        let PageEvent { id, timestamp, .. } = events.into_iter().next().unwrap();
        (id, timestamp)
    }

    /// What a plain `serde` struct reads: the reference the page reader must agree with.
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
            assert_eq!(identity_of(raw), expected, "{raw}");
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
        /// On any valid JSON (compact or pretty), the page reader reads what serde reads.
        #[test]
        fn agrees_with_serde(value in json_value(), pretty in any::<bool>()) {
            let text = if pretty {
                serde_json::to_string_pretty(&value).unwrap()
            } else {
                serde_json::to_string(&value).unwrap()
            };
            prop_assert_eq!(identity_of(&text), reference(text.as_bytes()));
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
            prop_assert_eq!(identity_of(&text), reference(text.as_bytes()));
        }
    }

    #[test]
    fn splits_a_page_into_verbatim_slices_of_the_body() {
        let body = Bytes::from_static(
            b" [ {\"id\":\"a\",\"timestamp\":\"t1\",\"n\":[1,{\"x\":\"]\"}]} ,\n42, \"s\" ,[1,2],{\"id\":\"b\"} ] \n",
        );
        let events = split_page(&body).unwrap();
        let texts: Vec<&[u8]> = events.iter().map(|e| &e.bytes[..]).collect();
        assert_eq!(
            texts,
            [
                &b"{\"id\":\"a\",\"timestamp\":\"t1\",\"n\":[1,{\"x\":\"]\"}]}"[..],
                b"42",
                b"\"s\"",
                b"[1,2]",
                b"{\"id\":\"b\"}",
            ]
        );
        // Slices of the body, not copies.
        let base = body.as_ptr() as usize;
        assert!(events.iter().all(|e| (e.bytes.as_ptr() as usize) >= base
            && (e.bytes.as_ptr() as usize) < base + body.len()));
        assert_eq!(events[0].id.as_deref(), Some("a"));
        assert_eq!(events[0].timestamp.as_deref(), Some("t1"));
        assert!(
            events[1..4]
                .iter()
                .all(|e| e.id.is_none() && e.timestamp.is_none())
        );
        assert_eq!(events[4].id.as_deref(), Some("b"));
        assert!(split_page(&Bytes::from_static(b"[]")).unwrap().is_empty());
        assert!(
            split_page(&Bytes::from_static(b" [ ] "))
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn invalid_utf8_in_an_unread_string_is_kept_verbatim_for_the_mapper_to_judge() {
        let body = Bytes::from_static(b"[{\"id\":\"a\",\"x\":\"\xff\"},{\"id\":\"b\"}]");
        let events = split_page(&body).unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(&events[0].bytes[..], b"{\"id\":\"a\",\"x\":\"\xff\"}");
        assert_eq!(events[0].id.as_deref(), Some("a"));
        assert_eq!(events[1].id.as_deref(), Some("b"));
    }

    #[test]
    fn a_truncated_or_corrupt_page_is_an_error() {
        for body in [
            &b""[..],
            b"{}",
            b"[",
            b"[{\"id\":\"a\"}",
            b"[{\"id\":\"a\"},",
            b"[{\"id\":\"a\"},]",
            b"[{\"id\":\"a\"} {\"id\":\"b\"}]",
            b"[{\"id\":\"a\",\"x\":{\"y\":tru}}]",
            b"[{\"id\":\"a\",\"x\":\"unterminated}]",
            b"[{\"id\":\"a\",\"id\":\"b\",\"x\":nul}]",
            b"[1,2]x",
            b"[1,,2]",
        ] {
            assert!(
                split_page(&Bytes::copy_from_slice(body)).is_err(),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    proptest! {
        /// Any array of JSON values, compact or pretty: one element per value, each the exact
        /// text serde finds there.
        #[test]
        fn splits_like_serde(values in prop::collection::vec(json_value(), 0..6), pretty in any::<bool>()) {
            let text = if pretty {
                serde_json::to_string_pretty(&values).unwrap()
            } else {
                serde_json::to_string(&values).unwrap()
            };
            let expected: Vec<&serde_json::value::RawValue> = serde_json::from_str(&text).unwrap();
            let events = split_page(&Bytes::from(text.clone())).unwrap();
            prop_assert_eq!(events.len(), expected.len());
            for (event, raw) in events.iter().zip(expected) {
                prop_assert_eq!(&event.bytes[..], raw.get().as_bytes());
            }
        }
    }
}
