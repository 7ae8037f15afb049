//! End to end over real components: the simulator over HTTP (3 organisations, late arrival,
//! live events) -> the `jumpcloud-ocsf run` binary -> the real broker -> an independent consumer.
//! Every simulator event must arrive exactly once, as valid OCSF, with keys and headers.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use simulator::SimConfig;

const API_KEY: &str = "pipeline-test-key";

async fn start_simulator(seed: u64, history_events: usize) -> simulator::SimHandle {
    let config = SimConfig {
        seed,
        api_key: API_KEY.to_string(),
        orgs: 3,
        history_events,
        history_days: 2,
        late_max_secs: 1.5,
        live_events_per_sec: 60.0,
        ..SimConfig::default()
    };
    simulator::start(config, ([127, 0, 0, 1], 0).into())
        .await
        .expect("simulator starts")
}

/// Lets live events arrive for a while, stops them, and waits until every event is visible and
/// older than the pipeline's lag (3 s).
async fn settle(sim: &simulator::SimHandle) {
    tokio::time::sleep(Duration::from_secs(3)).await;
    sim.set_live_rate(0.0);
    tokio::time::sleep(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_once_delivers_every_simulator_event_exactly_once_as_valid_ocsf() {
    let sim = start_simulator(101, 6_000).await;
    settle(&sim).await;
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_prefix("once");
    let config = write_config(
        dir.path(),
        &sim.base_url(),
        API_KEY,
        &sim.org_ids(),
        &prefix,
        "",
    );

    let output = Command::new(binary())
        .args(["run", "--once", "--config"])
        .arg(&config)
        .env_remove("KAFKA_BROKERS")
        .stderr(Stdio::piped())
        .output()
        .expect("run the pipeline");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "run --once failed: {stderr}");
    assert!(
        !stderr.contains(API_KEY),
        "the API key leaked into the logs"
    );

    let truth = ground_truth(&sim.base_url(), API_KEY).await;
    assert!(
        truth.len() > 6_000,
        "the simulator generated live events too ({})",
        truth.len()
    );
    let records = consume(&topics(&prefix), truth.len(), Duration::from_secs(60));

    let mut seen: BTreeMap<EventKey, usize> = BTreeMap::new();
    let mut payloads = Vec::new();
    for record in &records {
        assert!(
            !record.topic.ends_with("dead_letter"),
            "unexpected dead letter: {record:?}"
        );
        let event: serde_json::Value =
            serde_json::from_slice(&record.payload).expect("JSON record");
        let class_name = record.topic.rsplit('.').next().unwrap();
        assert_eq!(
            record.headers["ocsf_class_uid"],
            event["class_uid"].to_string(),
            "class header"
        );
        assert_eq!(record.headers["ocsf_version"], "1.8.0");
        assert_eq!(
            record.headers["event_code"],
            event["metadata"]["event_code"].as_str().unwrap()
        );
        assert_eq!(
            record.headers["tenant_uid"],
            event["metadata"]["tenant_uid"].as_str().unwrap()
        );
        assert!(CLASS_NAMES.contains(&class_name), "topic {}", record.topic);
        // Keyed by the subject user when there is one, else by the organisation.
        let key = String::from_utf8(record.key.clone().expect("every record is keyed")).unwrap();
        let expected_key = event["user"]["uid"]
            .as_str()
            .unwrap_or_else(|| event["metadata"]["tenant_uid"].as_str().unwrap());
        assert_eq!(
            key, expected_key,
            "key of {}",
            event["metadata"]["event_code"]
        );
        *seen.entry(ocsf_key(&event)).or_default() += 1;
        payloads.push(record.payload.clone());
    }
    let delivered: BTreeSet<EventKey> = seen.keys().cloned().collect();
    let missing: Vec<_> = truth.difference(&delivered).take(5).collect();
    let unexpected: Vec<_> = delivered.difference(&truth).take(5).collect();
    let duplicates: usize = seen.values().map(|n| n - 1).sum();
    println!(
        "ground truth {} events; consumed {} records; missing {}; duplicates {duplicates}",
        truth.len(),
        records.len(),
        truth.difference(&delivered).count()
    );
    assert!(missing.is_empty(), "missing events, e.g. {missing:?}");
    assert!(
        unexpected.is_empty(),
        "records not in the ground truth, e.g. {unexpected:?}"
    );
    assert_eq!(duplicates, 0, "a clean run delivers each event once");

    assert_valid_ocsf(&payloads);

    // A second --once from the committed checkpoint finds nothing new to deliver.
    let output = Command::new(binary())
        .args(["run", "--once", "--config"])
        .arg(&config)
        .output()
        .expect("run the pipeline again");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let again = consume(&topics(&prefix), truth.len() + 1, Duration::from_secs(5));
    assert_eq!(
        again.len(),
        records.len(),
        "the re-run from the checkpoint re-delivered events"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_once_stops_with_the_remedy_when_the_key_is_wrong() {
    let sim = start_simulator(102, 100).await;
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_prefix("badkey");
    let config = write_config(
        dir.path(),
        &sim.base_url(),
        "wrong-key-123",
        &sim.org_ids(),
        &prefix,
        "",
    );
    let output = Command::new(binary())
        .args(["run", "--once", "--config"])
        .arg(&config)
        .output()
        .expect("run the pipeline");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("401"), "{stderr}");
    assert!(
        stderr.contains("regenerate"),
        "the error names the remedy: {stderr}"
    );
    assert!(
        !stderr.contains("wrong-key-123"),
        "the key leaked: {stderr}"
    );
    sim.shutdown().await;
}
