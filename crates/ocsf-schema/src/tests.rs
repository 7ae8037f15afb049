//! One test per rule: a valid event, broken one way, gives exactly the finding the reference
//! validator gives for it (code and path), and nothing else.

use serde_json::{Value, json};

use crate::{Finding, Options, Severity, Validator};

/// A valid Authentication event (strict: no warnings either).
fn logon() -> Value {
    json!({
        "activity_id": 1,
        "activity_name": "Logon",
        "category_uid": 3,
        "category_name": "Identity & Access Management",
        "class_uid": 3002,
        "class_name": "Authentication",
        "type_uid": 300201,
        "type_name": "Authentication: Logon",
        "severity_id": 1,
        "severity": "Informational",
        "status_id": 2,
        "status": "Failure",
        "auth_protocol_id": 10,
        "auth_protocol": "RADIUS",
        "time": 1_774_001_730_123_i64,
        "is_mfa": false,
        "metadata": {
            "version": "1.8.0",
            "uid": "8128aa98-a2cd-5f66-8e6c-1be81e5013a3",
            "original_event_uid": "648c6c758c2ac07fa1fdee94",
            "product": {"name": "JumpCloud Directory Insights", "vendor_name": "JumpCloud"},
            "log_name": "radius",
            "event_code": "radius_auth_attempt",
        },
        "user": {"name": "jane.doe", "type_id": 1, "type": "User", "groups": [{"name": "VPN"}]},
        "src_endpoint": {"ip": "203.0.113.7", "location": {"country": "FR"}},
        "service": {"name": "RADIUS"},
        "observables": [{"name": "user.name", "type_id": 4, "value": "jane.doe"}],
        "unmapped": {"jumpcloud": {"anything": [1, {"goes": null}]}},
        "raw_data": "{}"
    })
}

fn findings(event: &Value) -> Vec<(Severity, &'static str, String)> {
    Validator::ocsf_1_8_0()
        .check(event)
        .into_iter()
        .map(|f| (f.severity, f.code, f.path))
        .collect()
}

/// The base event changed by `edit` has exactly `expected` findings.
#[track_caller]
fn assert_findings(edit: impl FnOnce(&mut Value), expected: &[(Severity, &str, &str)]) {
    let mut event = logon();
    edit(&mut event);
    let mut actual = findings(&event);
    actual.sort();
    let mut expected: Vec<(Severity, &'static str, String)> = expected
        .iter()
        .map(|(s, c, p)| (*s, code(c), (*p).to_owned()))
        .collect();
    expected.sort();
    assert_eq!(actual, expected, "{event:#}");
}

/// The finding codes are `&'static str`; compare through the same table.
fn code(name: &str) -> &'static str {
    Box::leak(name.to_owned().into_boxed_str())
}

const E: Severity = Severity::Error;
const W: Severity = Severity::Warning;

#[test]
fn the_base_event_is_valid_even_when_strict() {
    assert_eq!(findings(&logon()), []);
    assert_eq!(Validator::ocsf_1_8_0().strict(true).validate(&logon()), []);
}

#[test]
fn required_attributes_null_counts_as_missing() {
    assert_findings(
        |e| {
            e.as_object_mut().map(|m| m.remove("user"));
            e["metadata"]["product"] = Value::Null;
        },
        &[
            (E, "attribute_required_missing", "user"),
            (E, "attribute_required_missing", "metadata.product"),
            (W, "observable_name_not_in_event", "observables[0].name"),
        ],
    );
    assert_findings(
        |e| e["user"]["groups"][0] = json!({}),
        &[(E, "constraint_failed", "user.groups[0]")],
    );
}

#[test]
fn class_category_and_type_uid() {
    assert_findings(
        |e| e["class_uid"] = json!(1001),
        &[(E, "class_uid_not_covered", "class_uid")],
    );
    assert_findings(
        |e| e["class_uid"] = json!(42),
        &[(E, "class_uid_unknown", "class_uid")],
    );
    assert_findings(
        |e| e["class_uid"] = json!("3002"),
        &[(E, "attribute_wrong_type", "class_uid")],
    );
    assert_findings(
        |e| e["category_uid"] = json!(5),
        &[(E, "category_uid_mismatch", "category_uid")],
    );
    assert_findings(
        |e| e["type_uid"] = json!(300202),
        &[
            (E, "type_uid_mismatch", "type_uid"),
            (W, "attribute_enum_sibling_incorrect", "type_name"),
        ],
    );
}

#[test]
fn unknown_attributes_and_profiles() {
    assert_findings(
        |e| e["user"]["shoe_size"] = json!(44),
        &[(E, "attribute_unknown", "user.shoe_size")],
    );
    assert_findings(
        |e| e["device"] = json!({"type_id": 1, "hostname": "mac-1"}),
        &[(E, "attribute_profile_not_listed", "device")],
    );
    assert_findings(
        |e| {
            e["device"] = json!({"type_id": 1, "hostname": "mac-1"});
            e["metadata"]["profiles"] = json!(["host"]);
        },
        &[],
    );
    assert_findings(
        |e| e["metadata"]["profiles"] = json!(["cloud", "nope"]),
        &[
            (E, "profile_unknown", "metadata.profiles[1]"),
            (E, "attribute_required_missing", "cloud"),
        ],
    );
    let mut event = logon();
    event["usr"] = json!({});
    let message = &Validator::ocsf_1_8_0().validate(&event)[0].message;
    assert!(message.contains("Did you mean \"user\"?"), "{message}");
}

#[test]
fn types_ranges_and_arrays() {
    assert_findings(
        |e| e["user"]["name"] = json!(7),
        &[
            (E, "attribute_wrong_type", "user.name"),
            (W, "observable_value_mismatch", "observables[0].value"),
        ],
    );
    assert_findings(
        |e| e["is_mfa"] = json!("false"),
        &[(E, "attribute_wrong_type", "is_mfa")],
    );
    assert_findings(
        |e| e["severity_id"] = json!(1.0),
        &[(E, "attribute_wrong_type", "severity_id")],
    );
    assert_findings(
        |e| e["user"]["groups"] = json!({"name": "VPN"}),
        &[(E, "attribute_wrong_type", "user.groups")],
    );
    assert_findings(
        |e| e["user"]["groups"] = json!([null, "VPN"]),
        &[
            (E, "attribute_wrong_type", "user.groups[0]"),
            (E, "attribute_wrong_type", "user.groups[1]"),
        ],
    );
    assert_findings(
        |e| e["src_endpoint"]["port"] = json!(70000),
        &[(E, "attribute_value_out_of_range", "src_endpoint.port")],
    );
    assert_findings(
        |e| e["src_endpoint"]["ip"] = json!("1".repeat(41)),
        &[
            (E, "attribute_value_too_long", "src_endpoint.ip"),
            (W, "attribute_value_regex_not_matched", "src_endpoint.ip"),
        ],
    );
    assert_findings(|e| e["src_endpoint"]["ip"] = json!("203.0.113.7\n"), &[]);
    assert_findings(
        |e| e["severity_id"] = json!(9_223_372_036_854_775_808_u64),
        &[
            (E, "attribute_value_out_of_range", "severity_id"),
            (E, "attribute_enum_value_unknown", "severity_id"),
        ],
    );
    assert_findings(
        |e| e["user"]["type_id"] = json!(3_000_000_000_i64),
        &[
            (W, "integer_exceeds_int32", "user.type_id"),
            (E, "attribute_enum_value_unknown", "user.type_id"),
        ],
    );
    assert_findings(|e| e["unmapped"] = json!({"x": [1.5, null]}), &[]);
    assert_findings(
        |e| e["raw_data"] = json!({"x": 1}),
        &[(E, "attribute_wrong_type", "raw_data")],
    );
}

#[test]
fn timestamps_are_milliseconds() {
    assert_findings(
        |e| e["time"] = json!(1_774_001_730),
        &[(E, "timestamp_not_milliseconds", "time")],
    );
    assert_findings(
        |e| e["time"] = json!(1_774_001_730_123_000_i64),
        &[(E, "timestamp_not_milliseconds", "time")],
    );
    let lenient = Validator::ocsf_1_8_0().with_options(Options {
        check_timestamps: false,
        ..Options::default()
    });
    let mut event = logon();
    event["time"] = json!(1_774_001_730);
    assert_eq!(lenient.validate(&event), []);
}

#[test]
fn enums_and_their_captions() {
    assert_findings(
        |e| e["auth_protocol_id"] = json!(6000),
        &[(E, "attribute_enum_value_unknown", "auth_protocol_id")],
    );
    assert_findings(
        |e| e["status"] = json!("Success"),
        &[(W, "attribute_enum_sibling_incorrect", "status")],
    );
    assert_findings(
        |e| {
            e["auth_protocol_id"] = json!(99);
            e["auth_protocol"] = json!("Other");
        },
        &[(
            W,
            "attribute_enum_sibling_suspicious_other",
            "auth_protocol",
        )],
    );
    assert_findings(
        |e| e["user"]["type_id"] = json!(3),
        &[(W, "attribute_enum_sibling_incorrect", "user.type")],
    );
    assert_findings(
        |e| e["user"]["account"] = json!({"type_id": 3, "name": "jane"}),
        &[(W, "attribute_enum_value_deprecated", "user.account.type_id")],
    );
}

#[test]
fn versions() {
    for (version, expected) in [
        ("v1.8.0", vec![]),
        (
            "1.9.0",
            vec![(E, "version_incompatible_later", "metadata.version")],
        ),
        (
            "1.8.0-rc.1",
            vec![(E, "version_incompatible_prerelease", "metadata.version")],
        ),
        ("1.7.0", vec![(W, "version_earlier", "metadata.version")]),
        ("1.8", vec![(E, "version_invalid", "metadata.version")]),
    ] {
        assert_findings(|e| e["metadata"]["version"] = json!(version), &expected);
    }
}

#[test]
fn observables() {
    assert_findings(
        |e| e["observables"] = json!([{"name": "user.nickname", "type_id": 4}]),
        &[(
            E,
            "observable_name_invalid_reference",
            "observables[0].name",
        )],
    );
    assert_findings(
        |e| e["observables"] = json!([{"name": "user.name", "type_id": 2, "value": "jane.doe"}]),
        &[(W, "observable_type_id_mismatch", "observables[0].type_id")],
    );
    assert_findings(
        |e| {
            e["observables"] =
                json!([{"name": "user.groups[].name", "type_id": 99, "value": "VPN"}])
        },
        &[],
    );
    assert_findings(
        |e| e["observables"] = json!([{"name": "user.name", "type_id": 4, "value": "john"}]),
        &[(W, "observable_value_mismatch", "observables[0].value")],
    );
}

#[test]
fn strict_turns_warnings_into_errors() {
    let mut event = logon();
    event["status"] = json!("Success");
    let lenient = Validator::ocsf_1_8_0();
    assert_eq!(lenient.validate(&event), []);
    assert_eq!(lenient.check(&event).len(), 1);
    let strict = lenient.strict(true).validate(&event);
    assert_eq!(
        strict,
        [Finding {
            severity: Severity::Error,
            code: "attribute_enum_sibling_incorrect",
            path: "status".into(),
            message: "\"status\" is \"Success\" but status_id 2 means \"Failure\".".into(),
        }]
    );
    assert_eq!(
        strict[0].to_string(),
        "status: \"status\" is \"Success\" but status_id 2 means \"Failure\". \
         [attribute_enum_sibling_incorrect]"
    );
}

#[test]
fn json_text() {
    let validator = Validator::ocsf_1_8_0();
    assert_eq!(validator.validate_json(logon().to_string().as_bytes()), []);
    let duplicate = validator.validate_json(br#"{"class_uid": 3002, "class_uid": 3002}"#);
    assert_eq!(duplicate[0].code, "json_invalid");
    assert_eq!(
        duplicate[0].to_string(),
        "(event): duplicate key \"class_uid\" in a JSON object [json_invalid]"
    );
    assert_eq!(validator.validate_json(b"[1]")[0].code, "event_not_object");
}
