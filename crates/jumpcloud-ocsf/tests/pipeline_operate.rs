//! Operating the running pipeline: metrics, health/readiness, a 402 organisation beside a
//! healthy one, and a graceful SIGTERM (flush, commit, exit 0).

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::metrics::get;
use common::*;
use simulator::SimConfig;

const API_KEY: &str = "operate-test-key";

fn metric(body: &str, name_and_labels: &str) -> Option<f64> {
    body.lines()
        .find(|line| line.starts_with(name_and_labels))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_readiness_402_org_and_graceful_sigterm() {
    let config = SimConfig {
        seed: 404,
        api_key: API_KEY.to_string(),
        orgs: 2,
        history_events: 2_000,
        history_days: 1,
        di_disabled_orgs: 1,
        live_events_per_sec: 20.0,
        ..SimConfig::default()
    };
    let sim = simulator::start(config, ([127, 0, 0, 1], 0).into())
        .await
        .unwrap();
    let orgs = sim.org_ids();
    let (healthy, disabled) = (orgs[0].clone(), orgs[1].clone());
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_prefix("operate");
    let port = free_port();
    let config = write_config(
        dir.path(),
        &sim.base_url(),
        API_KEY,
        &orgs,
        &prefix,
        &format!("[metrics]\nlisten = \"127.0.0.1:{port}\"\n"),
    );
    let mut child = Command::new(binary())
        .args(["run", "--config"])
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    // Wait until the healthy organisation has delivered its history.
    let base = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    let mut body = String::new();
    while started.elapsed() < Duration::from_secs(60) {
        let (status, text) = get(&format!("{base}/metrics")).await;
        if status == 200 {
            let delivered: f64 = text
                .lines()
                .filter(|l| {
                    l.starts_with("jumpcloud_ocsf_records_delivered_total{") && l.contains(&healthy)
                })
                .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
                .sum();
            if delivered >= 1_000.0 {
                body = text;
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(
        !body.is_empty(),
        "the healthy organisation delivered its history in time"
    );
    let fetched = metric(
        &body,
        &format!("jumpcloud_ocsf_events_fetched_total{{org=\"{healthy}\"}}"),
    )
    .unwrap();
    assert!(fetched >= 1_000.0, "fetched {fetched}");
    assert_eq!(
        metric(
            &body,
            &format!("jumpcloud_ocsf_events_fetched_total{{org=\"{disabled}\"}}")
        ),
        Some(0.0)
    );
    assert!(
        metric(&body, "jumpcloud_ocsf_api_responses_total{status=\"4xx\"}").unwrap() >= 1.0,
        "the 402 is counted"
    );
    assert!(body.contains("jumpcloud_ocsf_data_lag_seconds{"), "{body}");
    assert!(
        body.contains("jumpcloud_ocsf_delivery_latency_seconds_bucket"),
        "{body}"
    );
    assert!(!body.contains(API_KEY));

    assert_eq!(get(&format!("{base}/healthz")).await.0, 200);
    let (status, text) = get(&format!("{base}/readyz")).await;
    assert_eq!(status, 503, "{text}");
    assert!(
        text.contains(&disabled) && text.contains("Directory Insights is not enabled"),
        "{text}"
    );
    assert!(
        !text.contains(&format!("{healthy}:")),
        "the healthy org is not reported: {text}"
    );

    // SIGTERM: stop fetching, deliver what is in flight, commit, exit 0.
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the pipeline did not stop within 60 s of SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert!(status.success(), "exit status {status:?}: {stderr}");
    assert!(stderr.contains("shutdown requested"), "{stderr}");
    // The cursors live in the state topic: the healthy organisation's was committed, the
    // disabled one never fetched anything and has none.
    let state = consume(&[format!("{prefix}.state")], 1, Duration::from_secs(30));
    let keys: Vec<String> = state
        .iter()
        .filter_map(|r| {
            r.key
                .as_deref()
                .map(|k| String::from_utf8_lossy(k).into_owned())
        })
        .collect();
    assert!(
        keys.contains(&format!("events/{healthy}")),
        "the healthy org's cursor was committed: {keys:?}"
    );
    assert!(
        !keys.contains(&format!("events/{disabled}")),
        "the disabled org has no cursor: {keys:?}"
    );
    sim.shutdown().await;
}
