//! Inventory inside `run`, on the real broker with the simulator over HTTP: changes made while
//! the pipeline is down become change events after the restart, each once; the compacted state
//! topic equals the simulator's inventory; a process killed while it writes a snapshot leaves
//! no part of it visible to a `read_committed` consumer. Every record is valid OCSF 1.8.0.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};
use simulator::{SimConfig, SimHandle};
use testkit::{Isolation, consume_with};

const API_KEY: &str = "inventory-test-key";

fn inventory_table(prefix: &str, interval: &str, extra: &str) -> String {
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

fn start_run(config: &Path, log: &Path) -> Child {
    start_run_with(config, log, &[])
}

fn start_run_with(config: &Path, log: &Path, env: &[(&str, String)]) -> Child {
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

fn count_in_log(log: &Path, needle: &str) -> usize {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|line| line.contains(needle))
        .count()
}

/// Waits until `needle` appears `count` times in the log (the process still running).
fn wait_for_log(child: &mut Child, log: &Path, needle: &str, count: usize, limit: Duration) {
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

fn stop(mut child: Child) {
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

fn kill_9(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

fn http() -> reqwest::Client {
    reqwest::Client::new()
}

async fn get(sim: &SimHandle, org: &str, path: &str) -> Value {
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
async fn list(sim: &SimHandle, org: &str, path: &str) -> Vec<Value> {
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

async fn send(
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
struct SimInventory {
    users: BTreeMap<String, (String, bool, BTreeSet<String>)>,
    devices: BTreeSet<String>,
    groups: Vec<String>,
}

async fn sim_inventory(sim: &SimHandle, org: &str) -> SimInventory {
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
fn state_topic(prefix: &str) -> BTreeMap<String, Value> {
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
fn inventory_records(prefix: &str, isolation: Isolation) -> (Vec<Value>, Vec<Value>) {
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
        if matches!(event["class_uid"].as_u64(), Some(5001 | 5003)) {
            snapshots.push(event);
        } else if code.starts_with("inventory_") {
            changes.push(event);
        }
    }
    (snapshots, changes)
}

/// User Inventory Info records per snapshot (collection time).
fn users_per_snapshot(records: &[Value]) -> BTreeMap<i64, usize> {
    let mut counts = BTreeMap::new();
    for record in records.iter().filter(|r| r["class_uid"] == 5003) {
        *counts.entry(record["time"].as_i64().unwrap()).or_default() += 1;
    }
    counts
}

/// (event code, user or device id, group id) of a change event.
fn change_key(event: &Value) -> (String, String, String) {
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

fn key(code: &str, subject: &str, group: &str) -> (String, String, String) {
    (code.to_owned(), subject.to_owned(), group.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_made_while_stopped_become_change_events_once_and_the_state_matches() {
    let sim = simulator::start(
        SimConfig {
            seed: 1801,
            api_key: API_KEY.to_string(),
            orgs: 1,
            history_events: 200,
            history_days: 1,
            users_per_org: 30,
            systems_per_org: 10,
            groups_per_org: 5,
            ..SimConfig::default()
        },
        ([127, 0, 0, 1], 0).into(),
    )
    .await
    .unwrap();
    let org = sim.org_ids()[0].clone();
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_prefix("inventory");
    let config = write_config(
        dir.path(),
        &sim.base_url(),
        API_KEY,
        &sim.org_ids(),
        &prefix,
        &inventory_table(&prefix, "4s", ""),
    );
    let log = dir.path().join("first.log");
    let mut first = start_run(&config, &log);
    // Two snapshots: the second, with nothing changed, finds no changes.
    wait_for_log(
        &mut first,
        &log,
        "inventory snapshot committed",
        2,
        Duration::from_secs(90),
    );
    stop(first);

    // While the pipeline is down: suspend, lock, add to and remove from groups, delete a
    // user (and so its memberships) and a device.
    let before = sim_inventory(&sim, &org).await;
    let ids: Vec<&String> = before.users.keys().collect();
    let active = |id: &&String| before.users[*id].0 == "ACTIVATED" && !before.users[*id].1;
    let mut candidates = ids.iter().copied().filter(|id| active(id));
    let suspended = candidates.next().expect("an active user").clone();
    let locked = candidates.next().expect("a second active user").clone();
    let (added, added_to) = ids
        .iter()
        .filter(|id| ![&suspended, &locked].contains(id))
        .find_map(|id| {
            let group = before
                .groups
                .iter()
                .find(|g| !before.users[*id].2.contains(*g))?;
            Some(((*id).clone(), group.clone()))
        })
        .expect("a user outside a group");
    let (removed, removed_from) = ids
        .iter()
        .filter(|id| ![&suspended, &locked, &added].contains(id))
        .find_map(|id| Some(((*id).clone(), before.users[*id].2.iter().next()?.clone())))
        .expect("a user in a group");
    let deleted = ids
        .iter()
        .find(|id| {
            ![&suspended, &locked, &added, &removed].contains(id)
                && !before.users[**id].2.is_empty()
        })
        .map(|id| (*id).clone())
        .expect("a fifth user, in a group");
    let deleted_device = before.devices.iter().next().expect("a device").clone();
    let post = reqwest::Method::POST;
    send(
        &sim,
        &org,
        post.clone(),
        &format!("/api/systemusers/{suspended}/state/suspend"),
        None,
    )
    .await;
    send(
        &sim,
        &org,
        reqwest::Method::PUT,
        &format!("/api/systemusers/{locked}"),
        Some(json!({"account_locked": true})),
    )
    .await;
    send(
        &sim,
        &org,
        post.clone(),
        &format!("/api/v2/usergroups/{added_to}/members"),
        Some(json!({"op": "add", "type": "user", "id": added})),
    )
    .await;
    send(
        &sim,
        &org,
        post,
        &format!("/api/v2/usergroups/{removed_from}/members"),
        Some(json!({"op": "remove", "type": "user", "id": removed})),
    )
    .await;
    send(
        &sim,
        &org,
        reqwest::Method::DELETE,
        &format!("/api/systemusers/{deleted}"),
        None,
    )
    .await;
    send(
        &sim,
        &org,
        reqwest::Method::DELETE,
        &format!("/api/systems/{deleted_device}"),
        None,
    )
    .await;
    let mut expected = BTreeSet::from([
        key("inventory_user_suspended", &suspended, ""),
        key("inventory_user_locked", &locked, ""),
        key("inventory_group_member_added", &added, &added_to),
        key("inventory_group_member_removed", &removed, &removed_from),
        key("inventory_user_deleted", &deleted, ""),
        key("inventory_device_deleted", &deleted_device, ""),
    ]);
    for group in &before.users[&deleted].2 {
        expected.insert(key("inventory_group_member_removed", &deleted, group));
    }

    // After the restart the next snapshot (due 4 s after the last) finds them; two more find
    // nothing new.
    let log = dir.path().join("second.log");
    let mut second = start_run(&config, &log);
    wait_for_log(
        &mut second,
        &log,
        "inventory snapshot committed",
        3,
        Duration::from_secs(90),
    );
    stop(second);

    let (snapshots, changes) = inventory_records(&prefix, Isolation::ReadCommitted);
    let mut seen: BTreeMap<(String, String, String), usize> = BTreeMap::new();
    for change in &changes {
        *seen.entry(change_key(change)).or_default() += 1;
    }
    let found: BTreeSet<_> = seen.keys().cloned().collect();
    assert_eq!(
        found, expected,
        "the change events are exactly the changes made"
    );
    assert!(
        seen.values().all(|n| *n == 1),
        "each change event once: {seen:?}"
    );
    assert_valid_ocsf_values(&changes);
    assert_valid_ocsf_values(&snapshots);
    // Every snapshot is whole: each collection time has every user of that time.
    let mut users_per_snapshot: BTreeMap<i64, usize> = BTreeMap::new();
    for record in snapshots.iter().filter(|r| r["class_uid"] == 5003) {
        *users_per_snapshot
            .entry(record["time"].as_i64().unwrap())
            .or_default() += 1;
    }
    assert!(users_per_snapshot.len() >= 5, "{users_per_snapshot:?}");
    let sizes: BTreeSet<usize> = users_per_snapshot.values().copied().collect();
    assert_eq!(
        sizes,
        BTreeSet::from([before.users.len() - 1, before.users.len()]),
        "{users_per_snapshot:?}"
    );

    // The compacted state equals the simulator's inventory.
    let after = sim_inventory(&sim, &org).await;
    let state = state_topic(&prefix);
    let mut state_users = BTreeMap::new();
    let mut state_devices = BTreeSet::new();
    for (key, value) in &state {
        let rest = key
            .strip_prefix(&format!("{org}/"))
            .expect("keys of the organisation");
        if let Some(id) = rest.strip_prefix("user/") {
            let groups: BTreeSet<String> = value["groups"]
                .as_array()
                .unwrap()
                .iter()
                .map(|g| g.as_str().unwrap().to_owned())
                .collect();
            let record = &value["record"];
            state_users.insert(
                id.to_owned(),
                (
                    record["state"].as_str().unwrap_or_default().to_owned(),
                    record["account_locked"].as_bool().unwrap_or(false),
                    groups,
                ),
            );
        } else if let Some(id) = rest.strip_prefix("device/") {
            state_devices.insert(id.to_owned());
        } else {
            assert_eq!(rest, "snapshot", "unexpected key {key}");
        }
    }
    assert_eq!(state_users, after.users);
    assert_eq!(state_devices, after.devices);
    assert!(!state_users.contains_key(&deleted) && !state_devices.contains(&deleted_device));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_killed_while_written_is_never_half_visible() {
    let sim = simulator::start(
        SimConfig {
            seed: 1802,
            api_key: API_KEY.to_string(),
            orgs: 1,
            history_events: 50,
            history_days: 1,
            users_per_org: 4_000,
            systems_per_org: 2_000,
            groups_per_org: 4,
            applications_per_org: 2,
            ..SimConfig::default()
        },
        ([127, 0, 0, 1], 0).into(),
    )
    .await
    .unwrap();
    let org = sim.org_ids()[0].clone();
    let users = sim_inventory(&sim, &org).await.users.len();
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_prefix("inventory-kill");
    let config_text = inventory_table(&prefix, "1s", "device_owners = false");
    let config = write_config(
        dir.path(),
        &sim.base_url(),
        API_KEY,
        &sim.org_ids(),
        &prefix,
        &config_text,
    );
    // kill -9 while the writer is inside a snapshot's transaction: a growing delay after it
    // begins, until a read_uncommitted reader sees part of a snapshot written (so the kill
    // did land in the middle of one).
    let mut partial = None;
    for (round, delay_ms) in [5u64, 20, 50, 100, 200, 400, 700].into_iter().enumerate() {
        let log = dir.path().join(format!("killed-{round}.log"));
        let mut child = start_run(&config, &log);
        wait_for_log(
            &mut child,
            &log,
            "writing an inventory snapshot",
            1,
            Duration::from_secs(120),
        );
        std::thread::sleep(Duration::from_millis(delay_ms));
        kill_9(child);
        let written = users_per_snapshot(&inventory_records(&prefix, Isolation::ReadUncommitted).0);
        if let Some((time, count)) = written.iter().find(|(_, n)| **n < users) {
            partial = Some((round, delay_ms, *time, *count));
            break;
        }
    }
    let (round, delay_ms, time, count) =
        partial.expect("no kill landed inside a snapshot's transaction");
    println!(
        "kill {round} ({delay_ms} ms in): {count} of {users} user records of snapshot {time} written, uncommitted"
    );
    let log = dir.path().join("final.log");
    let mut child = start_run(&config, &log);
    wait_for_log(
        &mut child,
        &log,
        "inventory snapshot committed",
        1,
        Duration::from_secs(120),
    );
    stop(child);

    let (snapshots, changes) = inventory_records(&prefix, Isolation::ReadCommitted);
    assert!(
        changes.is_empty(),
        "nothing changed: {} change events",
        changes.len()
    );
    let mut users_per_snapshot: BTreeMap<i64, usize> = BTreeMap::new();
    for record in snapshots.iter().filter(|r| r["class_uid"] == 5003) {
        *users_per_snapshot
            .entry(record["time"].as_i64().unwrap())
            .or_default() += 1;
    }
    assert!(!users_per_snapshot.is_empty());
    assert!(
        users_per_snapshot.values().all(|n| *n == users),
        "only whole snapshots of {users} users: {users_per_snapshot:?}"
    );
    assert_valid_ocsf_values(&snapshots[..snapshots.len().min(500)]);
    let state = state_topic(&prefix);
    let state_users = state.keys().filter(|k| k.contains("/user/")).count();
    assert_eq!(state_users, users);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_least_once_the_state_follows_the_acknowledged_records() {
    let sim = simulator::start(
        SimConfig {
            seed: 1803,
            api_key: API_KEY.to_string(),
            orgs: 1,
            history_events: 100,
            history_days: 1,
            users_per_org: 12,
            systems_per_org: 4,
            groups_per_org: 3,
            ..SimConfig::default()
        },
        ([127, 0, 0, 1], 0).into(),
    )
    .await
    .unwrap();
    let org = sim.org_ids()[0].clone();
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_prefix("inventory-alo");
    let config = write_config(
        dir.path(),
        &sim.base_url(),
        API_KEY,
        &sim.org_ids(),
        &prefix,
        &inventory_table(&prefix, "3s", ""),
    );
    set_in_config(&config, "kafka", "delivery = \"at-least-once\"");
    let log = dir.path().join("first.log");
    let mut first = start_run(&config, &log);
    wait_for_log(
        &mut first,
        &log,
        "inventory snapshot committed",
        1,
        Duration::from_secs(90),
    );
    stop(first);

    let before = sim_inventory(&sim, &org).await;
    let suspended = before
        .users
        .iter()
        .find(|(_, (state, _, _))| state == "ACTIVATED")
        .map(|(id, _)| id.clone())
        .expect("an active user");
    send(
        &sim,
        &org,
        reqwest::Method::POST,
        &format!("/api/systemusers/{suspended}/state/suspend"),
        None,
    )
    .await;

    let log = dir.path().join("second.log");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut second = start_run_with(
        &config,
        &log,
        &[("METRICS_LISTEN", format!("127.0.0.1:{port}"))],
    );
    wait_for_log(
        &mut second,
        &log,
        "inventory snapshot committed",
        2,
        Duration::from_secs(90),
    );
    let metrics = http()
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    stop(second);
    let metric = |name: &str| -> u64 {
        metrics
            .lines()
            .find_map(|line| line.strip_prefix(&format!("{name}{{}} ")))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {name} in\n{metrics}"))
    };
    assert!(metric("jumpcloud_ocsf_inventory_snapshots_total") >= 2);
    assert_eq!(metric("jumpcloud_ocsf_inventory_changes_total"), 1);
    assert_eq!(
        metric("jumpcloud_ocsf_inventory_snapshot_failures_total"),
        0
    );

    let (snapshots, changes) = inventory_records(&prefix, Isolation::ReadCommitted);
    let found: Vec<_> = changes.iter().map(change_key).collect();
    assert_eq!(found, [key("inventory_user_suspended", &suspended, "")]);
    assert_valid_ocsf_values(&changes);
    assert_valid_ocsf_values(&snapshots);
    let state = state_topic(&prefix);
    let value = &state[&format!("{org}/user/{suspended}")];
    assert_eq!(value["record"]["state"], "SUSPENDED");
    let users = state.keys().filter(|k| k.contains("/user/")).count();
    assert_eq!(users, before.users.len());
    sim.shutdown().await;
}
