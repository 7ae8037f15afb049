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
fn scheduled_job_mdm_command() {
    check("1006_mdm_command_result", &line(OURS, "mdm.ndjson", 1));
}

#[test]
fn scheduled_job_of_jumpcloud_itself() {
    check(
        "1006_user_activation_schedule_create",
        &line(OURS, "directory.ndjson", 24),
    );
}

#[test]
fn email_activity_password_warning() {
    check(
        "4009_user_password_warning_email",
        &line(OURS, "directory.ndjson", 16),
    );
}

#[test]
fn application_lifecycle_software_add() {
    check("6002_software_add", &line(OURS, "software.ndjson", 1));
}

#[test]
fn user_inventory_saas_account() {
    check(
        "5003_saas_management_account_discover",
        &line(OURS, "saas_app_management.ndjson", 13),
    );
}

#[test]
fn datastore_activity_ldap_search() {
    check("6005_ldap_search", &line(OURS, "ldap.ndjson", 3));
}

#[test]
fn entity_management_alert_status_change() {
    check("3004_alert_status_updated", &line(OURS, "alerts.ndjson", 4));
}

#[test]
fn base_event_unlisted_type() {
    check(
        "0_quantum_widget_reticulated",
        &line(OURS, "generic_di.ndjson", 9),
    );
}

#[test]
fn detection_finding_alert_created_with_trigger() {
    check("2004_alert_created", &line(OURS, "alerts.ndjson", 1));
}

#[test]
fn detection_finding_alert_resolved_closes() {
    check("2004_alert_resolved", &line(OURS, "alerts.ndjson", 3));
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
fn entity_management_systems_with_device() {
    check("3004_os_minor_upgrade", &line(OURS, "systems.ndjson", 7));
}
