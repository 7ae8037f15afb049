//! Many organisations in one instance, against the real broker: organisations discovered from
//! the provider (`org_ids = "all"`), queried in groups, the provider's own events as their own
//! source, one organisation answering 402 inside a group; what the metrics say about each.

mod common;

use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::metrics::{get, plain, samples};
use common::*;
use simulator::SimConfig;

const API_KEY: &str = "groups-pipeline-key";

/// The provider's own events in the simulator's ground truth.
async fn provider_truth(base_url: &str, provider: &str) -> BTreeSet<EventKey> {
    let body = reqwest::Client::new()
        .get(format!("{base_url}/__sim/events?org={provider}"))
        .header("x-api-key", API_KEY)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    body.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let event: serde_json::Value = serde_json::from_str(line).unwrap();
            (
                event["organization"].as_str().unwrap().to_owned(),
                event["id"].as_str().unwrap().to_owned(),
                event["timestamp"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovered_organisations_in_groups_with_a_402_one_and_the_provider_each_once() {
    let config = SimConfig {
        seed: 1717,
        api_key: API_KEY.to_string(),
        orgs: 13,
        history_events: 2_600,
        history_days: 1,
        history_anchor_ns: Some(simulator::ids::now_ns() - 600 * 1_000_000_000),
        // The 12th organisation has Directory Insights disabled; the 13th has not joined the
        // provider, so discovery does not find it.
        di_disabled_orgs: 2,
        unlisted_orgs: 1,
        provider_events: 30,
        users_per_org: 5,
        systems_per_org: 2,
        ..SimConfig::default()
    };
    let sim = simulator::start(config, ([127, 0, 0, 1], 0).into())
        .await
        .unwrap();
    let orgs = sim.org_ids();
    let provider = sim.provider_id();
    let healthy: Vec<String> = orgs[..11].to_vec();
    let disabled = orgs[11].clone();
    let unlisted = orgs[12].clone();
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_prefix("groups");
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
        &format!("org_ids = \"all\"\nprovider_id = \"{provider}\"\nprovider_events = true"),
    );
    std::fs::write(&path, text).unwrap();
    set_in_config(&path, "events", "group_size = 5");
    let mut child = Command::new(binary())
        .args(["run", "--config"])
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    // Every discovered organisation but the disabled one completes a window; the provider too.
    let base = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    let mut body = String::new();
    while started.elapsed() < Duration::from_secs(90) {
        let (status, text) = get(&format!("{base}/metrics")).await;
        if status == 200 && samples(&text, "jumpcloud_ocsf_data_lag_seconds").len() == 12 {
            body = text;
            break;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(!body.is_empty(), "no complete windows in time");
    let lags = samples(&body, "jumpcloud_ocsf_data_lag_seconds");
    let labelled: BTreeSet<&str> = lags.iter().map(|(org, _)| org.as_str()).collect();
    let mut expected_labels: BTreeSet<String> = healthy.iter().cloned().collect();
    expected_labels.insert(format!("provider/{provider}"));
    assert_eq!(
        labelled,
        expected_labels.iter().map(String::as_str).collect(),
        "the disabled organisation has no data lag (never 0), the unlisted one is not polled"
    );
    for (org, lag) in &lags {
        assert!((2.9..60.0).contains(lag), "{org}: data lag {lag}");
    }
    assert_eq!(
        plain(&body, "jumpcloud_ocsf_orgs_without_completed_window"),
        Some(1.0),
        "{body}"
    );
    let fetched = samples(&body, "jumpcloud_ocsf_events_fetched_total");
    assert!(fetched.iter().any(|(org, _)| *org == disabled));
    assert!(!fetched.iter().any(|(org, _)| *org == unlisted));
    let (status, ready) = get(&format!("{base}/readyz")).await;
    assert_eq!(status, 503, "{ready}");
    assert!(
        ready.contains(&disabled) && ready.contains("402"),
        "the refused organisation shows its own error: {ready}"
    );
    for org in &healthy {
        assert!(
            !ready.contains(&format!("{org}:")),
            "{org} reported: {ready}"
        );
    }

    // Stop: in-flight batches are committed; then every event once, read_committed.
    assert!(
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "no exit within 60 s of SIGTERM");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert!(status.success(), "{status:?}: {stderr}");
    let mut expected: BTreeSet<EventKey> = ground_truth(&sim.base_url(), API_KEY)
        .await
        .into_iter()
        .filter(|(org, _, _)| healthy.contains(org))
        .collect();
    let from_provider = provider_truth(&sim.base_url(), &provider).await;
    assert_eq!(from_provider.len(), 30);
    expected.extend(from_provider);
    let records = consume(&topics(&prefix), expected.len(), Duration::from_secs(60));
    let values: Vec<serde_json::Value> = records
        .iter()
        .filter(|r| !r.topic.ends_with(".dead_letter"))
        .map(|r| serde_json::from_slice(&r.payload).unwrap())
        .collect();
    let keys: Vec<EventKey> = values.iter().map(ocsf_key).collect();
    let unique: BTreeSet<EventKey> = keys.iter().cloned().collect();
    assert_eq!(keys.len(), unique.len(), "duplicates");
    assert_eq!(unique, expected, "missing or extra events");
    assert_valid_ocsf_values(&values);
    sim.shutdown().await;
}
