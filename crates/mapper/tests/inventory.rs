//! Inventory -> OCSF on the real public JumpCloud console samples vendored in
//! `tests/fixtures/public/jumpcloud-inventory/`, every output checked by the OCSF 1.8.0
//! validator (`ocsf-schema`, strict).

use std::path::PathBuf;

use mapper::OcsfRecord;
use mapper::inventory::{
    ApplicationBinding, AuditActor, AuditRecordInput, InventoryInput, audit_record, diff_users,
    map_snapshot, user_change_records,
};
use serde_json::Value;

fn fixture(name: &str) -> Value {
    let path = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/public/jumpcloud-inventory/"
    ))
    .join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn results(v1: Value) -> Vec<Value> {
    v1["results"].as_array().unwrap().clone()
}

/// Asserts that every record passes the OCSF 1.8.0 validator, strict; prints the findings if
/// not.
fn assert_valid(records: &[OcsfRecord]) {
    let validator = ocsf_schema::Validator::ocsf_1_8_0().strict(true);
    let findings: Vec<String> = records
        .iter()
        .enumerate()
        .flat_map(|(index, record)| {
            validator
                .validate_json(&record.json)
                .into_iter()
                .map(move |finding| format!("record {}: {finding}", index + 1))
        })
        .collect();
    assert!(findings.is_empty(), "{}", findings.join("\n"));
}

fn fixture_input() -> InventoryInput {
    let users = results(fixture("jupiterone-graph-jumpcloud.api_systemusers.json"));
    let groups = fixture("jupiterone-graph-jumpcloud.api_v2_usergroups.json")
        .as_array()
        .unwrap()
        .clone();
    let applications = results(fixture("jupiterone-graph-jumpcloud.api_applications.json"));
    let app_id = applications[0]["_id"].as_str().unwrap().to_owned();
    let app_users = fixture("jupiterone-graph-jumpcloud.api_v2_applications_ID_users.json");
    let app_groups = fixture("jupiterone-graph-jumpcloud.api_v2_applications_ID_usergroups.json");
    let bound_group = app_groups[0]["id"].as_str().unwrap().to_owned();
    let bound_user = app_users[0]["id"].as_str().unwrap().to_owned();
    let mdm_devices = fixture("jupiterone-graph-jumpcloud.api_v2_applemdms_ID_devices.json")
        .as_array()
        .unwrap()
        .clone();
    let mut input = InventoryInput {
        tenant_uid: Some("60259a2ad81e1a474d4e7c83".into()),
        collected_at_ms: 1_774_001_730_123,
        users,
        groups,
        applications,
        apple_mdms: fixture("jupiterone-graph-jumpcloud.api_v2_applemdms.json")
            .as_array()
            .unwrap()
            .clone(),
        mdm_devices,
        ..Default::default()
    };
    input
        .group_members
        .insert(bound_group.clone(), vec![bound_user.clone()]);
    input
        .application_groups
        .insert(app_id.clone(), vec![bound_group.clone()]);
    input.application_users.insert(
        app_id,
        vec![ApplicationBinding {
            user_id: bound_user,
            direct: false,
            via_group_ids: vec![bound_group],
        }],
    );
    input
}

#[test]
fn real_console_samples_map_to_valid_inventory_records() {
    let input = fixture_input();
    let records: Vec<OcsfRecord> = map_snapshot(&input, 1_774_001_730_500)
        .into_iter()
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(records.len(), input.users.len() + input.mdm_devices.len());
    assert_valid(&records);

    let user: Value = serde_json::from_slice(&records[0].json).unwrap();
    let fixture_user = &input.users[0];
    assert_eq!(user["user"]["uid"], fixture_user["_id"]);
    assert_eq!(user["user"]["email_addr"], fixture_user["email"]);
    assert_eq!(user["user"]["groups"][0]["name"], "My Test Group");
    assert_eq!(
        user["unmapped"]["jumpcloud"]["applications"][0]["name"],
        "aws-sso"
    );
    assert_eq!(
        user["unmapped"]["jumpcloud"]["state"],
        fixture_user["state"]
    );

    let device: Value = serde_json::from_slice(&records[1].json).unwrap();
    assert_eq!(device["device"]["hw_info"]["serial_number"], "C02FF0H4MD6Q");
    assert_eq!(device["device"]["os"]["version"], "13.5.1");
    assert_eq!(
        device["device"]["udid"],
        "5E4E453E-72DE-5928-9489-177F3CFE5723"
    );
}

#[test]
fn change_and_audit_records_are_valid_ocsf() {
    let before = fixture_input().users;
    let mut changed = before[0].clone();
    changed["state"] = "SUSPENDED".into();
    changed["suspended"] = true.into();
    changed["account_locked"] = true.into();
    changed["password_expired"] = true.into();
    changed["totp_enabled"] = true.into();
    changed["admin"] = serde_json::json!({"id": "x", "roleName": "Administrator"});
    let after = vec![changed];
    let changes = diff_users(&before, &after, &Default::default(), &Default::default());
    assert!(changes.len() >= 4, "{changes:?}");
    let mut records = user_change_records(
        Some("org"),
        1_774_001_730_123,
        1_774_001_730_500,
        &changes,
        &before,
        &after,
        &Default::default(),
    );
    let actor = AuditActor {
        tool_name: "the-tool".into(),
        tool_version: "test".into(),
        operator: Some("analyst".into()),
    };
    for (action, group) in [
        ("suspend", None),
        ("activate", None),
        ("unlock", None),
        ("expire-password", None),
        ("reset-mfa", None),
        ("remove-from-group", Some(("g1", "VPN Users"))),
    ] {
        records.push(audit_record(&AuditRecordInput {
            action,
            tenant_uid: Some("org"),
            user: &before[0],
            user_id: before[0]["_id"].as_str().unwrap(),
            group,
            outcome: "applied",
            change: "x -> y",
            error: None,
            reason: Some("test"),
            actor: &actor,
            time_ms: 1_774_001_730_123,
        }));
    }
    assert!(records.len() >= 10, "{} records", records.len());
    assert_valid(&records);
}
