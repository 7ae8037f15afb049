//! Discovery while running (`org_ids = "all"`, `org_refresh_interval`), against the real broker:
//! an organisation that joins the provider is polled from its first events, one that leaves
//! stops being polled, and restarting the pipeline for the new set loses and duplicates nothing.

mod common;

use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::metrics::{get, samples};
use common::*;
use simulator::SimConfig;

const API_KEY: &str = "discovery-pipeline-key";

/// The organisations `/metrics` shows a source for.
async fn polled(base: &str) -> BTreeSet<String> {
    let (_, body) = get(&format!("{base}/metrics")).await;
    samples(&body, "jumpcloud_ocsf_checkpoint_age_seconds")
        .into_iter()
        .map(|(org, _)| org)
        .collect()
}

/// Waits until `/metrics` shows exactly `wanted`; returns how long it took.
async fn wait_for_polled(base: &str, wanted: &BTreeSet<String>, within: Duration) -> Duration {
    let started = Instant::now();
    let mut last = BTreeSet::new();
    while started.elapsed() < within {
        last = polled(base).await;
        if &last == wanted {
            return started.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("polled {last:?}, wanted {wanted:?}");
}

async fn sim_post(base_url: &str, path: &str) {
    let response = reqwest::Client::new()
        .post(format!("{base_url}{path}"))
        .header("x-api-key", API_KEY)
        .send()
        .await
        .expect("simulator answers");
    assert!(
        response.status().is_success(),
        "{path}: {}",
        response.status()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_organisation_joining_or_leaving_the_provider_is_picked_up_while_running() {
    let config = SimConfig {
        seed: 1818,
        api_key: API_KEY.to_string(),
        orgs: 4,
        history_events: 800,
        history_days: 1,
        late_max_secs: 0.0,
        live_events_per_sec: 0.0,
        // The 4th organisation has not joined the provider yet.
        unlisted_orgs: 1,
        ..SimConfig::default()
    };
    let sim = simulator::start(config, ([127, 0, 0, 1], 0).into())
        .await
        .unwrap();
    let orgs = sim.org_ids();
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_prefix("discovery");
    let port = free_port();
    let path = write_config(
        dir.path(),
        &sim.base_url(),
        API_KEY,
        &[],
        &prefix,
        &format!("[metrics]\nlisten = \"127.0.0.1:{port}\"\n"),
    );
    let text = std::fs::read_to_string(&path).unwrap().replace(
        "org_ids = []",
        &format!(
            "org_ids = \"all\"\nprovider_id = \"{}\"\norg_refresh_interval = \"2s\"",
            sim.provider_id()
        ),
    );
    std::fs::write(&path, text).unwrap();
    let mut child = Command::new(binary())
        .args(["run", "--config"])
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let mut listed: BTreeSet<String> = orgs[..3].iter().cloned().collect();
    wait_for_polled(&base, &listed, Duration::from_secs(60)).await;

    // The 4th joins: polled after the next listing; the 1st leaves: no longer polled.
    sim_post(&sim.base_url(), &format!("/__sim/orgs/{}/join", orgs[3])).await;
    listed.insert(orgs[3].clone());
    let joined = wait_for_polled(&base, &listed, Duration::from_secs(30)).await;
    println!("a joining organisation is polled after {joined:?}");
    tokio::time::sleep(Duration::from_secs(3)).await;
    sim_post(&sim.base_url(), &format!("/__sim/orgs/{}/leave", orgs[0])).await;
    listed.remove(&orgs[0]);
    let left = wait_for_polled(&base, &listed, Duration::from_secs(30)).await;
    println!("a leaving organisation stops being polled after {left:?}");
    assert!(joined < Duration::from_secs(10) && left < Duration::from_secs(10));
    tokio::time::sleep(Duration::from_secs(4)).await;

    assert!(
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert!(status.success(), "{status:?}: {stderr}");

    // Every event of the organisations polled to the end arrived once, the joiner's history
    // from `initial_lookback` included; nothing arrived twice across the pipeline's restarts.
    let truth = ground_truth(&sim.base_url(), API_KEY).await;
    let delivered = Delivered::read(&brokers(), &prefix);
    let kept: BTreeSet<EventKey> = truth
        .iter()
        .filter(|(org, _, _)| listed.contains(org))
        .cloned()
        .collect();
    let missing = delivered.missing(&kept);
    assert!(
        missing.is_empty(),
        "lost: {:?}",
        &missing[..missing.len().min(5)]
    );
    assert!(
        truth.iter().any(|(org, _, _)| *org == orgs[3]),
        "the joiner has history"
    );
    assert_eq!(delivered.duplicates(), 0, "duplicates across the restarts");
    assert_eq!(delivered.foreign(&truth), 0);
    assert_valid_ocsf_values(&delivered.values);
    sim.shutdown().await;
}
