//! Helpers for end-to-end tests: the simulator in-process over HTTP, the real broker and
//! registry (`testkit`), the real binary as a subprocess.

#![allow(dead_code)]

mod delivered;
pub mod inventory;
pub mod metrics;
pub mod secure;

#[allow(unused_imports)] // each test binary uses its own part
pub use delivered::Delivered;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The OCSF class names the producer may write to (topic `<prefix>.<class_name>`): one per
/// committed Avro class schema.
pub static CLASS_NAMES: std::sync::LazyLock<Vec<&'static str>> = std::sync::LazyLock::new(|| {
    producer::avro::CLASS_SCHEMA_FILES
        .iter()
        .map(|file| file.class_name)
        .collect()
});

/// Identity of one Directory Insights event: (organization, id, timestamp).
pub type EventKey = (String, String, String);

#[allow(unused_imports)] // each test binary uses its own part
pub use testkit::{Consumed, brokers, consume, consume_from, registry_url};

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

/// A pipeline config for the simulator at `base_url`, writing to topics `<prefix>.<class>`. The
/// audit is off unless `extra` sets `[audit]`: its counts of every hour of the 10-day lookback
/// would load every test (`pipeline_audit.rs` tests it).
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
    let audit = if extra.contains("[audit]") {
        ""
    } else {
        "\n[audit]\nenabled = false\n"
    };
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
deployment_id = "{prefix}"
state_topic = "{prefix}.state"

[kafka.topic]
template = "{prefix}.{{class_name}}"
dead_letter = "{prefix}.dead_letter"
{audit}{extra}
"#,
        checkpoint = dir.join("checkpoints.json").display(),
        brokers = brokers(),
    );
    let path = dir.join("config.toml");
    std::fs::write(&path, text).expect("write config");
    path
}

/// Adds `line` (`key = value`) at the top of `[table]` in the config file at `path` (the table
/// is added at the end when the file has none).
pub fn set_in_config(path: &Path, table: &str, line: &str) {
    let header = format!("[{table}]\n");
    let text = std::fs::read_to_string(path).expect("read config");
    let text = if text.contains(&header) {
        text.replacen(&header, &format!("{header}{line}\n"), 1)
    } else {
        format!("{text}\n{header}{line}\n")
    };
    std::fs::write(path, text).expect("write config");
}

pub fn topics(prefix: &str) -> Vec<String> {
    let mut topics: Vec<String> = CLASS_NAMES
        .iter()
        .map(|c| format!("{prefix}.{c}"))
        .collect();
    topics.push(format!("{prefix}.dead_letter"));
    topics
}

/// A free local TCP port (for a metrics listener), reserved for this test process.
pub fn free_port() -> u16 {
    testkit::reserved_port()
}

/// `run --once` with the config at `path` (the environment's `KAFKA_BROKERS` and `env`): catches
/// every organisation up; panics with its stderr unless it succeeds.
#[track_caller]
pub fn catch_up(path: &Path, env: &[(&str, &str)]) {
    let output = std::process::Command::new(binary())
        .args(["run", "--once", "--config"])
        .arg(path)
        .envs(env.iter().copied())
        .output()
        .expect("catch-up run");
    assert!(
        output.status.success(),
        "catch-up run: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}
