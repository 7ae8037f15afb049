//! Inventory inside `run`, on the real broker with the simulator over HTTP: changes made while
//! the pipeline is down become change events after the restart, each once; the compacted state
//! topic equals the simulator's inventory; at-least-once writes the state after the records.
//! Every record is valid OCSF 1.8.0 (strict).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use common::inventory::*;
use common::*;
use serde_json::json;
use simulator::SimConfig;
use testkit::Isolation;

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
    set_in_config(&config, "pipeline", "delivery = \"at-least-once\"");
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
    let port = free_port();
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
