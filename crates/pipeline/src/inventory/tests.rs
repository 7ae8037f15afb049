use std::collections::BTreeMap;

use mapper::inventory::InventoryInput;
use serde_json::{Value, json};

use super::known::{KnownOrg, load};

fn user(id: &str, state: &str, locked: bool) -> Value {
    json!({"_id": id, "username": id, "email": format!("{id}@example.com"), "state": state,
        "account_locked": locked})
}

fn input(users: Vec<Value>, members: &[(&str, &[&str])], systems: &[&str]) -> InventoryInput {
    InventoryInput {
        tenant_uid: Some("org1".into()),
        collected_at_ms: 1_796_000_000_000,
        users,
        systems: systems
            .iter()
            .map(|id| json!({"_id": id, "hostname": format!("host-{id}")}))
            .collect(),
        groups: members
            .iter()
            .map(|(id, _)| json!({"id": id, "name": format!("group {id}")}))
            .collect(),
        group_members: members
            .iter()
            .map(|(g, users)| (g.to_string(), users.iter().map(|u| u.to_string()).collect()))
            .collect(),
        ..InventoryInput::default()
    }
}

fn codes(records: &[mapper::OcsfRecord]) -> Vec<String> {
    records
        .iter()
        .filter_map(|r| r.event_code.clone())
        .filter(|c| c.starts_with("inventory_"))
        .collect()
}

/// The state the topic holds after `writes` are applied to `records`.
fn apply(records: &mut BTreeMap<String, Vec<u8>>, writes: &[crate::destination::KeyedRecord]) {
    for write in writes {
        match &write.value {
            Some(value) => records.insert(write.key.clone(), value.clone()),
            None => records.remove(&write.key),
        };
    }
}

#[test]
fn the_first_snapshot_has_no_change_events_and_writes_every_entity_and_the_marker() {
    let first = input(
        vec![user("u1", "ACTIVATED", false)],
        &[("g1", &["u1"])],
        &["s1"],
    );
    let planned = KnownOrg::default().plan("t", "org1", first, 1);
    assert!(codes(&planned.records).is_empty());
    let keys: Vec<&str> = planned.state.iter().map(|w| w.key.as_str()).collect();
    assert_eq!(keys, ["org1/user/u1", "org1/device/s1", "org1/snapshot"]);
    assert!(
        planned
            .state
            .iter()
            .all(|w| w.value.is_some() && w.topic == "t")
    );
}

#[test]
fn the_state_read_back_gives_the_changes_and_tombstones_of_deleted_entities() {
    let first = input(
        vec![
            user("u1", "ACTIVATED", false),
            user("u2", "ACTIVATED", false),
        ],
        &[("g1", &["u1", "u2"])],
        &["s1", "s2"],
    );
    let planned = KnownOrg::default().plan("t", "org1", first, 1);
    let mut topic = BTreeMap::new();
    apply(&mut topic, &planned.state);
    // Another organisation's keys belong to another shard.
    topic.insert("org2/snapshot".into(), br#"{"collected_at_ms":5}"#.to_vec());
    let known = load("t", topic.clone(), &["org1".to_owned()]).unwrap();
    assert_eq!(known.keys().collect::<Vec<_>>(), ["org1"]);
    assert_eq!(
        known["org1"], planned.next,
        "the topic holds what the pipeline knew"
    );

    let second = input(
        vec![user("u1", "SUSPENDED", true)],
        &[("g1", &["u1"])],
        &["s1"],
    );
    let changed = known["org1"].plan("t", "org1", second, 2);
    let mut found = codes(&changed.records);
    found.sort();
    assert_eq!(
        found,
        [
            "inventory_device_deleted",
            "inventory_group_member_removed",
            "inventory_user_deleted",
            "inventory_user_locked",
            "inventory_user_suspended",
        ]
    );
    assert_eq!(changed.changes, 5);
    let tombstones: Vec<&str> = changed
        .state
        .iter()
        .filter(|w| w.value.is_none())
        .map(|w| w.key.as_str())
        .collect();
    assert_eq!(tombstones, ["org1/user/u2", "org1/device/s2"]);
    // Unchanged entities are not written again.
    assert!(!changed.state.iter().any(|w| w.key == "org1/device/s1"));
    apply(&mut topic, &changed.state);
    let known = load("t", topic, &["org1".to_owned()]).unwrap();
    assert_eq!(known["org1"], changed.next);
}

#[test]
fn a_value_that_is_not_an_entity_state_is_an_error_naming_its_key() {
    let topic = BTreeMap::from([("org1/user/u1".to_string(), b"{oops".to_vec())]);
    let error = load("inv", topic, &["org1".to_owned()]).unwrap_err();
    assert!(error.to_string().contains("key org1/user/u1"), "{error}");
}
