//! Inputs the fuzz targets (fuzz/, `cargo fuzz run mapper`) found, kept as regression tests.
//! Each must map, to one JSON object serde_json reads.

use mapper::Mapper;
use serde_json::Value;

/// Maps `text` and reads the output back with serde_json, which refuses what most consumers
/// refuse.
fn map(text: &str) -> Value {
    let record = Mapper::default()
        .map(text.as_bytes())
        .unwrap_or_else(|error| panic!("{error}: {text}"));
    let output: Value = serde_json::from_slice(&record.json).unwrap_or_else(|error| {
        panic!(
            "serde_json refuses the output ({error}): {}",
            String::from_utf8_lossy(&record.json)
        )
    });
    assert_eq!(output["class_uid"], record.class_uid);
    assert_eq!(
        output["raw_data"], text,
        "raw_data keeps the text as it came"
    );
    output
}

/// Found 2026-12-02 (fuzz target `mapper`, 2 minutes, with fuzz/json.dict), minimised: a `\u`
/// escape of a lone surrogate is valid JSON grammar but no string can hold it. The mapper
/// copied it verbatim into `unmapped` (and into the whole-source copy of a Base Event), so
/// serde_json refused the record ("lone leading surrogate in hex escape"). Now read as U+FFFD,
/// in values and keys alike; a valid pair is kept.
#[test]
fn lone_surrogate_escapes_are_read_as_the_replacement_character() {
    let out = map(r#"{"timestamp":"2026-01-01T00:00:00Z","x":"\udc00"}"#);
    assert_eq!(out["unmapped"]["jumpcloud"]["x"], "\u{fffd}");

    let out =
        map(r#"{"timestamp":"2026-01-01T00:00:00Z","x":{"y":["\ud800","\ud83d\ude00\\udc00"]}}"#);
    assert_eq!(
        out["unmapped"]["jumpcloud"]["x"]["y"],
        serde_json::json!(["\u{fffd}", "\u{1f600}\\udc00"])
    );

    let out = map(r#"{"timestamp":"2026-01-01T00:00:00Z","a\ud800b":1}"#);
    assert_eq!(out["unmapped"]["jumpcloud"]["a\u{fffd}b"], 1);

    let out = map(
        r#"{"id":"e1","timestamp":"2026-01-01T00:00:00Z","event_type":"user_login_attempt","initiated_by":{"type":"user","username":"jo\udbff"},"useragent":{"os":"Mac\udc00","os_version":"10"},"success":true}"#,
    );
    assert_eq!(out["class_uid"], 3002);
    assert_eq!(out["user"]["name"], "jo\u{fffd}");
    assert_eq!(
        out["unmapped"]["jumpcloud"]["useragent"]["os"],
        "Mac\u{fffd}"
    );
}

/// The fuzz input itself, shortened: an alert whose triggering event (a JSON document inside a
/// string) holds a lone surrogate escape; the string stays in `unmapped`.
#[test]
fn an_alert_whose_trigger_event_holds_a_lone_surrogate() {
    let out = map(
        r#"{"id":"66a1e7b2c3d4e50000000001","event_type":"alert_created","service":"alerts","organization":"641b3db57090821c0b2f8183","timestamp":"2026-03-11T16:40:40.123Z","severity":"high","status":"new","resource":{"alert_object_id":"66f1d2e3a4b5c6d7e8f90001","source_name":"Repeated failed admin logins","context":{"di_event":"{\"id\":\"66f1c0ffee0000000000a001\",\"event_type\":\"admin_login_attempt\",\"timestamp\":\"2026-03-11T16:40:31.512Z\",\"initiated_by\":{\"id\":\"5ce434e77128503e528e747c\",\"type\":\"admin\",\"email\":\"jane.admin@example.com\"},\"success\":false,\"error_messa\udc00ge\":\"invalid credentials\"}"}}}"#,
    );
    assert_eq!(out["class_uid"], 2004);
    let trigger = out["unmapped"]["jumpcloud"]["resource"]["context"]["di_event"]
        .as_str()
        .expect("the triggering event stays in unmapped");
    assert!(trigger.contains("error_messa\u{fffd}ge"), "{trigger}");
    assert_eq!(
        out["evidences"][0]["user"]["email_addr"],
        "jane.admin@example.com"
    );
}

/// Found 2026-12-02 (fuzz target `mapper`, in 2 seconds) in the first version of the fix above:
/// the lone-surrogate pass reads the text before serde_json has judged it, and a truncated event
/// ending in a backslash made it index past the end (a panic). Invalid JSON is an error.
#[test]
fn a_truncated_event_ending_in_a_backslash_is_invalid_json() {
    for text in [
        r#"{"timestamp":"2026-01-01T00:00:00Z","x":"\"#,
        r#"{"timestamp":"2026-01-01T00:00:00Z","x":"\ud800\"#,
        r#"{"timestamp":"2026-01-01T00:00:00Z","x":"\ud8"#,
    ] {
        assert!(
            matches!(
                Mapper::default().map(text.as_bytes()),
                Err(mapper::MapError::InvalidJson(_))
            ),
            "{text}"
        );
    }
}
