//! A broker outage: a broker of the test's own (Apache Kafka, own port and data directory) is
//! stopped for 60 s while the pipeline runs and events keep arriving, then started again with
//! its data. Nothing may be missing, and the pipeline's memory stays bounded while it waits.

mod common;

use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use simulator::SimConfig;

const API_KEY: &str = "outage-test-key";

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .map(str::to_string)
        })
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

fn keys(records: &[Consumed]) -> BTreeSet<EventKey> {
    records
        .iter()
        .filter_map(|r| serde_json::from_slice::<serde_json::Value>(&r.payload).ok())
        .map(|event| ocsf_key(&event))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_down_for_60_s_loses_nothing_and_memory_stays_bounded() {
    let broker = testkit::PrivateBroker::start();
    let brokers = broker.bootstrap();

    let sim_config = SimConfig {
        seed: 808,
        api_key: API_KEY.to_string(),
        orgs: 2,
        history_events: 4_000,
        history_days: 1,
        late_max_secs: 1.0,
        live_events_per_sec: 40.0,
        ..SimConfig::default()
    };
    let sim = simulator::start(sim_config, ([127, 0, 0, 1], 0).into())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_prefix("outage");
    let config = write_config(
        dir.path(),
        &sim.base_url(),
        API_KEY,
        &sim.org_ids(),
        &prefix,
        "",
    );
    let log_path = dir.path().join("pipeline.log");
    let mut pipeline = Command::new(binary())
        .args(["run", "--config"])
        .arg(&config)
        .env("KAFKA_BROKERS", &brokers)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap();
    let topics = topics(&prefix);

    // Before the outage: live events for a while, then quiet until everything is delivered.
    tokio::time::sleep(Duration::from_secs(5)).await;
    sim.set_live_rate(0.0);
    tokio::time::sleep(Duration::from_secs(6)).await;
    let truth_before = ground_truth(&sim.base_url(), API_KEY).await;
    let before = keys(&consume_from(
        &brokers,
        &topics,
        truth_before.len(),
        Duration::from_secs(30),
    ));
    assert!(
        truth_before.is_subset(&before),
        "everything before the outage was delivered"
    );

    // The outage: 60 s without a broker while events keep arriving.
    let rss_before = rss_kib(pipeline.id());
    broker.stop();
    sim.set_live_rate(40.0);
    let mut rss_peak = rss_before;
    for _ in 0..60 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        rss_peak = rss_peak.max(rss_kib(pipeline.id()));
        assert!(
            pipeline.try_wait().unwrap().is_none(),
            "the pipeline keeps running while the broker is down"
        );
    }
    broker.restart();
    tokio::time::sleep(Duration::from_secs(3)).await;
    sim.set_live_rate(0.0);

    // After: the restarted broker holds what was delivered before the outage (its data kept) and
    // receives everything the outage held back.
    let truth = ground_truth(&sim.base_url(), API_KEY).await;
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut after = BTreeSet::new();
    let mut missing = truth.len();
    while Instant::now() < deadline {
        after = keys(&consume_from(
            &brokers,
            &topics,
            usize::MAX,
            Duration::from_secs(3),
        ));
        missing = truth.iter().filter(|k| !after.contains(*k)).count();
        if missing == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    println!(
        "truth {}; before the outage {}; after it {}; missing {missing}; RSS {rss_before} KiB before, peak {rss_peak} KiB during the outage",
        truth.len(),
        before.len(),
        after.len()
    );
    let _ = pipeline.kill();
    let _ = pipeline.wait();
    drop(broker);
    sim.shutdown().await;
    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
    let tail: Vec<&str> = log.lines().rev().take(20).collect();
    assert_eq!(
        missing,
        0,
        "events missing after the outage; pipeline log, newest first:\n{}",
        tail.join("\n")
    );
    assert!(
        truth.len() > truth_before.len() + 1_000,
        "events arrived during the outage"
    );
    assert!(
        rss_peak < rss_before + 64 * 1024,
        "memory bounded during the outage: {rss_before} -> {rss_peak} KiB"
    );
}
