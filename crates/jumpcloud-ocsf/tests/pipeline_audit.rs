//! Completeness proven against the source, end to end: while `run` is live (exactly-once, real
//! broker), the simulator makes chosen events visible only after `lag + overlap` (they are
//! behind every cursor and never fetched); the audit compares each settled window with
//! `/events/count`, finds exactly those windows and counts, and the repair delivers exactly
//! those events; a `read_committed` consumer then finds every simulator event exactly once.
//! `audit --since` prints the same on demand (exit 1 while events are missing, 0 once
//! repaired); `audit --repair` fences a running `run` of the deployment.
//!
//! Time-scaled: windows of 10 s settled after 12 s, lag 1 s + overlap 2 s, events held back 8 s.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::metrics::get;
use common::*;
use simulator::{SimConfig, SimHandle};

const API_KEY: &str = "audit-test-key";
/// Audit windows, and how long events are held back.
const WINDOW_SECS: i64 = 10;
const HELD_FOR: Duration = Duration::from_secs(8);

async fn start_sim(seed: u64, orgs: usize) -> SimHandle {
    let config = SimConfig {
        seed,
        api_key: API_KEY.to_string(),
        orgs,
        history_events: 0,
        live_events_per_sec: 60.0,
        ..SimConfig::default()
    };
    simulator::start(config, ([127, 0, 0, 1], 0).into())
        .await
        .unwrap()
}

/// The run's configuration: lag 1 s, overlap 2 s, from a minute back (the simulator's events
/// are all live), audit windows of 10 s settled after 12 s.
fn config(
    dir: &Path,
    sim: &SimHandle,
    prefix: &str,
    port: u16,
    repair: bool,
) -> std::path::PathBuf {
    let path = write_config(
        dir,
        &sim.base_url(),
        API_KEY,
        &sim.org_ids(),
        prefix,
        &format!(
            "[metrics]\nlisten = \"127.0.0.1:{port}\"\n\n[audit]\nwindow = \"{WINDOW_SECS}s\"\nsettle_after = \"12s\"\nrepair = {repair}\n"
        ),
    );
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("lag = \"3s\"", "lag = \"1s\"")
        .replace("overlap = \"30s\"", "overlap = \"2s\"")
        .replace("initial_lookback = \"10d\"", "initial_lookback = \"1m\"");
    std::fs::write(&path, text).unwrap();
    path
}

/// A running `run`, its stderr read as it comes (a full pipe would block its logging).
struct Running {
    child: Child,
    stderr: std::thread::JoinHandle<String>,
}

fn spawn_run(config: &Path) -> Running {
    let mut child = Command::new(binary())
        .args(["run", "--config"])
        .arg(config)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pipe = child.stderr.take().unwrap();
    let stderr = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut pipe, &mut text);
        text
    });
    Running { child, stderr }
}

fn audit_command(config: &Path, extra: &[&str]) -> Output {
    Command::new(binary())
        .args(["audit", "--since", "30m", "--config"])
        .arg(config)
        .args(extra)
        .output()
        .unwrap()
}

/// The sum of every sample of `name` (any labels).
fn total(body: &str, name: &str) -> f64 {
    body.lines()
        .filter(|line| {
            line.starts_with(&format!("{name}{{")) || line.starts_with(&format!("{name} "))
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Polls `/metrics` until `done` holds on it, for at most `limit`; the last body.
async fn metrics_until(port: u16, limit: Duration, done: impl Fn(&str) -> bool) -> (bool, String) {
    let deadline = Instant::now() + limit;
    let mut body = String::new();
    while Instant::now() < deadline {
        let (status, text) = get(&format!("http://127.0.0.1:{port}/metrics")).await;
        if status == 200 {
            body = text;
            if done(&body) {
                return (true, body);
            }
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    (false, body)
}

/// (organisation, window start as printed) -> events of `events` in it.
fn per_window<'a>(
    events: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> BTreeMap<(String, String), u64> {
    let mut counts = BTreeMap::new();
    for (org, timestamp) in events {
        let time = chrono::DateTime::parse_from_rfc3339(timestamp).unwrap();
        let start = time.timestamp().div_euclid(WINDOW_SECS) * WINDOW_SECS;
        let label = chrono::DateTime::from_timestamp(start, 0)
            .unwrap()
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        *counts.entry((org.to_owned(), label)).or_default() += 1;
    }
    counts
}

/// One row of `audit`'s table.
struct TableRow {
    missing: u64,
    repaired: u64,
    result: String,
}

/// The table rows of `audit`, by (organisation, window).
fn table(stdout: &str) -> BTreeMap<(String, String), TableRow> {
    stdout
        .lines()
        .skip(1)
        .filter_map(|line| {
            let cells: Vec<&str> = line.split_whitespace().collect();
            if cells.len() < 9 || !cells[1].ends_with('Z') {
                return None;
            }
            let row = TableRow {
                missing: cells[5].parse().ok()?,
                repaired: cells[6].parse().ok()?,
                result: cells[7].to_owned(),
            };
            Some(((cells[0].to_owned(), cells[1].to_owned()), row))
        })
        .collect()
}

fn stop(running: Running) -> (std::process::ExitStatus, String) {
    let Running { mut child, stderr } = running;
    let pid = child.id().to_string();
    let _ = Command::new("kill").args(["-TERM", &pid]).status();
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the pipeline did not stop within 60 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    (status, stderr.join().unwrap_or_default())
}

/// Holds back the next `counts[i]` events of organisation `i` for [`HELD_FOR`], once `run` has
/// delivered something of each; then lets live events run 3 s more and stops them.
async fn hold_while_live(sim: &SimHandle, port: u16, counts: &[usize]) {
    let orgs = sim.org_ids();
    let (live, body) = metrics_until(port, Duration::from_secs(60), |body| {
        orgs.iter().all(|org| {
            body.lines().any(|line| {
                line.starts_with("jumpcloud_ocsf_records_delivered_total{")
                    && line.contains(org.as_str())
            })
        })
    })
    .await;
    assert!(live, "every organisation delivers: {body}");
    for (org, count) in orgs.iter().zip(counts) {
        assert!(sim.hold_next(org, *count, HELD_FOR));
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    sim.set_live_rate(0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_hidden_beyond_lag_and_overlap_are_found_and_repaired_exactly_once() {
    let sim = start_sim(2601, 3).await;
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_prefix("audit-repair");
    let port = free_port();
    let path = config(dir.path(), &sim, &prefix, port, true);
    let child = spawn_run(&path);
    hold_while_live(&sim, port, &[17, 17, 16]).await;
    let held = sim.held();
    assert_eq!(held.len(), 50, "{held:?}");
    let expected = per_window(held.iter().map(|e| (e.org.as_str(), e.timestamp.as_str())));
    let latest = held.iter().map(|e| e.timestamp.clone()).max().unwrap();
    let latest = chrono::DateTime::parse_from_rfc3339(&latest).unwrap();

    // The audit finds the windows (12 s after they end) and repairs them.
    let (repaired, _) = metrics_until(port, Duration::from_secs(90), |body| {
        total(body, "jumpcloud_ocsf_audit_repaired_events_total") >= 50.0
            && total(body, "jumpcloud_ocsf_audit_missing_events") == 0.0
    })
    .await;
    // Every window up to the last live event's is audited.
    let settled_by = latest + chrono::Duration::seconds(WINDOW_SECS + 12 + 6);
    while chrono::Utc::now() < settled_by {
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let (audited, body) = metrics_until(port, Duration::from_secs(30), |body| {
        total(body, "jumpcloud_ocsf_audit_backlog_windows") == 0.0
    })
    .await;
    let (_, readyz) = get(&format!("http://127.0.0.1:{port}/readyz")).await;
    // On demand, from the state topic, while `run` goes on.
    let on_demand = audit_command(&path, &[]);
    let (status, stderr) = stop(child);
    assert!(status.success(), "{stderr}");
    assert!(repaired && audited, "{body}");
    assert_eq!(
        total(&body, "jumpcloud_ocsf_audit_repaired_events_total"),
        50.0
    );
    let found_missing = body
        .lines()
        .find_map(|line| {
            line.strip_prefix("jumpcloud_ocsf_audit_windows_total{result=\"missing\"} ")
        })
        .and_then(|value| value.parse::<f64>().ok());
    assert_eq!(
        found_missing.unwrap_or_default() as usize,
        expected.len(),
        "windows found missing events: {body}"
    );
    assert!(!readyz.contains("missing"), "{readyz}");

    // The run logged each window missing events, with its count.
    let logged = stderr
        .lines()
        .filter(|line| line.contains("audit: events missing from a settled window"))
        .count();
    assert_eq!(logged, expected.len(), "{stderr}");

    // `audit --since` prints the same: those windows, each repaired by what was held in it.
    let stdout = String::from_utf8_lossy(&on_demand.stdout).to_string();
    assert!(
        on_demand.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&on_demand.stderr)
    );
    let rows = table(&stdout);
    let repaired: BTreeMap<(String, String), u64> = rows
        .iter()
        .filter(|(_, row)| row.repaired > 0)
        .map(|(window, row)| (window.clone(), row.repaired))
        .collect();
    assert_eq!(repaired, expected, "{stdout}");
    assert!(
        rows.values()
            .all(|row| row.result == "match" && row.missing == 0),
        "{stdout}"
    );

    // A read_committed consumer finds every simulator event exactly once.
    let truth = ground_truth(&sim.base_url(), API_KEY).await;
    let delivered = Delivered::read(&brokers(), &prefix);
    assert_eq!(
        (
            delivered.missing(&truth).len(),
            delivered.duplicates(),
            delivered.foreign(&truth)
        ),
        (0, 0, 0),
        "missing, duplicated, foreign of {} events",
        truth.len()
    );
    assert_valid_ocsf_values(&delivered.values[..delivered.values.len().min(200)]);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_on_demand_exits_1_while_events_are_missing_and_repair_fences_the_run() {
    let sim = start_sim(2602, 2).await;
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_prefix("audit-report");
    let port = free_port();
    let path = config(dir.path(), &sim, &prefix, port, false);
    let child = spawn_run(&path);
    hold_while_live(&sim, port, &[12, 8]).await;
    let held = sim.held();
    assert_eq!(held.len(), 20);
    let expected = per_window(held.iter().map(|e| (e.org.as_str(), e.timestamp.as_str())));

    // Without repair, the run finds and reports the missing events.
    let (found, body) = metrics_until(port, Duration::from_secs(90), |body| {
        total(body, "jumpcloud_ocsf_audit_missing_events") == 20.0
    })
    .await;
    assert!(found, "{body}");
    let (status, readyz) = get(&format!("http://127.0.0.1:{port}/readyz")).await;
    assert_eq!(status, 200, "missing events do not stop delivery: {readyz}");
    assert!(readyz.contains("event(s) missing"), "{readyz}");

    // On demand: the same windows and counts, exit 1.
    let report = audit_command(&path, &[]);
    let stdout = String::from_utf8_lossy(&report.stdout).to_string();
    assert_eq!(report.status.code(), Some(1), "{stdout}");
    let missing: BTreeMap<(String, String), u64> = table(&stdout)
        .into_iter()
        .filter(|(_, row)| row.missing > 0)
        .map(|(window, row)| (window, row.missing))
        .collect();
    assert_eq!(missing, expected, "{stdout}");

    // `--repair` takes the deployment's transactional id: the running `run` is fenced.
    let repaired = audit_command(&path, &["--repair"]);
    let stdout = String::from_utf8_lossy(&repaired.stdout).to_string();
    let stderr = String::from_utf8_lossy(&repaired.stderr).to_string();
    assert_eq!(repaired.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stderr.contains("20 event(s) delivered"), "{stderr}");
    let (status, run_stderr) = stop(child);
    assert!(!status.success(), "the run was fenced: {run_stderr}");
    assert!(run_stderr.contains("fenced"), "{run_stderr}");

    let truth = ground_truth(&sim.base_url(), API_KEY).await;
    let delivered = Delivered::read(&brokers(), &prefix);
    assert_eq!(
        (
            delivered.missing(&truth).len(),
            delivered.duplicates(),
            delivered.foreign(&truth)
        ),
        (0, 0, 0),
        "missing, duplicated, foreign of {} events",
        truth.len()
    );
    // Once repaired, the audit on demand exits 0.
    let again = audit_command(&path, &[]);
    assert_eq!(
        again.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&again.stdout)
    );
    sim.shutdown().await;
}
