use serde_json::{Value, json};

use super::*;

fn user(id: &str, state: &str) -> Value {
    json!({"_id": id, "username": format!("u{id}"), "email": format!("u{id}@example.com"),
        "state": state, "suspended": state == "SUSPENDED", "account_locked": false,
        "password_expired": false, "totp_enabled": true,
        "mfaEnrollment": {"overallStatus": "ENROLLED"}, "admin": null})
}

fn parse(record: &crate::OcsfRecord) -> Value {
    serde_json::from_slice(&record.json).unwrap()
}

#[test]
fn user_inventory_carries_state_groups_and_applications() {
    let mut input = InventoryInput {
        tenant_uid: Some("org1".into()),
        collected_at_ms: 1_700_000_000_000,
        users: vec![user("a1", "SUSPENDED")],
        groups: vec![json!({"id": "g1", "name": "VPN Users"})],
        applications: vec![json!({"_id": "app1", "name": "slack", "displayLabel": "Slack"})],
        ..Default::default()
    };
    input.group_members.insert("g1".into(), vec!["a1".into()]);
    input
        .application_groups
        .insert("app1".into(), vec!["g1".into()]);
    input.application_users.insert(
        "app1".into(),
        vec![ApplicationBinding {
            user_id: "a1".into(),
            direct: false,
            via_group_ids: vec!["g1".into()],
        }],
    );
    let records = map_snapshot(&input, 1_700_000_000_500);
    assert_eq!(records.len(), 1);
    let record = records[0].as_ref().unwrap();
    assert_eq!(record.class_uid, 5003);
    assert_eq!(record.class_name, "user_inventory");
    assert_eq!(record.subject_user_uid.as_deref(), Some("a1"));
    let event = parse(record);
    assert_eq!(event["type_uid"], 500302);
    assert_eq!(event["user"]["account"]["is_disabled"], true);
    assert_eq!(event["user"]["has_mfa"], true);
    assert_eq!(event["user"]["groups"][0]["name"], "VPN Users");
    assert_eq!(
        event["unmapped"]["jumpcloud"]["applications"][0]["uid"],
        "app1"
    );
    assert_eq!(
        event["unmapped"]["jumpcloud"]["group_applications"]["g1"][0],
        "app1"
    );
    assert_eq!(event["metadata"]["tenant_uid"], "org1");
    assert_eq!(event["time"], 1_700_000_000_000_i64, "collected");
    assert_eq!(
        event["metadata"]["processed_time"], 1_700_000_000_500_i64,
        "the caller's clock"
    );
}

#[test]
fn system_owner_comes_from_the_bindings() {
    let mut input = InventoryInput {
        users: vec![user("a1", "ACTIVATED")],
        systems: vec![
            json!({"_id": "s1", "hostname": "MOSS-MAC-01", "os": "Mac OS X",
            "osFamily": "darwin", "version": "14.5", "serialNumber": "C02X",
            "agentVersion": "1.170.0", "lastContact": "2026-01-01T00:00:00.000Z",
            "fde": {"active": true}}),
        ],
        mdm_devices: vec![json!({"id": "d1", "serialNumber": "C02X", "enrolled": true,
            "osVersion": "14.5", "deviceInformation": {"deviceName": "MOSS-MAC-01",
            "modelName": "MacBook Pro", "isSupervised": true}})],
        ..Default::default()
    };
    input.system_users.insert("s1".into(), vec!["a1".into()]);
    let records = map_snapshot(&input, 1_700_000_000_500);
    assert_eq!(records.len(), 3);
    let system = parse(records[1].as_ref().unwrap());
    assert_eq!(system["class_uid"], 5001);
    assert_eq!(system["device"]["owner"]["uid"], "a1");
    assert_eq!(system["device"]["os"]["type_id"], 300);
    assert_eq!(system["device"]["agent_list"][0]["version"], "1.170.0");
    assert_eq!(system["device"]["last_seen_time"], 1_767_225_600_000_i64);
    let mdm = parse(records[2].as_ref().unwrap());
    assert_eq!(mdm["device"]["type_id"], 3);
    assert_eq!(mdm["device"]["owner"]["uid"], "a1");
    assert_eq!(mdm["device"]["is_managed"], true);
}

#[test]
fn a_record_without_id_is_an_error_with_its_raw_json() {
    let input = InventoryInput {
        users: vec![json!({"username": "ghost"})],
        ..Default::default()
    };
    let records = map_snapshot(&input, 1_700_000_000_500);
    let (error, raw) = records[0].as_ref().unwrap_err();
    assert_eq!(*error, InventoryMapError::NoId { kind: "user" });
    assert_eq!(raw["username"], "ghost");
}

#[test]
fn diff_finds_suspension_mfa_admin_and_membership_changes() {
    let before = vec![
        user("a1", "ACTIVATED"),
        user("a2", "ACTIVATED"),
        user("a3", "ACTIVATED"),
    ];
    let mut after_a1 = user("a1", "SUSPENDED");
    after_a1["admin"] = json!({"id": "a1", "roleName": "Administrator"});
    let mut after_a2 = user("a2", "ACTIVATED");
    after_a2["totp_enabled"] = json!(false);
    after_a2["mfaEnrollment"] = json!({"overallStatus": "NOT_ENROLLED"});
    let after = vec![after_a1, after_a2, user("a4", "STAGED")];
    let mut members_before = std::collections::BTreeMap::new();
    members_before.insert("g1".to_owned(), vec!["a1".to_owned()]);
    let mut members_after = std::collections::BTreeMap::new();
    members_after.insert("g1".to_owned(), vec!["a2".to_owned()]);
    let changes = diff_users(&before, &after, &members_before, &members_after);
    assert_eq!(
        changes,
        vec![
            ("a1".into(), UserChange::Suspended),
            ("a1".into(), UserChange::AdminGranted),
            ("a1".into(), UserChange::RemovedFromGroup("g1".into())),
            ("a2".into(), UserChange::MfaDisabled),
            ("a2".into(), UserChange::AddedToGroup("g1".into())),
            ("a3".into(), UserChange::Deleted),
            ("a4".into(), UserChange::Created),
        ]
    );
    let names = [("g1".to_owned(), "VPN".to_owned())].into_iter().collect();
    let records = user_change_records(Some("org"), 1, 2, &changes, &before, &after, &names);
    let classes: Vec<(u32, i32)> = records
        .iter()
        .map(|r| (r.class_uid, r.activity_id))
        .collect();
    assert_eq!(
        classes,
        vec![
            (3001, 5),
            (3005, 1),
            (3006, 4),
            (3001, 11),
            (3006, 3),
            (3001, 6),
            (3001, 1)
        ]
    );
    let admin = parse(&records[1]);
    assert_eq!(admin["privileges"], json!(["admin"]));
    let removed = parse(&records[2]);
    assert_eq!(removed["group"]["name"], "VPN");
    assert_eq!(
        (&removed["time"], &removed["metadata"]["processed_time"]),
        (&json!(1), &json!(2))
    );
}

#[test]
fn audit_record_names_the_actor_and_the_reason() {
    let target = user("a1", "ACTIVATED");
    let actor = AuditActor {
        tool_name: "the-tool".into(),
        tool_version: "0.1.0".into(),
        operator: Some("analyst".into()),
    };
    let record = audit_record(&AuditRecordInput {
        action: "suspend",
        tenant_uid: Some("org1"),
        user: &target,
        user_id: "a1",
        group: None,
        outcome: "applied",
        change: "state: ACTIVATED -> SUSPENDED",
        error: None,
        reason: Some("INC-42 credential stuffing"),
        actor: &actor,
        time_ms: 5,
    });
    assert_eq!((record.class_uid, record.activity_id), (3001, 5));
    let event = parse(&record);
    assert_eq!(event["actor"]["app_name"], "the-tool/0.1.0");
    assert_eq!(event["time"], 5);
    assert_eq!(event["metadata"]["processed_time"], 5);
    assert_eq!(event["metadata"]["product"]["name"], "the-tool");
    assert_eq!(event["metadata"]["product"]["vendor_name"], "the-tool");
    assert_eq!(event["actor"]["user"]["name"], "analyst");
    assert_eq!(event["status_id"], 1);
    assert!(event["message"].as_str().unwrap().contains("INC-42"));
    assert_eq!(event["user"]["uid"], "a1");
}
