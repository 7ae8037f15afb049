//! `/api/systemusers` record -> User Inventory Info (5003).

use serde_json::{Map, Value, json};

use super::common::{self, SnapshotMeta, USER_INVENTORY_COLLECT, epoch_ms, flag, put, text};
use super::{InventoryMapError, UserLinks};

/// Whether the user is a JumpCloud administrator (an `admin` object, or `sudo` is not enough).
pub(crate) fn is_admin(user: &Value) -> bool {
    user.get("admin")
        .is_some_and(|a| !a.is_null() && a != &Value::Bool(false))
}

/// Whether MFA is enrolled (any factor), from `mfaEnrollment.overallStatus` or `totp_enabled`.
pub(crate) fn has_mfa(user: &Value) -> bool {
    let enrolled = user
        .pointer("/mfaEnrollment/overallStatus")
        .and_then(Value::as_str)
        .is_some_and(|s| s == "ENROLLED");
    enrolled || flag(user, "totp_enabled").unwrap_or(false)
}

/// The `user` object of every user-centred record.
pub(crate) fn user_object(user: &Value, id: &str, tenant_uid: Option<&str>) -> Map<String, Value> {
    let mut object = Map::new();
    object.insert("uid".into(), json!(id));
    put(&mut object, "name", text(user, "username"));
    put(&mut object, "email_addr", text(user, "email"));
    put(&mut object, "display_name", text(user, "displayname"));
    let full_name = [text(user, "firstname"), text(user, "lastname")]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    if !full_name.is_empty() {
        object.insert("full_name".into(), json!(full_name));
    }
    let (type_id, type_caption) = if is_admin(user) {
        (2, "Admin")
    } else {
        (1, "User")
    };
    object.insert("type_id".into(), json!(type_id));
    object.insert("type".into(), json!(type_caption));
    object.insert("has_mfa".into(), json!(has_mfa(user)));
    let state = text(user, "state").unwrap_or_default();
    let suspended = flag(user, "suspended").unwrap_or(state == "SUSPENDED");
    let mut account = Map::new();
    account.insert("uid".into(), json!(id));
    put(&mut account, "name", text(user, "username"));
    account.insert("type_id".into(), json!(99));
    account.insert("type".into(), json!("JumpCloud"));
    account.insert("is_disabled".into(), json!(suspended || state == "STAGED"));
    put(&mut account, "is_locked", flag(user, "account_locked"));
    object.insert("account".into(), Value::Object(account));
    if let Some(tenant) = tenant_uid {
        object.insert("org".into(), json!({"uid": tenant}));
    }
    object
}

fn ldap_person(user: &Value) -> Map<String, Value> {
    let mut person = Map::new();
    put(&mut person, "given_name", text(user, "firstname"));
    put(&mut person, "surname", text(user, "lastname"));
    put(&mut person, "department", text(user, "department"));
    put(&mut person, "job_title", text(user, "jobTitle"));
    put(&mut person, "cost_center", text(user, "costCenter"));
    put(
        &mut person,
        "employee_uid",
        text(user, "employeeIdentifier"),
    );
    put(&mut person, "office_location", text(user, "location"));
    put(&mut person, "ldap_dn", text(user, "external_dn"));
    put(&mut person, "created_time", epoch_ms(user.get("created")));
    if let Some(manager) = text(user, "manager") {
        person.insert("manager".into(), json!({"uid": manager}));
    }
    person
}

/// The JumpCloud facts OCSF has no attribute for (state, password and MFA detail, admin role,
/// application and device bindings), under `unmapped.jumpcloud`.
fn unmapped(user: &Value, links: &UserLinks) -> Value {
    let mut jumpcloud = Map::new();
    for field in [
        "state",
        "activated",
        "suspended",
        "account_locked",
        "account_locked_date",
        "password_expired",
        "password_expiration_date",
        "password_date",
        "password_never_expires",
        "mfa",
        "mfaEnrollment",
        "totp_enabled",
        "enable_user_portal_multifactor",
        "admin",
        "sudo",
        "passwordless_sudo",
        "badLoginAttempts",
        "created",
        "creationSource",
        "externally_managed",
        "external_source_type",
        "employeeType",
    ] {
        if let Some(value) = user.get(field)
            && !value.is_null()
        {
            jumpcloud.insert(field.to_owned(), value.clone());
        }
    }
    jumpcloud.insert(
        "applications".into(),
        Value::Array(
            links
                .applications
                .iter()
                .map(|app| {
                    json!({
                        "uid": app.uid,
                        "name": app.name,
                        "label": app.label,
                        "direct": app.direct,
                        "via_group_uids": app.via_group_ids,
                    })
                })
                .collect(),
        ),
    );
    jumpcloud.insert(
        "group_applications".into(),
        Value::Object(
            links
                .groups
                .iter()
                .map(|g| (g.uid.clone(), json!(g.application_ids)))
                .collect(),
        ),
    );
    jumpcloud.insert("system_uids".into(), json!(links.system_ids));
    json!({ "jumpcloud": jumpcloud })
}

fn summary(user: &Value, id: &str) -> String {
    let name = text(user, "username").unwrap_or(id);
    let state = text(user, "state").unwrap_or("UNKNOWN");
    let mut parts = vec![state.to_owned()];
    if flag(user, "account_locked") == Some(true) {
        parts.push("locked".into());
    }
    if flag(user, "password_expired") == Some(true) {
        parts.push("password expired".into());
    }
    parts.push(if has_mfa(user) {
        "MFA enrolled".into()
    } else {
        "no MFA".into()
    });
    if is_admin(user) {
        parts.push("administrator".into());
    }
    format!("JumpCloud user {name}: {}", parts.join(", "))
}

/// One user -> User Inventory Info (5003, activity 2 Collect), keyed by the user id.
pub fn user_inventory(
    meta: &SnapshotMeta<'_>,
    user: &Value,
    links: &UserLinks,
) -> Result<crate::OcsfRecord, InventoryMapError> {
    if !user.is_object() {
        return Err(InventoryMapError::NotAnObject { kind: "user" });
    }
    let id = super::record_id(user).ok_or(InventoryMapError::NoId { kind: "user" })?;
    let header = USER_INVENTORY_COLLECT;
    let tenant = meta.tenant_uid.unwrap_or_default();
    let uid = common::uid_of(&format!(
        "jumpcloud:inventory:{tenant}:user:{id}:{}",
        meta.time_ms
    ));
    let mut event = common::skeleton(header, meta, &uid, "systemuser", "systemusers", 1);
    event.insert("message".into(), json!(summary(user, &id)));
    let mut object = user_object(user, &id, meta.tenant_uid);
    if !links.groups.is_empty() {
        object.insert(
            "groups".into(),
            Value::Array(
                links
                    .groups
                    .iter()
                    .map(|g| {
                        let mut group = Map::new();
                        group.insert("uid".into(), json!(g.uid));
                        if !g.name.is_empty() {
                            group.insert("name".into(), json!(g.name));
                        }
                        group.insert("type".into(), json!("user_group"));
                        Value::Object(group)
                    })
                    .collect(),
            ),
        );
    }
    let person = ldap_person(user);
    if !person.is_empty() {
        object.insert("ldap_person".into(), Value::Object(person));
    }
    let mut observables = vec![common::observable("user.uid", 31, "User Object: uid", &id)];
    if let Some(name) = text(user, "username") {
        observables.push(common::observable("user.name", 4, "User Name", name));
    }
    if let Some(email) = text(user, "email") {
        observables.push(common::observable(
            "user.email_addr",
            5,
            "Email Address",
            email,
        ));
    }
    event.insert("user".into(), Value::Object(object));
    event.insert("observables".into(), Value::Array(observables));
    event.insert("unmapped".into(), unmapped(user, links));
    Ok(common::record(
        header,
        uid,
        meta.tenant_uid,
        "systemuser",
        Some(id),
        event,
    ))
}
