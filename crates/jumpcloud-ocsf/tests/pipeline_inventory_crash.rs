//! Inventory inside `run`: a process killed (`kill -9`) while it writes a snapshot's transaction
//! leaves no part of it visible to a `read_committed` consumer; after the restart only whole
//! snapshots are visible, and the state topic holds every user once.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::inventory::*;
use common::*;
use simulator::SimConfig;
use testkit::Isolation;

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
