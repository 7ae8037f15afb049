use super::*;
use std::collections::HashSet;

#[test]
fn every_entry_has_a_valid_service_and_is_unique() {
    let mut seen = HashSet::new();
    for kind in catalogue() {
        assert!(SERVICES.contains(&kind.service), "{}", kind.service);
        assert!(
            seen.insert((kind.service, kind.event_type)),
            "{}",
            kind.event_type
        );
        assert!(kind.weight > 0.0);
    }
}

#[test]
fn catalogue_covers_the_documented_families() {
    let names: HashSet<&str> = catalogue().iter().map(|k| k.event_type).collect();
    for expected in [
        "radius_auth_attempt",
        "sso_auth",
        "ldap_bind",
        "ldap_search",
        "login_attempt",
        "user_suspended",
        "totp_delete_enrollment",
        "association_change",
        "passwordmanager_user_re-enable",
        "passwordvault_website_update",
        "syncro_company_mapping_delete",
        "autotask_settings_update",
        "authpolicy_update",
        "mdm_command_result",
        "cert_revoked",
        "aigw_session_closed",
    ] {
        assert!(names.contains(expected), "{expected}");
    }
    assert!(!names.contains("radius_auth"));
    let services: HashSet<&str> = catalogue().iter().map(|k| k.service).collect();
    // every service except `all` has events
    assert_eq!(services.len(), SERVICES.len() - 1);
}

#[test]
fn catalogue_covers_every_type_of_jumpclouds_ocsf_mapping() {
    // The 551 event types of JumpCloud's OCSF mapping page (TheJumpCloud/jumpcloud-docs-public
    // docs/new/others/siem-event-types @54e9a3cb), a sample of every section.
    let names: HashSet<&str> = catalogue().iter().map(|k| k.event_type).collect();
    for expected in [
        "access_management_access_request",
        "redirect_uri_update",
        "aigw_session_activity",
        "bulk_delete_alerts",
        "rule_config_updated",
        "asset_management_field_setting_delete",
        "background_access_shell",
        "policy_result",
        "syncro_billing_sync",
        "user_import_started",
        "genai_mcp_session_created",
        "ldap_srch",
        "apple_ddm_status_receive",
        "notification_send_failure",
        "slack_notification_sent",
        "passwordmanager_migration_complete",
        "passwordvault_sharedfolder_user_add",
        "scheduled_report_run_failed",
        "saas_management_tenant_discover",
        "slack_integration_added",
        "software_status_update",
        "recovery_lock_set_success",
        "workflow_run_rate_limited",
    ] {
        assert!(names.contains(expected), "{expected}");
    }
    assert!(catalogue().len() >= 551 + 30, "{}", catalogue().len());
}

#[test]
fn authentication_dominates_the_weights() {
    let total: f64 = catalogue().iter().map(|k| k.weight).sum();
    let auth: f64 = catalogue()
        .iter()
        .filter(|k| {
            matches!(
                k.shape,
                Shape::SsoAuth
                    | Shape::UserLogin
                    | Shape::SystemLogin
                    | Shape::Radius
                    | Shape::LdapBind
                    | Shape::AdminLogin
            )
        })
        .map(|k| k.weight)
        .sum();
    assert!(auth / total > 0.6, "auth share {}", auth / total);
}
