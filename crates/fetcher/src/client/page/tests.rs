use super::*;
use proptest::prelude::*;
use serde_json::Value;

/// serde's reading of a page, which [`split_page`] must match exactly.
mod serde_reference {
    use super::PageEvent;
    use bytes::Bytes;
    use serde::de::IgnoredAny;
    use serde_json::value::RawValue;

    /// The two fields as `serde` reads an object: absent, `null` or not a string gives `None`; an
    /// object naming either twice is refused by `serde` and yields neither (see [`split_page`]).
    #[derive(serde::Deserialize)]
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
    fn value_at<'a, T: serde::Deserialize<'a>>(
        body: &'a [u8],
        at: usize,
    ) -> Result<(T, usize), String> {
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

    /// The reference: the page reader as it was written with serde (elements parsed with
    /// `StreamDeserializer`, the two fields with a borrowing struct). `split_page` must agree.
    pub(super) fn serde_split_page(body: &Bytes) -> Result<Vec<PageEvent>, String> {
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
                        .map(|(identity, end)| {
                            (text_of(identity.id), text_of(identity.timestamp), end)
                        })
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
                    // Not compared with the reference: tested on its own below.
                    organization: None,
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
}

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
fn reads_the_organization_given_once_as_a_string() {
    let organization = |raw: &str| {
        let body = Bytes::from(format!("[{raw}]"));
        split_page(&body).unwrap().remove(0).organization
    };
    assert_eq!(
        organization(r#"{"id":"a","organization":"5f0c","x":{"organization":"inner"}}"#),
        Some("5f0c".to_owned())
    );
    assert_eq!(
        organization(r#"{"organization":"a\u0062"}"#),
        Some("ab".to_owned())
    );
    assert_eq!(organization(r#"{"organization":7}"#), None);
    assert_eq!(
        organization(r#"{"organization":"a","organization":"b"}"#),
        None
    );
    assert_eq!(organization(r#"{"id":"x"}"#), None);
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
    assert!(
        events.iter().all(|e| (e.bytes.as_ptr() as usize) >= base
            && (e.bytes.as_ptr() as usize) < base + body.len())
    );
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

/// Both readers' verdict on `body`: an error, or the same elements with the same fields.
fn assert_agrees_with_serde(body: &[u8]) -> Result<(), TestCaseError> {
    let body = Bytes::copy_from_slice(body);
    let ours = split_page(&body);
    let reference = serde_reference::serde_split_page(&body);
    match (ours, reference) {
        (Ok(ours), Ok(reference)) => {
            prop_assert_eq!(ours.len(), reference.len());
            for (ours, reference) in ours.iter().zip(&reference) {
                prop_assert_eq!(&ours.bytes, &reference.bytes);
                prop_assert_eq!(&ours.id, &reference.id);
                prop_assert_eq!(&ours.timestamp, &reference.timestamp);
            }
        }
        (Err(_), Err(_)) => {}
        (ours, reference) => prop_assert!(
            false,
            "ours {:?}, serde {:?} on {:?}",
            ours.map(|events| events.len()),
            reference.map(|events| events.len()),
            String::from_utf8_lossy(&body)
        ),
    }
    Ok(())
}

/// Bytes that change what JSON means when put somewhere else.
const SHARP_BYTES: &[u8] = b"\"\\{}[],:0-.eE+tfnu \t\x01\x7f\xc3\xa9\xffa1";

proptest! {
    /// A valid page corrupted by a few insertions, deletions and replacements: the reader
    /// fails exactly when serde fails, and otherwise reads exactly what serde reads.
    #[test]
    fn corrupted_pages_are_judged_like_serde(
        values in prop::collection::vec(json_value(), 0..5),
        pretty in any::<bool>(),
        edits in prop::collection::vec(
            (0..3_u8, any::<prop::sample::Index>(), prop::sample::select(SHARP_BYTES)),
            1..4,
        ),
    ) {
        let text = if pretty {
            serde_json::to_string_pretty(&values).unwrap()
        } else {
            serde_json::to_string(&values).unwrap()
        };
        let mut body = text.into_bytes();
        for (kind, index, byte) in edits {
            let at = index.index(body.len() + 1);
            match kind {
                0 => body.insert(at, byte),
                1 if at < body.len() => {
                    body.remove(at);
                }
                _ if at < body.len() => body[at] = byte,
                _ => body.push(byte),
            }
        }
        assert_agrees_with_serde(&body)?;
    }

    /// Events shaped like Directory Insights ones, with `id`/`timestamp` written in every
    /// way JSON allows, agree with serde.
    #[test]
    fn identity_spellings_agree_with_serde(
        id_key in prop_oneof![Just("\"id\""), Just("\"i\\u0064\""), Just("\"\\u0069d\""), Just("\"id \""), Just("\"i\\ud800\"")],
        id_value in prop_oneof![Just("\"a1\""), Just("\"a\\\"1\""), Just("null"), Just("7"), Just("\"\\ud83d\\ude00\""), Just("\"\\udc00\""), Just("{\"id\":\"x\"}")],
        ts_value in prop_oneof![Just("\"2026-01-01T00:00:00Z\""), Just("\"2026-01-01T00:00:00.123456Z\""), Just("[]"), Just("\"\\u0032\"")],
        twice in any::<bool>(),
    ) {
        let mut body = format!("[{{\"event_type\":\"user_login_attempt\",{id_key}:{id_value},\"timestamp\":{ts_value}");
        if twice {
            body.push_str(&format!(",{id_key}:\"again\""));
        }
        body.push_str("}]");
        assert_agrees_with_serde(body.as_bytes())?;
    }
}

#[test]
fn non_utf8_keys_and_values_are_judged_like_serde() {
    for body in [
        &b"[{\"id\":\"a\",\"k\xff\":1}]"[..],
        b"[{\"id\":\"a\xff\",\"timestamp\":\"t\"}]",
        b"[{\"timestamp\":{\"x\":\"\xc3\"},\"id\":\"a\"}]",
        b"[{\"id\":\"a\",\"\xc3\xa9t\xc3\xa9\":\"\xff\"}]",
        b"[{\"id\":\"caf\xc3\xa9\"}]",
    ] {
        assert_agrees_with_serde(body).unwrap();
    }
}

#[test]
fn deep_nesting_is_read_like_serde_without_recursion() {
    for depth in [1, 2, 127, 128, 129, 100_000] {
        for (open, close) in [("[", "]"), ("{\"k\":", "}")] {
            let element = format!("{}1{}", open.repeat(depth), close.repeat(depth));
            let inside = format!("{{\"id\":\"a\",\"x\":{element}}}");
            let unclosed = format!("{}1{}", open.repeat(depth), close.repeat(depth - 1));
            for body in [
                format!("[{element}]"),
                format!("[{inside}]"),
                format!("[{unclosed}]"),
            ] {
                assert_agrees_with_serde(body.as_bytes()).unwrap();
            }
        }
    }
}

#[test]
fn escapes_are_checked_like_serde() {
    for escape in [
        r"\u0041",
        r"\u00e9",
        r"\uD83D\uDE00",
        r"\ud800",
        r"\u00g1",
        r"\uZZZZ",
        r"\u12",
        r"\u",
        r"\x41",
        r"\'",
        r"\/",
        r"\b\f\n\r\t",
        r"\\",
        r#"\""#,
        r"\U0041",
        r"\u+041",
    ] {
        for body in [
            format!("[\"{escape}\"]"),
            format!("[{{\"id\":\"{escape}\"}}]"),
            format!("[{{\"k{escape}\":1,\"id\":\"a\"}}]"),
        ] {
            assert_agrees_with_serde(body.as_bytes()).unwrap();
        }
    }
}

#[test]
fn numbers_are_checked_like_serde() {
    for number in [
        "0",
        "-0",
        "1",
        "-1",
        "10",
        "01",
        "-01",
        "1.",
        "1.5",
        ".5",
        "1e5",
        "1E+5",
        "1e-5",
        "1e",
        "1e+",
        "-",
        "--1",
        "1.5e3",
        "0.0",
        "00",
        "1.2.3",
        "+1",
        "123456789012345678901234567890",
        "0e0",
        "1x",
        "1e.5",
        "1e-.5",
        "1.e5",
        "-.5",
        "1.5.",
        "1e5e5",
    ] {
        for body in [
            format!("[{number}]"),
            format!("[{{\"id\":\"a\",\"n\":{number}}}]"),
            format!("[{number} ,1]"),
        ] {
            assert_agrees_with_serde(body.as_bytes()).unwrap();
        }
    }
}
