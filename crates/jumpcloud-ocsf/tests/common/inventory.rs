//! Helpers of the inventory tests: the `[inventory]` table, the pipeline as a subprocess
//! watched through its log, the simulator's inventory read over HTTP, and the topics read as a
//! consumer would.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use simulator::SimHandle;
use testkit::{Isolation, consume_with};

use super::{binary, brokers, consume, topics};

pub const API_KEY: &str = "inventory-test-key";

pub fn inventory_table(prefix: &str, interval: &str, extra: &str) -> String {
    format!(
        r#"
[inventory]
enabled = true
interval = "{interval}"
retry_after = "1s"
state_topic = "{prefix}.inventory-state"
max_requests_per_sec = 150
concurrency = 4
{extra}
"#
    )
}

pub fn start_run(config: &Path, log: &Path) -> Child {
    start_run_with(config, log, &[])
}

pub fn start_run_with(config: &Path, log: &Path, env: &[(&str, String)]) -> Child {
    Command::new(binary())
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .args(["run", "--config"])
        .arg(config)
        .env("KAFKA_BROKERS", brokers())
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).expect("log file"))
        .spawn()
        .expect("start the pipeline")
}

pub fn count_in_log(log: &Path, needle: &str) -> usize {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|line| line.contains(needle))
        .count()
}

/// Waits until `needle` appears `count` times in the log (the process still running).
pub fn wait_for_log(child: &mut Child, log: &Path, needle: &str, count: usize, limit: Duration) {
    let started = Instant::now();
    while count_in_log(log, needle) < count {
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "the pipeline ended ({status}) before {count} x {needle:?}:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        assert!(
            started.elapsed() < limit,
            "no {count} x {needle:?} within {limit:?}:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

pub fn stop(mut child: Child) {
    let pid = child.id().to_string();
    let _ = Command::new("kill").args(["-TERM", &pid]).status();
    let started = Instant::now();
    while child.try_wait().ok().flatten().is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn kill_9(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

pub fn http() -> reqwest::Client {
    reqwest::Client::new()
}

pub async fn get(sim: &SimHandle, org: &str, path: &str) -> Value {
    http()
        .get(format!("{}{path}", sim.base_url()))
        .header("x-api-key", API_KEY)
        .header("x-org-id", org)
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Every row of a console list (`limit` 100, `skip`): v1 `results` or a v2 array.
pub async fn list(sim: &SimHandle, org: &str, path: &str) -> Vec<Value> {
    let mut rows = Vec::new();
    loop {
        let separator = if path.contains('?') { '&' } else { '?' };
        let page = get(
            sim,
            org,
            &format!("{path}{separator}limit=100&skip={}", rows.len()),
        )
        .await;
        let page = match page {
            Value::Array(rows) => rows,
            mut v1 => v1["results"].take().as_array().cloned().unwrap_or_default(),
        };
        if page.is_empty() {
            return rows;
        }
        rows.extend(page);
    }
}

pub async fn send(
    sim: &SimHandle,
    org: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) {
    let mut request = http()
        .request(method, format!("{}{path}", sim.base_url()))
        .header("x-api-key", API_KEY)
        .header("x-org-id", org);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    assert!(
        response.status().is_success(),
        "{path}: {}",
        response.status()
    );
}

/// The simulator's inventory of one organisation, read over HTTP: user id -> (state, locked,
/// groups), and the device ids.
pub struct SimInventory {
    pub users: BTreeMap<String, (String, bool, BTreeSet<String>)>,
    pub devices: BTreeSet<String>,
    pub groups: Vec<String>,
}

pub async fn sim_inventory(sim: &SimHandle, org: &str) -> SimInventory {
    let users = list(sim, org, "/api/systemusers").await;
    let groups: Vec<String> = list(sim, org, "/api/v2/usergroups")
        .await
        .iter()
        .map(|g| g["id"].as_str().unwrap().to_owned())
        .collect();
    let mut members: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for group in &groups {
        let listed = list(sim, org, &format!("/api/v2/usergroups/{group}/members")).await;
        for edge in &listed {
            let user = edge["to"]["id"].as_str().unwrap().to_owned();
            members.entry(user).or_default().insert(group.clone());
        }
    }
    let users = users
        .iter()
        .map(|u| {
            let id = u["_id"].as_str().unwrap().to_owned();
            let groups = members.remove(&id).unwrap_or_default();
            let state = u["state"].as_str().unwrap_or_default().to_owned();
            let locked = u["account_locked"].as_bool().unwrap_or(false);
            (id, (state, locked, groups))
        })
        .collect();
    let mut devices: BTreeSet<String> = list(sim, org, "/api/systems")
        .await
        .iter()
        .map(|s| s["_id"].as_str().unwrap().to_owned())
        .collect();
    for mdm in list(sim, org, "/api/v2/applemdms").await {
        let id = mdm["id"].as_str().unwrap();
        for device in list(sim, org, &format!("/api/v2/applemdms/{id}/devices")).await {
            devices.insert(device["id"].as_str().unwrap().to_owned());
        }
    }
    SimInventory {
        users,
        devices,
        groups,
    }
}

/// The state topic as a `read_committed` consumer folds it: key -> latest value (tombstones
/// remove their keys).
pub fn state_topic(prefix: &str) -> BTreeMap<String, Value> {
    let mut state = BTreeMap::new();
    for record in consume(
        &[format!("{prefix}.inventory-state")],
        usize::MAX,
        Duration::from_secs(30),
    ) {
        let key = String::from_utf8(record.key.expect("a keyed state record")).unwrap();
        if record.payload.is_empty() {
            state.remove(&key);
        } else {
            state.insert(
                key,
                serde_json::from_slice(&record.payload).expect("JSON state"),
            );
        }
    }
    state
}

/// The inventory records and the inventory's change events of the run's topics.
pub fn inventory_records(prefix: &str, isolation: Isolation) -> (Vec<Value>, Vec<Value>) {
    let group = format!("reader-{}", uuid::Uuid::new_v4().simple());
    let records = consume_with(
        &brokers(),
        &group,
        isolation,
        &topics(prefix),
        usize::MAX,
        Duration::from_secs(30),
    );
    let mut snapshots = Vec::new();
    let mut changes = Vec::new();
    for record in records {
        if record.topic.ends_with(".dead_letter") {
            continue;
        }
        let event: Value = serde_json::from_slice(&record.payload).expect("JSON record");
        let code = event["metadata"]["event_code"].as_str().unwrap_or_default();
        // The inventory's records come from the console API (a Directory Insights event may
        // be User Inventory Info too: a SaaS account discovered).
        let from_console = event["metadata"]["log_provider"] == "JumpCloud Console API";
        if from_console && matches!(event["class_uid"].as_u64(), Some(5001 | 5003)) {
            snapshots.push(event);
        } else if code.starts_with("inventory_") {
            changes.push(event);
        }
    }
    (snapshots, changes)
}

/// User Inventory Info records per snapshot (collection time).
pub fn users_per_snapshot(records: &[Value]) -> BTreeMap<i64, usize> {
    let mut counts = BTreeMap::new();
    for record in records.iter().filter(|r| r["class_uid"] == 5003) {
        *counts.entry(record["time"].as_i64().unwrap()).or_default() += 1;
    }
    counts
}

/// (event code, user or device id, group id) of a change event.
pub fn change_key(event: &Value) -> (String, String, String) {
    let code = event["metadata"]["event_code"].as_str().unwrap().to_owned();
    let subject = event["user"]["uid"]
        .as_str()
        .or_else(|| event["entity"]["uid"].as_str())
        .unwrap_or_default()
        .to_owned();
    let group = event["group"]["uid"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    (code, subject, group)
}

pub fn key(code: &str, subject: &str, group: &str) -> (String, String, String) {
    (code.to_owned(), subject.to_owned(), group.to_owned())
}
