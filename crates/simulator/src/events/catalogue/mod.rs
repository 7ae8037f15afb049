//! The Directory Insights `event_type` catalogue (docs §2.3, every listed name expanded), with the
//! service each belongs to, the shape of its events and its weight in the generated mix.

use std::sync::OnceLock;

/// Valid `service` values of the events API (docs §1.3), `all` first.
pub const SERVICES: &[&str] = &[
    "all",
    "directory",
    "sso",
    "radius",
    "ldap",
    "systems",
    "mdm",
    "software",
    "password_manager",
    "password_vault",
    "alerts",
    "notifications",
    "object_storage",
    "saas_app_management",
    "access_management",
    "asset_management",
    "reports",
    "workflows",
    "genai",
    "aigw",
    "ai_admin",
    "generic_di",
];

/// How an event of a type is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `admin_login_attempt`.
    AdminLogin,
    /// `user_login_attempt` (user portal).
    UserLogin,
    /// `sso_auth`.
    SsoAuth,
    /// `radius_auth_attempt`.
    Radius,
    /// `ldap_bind`.
    LdapBind,
    /// `ldap_search`.
    LdapSearch,
    /// systems `login_attempt`.
    SystemLogin,
    /// Other systems events (agent side).
    SystemEvent,
    /// mdm events.
    Mdm,
    /// An admin acting on a user (`user_*`, `totp_*`): `resource` is a user, maybe `changes`.
    UserChange,
    /// An admin acting on an admin (`admin_*` other than login).
    AdminChange,
    /// `association_change`.
    Association,
    /// `alert_created`, `alert_updated`, `alert_status_updated`: an alert raised by a rule, with
    /// its triggering event (a JSON document inside a string).
    Alert,
    /// Anything else: an actor acting on an object of the type named by the event.
    Generic,
    /// The types of JumpCloud's OCSF mapping no shape above builds: from the list of the raw
    /// fields the type carries (`data/event_types.tsv`).
    Fields,
}

/// One catalogue entry.
#[derive(Debug, Clone)]
pub struct EventKind {
    /// The `event_type` value.
    pub event_type: &'static str,
    /// The `service` value.
    pub service: &'static str,
    /// How its events are built.
    pub shape: Shape,
    /// Relative weight in the generated mix.
    pub weight: f64,
    /// [`Shape::Fields`]: the raw fields an event of the type carries (dotted paths).
    pub fields: &'static [&'static str],
}

fn leak(text: String) -> &'static str {
    Box::leak(text.into_boxed_str())
}

fn push(
    out: &mut Vec<EventKind>,
    service: &'static str,
    shape: Shape,
    weight: f64,
    names: &[&str],
) {
    for name in names {
        out.push(EventKind {
            event_type: leak((*name).to_owned()),
            service,
            shape,
            weight,
            fields: &[],
        });
    }
}

fn expand(prefixes: &[&str], suffixes: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for prefix in prefixes {
        for suffix in suffixes {
            out.push(format!("{prefix}{suffix}"));
        }
    }
    out
}

fn push_owned(
    out: &mut Vec<EventKind>,
    service: &'static str,
    shape: Shape,
    weight: f64,
    names: Vec<String>,
) {
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    push(out, service, shape, weight, &refs);
}

const RARE: f64 = 0.02;

/// The types built from their field lists: `service \t event_type \t field,field,...`.
const FIELD_TYPES: &str = include_str!("../../../data/event_types.tsv");

/// The rows of [`FIELD_TYPES`] whose `(service, event_type)` the shapes above do not build.
fn push_field_types(out: &mut Vec<EventKind>) {
    for line in FIELD_TYPES.lines() {
        if line.starts_with('#') || line.starts_with("service\t") || line.trim().is_empty() {
            continue;
        }
        let mut columns = line.split('\t');
        let (Some(service), Some(event_type), Some(fields)) =
            (columns.next(), columns.next(), columns.next())
        else {
            continue;
        };
        if out
            .iter()
            .any(|kind| kind.service == service && kind.event_type == event_type)
        {
            continue;
        }
        let fields: Vec<&'static str> = fields
            .split(',')
            .filter(|field| !field.is_empty())
            .map(|field| leak(field.to_owned()))
            .collect();
        out.push(EventKind {
            event_type: leak(event_type.to_owned()),
            service: SERVICES
                .iter()
                .copied()
                .find(|known| *known == service)
                .unwrap_or("directory"),
            shape: Shape::Fields,
            weight: RARE,
            fields: Box::leak(fields.into_boxed_slice()),
        });
    }
}
const CRUD: &[&str] = &["_create", "_update", "_delete"];

fn build() -> Vec<EventKind> {
    let mut out = Vec::new();
    // Authentication dominates the mix.
    push(&mut out, "sso", Shape::SsoAuth, 22.0, &["sso_auth"]);
    push(
        &mut out,
        "directory",
        Shape::UserLogin,
        16.0,
        &["user_login_attempt"],
    );
    push(
        &mut out,
        "systems",
        Shape::SystemLogin,
        14.0,
        &["login_attempt"],
    );
    push(
        &mut out,
        "radius",
        Shape::Radius,
        10.0,
        &["radius_auth_attempt"],
    );
    push(&mut out, "ldap", Shape::LdapBind, 8.0, &["ldap_bind"]);
    push(&mut out, "ldap", Shape::LdapSearch, 5.0, &["ldap_search"]);
    push(
        &mut out,
        "directory",
        Shape::AdminLogin,
        3.0,
        &["admin_login_attempt"],
    );
    // directory: users/admins
    push(
        &mut out,
        "directory",
        Shape::UserChange,
        2.0,
        &["user_update"],
    );
    push(
        &mut out,
        "directory",
        Shape::UserChange,
        0.5,
        &[
            "user_lockout",
            "user_unlocked",
            "user_password_change",
            "user_password_expired",
            "user_suspended",
            "user_unsuspended",
            "totp_delete_enrollment",
        ],
    );
    push(
        &mut out,
        "directory",
        Shape::UserChange,
        0.2,
        &[
            "totp_start_enrollment",
            "totp_finish_enrollment",
            "user_create",
            "user_delete",
            "user_mfa_exclusion_expired",
            "user_password_reset_request",
            "user_password_warning_email",
            "user_activated",
            "user_activation_email",
            "user_password_set",
            "user_activation_schedule_create",
            "user_activation_schedule_delete",
            "user_suspension_schedule_create",
            "user_suspension_schedule_delete",
            "user_create_provision",
            "user_update_provision",
            "user_delete_provision",
            "user_admin_granted",
            "user_admin_revoked",
        ],
    );
    push(
        &mut out,
        "directory",
        Shape::AdminChange,
        0.1,
        &[
            "admin_create",
            "admin_delete",
            "admin_password_reset_request",
            "admin_update",
            "admin_totp_start_enrollment",
            "admin_totp_finish_enrollment",
            "admin_totp_disable",
            "admin_password_change",
            "admin_unsuspend",
            "admin_suspended",
            "admin_lockout",
        ],
    );
    // directory: objects
    push(
        &mut out,
        "directory",
        Shape::Association,
        1.5,
        &["association_change"],
    );
    push_owned(
        &mut out,
        "directory",
        Shape::Generic,
        0.1,
        expand(
            &[
                "application",
                "group",
                "system",
                "radiusserver",
                "command",
                "file",
                "policy",
                "iplist",
                "sambadomain",
                "workday",
                "idsource",
                "gsuite_directory",
                "o365_directory",
            ],
            CRUD,
        ),
    );
    push(
        &mut out,
        "directory",
        Shape::Generic,
        RARE,
        &[
            "group_warning",
            "integrationattribute_include",
            "integrationattribute_exclude",
            "invoice_download",
            "notification_delete",
            "organization_create",
            "organization_update",
            "user_group_admin_grant",
            "user_group_admin_revoke",
            "command_run",
            "commandresult_delete",
            "authnpolicy_create",
            "authnpolicy_delete",
            "authpolicy_update",
            "activedirectory_create",
            "activedirectory_delete",
            "integration_activate",
            "integration_deactivate",
            "integration_domain_add",
            "integration_domain_delete",
            "integration_default_domain_add",
            "integration_default_domain_update",
            "integration_default_domain_delete",
            "provider_update",
            "mtp_download_invoice",
            "msp_ticket_create",
        ],
    );
    for psa in ["connectwise", "autotask", "syncro"] {
        push_owned(
            &mut out,
            "directory",
            Shape::Generic,
            RARE,
            expand(
                &[
                    &format!("{psa}_integration"),
                    &format!("{psa}_billing_mapping"),
                    &format!("{psa}_company_mapping"),
                ],
                CRUD,
            ),
        );
        push_owned(
            &mut out,
            "directory",
            Shape::Generic,
            RARE,
            vec![format!("{psa}_settings_update")],
        );
    }
    // systems
    push(
        &mut out,
        "systems",
        Shape::SystemEvent,
        0.3,
        &[
            "user_password_change",
            "user_lockout",
            "system_fde_key_update",
            "system_fde_key_decrypt",
            "os_minor_upgrade",
            "os_major_upgrade",
            "os_minor_rollback",
            "os_major_rollback",
            "remote_session_start",
            "remote_session_join",
            "remote_session_end",
            "remote_session_feedback",
            "google_emm_create",
            "google_emm_delete",
            "google_emm_patch",
            "device_command",
        ],
    );
    // mdm
    push(&mut out, "mdm", Shape::Mdm, 1.0, &["mdm_command_result"]);
    push(
        &mut out,
        "mdm",
        Shape::Mdm,
        0.2,
        &["device_enrollment", "configuration_file_download"],
    );
    // software
    push(
        &mut out,
        "software",
        Shape::Generic,
        0.2,
        &[
            "software_add",
            "software_change",
            "software_remove",
            "software_add_request",
            "software_change_request",
            "software_remove_request",
        ],
    );
    push(
        &mut out,
        "alerts",
        Shape::Alert,
        0.1,
        &["alert_created", "alert_updated", "alert_status_updated"],
    );
    push(
        &mut out,
        "alerts",
        Shape::Generic,
        0.1,
        &["rule_created", "rule_modified", "rule_deleted"],
    );
    push(
        &mut out,
        "notifications",
        Shape::Generic,
        RARE,
        &[
            "notification_channel_created",
            "notification_channel_updated",
            "notification_channel_deleted",
        ],
    );
    push(
        &mut out,
        "object_storage",
        Shape::Generic,
        RARE,
        &[
            "object_storage_create",
            "object_storage_upload_validation_result",
            "object_storage_get_download_url_request",
            "object_storage_delete",
        ],
    );
    push_owned(
        &mut out,
        "password_manager",
        Shape::Generic,
        0.05,
        expand(
            &["passwordmanager_"],
            &[
                "enable",
                "disable",
                "user_enable",
                "user_disable",
                "user_activate",
                "user_deactivate",
                "user_reactivate",
                "user_signup",
                "user_re-enable",
                "user_update",
                "user_remove",
                "user_device_pair",
                "user_device_unpair",
                "folder_create",
                "folder_update",
                "folder_delete",
                "item_add",
                "item_update",
                "item_remove",
                "item_move",
                "item_reveal",
                "item_copy",
                "item_autofill",
                "item_history_reveal",
                "item_history_restore",
                "items_export",
                "items_import",
                "backup_create",
                "backup_restore",
                "sharedfolders_policy_update",
                "app_unlock",
                "extension_unlock",
                "extension_pair",
                "extension_site_exclusion",
            ],
        ),
    );
    push_owned(
        &mut out,
        "password_vault",
        Shape::Generic,
        0.05,
        expand(
            &[
                "passwordvault_credential",
                "passwordvault_website",
                "passwordvault_sharedfolder",
                "passwordvault_personalfolder",
            ],
            CRUD,
        ),
    );
    push(
        &mut out,
        "saas_app_management",
        Shape::Generic,
        0.05,
        &[
            "saas_management_enable",
            "saas_management_disable",
            "saas_management_settings_update",
            "saas_management_application_discover",
            "saas_management_event_application_review",
            "saas_management_application_update",
            "saas_management_application_access_restriction_update",
            "saas_management_application_license_update",
            "saas_management_application_delete",
            "saas_management_connector_create",
            "saas_management_connector_update",
            "saas_management_connector_delete",
            "saas_management_account_discover",
            "saas_management_account_user_assign",
            "saas_management_account_delete",
            "saas_management_tenant_discover",
            "saas_management_login_event",
        ],
    );
    push(
        &mut out,
        "access_management",
        Shape::Generic,
        0.05,
        &[
            "access_management_access_request",
            "access_management_access_request_approval",
            "access_management_association_change",
            "access_management_approval_flow_create",
            "access_management_approval_flow_update",
            "access_management_approval_flow_delete",
            "access_management_access_request_settings_update",
        ],
    );
    push(
        &mut out,
        "reports",
        Shape::Generic,
        RARE,
        &[
            "report_run",
            "report_export",
            "report_create",
            "report_update",
            "report_delete",
            "custom_report_create",
            "custom_report_update",
            "custom_report_delete",
            "scheduled_report_create",
            "scheduled_report_update",
            "scheduled_report_delete",
            "scheduled_report_run_success",
            "scheduled_report_run_failed",
        ],
    );
    push(
        &mut out,
        "asset_management",
        Shape::Generic,
        RARE,
        &[
            "asset_management_enable",
            "asset_management_disable",
            "asset_management_general_settings_update",
            "asset_management_field_setting_create",
            "asset_management_field_setting_update",
            "asset_management_field_setting_delete",
            "asset_management_asset_create",
            "asset_management_asset_update",
            "asset_management_asset_delete",
        ],
    );
    push(
        &mut out,
        "genai",
        Shape::Generic,
        RARE,
        &[
            "genai_ai_assistant_chat_create",
            "genai_ai_assistant_chat_delete",
        ],
    );
    push(
        &mut out,
        "aigw",
        Shape::Generic,
        RARE,
        &[
            "aigw_session_opened",
            "aigw_session_activity",
            "aigw_session_closed",
        ],
    );
    push(
        &mut out,
        "ai_admin",
        Shape::Generic,
        RARE,
        &[
            "server_create",
            "server_update",
            "server_delete",
            "redirect_uri_create",
            "redirect_uri_delete",
        ],
    );
    push(
        &mut out,
        "generic_di",
        Shape::Generic,
        RARE,
        &[
            "risk_event_created",
            "risk_event_resolved",
            "risk_events_bulk_resolved",
            "ca_created",
            "cert_issued_manual",
            "cert_issued_self_service",
            "cert_issued_scep",
            "cert_revoked",
        ],
    );
    push_field_types(&mut out);
    out
}

/// The whole catalogue, built once.
pub fn catalogue() -> &'static [EventKind] {
    static CATALOGUE: OnceLock<Vec<EventKind>> = OnceLock::new();
    CATALOGUE.get_or_init(build)
}

/// The catalogue entry of a `(service, event_type)` pair.
pub fn find(service: &str, event_type: &str) -> Option<&'static EventKind> {
    catalogue()
        .iter()
        .find(|kind| kind.service == service && kind.event_type == event_type)
}

#[cfg(test)]
mod tests;
