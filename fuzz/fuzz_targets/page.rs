//! The fetcher's hand-written page reader (`fetcher::split_page`, crates/fetcher/src/client/
//! page.rs) on arbitrary bytes, held to serde_json twice:
//!
//! 1. Exactly, against serde_json read the way the reader documents and its unit tests assert
//!    (`serde_split_page` below, a copy of the `serde_reference` module of page.rs's tests):
//!    elements skipped with `IgnoredAny` (so strings the fetcher does not read are not checked
//!    for UTF-8 or lone surrogates, and nesting is unbounded), `id`/`timestamp` read with a
//!    borrowing struct (an object naming either twice, or with a key serde cannot decode, gives
//!    neither). Same verdict (both accept or both reject), and when both accept the same number
//!    of elements, each the same bytes with the same `id` and `timestamp`.
//! 2. When the reader accepts, against serde_json's `Vec<Value>`: serde_json reads the page as
//!    an array with as many elements, each element's slice parses to the same `Value`, and each
//!    `id`/`timestamp` the reader gives is the element's `id`/`timestamp` string (when the
//!    reader gives none while the element has a string, serde's struct refuses the element).
//!    `Value` is stricter than the reader on purpose in four ways, and only in those may it
//!    refuse a page the reader accepts: invalid UTF-8, a lone surrogate escape, a number wider
//!    than a double, nesting deeper than 128.

#![no_main]

use bytes::Bytes;
use fetcher::{PageEvent, split_page};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let body = Bytes::copy_from_slice(data);
    let ours = split_page(&body);
    let reference = serde_reference::serde_split_page(&body);
    let shown = || String::from_utf8_lossy(data).into_owned();
    let events = match (ours, reference) {
        (Ok(ours), Ok(reference)) => {
            assert_eq!(ours.len(), reference.len(), "element count: {}", shown());
            for (ours, reference) in ours.iter().zip(&reference) {
                assert_eq!(ours.bytes, reference.bytes, "element bytes: {}", shown());
                assert_eq!(ours.id, reference.id, "id: {}", shown());
                assert_eq!(
                    ours.timestamp,
                    reference.timestamp,
                    "timestamp: {}",
                    shown()
                );
            }
            ours
        }
        (Err(_), Err(_)) => return,
        (Ok(ours), Err(error)) => panic!(
            "the reader accepts ({} elements) what serde refuses ({error}): {}",
            ours.len(),
            shown()
        ),
        (Err(error), Ok(reference)) => panic!(
            "the reader refuses ({error}) what serde accepts ({} elements): {}",
            reference.len(),
            shown()
        ),
    };
    agrees_with_values(data, &events);
});

/// serde_json's refusals of a page the lenient reading accepts, each a documented leniency.
const VALUE_STRICTER: &[&str] = &[
    "invalid unicode code point",
    "lone leading surrogate in hex escape",
    "unexpected end of hex escape",
    "number out of range",
    "recursion limit exceeded",
];

fn agrees_with_values(data: &[u8], events: &[PageEvent]) {
    let shown = || String::from_utf8_lossy(data).into_owned();
    let elements: Vec<Value> = match serde_json::from_slice(data) {
        Ok(elements) => elements,
        Err(error) => {
            let message = error.to_string();
            assert!(
                VALUE_STRICTER
                    .iter()
                    .any(|known| message.starts_with(known)),
                "the reader accepts a page serde_json refuses as an array ({message}): {}",
                shown()
            );
            return;
        }
    };
    assert_eq!(events.len(), elements.len(), "element count: {}", shown());
    for (event, element) in events.iter().zip(&elements) {
        let parsed: Value = serde_json::from_slice(&event.bytes).unwrap_or_else(|error| {
            panic!(
                "an element's slice is not one JSON value ({error}): {:?} in {}",
                String::from_utf8_lossy(&event.bytes),
                shown()
            )
        });
        assert_eq!(&parsed, element, "element differs: {}", shown());
        for (name, read) in [("id", &event.id), ("timestamp", &event.timestamp)] {
            let string = element.get(name).and_then(Value::as_str);
            match (read, string) {
                (Some(read), Some(string)) => assert_eq!(read, string, "{name}: {}", shown()),
                (Some(read), None) => panic!(
                    "the reader gives {name} {read:?}, the element has none: {}",
                    shown()
                ),
                (None, Some(_)) => assert!(
                    serde_json::from_slice::<serde_reference::Identity<'_>>(&event.bytes).is_err(),
                    "the reader gives no {name}, serde reads one: {}",
                    shown()
                ),
                (None, None) => {}
            }
        }
    }
}

/// serde's reading of a page, which `split_page` must match exactly: a copy of the
/// `tests::serde_reference` module of crates/fetcher/src/client/page/tests.rs (keep them in step).
mod serde_reference {
    use bytes::Bytes;
    use fetcher::PageEvent;
    use serde::de::IgnoredAny;
    use serde_json::value::RawValue;

    /// The two fields as `serde` reads an object: absent, `null` or not a string gives `None`;
    /// an object naming either twice is refused by `serde` and yields neither.
    #[derive(serde::Deserialize)]
    pub(super) struct Identity<'a> {
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

    /// The page reader as it was written with serde (elements parsed with `StreamDeserializer`,
    /// the two fields with a borrowing struct).
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
                    // Not an object, or one serde refuses as a struct: still a value to keep,
                    // as long as it is valid JSON.
                    None => (None, None, value_at::<IgnoredAny>(body, start)?.1),
                };
                events.push(PageEvent {
                    bytes: body.slice(start..end),
                    id,
                    timestamp,
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
