mod context;
mod detection_finding;

use serde_json::{Value, json};

use super::*;

fn map_value(event: &Value) -> (MappedEvent, Value) {
    let mapper = Mapper::default();
    let mut out = Vec::new();
    let facts = mapper
        .map_into(event.to_string().as_bytes(), &mut out)
        .unwrap();
    (facts, serde_json::from_slice(&out).unwrap())
}

fn login() -> Value {
    json!({
        "id": "648c6c758c2ac07fa1fdee94",
        "timestamp": "2023-06-16T14:06:45.921Z",
        "event_type": "admin_login_attempt",
        "service": "directory",
        "organization": "641b3db57090821c0b2f8183",
        "initiated_by": {"id": "61e536ebdbbe784cb2e55fb5", "type": "admin", "email": "john.doe@example.com"},
        "client_ip": "1.2.3.4",
        "geoip": {"country_code": "FR", "continent_code": "EU", "timezone": "Europe/Paris"},
        "success": true,
        "mfa": true,
        "@version": "1"
    })
}

#[test]
fn metadata_uid_is_uuidv5_of_org_id_and_timestamp() {
    // python3 -c "import uuid; print(uuid.uuid5(uuid.NAMESPACE_URL,
    //   'jumpcloud:641b3db57090821c0b2f8183:648c6c758c2ac07fa1fdee94:2023-06-16T14:06:45.921Z'))"
    let (facts, event) = map_value(&login());
    assert_eq!(facts.uid, "8128aa98-a2cd-5f66-8e6c-1be81e5013a3");
    assert_eq!(
        event["metadata"]["uid"],
        "8128aa98-a2cd-5f66-8e6c-1be81e5013a3"
    );
    assert_eq!(
        event["metadata"]["original_event_uid"],
        "648c6c758c2ac07fa1fdee94"
    );
    assert_eq!(event["metadata"]["tenant_uid"], "641b3db57090821c0b2f8183");
    assert_eq!(event["metadata"]["event_code"], "admin_login_attempt");
    assert_eq!(
        event["metadata"]["original_time"],
        "2023-06-16T14:06:45.921Z"
    );
    assert_eq!(event["time"], 1_686_924_405_921_i64);
    assert_eq!(
        facts.tenant_uid.as_deref(),
        Some("641b3db57090821c0b2f8183")
    );
    assert_eq!(
        facts.subject_user_uid.as_deref(),
        Some("61e536ebdbbe784cb2e55fb5")
    );
}

#[test]
fn nanosecond_timestamps_become_milliseconds() {
    let mut event = login();
    event["timestamp"] = json!("2025-06-18T01:40:48.953462371Z");
    let (_, out) = map_value(&event);
    assert_eq!(out["time"], 1_750_210_848_953_i64);
    assert_eq!(
        out["metadata"]["original_time"],
        "2025-06-18T01:40:48.953462371Z"
    );
}

#[test]
fn an_event_without_id_still_maps_with_a_content_uid() {
    let mut event = login();
    event.as_object_mut().unwrap().remove("id");
    let (first, out) = map_value(&event);
    let (second, _) = map_value(&event);
    assert_eq!(first.uid, second.uid, "deterministic");
    assert_eq!(first.original_event_uid, None);
    assert!(out["metadata"].get("original_event_uid").is_none());
    event["client_ip"] = json!("5.6.7.8");
    let (third, _) = map_value(&event);
    assert_ne!(first.uid, third.uid, "differs with the content");
}

#[test]
fn errors_are_only_bad_json_non_objects_and_bad_timestamps() {
    let mapper = Mapper::default();
    let error = mapper.map(b"{\"id\": ").unwrap_err();
    assert!(matches!(error, MapError::InvalidJson(_)), "{error}");
    assert_eq!(
        mapper.map(b"[1,2]").unwrap_err(),
        MapError::NotAnObject("array")
    );
    assert_eq!(
        mapper.map(b"\"x\"").unwrap_err(),
        MapError::NotAnObject("string")
    );
    assert!(matches!(
        mapper.map(b"").unwrap_err(),
        MapError::InvalidJson(_)
    ));
    let error = mapper
        .map(br#"{"id":"1","event_type":"user_create"}"#)
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "no usable timestamp: the event has no `timestamp`"
    );
    let error = mapper
        .map(br#"{"id":"1","timestamp":1686924405,"event_type":"user_create"}"#)
        .unwrap_err();
    assert!(error.to_string().contains("not a string"), "{error}");
    let error = mapper
        .map(br#"{"id":"1","timestamp":"yesterday","event_type":"user_create"}"#)
        .unwrap_err();
    assert!(error.to_string().contains("not RFC 3339"), "{error}");
    let error = mapper.map(b"{\"a\":\"\xff\"}").unwrap_err();
    assert!(matches!(error, MapError::InvalidJson(_)), "{error}");
}

#[test]
fn bom_and_surrounding_whitespace_are_accepted() {
    let text = format!("\u{feff}  {}\r\n", login());
    let record = Mapper::default().map(text.as_bytes()).unwrap();
    assert_eq!(record.class_uid, 3002);
}

#[test]
fn unknown_and_missing_event_types_are_base_events_keeping_every_field() {
    let event = json!({"id": "a1", "timestamp": "2026-01-01T00:00:00Z", "event_type": "widget_frobbed",
                       "widget": {"id": 7, "tags": ["x"]}, "organization": "o1"});
    let (facts, out) = map_value(&event);
    assert_eq!((facts.class_uid, facts.activity_id), (0, 99));
    assert_eq!(facts.class_name, "base_event");
    assert_eq!(out["activity_name"], "widget_frobbed");
    assert_eq!(out["type_name"], "Base Event: widget_frobbed");
    assert_eq!(
        out["unmapped"]["jumpcloud"], event,
        "the whole source is kept"
    );

    let event = json!({"id": "a2", "timestamp": "2026-01-01T00:00:00Z", "username": "x"});
    let (facts, out) = map_value(&event);
    assert_eq!((facts.class_uid, facts.activity_id), (0, 0));
    assert_eq!(out["activity_name"], "Unknown");
    assert_eq!(out["unmapped"]["jumpcloud"], event);
}

#[test]
fn a_known_type_without_its_required_data_falls_back_to_base_event() {
    // Account Change needs the user acted on; this one names nobody.
    let event = json!({"id": "a3", "timestamp": "2026-01-01T00:00:00Z", "event_type": "user_create",
                       "service": "directory"});
    let (facts, out) = map_value(&event);
    assert_eq!((facts.class_uid, facts.activity_id), (0, 99));
    assert_eq!(out["activity_name"], "user_create");
    assert_eq!(out["unmapped"]["jumpcloud"], event);
}

#[test]
fn residual_fields_go_to_unmapped_and_mapped_ones_do_not() {
    let (_, out) = map_value(&login());
    let residual = &out["unmapped"]["jumpcloud"];
    assert_eq!(
        residual,
        &json!({"geoip": {"continent_code": "EU", "timezone": "Europe/Paris"}, "@version": "1"})
    );
    assert_eq!(out["src_endpoint"]["ip"], "1.2.3.4");
    assert_eq!(out["src_endpoint"]["location"]["country"], "FR");
    assert_eq!(out["user"]["email_addr"], "john.doe@example.com");
    assert_eq!(out["user"]["type_id"], 2);
    assert_eq!(out["is_mfa"], true);
}

#[test]
fn a_malformed_field_is_kept_raw_instead_of_failing() {
    let mut event = login();
    event["client_ip"] = json!("not an ip");
    event["geoip"] = json!("FR");
    event["initiated_by"] = json!(["odd"]);
    event["resource"] = json!({"id": "5ce4", "type": "admin", "email": "jane@example.com"});
    let (facts, out) = map_value(&event);
    assert_eq!(facts.class_uid, 3002);
    assert!(out.get("src_endpoint").is_none());
    assert_eq!(out["user"]["uid"], "5ce4");
    let residual = &out["unmapped"]["jumpcloud"];
    assert_eq!(residual["client_ip"], "not an ip");
    assert_eq!(residual["geoip"], "FR");
    assert_eq!(residual["initiated_by"], json!(["odd"]));
}

#[test]
fn raw_data_is_the_original_text_and_can_be_switched_off() {
    let text = login().to_string();
    let record = Mapper::default().map(text.as_bytes()).unwrap();
    let out: Value = serde_json::from_slice(&record.json).unwrap();
    assert_eq!(out["raw_data"], text.as_str());
    let mapper = Mapper::new(
        MappingTables::embedded().unwrap(),
        MapOptions { raw_data: false },
    );
    let record = mapper.map(text.as_bytes()).unwrap();
    let out: Value = serde_json::from_slice(&record.json).unwrap();
    assert!(out.get("raw_data").is_none());
}

#[test]
fn output_is_one_line_even_for_pretty_printed_input() {
    let text = serde_json::to_string_pretty(&json!({
        "id": "p1", "timestamp": "2026-01-01T00:00:00Z", "event_type": "mdm_command_result",
        "command": {"request_type": "ProfileList", "nested": {"a": [1, 2]}}
    }))
    .unwrap();
    let record = Mapper::default().map(text.as_bytes()).unwrap();
    assert!(!record.json.contains(&b'\n'));
    let out: Value = serde_json::from_slice(&record.json).unwrap();
    assert_eq!(
        out["unmapped"]["jumpcloud"]["command"]["nested"]["a"],
        json!([1, 2])
    );
}

#[test]
fn escaped_strings_round_trip() {
    let mut event = login();
    event["error_message"] = json!("a\"b\\c\u{1}\u{e9} \u{2028}");
    let (_, out) = map_value(&event);
    assert_eq!(out["status_detail"], "a\"b\\c\u{1}\u{e9} \u{2028}");
}

#[test]
fn duplicate_keys_keep_the_last_value_once() {
    let text = r#"{"id":"d1","timestamp":"2026-01-01T00:00:00Z","event_type":"x_y","k":1,"k":2}"#;
    let mapper = Mapper::new(
        MappingTables::embedded().unwrap(),
        MapOptions { raw_data: false },
    );
    let record = mapper.map(text.as_bytes()).unwrap();
    let json = String::from_utf8(record.json).unwrap();
    assert_eq!(json.matches("\"k\":").count(), 1, "{json}");
    let out: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(out["unmapped"]["jumpcloud"]["k"], 2);
}

#[test]
fn user_update_picks_the_most_security_relevant_change() {
    let mut event = login();
    event["event_type"] = json!("user_update");
    event["resource"] = json!({"id": "u1", "type": "user", "username": "jane"});
    let cases = [
        (
            json!([{"field": "password"}, {"field": "account_locked", "from": false, "to": true}]),
            9,
        ),
        (
            json!([{"field": "account_locked", "from": true, "to": false}, {"field": "password"}]),
            12,
        ),
        (
            json!([{"field": "state", "from": "ACTIVATED", "to": "SUSPENDED"}, {"field": "account_locked", "from": false, "to": true}]),
            5,
        ),
        (
            json!([{"field": "suspended", "from": true, "to": false}]),
            2,
        ),
        (json!([{"field": "company", "from": "a", "to": "b"}]), 99),
        (json!("not an array"), 99),
    ];
    for (changes, activity) in cases {
        event["changes"] = changes.clone();
        let (facts, out) = map_value(&event);
        assert_eq!(facts.activity_id, activity, "{changes}");
        assert_eq!(out["user"]["name"], "jane");
        assert_eq!(out["actor"]["user"]["uid"], "61e536ebdbbe784cb2e55fb5");
        assert_eq!(
            out["unmapped"]["jumpcloud"]["changes"], changes,
            "changes are kept"
        );
    }
}

#[test]
fn sso_outcome_comes_from_sso_token_success() {
    let event = json!({"id": "s1", "timestamp": "2026-01-01T00:00:00Z", "event_type": "sso_auth",
        "service": "sso", "initiated_by": {"id": "u1", "type": "user", "username": "jane"},
        "application": {"id": "app1", "name": "zoom", "display_label": "Zoom", "sso_type": "saml"},
        "sso_token_success": false, "error_message": ""});
    let (_, out) = map_value(&event);
    assert_eq!(
        out["status_id"], 99,
        "false without an error message is an MFA step"
    );
    assert_eq!(out["auth_protocol_id"], 5);
    assert_eq!(out["auth_protocol"], "SAML");
    assert_eq!(out["service"], json!({"uid": "app1", "name": "Zoom"}));
    assert_eq!(
        out["unmapped"]["jumpcloud"]["application"],
        json!({"name": "zoom", "sso_type": "saml"})
    );
    assert_eq!(out["severity_id"], 1);

    let mut failed = event.clone();
    failed["error_message"] = json!("not authorized");
    let (_, out) = map_value(&failed);
    assert_eq!(out["status_id"], 2);
    assert_eq!(out["status_detail"], "not authorized");
    assert_eq!(out["severity_id"], 2);
    assert_eq!(out["severity"], "Low");
}

#[test]
fn systems_login_has_device_host_profile_and_source_ip() {
    let event = json!({"id": "l1", "timestamp": "2026-01-01T00:00:00Z", "event_type": "login_attempt",
        "service": "systems", "username": "jdoe", "src_ip": "10.0.0.5", "client_ip": "203.0.113.9",
        "system": {"id": "sys1", "hostname": "JDOE-MAC", "displayName": "JDOE-MAC"}, "success": true});
    let (_, out) = map_value(&event);
    assert_eq!(out["src_endpoint"]["ip"], "10.0.0.5");
    assert_eq!(out["device"]["uid"], "sys1");
    assert_eq!(out["device"]["hostname"], "JDOE-MAC");
    assert_eq!(out["device"]["ip"], "203.0.113.9");
    assert_eq!(out["metadata"]["profiles"], json!(["host"]));
    assert_eq!(out["user"]["name"], "jdoe");
    assert!(
        out.get("unmapped").is_none(),
        "everything found a home: {out}"
    );
}

#[test]
fn association_classes_follow_the_connection_types() {
    let mut event = login();
    event["event_type"] = json!("association_change");
    let user = json!({"name": "jane", "type": "user", "object_id": "u1"});
    let group = json!({"name": "Eng", "type": "user_group", "object_id": "g1"});
    let app = json!({"name": "Slack", "type": "application", "object_id": "a1"});
    let ldap = json!({"name": "ldap", "type": "ldap_server", "object_id": "l1"});
    let other = json!({"name": "Gadget", "type": "gadget", "object_id": "x1"});
    let cases = [
        ("add", &user, &group, 3006, 3, None),
        ("remove", &group, &user, 3006, 4, None),
        ("add", &app, &user, 3005, 1, Some("application:sso")),
        ("remove", &user, &ldap, 3005, 2, Some("ldap_server:bind")),
        ("add", &user, &other, 3005, 1, Some("gadget:access")),
        ("add", &group, &app, 3004, 3, None),
    ];
    for (op, from, to, class, activity, privilege) in cases {
        event["association"] = json!({"op": op, "connection": {"from": from, "to": to}});
        let (facts, out) = map_value(&event);
        assert_eq!(
            (facts.class_uid, facts.activity_id),
            (class, activity),
            "{op} {from} {to}"
        );
        if let Some(privilege) = privilege {
            assert_eq!(out["privileges"], json!([privilege]));
            assert_eq!(out["user"]["uid"], "u1");
        }
        if class == 3006 {
            assert_eq!(out["group"]["uid"], "g1");
            assert_eq!(out["user"]["name"], "jane");
        }
        if class == 3004 {
            assert_eq!(out["entity"]["uid"], "g1");
            assert_eq!(out["entity"]["type_id"], 3);
        }
    }
}

#[test]
fn nesting_is_limited_and_brackets_in_strings_do_not_count() {
    let nested = |depth: usize| {
        format!(
            "{{\"timestamp\":\"2026-01-01T00:00:00Z\",\"s\":\"[[[{{{{\\\"\",\"a\":{}{}}}",
            "[".repeat(depth),
            "]".repeat(depth)
        )
    };
    let mapper = Mapper::default();
    // The event object itself is one level.
    assert!(mapper.map(nested(MAX_NESTING_DEPTH - 1).as_bytes()).is_ok());
    assert_eq!(
        mapper
            .map(nested(MAX_NESTING_DEPTH).as_bytes())
            .unwrap_err(),
        MapError::TooDeep(MAX_NESTING_DEPTH)
    );
    assert!(nesting_exceeds(
        br#"{"a":[1,[2]],"b":{"c":[]},"d":"[[[["}"#,
        2
    ));
    assert!(!nesting_exceeds(
        br#"{"a":[1,[]],"b":{"c":[]},"d":"[[[["}"#,
        3
    ));
    assert!(nesting_exceeds(br#"{"a":[1,[[]]]}"#, 3));
}
