//! Broker outages: a broker of the test's own (Apache Kafka, own port and data directory) is
//! stopped while the pipeline runs and events keep arriving, then started again with its data.
//! In both delivery modes: nothing may be missing (exactly-once: nothing duplicated either),
//! the pipeline catches up within 60 s of the broker's return without a restart, `/readyz`
//! and the metrics show a stuck pipeline while the broker is away, and memory stays bounded.
//!
//! The 60-second outages run with the test command. The 10-minute ones (longer than
//! `transaction.timeout.ms`, so the broker ends the open transaction itself when it is back,
//! and every transactional call times out many times over) are in the long suite:
//! `scripts/test.sh --long`.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::metrics;
use common::*;
use simulator::SimConfig;

const API_KEY: &str = "outage-test-key";
const LIVE_EVENTS_PER_SEC: f64 = 40.0;

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_once_broker_down_for_60_s() {
    outage("exactly-once", Duration::from_secs(60)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_least_once_broker_down_for_60_s() {
    outage("at-least-once", Duration::from_secs(60)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "long suite (10 minutes): scripts/test.sh --long"]
async fn exactly_once_broker_down_for_10_min() {
    outage("exactly-once", Duration::from_secs(600)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "long suite (10 minutes): scripts/test.sh --long"]
async fn at_least_once_broker_down_for_10_min() {
    outage("at-least-once", Duration::from_secs(600)).await;
}

/// What `/readyz` and the metrics said while the broker was away.
#[derive(Debug, Default)]
struct Seen {
    /// Seconds into the outage when `/readyz` first said delivery is failing.
    not_ready_after: Option<u64>,
    /// The most consecutive failures the metric showed.
    most_failures: f64,
    /// One `/readyz` body that said so.
    readyz: String,
}

async fn look(metrics_url: &str, second: u64, seen: &mut Seen) {
    let (status, body) = metrics::get(&format!("{metrics_url}/readyz")).await;
    if status == 503 && body.contains("delivery failing") && seen.not_ready_after.is_none() {
        seen.not_ready_after = Some(second);
        seen.readyz = body;
    }
    let (_, body) = metrics::get(&format!("{metrics_url}/metrics")).await;
    let failures = body
        .lines()
        .find_map(|line| {
            line.strip_prefix("jumpcloud_ocsf_unit_failures_consecutive{pipeline=\"all\"} ")
        })
        .and_then(|value| value.trim().parse::<f64>().ok())
        .unwrap_or(0.0);
    seen.most_failures = seen.most_failures.max(failures);
}

async fn outage(delivery: &str, down: Duration) {
    let broker = testkit::PrivateBroker::start();
    let brokers = broker.bootstrap();
    let sim_config = SimConfig {
        seed: 808,
        api_key: API_KEY.to_string(),
        orgs: 3,
        history_events: 4_000,
        history_days: 1,
        late_max_secs: 1.0,
        live_events_per_sec: LIVE_EVENTS_PER_SEC,
        ..SimConfig::default()
    };
    let sim = simulator::start(sim_config, ([127, 0, 0, 1], 0).into())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_prefix(&format!("outage-{delivery}-{}", down.as_secs()));
    let port = free_port();
    let config = write_config(
        dir.path(),
        &sim.base_url(),
        API_KEY,
        &sim.org_ids(),
        &prefix,
        &format!("\n[metrics]\nlisten = \"127.0.0.1:{port}\"\n"),
    );
    set_in_config(&config, "pipeline", &format!("delivery = \"{delivery}\""));
    let metrics_url = format!("http://127.0.0.1:{port}");
    let log_path = dir.path().join("pipeline.log");
    let mut pipeline = Command::new(binary())
        .args(["run", "--config"])
        .arg(&config)
        .env("KAFKA_BROKERS", &brokers)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap();
    let log_tail = || {
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(30).collect();
        tail.join("\n")
    };

    // Before the outage: live events for a while, then quiet until everything is delivered.
    tokio::time::sleep(Duration::from_secs(5)).await;
    sim.set_live_rate(0.0);
    let truth_before = ground_truth(&sim.base_url(), API_KEY).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while !Delivered::read(&brokers, &prefix)
        .missing(&truth_before)
        .is_empty()
    {
        assert!(
            Instant::now() < deadline,
            "everything before the outage was delivered; log, newest first:\n{}",
            log_tail()
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let (status, body) = metrics::get(&format!("{metrics_url}/readyz")).await;
    assert_eq!(status, 200, "ready before the outage: {body}");

    // The outage, while events keep arriving.
    let rss_before = rss_kib(pipeline.id());
    broker.stop();
    sim.set_live_rate(LIVE_EVENTS_PER_SEC);
    let outage_started = Instant::now();
    let mut rss_peak = rss_before;
    let mut seen = Seen::default();
    while outage_started.elapsed() < down {
        tokio::time::sleep(Duration::from_secs(1)).await;
        rss_peak = rss_peak.max(rss_kib(pipeline.id()));
        look(&metrics_url, outage_started.elapsed().as_secs(), &mut seen).await;
        assert!(
            pipeline.try_wait().unwrap().is_none(),
            "the pipeline keeps running while the broker is down; log, newest first:\n{}",
            log_tail()
        );
    }
    broker.restart();
    let returned = Instant::now();
    tokio::time::sleep(Duration::from_secs(3)).await;
    sim.set_live_rate(0.0);

    // After: every event, the outage's included, within 60 s of the broker's return, with no
    // restart of the pipeline.
    let truth = ground_truth(&sim.base_url(), API_KEY).await;
    let mut delivered = Delivered::read(&brokers, &prefix);
    while !delivered.missing(&truth).is_empty() && returned.elapsed() < Duration::from_secs(90) {
        tokio::time::sleep(Duration::from_secs(2)).await;
        delivered = Delivered::read(&brokers, &prefix);
    }
    let caught_up_after = returned.elapsed();
    let missing = delivered.missing(&truth).len();
    let mut ready_again = false;
    for _ in 0..30 {
        let (status, _) = metrics::get(&format!("{metrics_url}/readyz")).await;
        if status == 200 {
            ready_again = true;
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    println!(
        "{delivery}, {} s outage: truth {} ({} before it); records {}; missing {missing}; duplicates {}; caught up {:.1} s after the broker's return; /readyz not ready {:?} s into the outage, most consecutive failures {}; RSS {rss_before} KiB before, peak {rss_peak} KiB during the outage",
        down.as_secs(),
        truth.len(),
        truth_before.len(),
        delivered.values.len(),
        delivered.duplicates(),
        caught_up_after.as_secs_f64(),
        seen.not_ready_after,
        seen.most_failures,
    );
    let _ = pipeline.kill();
    let _ = pipeline.wait();
    drop(broker);
    sim.shutdown().await;

    assert_eq!(
        missing,
        0,
        "events missing after the outage; log, newest first:\n{}",
        log_tail()
    );
    if delivery == "exactly-once" {
        delivered.assert_exactly(&truth);
    }
    assert!(
        truth.len() as f64 > truth_before.len() as f64 + down.as_secs_f64() * 20.0,
        "events arrived during the outage"
    );
    assert!(
        caught_up_after < Duration::from_secs(60),
        "caught up {caught_up_after:?} after the broker's return (at most 60 s)"
    );
    let not_ready_after = seen
        .not_ready_after
        .expect("/readyz said delivery is failing during the outage");
    assert!(
        not_ready_after <= 30,
        "/readyz said delivery is failing {not_ready_after} s into the outage: {}",
        seen.readyz
    );
    assert!(
        seen.most_failures >= 1.0,
        "jumpcloud_ocsf_unit_failures_consecutive counted the failures"
    );
    assert!(ready_again, "/readyz ready again once delivery works");
    assert!(
        rss_peak < 64 * 1024,
        "peak RSS during the outage under 64 MiB: {rss_before} -> {rss_peak} KiB"
    );
}
