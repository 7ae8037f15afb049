//! Shared helpers for the producer's integration tests: OCSF records the project maps itself, a
//! real-broker consumer reading with `assign()` from offset 0, the simulator's registry.

#![allow(dead_code)]

use std::collections::HashMap;
use std::time::{Duration, Instant};

use mapper::OcsfRecord;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{ClientConfig, TopicPartitionList};
use serde_json::Value;

#[path = "ocsf_records.rs"]
mod ocsf_records;

pub const DECODER: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/avro/decode_avro.py"
);

pub fn brokers() -> String {
    std::env::var("KAFKA_BOOTSTRAP_SERVERS").unwrap_or_else(|_| "127.0.0.1:9092".into())
}

pub fn unique_prefix() -> String {
    format!("test-{}", uuid::Uuid::new_v4().simple())
}

pub fn class_name(class_uid: u32) -> &'static str {
    match class_uid {
        0 => "base_event",
        3001 => "account_change",
        3002 => "authentication",
        3004 => "entity_management",
        3005 => "user_access",
        3006 => "group_management",
        5001 => "inventory_info",
        5003 => "user_inventory",
        other => panic!("no class {other}"),
    }
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

/// A consumed record.
#[derive(Debug, Clone)]
pub struct Consumed {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub value: Vec<u8>,
    pub headers: HashMap<String, String>,
}

/// Read `expected` records from `topics` (every partition, from offset 0) or until the deadline.
pub fn consume(topics: &[String], expected: usize, deadline: Duration) -> Vec<Consumed> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .set("group.id", format!("reader-{}", uuid::Uuid::new_v4()))
        .set("enable.auto.commit", "false")
        .set("session.timeout.ms", "6000")
        .create()
        .unwrap();
    let mut assignment = TopicPartitionList::new();
    for topic in topics {
        let metadata = consumer
            .fetch_metadata(Some(topic), Duration::from_secs(10))
            .unwrap();
        for t in metadata.topics() {
            for partition in t.partitions() {
                assignment
                    .add_partition_offset(topic, partition.id(), rdkafka::Offset::Beginning)
                    .unwrap();
            }
        }
    }
    consumer.assign(&assignment).unwrap();
    let start = Instant::now();
    let mut out = Vec::new();
    while out.len() < expected && start.elapsed() < deadline {
        let Some(message) = consumer.poll(Duration::from_millis(200)) else {
            continue;
        };
        let Ok(message) = message else { continue };
        let mut headers = HashMap::new();
        if let Some(h) = message.headers() {
            for header in h.iter() {
                headers.insert(
                    header.key.to_owned(),
                    String::from_utf8_lossy(header.value.unwrap_or_default()).into_owned(),
                );
            }
        }
        out.push(Consumed {
            topic: message.topic().to_owned(),
            partition: message.partition(),
            offset: message.offset(),
            key: message.key().map(<[u8]>::to_vec),
            value: message.payload().unwrap_or_default().to_vec(),
            headers,
        });
    }
    out
}

/// Start the simulator's schema registry on 127.0.0.1:0; its base URL.
pub async fn start_registry() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, simulator::registry::router())
            .await
            .unwrap();
    });
    format!("http://{address}")
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
