//! Fair scheduling under the request-rate cap, against the real broker: an organisation with a
//! backlog (added with days of history while the others are caught up) is paged while the
//! others keep their freshness, and everything arrives once.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::metrics::{get, samples};
use common::*;
use simulator::SimConfig;

const API_KEY: &str = "fairness-pipeline-key";
const LAG_SECS: f64 = 3.0;
const POLL_SECS: f64 = 1.0;

fn start(config: &Path) -> Child {
    Command::new(binary())
        .args(["run", "--config"])
        .arg(config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the pipeline")
}

fn stop(mut child: Child) {
    assert!(
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    assert!(child.wait().unwrap().success());
}

/// The data lag of every organisation that has completed a window.
async fn lags(base: &str) -> Vec<(String, f64)> {
    let (_, body) = get(&format!("{base}/metrics")).await;
    samples(&body, "jumpcloud_ocsf_data_lag_seconds")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_does_not_starve_the_caught_up_organisations() {
    let config = SimConfig {
        seed: 1919,
        api_key: API_KEY.to_string(),
        orgs: 6,
        history_events: 18_000,
        history_days: 1,
        late_max_secs: 0.0,
        live_events_per_sec: 20.0,
        ..SimConfig::default()
    };
    let sim = simulator::start(config, ([127, 0, 0, 1], 0).into())
        .await
        .unwrap();
    let orgs = sim.org_ids();
    let (caught_up, late) = (&orgs[..5], orgs[5].clone());
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_prefix("fairness");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let configure = |orgs: &[String], requests_per_sec: u32, page_limit: u32| {
        let path = write_config(
            dir.path(),
            &sim.base_url(),
            API_KEY,
            orgs,
            &prefix,
            &format!("[metrics]\nlisten = \"127.0.0.1:{port}\"\n"),
        );
        let text = std::fs::read_to_string(&path)
            .unwrap()
            .replace("poll_interval = \"200ms\"", "poll_interval = \"1s\"")
            .replace(
                "max_requests_per_sec = 200",
                &format!("max_requests_per_sec = {requests_per_sec}"),
            );
        std::fs::write(&path, text).unwrap();
        set_in_config(&path, "events", &format!("page_limit = {page_limit}"));
        path
    };

    // First the five catch up, with requests to spare.
    let path = configure(caught_up, 200, 1000);
    let child = start(&path);
    let started = Instant::now();
    while lags(&base).await.len() < 5 {
        assert!(started.elapsed() < Duration::from_secs(120), "no catch-up");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    stop(child);

    // Then the sixth joins with a day of history (3,000 events in pages of 50: 60 requests)
    // under a cap of 4 requests a second, while the five keep polling every second. Starved,
    // their data lag would grow for as long as the backlog is paged.
    let path = configure(&orgs, 4, 50);
    let child = start(&path);
    let started = Instant::now();
    let mut worst: f64 = 0.0;
    let mut samples_taken = 0;
    let caught_up_after = loop {
        let now = lags(&base).await;
        if now.iter().any(|(org, _)| *org == late) {
            break started.elapsed();
        }
        for (org, lag) in &now {
            if caught_up.contains(org) {
                worst = worst.max(*lag);
            }
        }
        samples_taken += 1;
        assert!(
            started.elapsed() < Duration::from_secs(150),
            "the backlog did not catch up"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    println!(
        "backlog caught up after {caught_up_after:?}; the others' worst data lag meanwhile {worst:.1} s ({samples_taken} samples)"
    );
    assert!(
        caught_up_after > Duration::from_secs(10),
        "no real backlog: caught up after {caught_up_after:?}"
    );
    let bound = LAG_SECS + POLL_SECS + 15.0;
    assert!(
        worst <= bound,
        "a caught-up organisation's data lag reached {worst:.1} s while the backlog was paged (bound {bound} s)"
    );
    sim.set_live_rate(0.0);
    stop(child);
    tokio::time::sleep(Duration::from_secs(4)).await;
    catch_up(&path, &[]);
    let truth = ground_truth(&sim.base_url(), API_KEY).await;
    Delivered::read(&brokers(), &prefix).assert_exactly(&truth);
    sim.shutdown().await;
}
