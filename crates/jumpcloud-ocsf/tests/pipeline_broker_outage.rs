//! A broker outage: a dedicated broker (Tansu, memory storage, own port) is stopped for 60 s
//! while the pipeline runs and events keep arriving, then started again. Nothing may be missing
//! and the pipeline's memory stays bounded. The memory broker forgets everything on restart, so
//! what was delivered before the outage is read before it, and what was delivered after it is
//! read from the restarted broker; together they must hold every simulator event. The pipeline
//! must survive the broker losing its data: topics vanish (re-created) and the idempotent
//! producer's sequence state no longer matches (fatal error: the producer is rebuilt).

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use simulator::SimConfig;

const API_KEY: &str = "outage-test-key";

fn broker_script(port: u16, state: &std::path::Path, command: &str) {
    let script = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../scripts/kafka-broker.sh"
    ));
    let output = Command::new("bash")
        .arg(script)
        .arg(command)
        .env("KAFKA_PORT", port.to_string())
        .env("JUMPCLOUD_OCSF_STATE", state)
        .output()
        .expect("kafka-broker.sh");
    assert!(
        output.status.success(),
        "kafka-broker.sh {command}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

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
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let state = tempfile::tempdir().unwrap();
    broker_script(port, state.path(), "start");
    let brokers = format!("127.0.0.1:{port}");

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
    broker_script(port, state.path(), "stop");
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
    broker_script(port, state.path(), "start");
    tokio::time::sleep(Duration::from_secs(3)).await;
    sim.set_live_rate(0.0);

    // After: the restarted broker must receive everything the outage held back.
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
        missing = truth
            .iter()
            .filter(|k| !before.contains(*k) && !after.contains(*k))
            .count();
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
    broker_script(port, state.path(), "stop");
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
