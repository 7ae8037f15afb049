//! Helpers for end-to-end tests: the simulator in-process over HTTP, the real broker, the real
//! binary as a subprocess, and an independent Kafka consumer.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::Message;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

/// The OCSF class names the producer may write to (topic `<prefix>.<class_name>`).
pub const CLASS_NAMES: [&str; 8] = [
    "base_event",
    "authentication",
    "account_change",
    "entity_management",
    "user_access",
    "group_management",
    "inventory_info",
    "user_inventory",
];

/// Identity of one Directory Insights event: (organization, id, timestamp).
pub type EventKey = (String, String, String);

pub fn brokers() -> String {
    std::env::var("KAFKA_BOOTSTRAP_SERVERS").unwrap_or_else(|_| "127.0.0.1:9092".to_string())
}

pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_jumpcloud-ocsf"))
}

/// A topic prefix unique to one test run.
pub fn unique_prefix(test: &str) -> String {
    format!(
        "t{}-{test}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    )
}

/// The simulator's ground truth (`GET /__sim/events`): every event it holds, keyed.
pub async fn ground_truth(base_url: &str, api_key: &str) -> BTreeSet<EventKey> {
    let body = reqwest::Client::new()
        .get(format!("{base_url}/__sim/events"))
        .header("x-api-key", api_key)
        .send()
        .await
        .expect("ground truth request")
        .error_for_status()
        .expect("ground truth status")
        .text()
        .await
        .expect("ground truth body");
    body.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let event: serde_json::Value =
                serde_json::from_str(line).expect("ground truth line is JSON");
            (
                event["organization"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                event["id"].as_str().unwrap_or_default().to_string(),
                event["timestamp"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// The key of an OCSF record made from a Directory Insights event.
pub fn ocsf_key(record: &serde_json::Value) -> EventKey {
    let metadata = &record["metadata"];
    (
        metadata["tenant_uid"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        metadata["original_event_uid"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        metadata["original_time"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    )
}

/// One consumed Kafka record.
#[derive(Debug, Clone)]
pub struct Consumed {
    pub topic: String,
    pub key: Option<Vec<u8>>,
    pub payload: Vec<u8>,
    pub headers: BTreeMap<String, String>,
}

/// Reads every record of `topics` from offset 0 with `assign()` (Tansu's high watermark is not
/// reliable, so read until `expected` records or `deadline`).
pub fn consume(topics: &[String], expected: usize, deadline: Duration) -> Vec<Consumed> {
    consume_from(&brokers(), topics, expected, deadline)
}

/// [`consume`] from the broker at `bootstrap`.
pub fn consume_from(
    bootstrap: &str,
    topics: &[String],
    expected: usize,
    deadline: Duration,
) -> Vec<Consumed> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", format!("test-{}", uuid::Uuid::new_v4()))
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", "6000")
        .create()
        .expect("consumer");
    let mut assignment = TopicPartitionList::new();
    for topic in topics {
        let metadata = consumer
            .fetch_metadata(Some(topic), Duration::from_secs(10))
            .expect("topic metadata");
        for t in metadata.topics() {
            for partition in t.partitions() {
                assignment
                    .add_partition_offset(t.name(), partition.id(), Offset::Beginning)
                    .expect("assign partition");
            }
        }
    }
    consumer.assign(&assignment).expect("assign");
    let started = Instant::now();
    let mut records = Vec::new();
    while records.len() < expected && started.elapsed() < deadline {
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(message)) => {
                let headers = message
                    .headers()
                    .map(|headers| {
                        use rdkafka::message::Headers;
                        headers
                            .iter()
                            .map(|h| {
                                (
                                    h.key.to_string(),
                                    String::from_utf8_lossy(h.value.unwrap_or_default())
                                        .into_owned(),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                records.push(Consumed {
                    topic: message.topic().to_string(),
                    key: message.key().map(<[u8]>::to_vec),
                    payload: message.payload().unwrap_or_default().to_vec(),
                    headers,
                });
            }
            Some(Err(err)) => eprintln!("consumer: {err}"),
            None => {}
        }
    }
    records
}

/// What the OCSF 1.8.0 validator (`ocsf-schema`, strict: warnings count) finds in each record
/// (one OCSF event as JSON text each), as `record N: PATH: what is wrong [code]`; empty when
/// every record is valid.
pub fn ocsf_findings<T: AsRef<[u8]>>(records: &[T]) -> Vec<String> {
    let validator = ocsf_schema::Validator::ocsf_1_8_0().strict(true);
    records
        .iter()
        .enumerate()
        .flat_map(|(index, record)| {
            validator
                .validate_json(record.as_ref())
                .into_iter()
                .map(move |finding| format!("record {}: {finding}", index + 1))
        })
        .collect()
}

/// Asserts that there are records and that every one is valid OCSF 1.8.0 (strict); the failure
/// message lists every finding.
#[track_caller]
pub fn assert_valid_ocsf<T: AsRef<[u8]>>(records: &[T]) {
    assert!(!records.is_empty(), "no OCSF records to validate");
    let findings = ocsf_findings(records);
    assert!(
        findings.is_empty(),
        "{} of {} records are not valid OCSF 1.8.0:\n{}",
        findings.len(),
        records.len(),
        findings.join("\n")
    );
}

/// [`assert_valid_ocsf`] on JSON values (one OCSF event each).
#[track_caller]
pub fn assert_valid_ocsf_values(records: &[serde_json::Value]) {
    let lines: Vec<String> = records.iter().map(serde_json::Value::to_string).collect();
    assert_valid_ocsf(&lines);
}

/// A pipeline config for the simulator at `base_url`, writing to topics `<prefix>.<class>`.
pub fn write_config(
    dir: &Path,
    base_url: &str,
    api_key: &str,
    org_ids: &[String],
    prefix: &str,
    extra: &str,
) -> PathBuf {
    let orgs = org_ids
        .iter()
        .map(|o| format!("\"{o}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let text = format!(
        r#"
[jumpcloud]
base_url = "{base_url}"
org_ids = [{orgs}]
max_requests_per_sec = 200

[jumpcloud.auth]
type = "api_key"
api_key = "{api_key}"

[events]
lag = "3s"
overlap = "30s"
poll_interval = "200ms"
initial_lookback = "10d"
checkpoint_path = "{checkpoint}"

[kafka]
brokers = "{brokers}"

[kafka.topic]
template = "{prefix}.{{class_name}}"
dead_letter = "{prefix}.dead_letter"
{extra}
"#,
        checkpoint = dir.join("checkpoints.json").display(),
        brokers = brokers(),
    );
    let path = dir.join("config.toml");
    std::fs::write(&path, text).expect("write config");
    path
}

pub fn topics(prefix: &str) -> Vec<String> {
    let mut topics: Vec<String> = CLASS_NAMES
        .iter()
        .map(|c| format!("{prefix}.{c}"))
        .collect();
    topics.push(format!("{prefix}.dead_letter"));
    topics
}
