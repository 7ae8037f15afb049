//! `backfill --from/--to`: exactly the simulator's events of the range, sliced with
//! `/events/count`, into Kafka; and a second run resumes from its checkpoint (nothing new).

mod common;

use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

use common::*;
use simulator::SimConfig;

const API_KEY: &str = "backfill-test-key";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_delivers_exactly_the_range() {
    let config = SimConfig {
        seed: 505,
        api_key: API_KEY.to_string(),
        orgs: 2,
        history_events: 12_000,
        history_days: 6,
        ..SimConfig::default()
    };
    let sim = simulator::start(config, ([127, 0, 0, 1], 0).into())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_prefix("backfill");
    let config = write_config(
        dir.path(),
        &sim.base_url(),
        API_KEY,
        &sim.org_ids(),
        &prefix,
        "",
    );
    // Small slices so the range is cut into several `/events/count` slices.
    set_in_config(&config, "events", "backfill_slice_events = 1500");

    let now = chrono::Utc::now();
    let from = now - chrono::Duration::hours(100);
    let to = now - chrono::Duration::hours(30);
    let fmt =
        |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
    let output = Command::new(binary())
        .args(["backfill", "--config"])
        .arg(&config)
        .args(["--from", &fmt(from), "--to", &fmt(to)])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("backfill done"), "{stderr}");

    let truth: BTreeSet<EventKey> = ground_truth(&sim.base_url(), API_KEY)
        .await
        .into_iter()
        .filter(|(_, _, timestamp)| {
            let t = chrono::DateTime::parse_from_rfc3339(timestamp)
                .unwrap()
                .with_timezone(&chrono::Utc);
            t >= from && t < to
        })
        .collect();
    assert!(
        truth.len() > 3_000,
        "the range holds a good share of the history ({})",
        truth.len()
    );
    let records = consume(&topics(&prefix), truth.len() + 1, Duration::from_secs(20));
    let delivered: Vec<EventKey> = records
        .iter()
        .map(|r| ocsf_key(&serde_json::from_slice(&r.payload).unwrap()))
        .collect();
    let delivered_set: BTreeSet<EventKey> = delivered.iter().cloned().collect();
    assert_eq!(delivered.len(), delivered_set.len(), "no duplicates");
    assert_eq!(delivered_set, truth, "exactly the events of [from, to)");

    // Resumed from its checkpoint: the finished backfill delivers nothing again.
    let output = Command::new(binary())
        .args(["backfill", "--config"])
        .arg(&config)
        .args(["--from", &fmt(from), "--to", &fmt(to)])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let again = consume(&topics(&prefix), truth.len() + 1, Duration::from_secs(5));
    assert_eq!(again.len(), records.len());
    sim.shutdown().await;
}
