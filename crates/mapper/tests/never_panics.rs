//! Property tests: whatever the input, the mapper returns a result, never panics, and every
//! `Ok` is one line of JSON holding a well-formed OCSF envelope.

use mapper::{MapError, Mapper};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(key(), inner, 0..6)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// Keys the mapper looks at, mixed with arbitrary ones.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "id",
            "timestamp",
            "event_type",
            "service",
            "organization",
            "initiated_by",
            "resource",
            "changes",
            "association",
            "connection",
            "from",
            "to",
            "op",
            "type",
            "client_ip",
            "src_ip",
            "geoip",
            "country_code",
            "useragent",
            "user_agent",
            "success",
            "sso_token_success",
            "error_message",
            "error_code",
            "mfa",
            "mfa_meta",
            "application",
            "auth_context",
            "system",
            "username",
            "email",
            "name",
            "object_id",
            "field",
        ])
        .prop_map(str::to_owned),
        "[a-z_@]{1,8}",
    ]
}

fn event_type() -> impl Strategy<Value = Value> {
    prop_oneof![
        prop::sample::select(vec![
            "sso_auth",
            "login_attempt",
            "radius_auth_attempt",
            "ldap_bind",
            "user_update",
            "admin_update",
            "user_create",
            "association_change",
            "application_create",
            "system_fde_key_decrypt",
            "group_create",
            "user_group_admin_grant",
            "user_admin_granted",
            "mdm_command_result",
        ])
        .prop_map(Value::from),
        arbitrary_json(),
    ]
}

fn assert_envelope(json: &[u8]) {
    assert!(!json.contains(&b'\n'), "one line");
    let event: Value = serde_json::from_slice(json).expect("output is JSON");
    let class_uid = event["class_uid"].as_i64().expect("class_uid");
    let activity_id = event["activity_id"].as_i64().expect("activity_id");
    assert_eq!(
        event["type_uid"].as_i64(),
        Some(class_uid * 100 + activity_id)
    );
    assert_eq!(event["metadata"]["version"], "1.8.0");
    assert!(event["time"].is_i64());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let mapper = Mapper::default();
        if let Ok(record) = mapper.map(&bytes) {
            assert_envelope(&record.json);
        }
    }

    #[test]
    fn arbitrary_json_never_panics(value in arbitrary_json()) {
        let mapper = Mapper::default();
        if let Ok(record) = mapper.map(value.to_string().as_bytes()) {
            assert_envelope(&record.json);
        }
    }

    #[test]
    fn events_with_a_timestamp_always_map(
        event_type in event_type(),
        fields in prop::collection::btree_map(key(), arbitrary_json(), 0..12),
    ) {
        let mut object: Map<String, Value> = fields.into_iter().collect();
        object.insert("event_type".into(), event_type);
        object.insert("timestamp".into(), json!("2026-03-20T10:15:30.123456789Z"));
        let value = Value::Object(object);
        let text = value.to_string();
        let record = Mapper::default().map(text.as_bytes());
        prop_assert!(record.is_ok(), "{:?} for {}", record.err(), text);
        let record = record.unwrap_or_else(|_| unreachable!());
        assert_envelope(&record.json);
        let event: Value = serde_json::from_slice(&record.json).unwrap_or_default();
        prop_assert_eq!(event["raw_data"].as_str(), Some(text.as_str()));
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let depth = 100_000;
    let text = format!(
        "{{\"timestamp\":\"2026-01-01T00:00:00Z\",\"a\":{}{}}}",
        "[".repeat(depth),
        "]".repeat(depth)
    );
    let error = Mapper::default().map(text.as_bytes()).unwrap_err();
    assert!(matches!(error, MapError::TooDeep(_)), "{error}");
}

#[test]
fn huge_strings_map() {
    let big = "x".repeat(2 * 1024 * 1024);
    let text = json!({"id": "big", "timestamp": "2026-01-01T00:00:00Z", "event_type": "user_login_attempt",
                      "initiated_by": {"id": "u1", "type": "user", "username": big.clone()}, "success": true})
    .to_string();
    let record = Mapper::default().map(text.as_bytes()).unwrap();
    let event: Value = serde_json::from_slice(&record.json).unwrap();
    assert_eq!(
        event["user"]["name"].as_str().map(str::len),
        Some(big.len())
    );
}
