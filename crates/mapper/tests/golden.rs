//! Golden tests: the full OCSF output of one representative event per class, compared with a
//! reviewed file in `tests/golden/`. After an intended change, regenerate with
//! `UPDATE_GOLDEN=1 cargo test -p mapper --test golden`, then review the diff.

use std::path::Path;

use serde_json::Value;

const OURS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/events");
const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden");

fn line(dir: &str, file: &str, number: usize) -> Vec<u8> {
    let text = std::fs::read(Path::new(dir).join(file)).unwrap();
    text.split(|b| *b == b'\n')
        .nth(number - 1)
        .unwrap()
        .to_vec()
}

fn check(name: &str, raw: &[u8]) {
    let record = mapper::Mapper::default().map(raw).unwrap();
    let actual: Value = serde_json::from_slice(&record.json).unwrap();
    let path = Path::new(GOLDEN).join(format!("{name}.json"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, serde_json::to_string_pretty(&actual).unwrap() + "\n").unwrap();
    }
    let expected: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(
        actual,
        expected,
        "{name}: output differs from {}:\n{}",
        path.display(),
        serde_json::to_string_pretty(&actual).unwrap()
    );
}

#[test]
fn authentication_sso_success() {
    check("3002_sso_auth", &line(OURS, "samples.ndjson", 7));
}

#[test]
fn authentication_radius_failure() {
    check("3002_radius_failure", &line(OURS, "samples.ndjson", 3));
}

#[test]
fn authentication_systems_login() {
    check("3002_systems_login", &line(OURS, "systems.ndjson", 1));
}

#[test]
fn account_change_suspend_from_changes() {
    check(
        "3001_user_update_suspend",
        &line(OURS, "samples.ndjson", 10),
    );
}

#[test]
fn entity_management_application_create() {
    check(
        "3004_application_create",
        &line(OURS, "directory.ndjson", 54),
    );
}

#[test]
fn user_access_association() {
    check("3005_association_change", &line(OURS, "samples.ndjson", 2));
}

#[test]
fn group_management_add_user() {
    check(
        "3006_association_add_user",
        &line(OURS, "directory.ndjson", 77),
    );
}

#[test]
fn base_event_mdm() {
    check("0_mdm_command_result", &line(OURS, "mdm.ndjson", 1));
}

#[test]
fn detection_finding_alert_created_with_trigger() {
    check("2004_alert_created", &line(OURS, "alerts.ndjson", 1));
}

#[test]
fn detection_finding_alert_resolved_closes() {
    check(
        "2004_alert_status_resolved",
        &line(OURS, "alerts.ndjson", 3),
    );
}

#[test]
fn authentication_windows_rdp_login_with_logon_type() {
    check("3002_systems_rdp_login", &line(OURS, "systems.ndjson", 20));
}

#[test]
fn authentication_portal_login_with_factors_and_autonomous_system() {
    check(
        "3002_user_login_mfa_asn",
        &line(OURS, "directory.ndjson", 154),
    );
}

#[test]
fn base_event_systems_with_device() {
    check("0_os_minor_upgrade", &line(OURS, "systems.ndjson", 7));
}
