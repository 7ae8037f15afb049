//! Shared helpers for the producer's integration tests: OCSF records the project maps itself,
//! the real broker and registry (`testkit`).

#![allow(dead_code)]

use mapper::OcsfRecord;
use serde_json::Value;

#[path = "ocsf_records.rs"]
mod ocsf_records;

pub const DECODER: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/avro/decode_avro.py"
);

#[allow(unused_imports)] // each test binary uses its own part
pub use testkit::{Consumed, brokers, consume};

pub fn unique_prefix() -> String {
    format!("test-{}", uuid::Uuid::new_v4().simple())
}

pub fn class_name(class_uid: u32) -> &'static str {
    producer::avro::CLASS_SCHEMA_FILES
        .iter()
        .find(|file| file.class_uid == class_uid)
        .map(|file| file.class_name)
        .unwrap_or_else(|| panic!("no class {class_uid}"))
}

pub fn record_from_json(line: &str) -> OcsfRecord {
    let event: Value = serde_json::from_str(line).unwrap();
    let text = |v: &Value| v.as_str().map(str::to_owned);
    let class_uid = event["class_uid"].as_u64().unwrap() as u32;
    OcsfRecord {
        class_uid,
        class_name: class_name(class_uid),
        activity_id: event["activity_id"].as_i64().unwrap() as i32,
        uid: event["metadata"]["uid"].as_str().unwrap().to_owned(),
        tenant_uid: text(&event["metadata"]["tenant_uid"]),
        event_code: text(&event["metadata"]["event_code"]),
        original_event_uid: text(&event["metadata"]["original_event_uid"]),
        subject_user_uid: text(&event["user"]["uid"]),
        json: line.as_bytes().to_vec(),
    }
}

/// Valid OCSF records of every class, as the project maps them (see `ocsf_records.rs`).
pub fn example_records() -> Vec<OcsfRecord> {
    ocsf_records::mapped_examples()
        .iter()
        .map(|line| record_from_json(line))
        .collect()
}

/// The real schema registry the test command starts (Apicurio, Confluent-compatible API).
pub fn registry() -> String {
    testkit::registry_url()
}

/// Drop nulls recursively (null and absent are the same in OCSF).
pub fn without_nulls(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), without_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(without_nulls).collect()),
        other => other.clone(),
    }
}

/// Numbers compared by value (Avro doubles come back as `1.0` where JSON had `1`).
pub fn same_content(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| same_content(v, w)))
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(v, w)| same_content(v, w))
        }
        _ => a == b,
    }
}
