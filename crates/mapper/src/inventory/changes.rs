//! What changed between two inventory snapshots, as Account Change (3001), User Access
//! Management (3005) and Group Management (3006) events: changes Directory Insights may not
//! show (made by another tool, or before the events window).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use super::common::{self, ClassHeader, SnapshotMeta, flag, text};
use super::user::{has_mfa, is_admin, user_object};

/// One detected change of a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserChange {
    /// A user that was not in the previous snapshot (3001 Create).
    Created,
    /// A user that is gone (3001 Delete).
    Deleted,
    /// Now SUSPENDED (3001 Disable).
    Suspended,
    /// Now ACTIVATED after SUSPENDED or STAGED (3001 Enable).
    Activated,
    /// Now locked (3001 Lock).
    Locked,
    /// No longer locked (3001 Unlock).
    Unlocked,
    /// Password now expired (3001 Other, as `user_password_expired`).
    PasswordExpired,
    /// MFA now enrolled (3001 MFA Factor Enable).
    MfaEnabled,
    /// MFA no longer enrolled (3001 MFA Factor Disable).
    MfaDisabled,
    /// Now an administrator (3005 Assign Privileges).
    AdminGranted,
    /// No longer an administrator (3005 Revoke Privileges).
    AdminRevoked,
    /// Added to a group (3006 Add User): group id.
    AddedToGroup(String),
    /// Removed from a group (3006 Remove User): group id.
    RemovedFromGroup(String),
}

impl UserChange {
    /// `metadata.event_code`.
    pub fn code(&self) -> &'static str {
        match self {
            UserChange::Created => "inventory_user_created",
            UserChange::Deleted => "inventory_user_deleted",
            UserChange::Suspended => "inventory_user_suspended",
            UserChange::Activated => "inventory_user_activated",
            UserChange::Locked => "inventory_user_locked",
            UserChange::Unlocked => "inventory_user_unlocked",
            UserChange::PasswordExpired => "inventory_user_password_expired",
            UserChange::MfaEnabled => "inventory_user_mfa_enabled",
            UserChange::MfaDisabled => "inventory_user_mfa_disabled",
            UserChange::AdminGranted => "inventory_user_admin_granted",
            UserChange::AdminRevoked => "inventory_user_admin_revoked",
            UserChange::AddedToGroup(_) => "inventory_group_member_added",
            UserChange::RemovedFromGroup(_) => "inventory_group_member_removed",
        }
    }

    fn header(&self) -> ClassHeader {
        match self {
            UserChange::Created => common::account_change(1, "Create"),
            UserChange::Deleted => common::account_change(6, "Delete"),
            UserChange::Suspended => common::account_change(5, "Disable"),
            UserChange::Activated => common::account_change(2, "Enable"),
            UserChange::Locked => common::account_change(9, "Lock"),
            UserChange::Unlocked => common::account_change(12, "Unlock"),
            UserChange::PasswordExpired => common::account_change(99, "Password Expired"),
            UserChange::MfaEnabled => common::account_change(10, "MFA Factor Enable"),
            UserChange::MfaDisabled => common::account_change(11, "MFA Factor Disable"),
            UserChange::AdminGranted => common::user_access(1, "Assign Privileges"),
            UserChange::AdminRevoked => common::user_access(2, "Revoke Privileges"),
            UserChange::AddedToGroup(_) => common::group_management(3, "Add User"),
            UserChange::RemovedFromGroup(_) => common::group_management(4, "Remove User"),
        }
    }
}

fn by_id(users: &[Value]) -> BTreeMap<String, &Value> {
    users
        .iter()
        .filter_map(|u| Some((super::record_id(u)?, u)))
        .collect()
}

fn state(user: &Value) -> &str {
    text(user, "state").unwrap_or_default()
}

/// The changes of every user between `before` and `after` (user records and direct group
/// memberships `group id -> user ids`), in user id order.
pub fn diff_users(
    before: &[Value],
    after: &[Value],
    before_members: &BTreeMap<String, Vec<String>>,
    after_members: &BTreeMap<String, Vec<String>>,
) -> Vec<(String, UserChange)> {
    let old = by_id(before);
    let new = by_id(after);
    let mut changes = Vec::new();
    for (id, user) in &new {
        let Some(previous) = old.get(id) else {
            changes.push((id.clone(), UserChange::Created));
            continue;
        };
        let (was, now) = (state(previous), state(user));
        if was != now {
            match now {
                "SUSPENDED" => changes.push((id.clone(), UserChange::Suspended)),
                "ACTIVATED" => changes.push((id.clone(), UserChange::Activated)),
                _ => {}
            }
        }
        let locked = |u: &Value| flag(u, "account_locked").unwrap_or(false);
        match (locked(previous), locked(user)) {
            (false, true) => changes.push((id.clone(), UserChange::Locked)),
            (true, false) => changes.push((id.clone(), UserChange::Unlocked)),
            _ => {}
        }
        let expired = |u: &Value| flag(u, "password_expired").unwrap_or(false);
        if !expired(previous) && expired(user) {
            changes.push((id.clone(), UserChange::PasswordExpired));
        }
        match (has_mfa(previous), has_mfa(user)) {
            (false, true) => changes.push((id.clone(), UserChange::MfaEnabled)),
            (true, false) => changes.push((id.clone(), UserChange::MfaDisabled)),
            _ => {}
        }
        match (is_admin(previous), is_admin(user)) {
            (false, true) => changes.push((id.clone(), UserChange::AdminGranted)),
            (true, false) => changes.push((id.clone(), UserChange::AdminRevoked)),
            _ => {}
        }
    }
    for id in old.keys() {
        if !new.contains_key(id) {
            changes.push((id.clone(), UserChange::Deleted));
        }
    }
    let edges = |members: &BTreeMap<String, Vec<String>>| -> BTreeSet<(String, String)> {
        members
            .iter()
            .flat_map(|(g, users)| users.iter().map(move |u| (u.clone(), g.clone())))
            .collect()
    };
    let (old_edges, new_edges) = (edges(before_members), edges(after_members));
    for (user, group) in new_edges.difference(&old_edges) {
        // A new group of a new user is part of its creation, still worth an edge event.
        changes.push((user.clone(), UserChange::AddedToGroup(group.clone())));
    }
    for (user, group) in old_edges.difference(&new_edges) {
        changes.push((user.clone(), UserChange::RemovedFromGroup(group.clone())));
    }
    changes.sort_by(|a, b| a.0.cmp(&b.0));
    changes
}

/// The OCSF events of detected changes, found at `time_ms` and processed at `processed_ms`
/// (epoch ms). `after`/`before` give the user records (the latest known one is used);
/// `group_names` names the groups.
pub fn user_change_records(
    tenant_uid: Option<&str>,
    time_ms: i64,
    processed_ms: i64,
    changes: &[(String, UserChange)],
    before: &[Value],
    after: &[Value],
    group_names: &BTreeMap<String, String>,
) -> Vec<crate::OcsfRecord> {
    let meta = SnapshotMeta {
        tenant_uid,
        time_ms,
        processed_ms,
    };
    let old = by_id(before);
    let new = by_id(after);
    let tenant = tenant_uid.unwrap_or_default();
    changes
        .iter()
        .map(|(id, change)| {
            let header = change.header();
            let code = change.code();
            let subject = match change {
                UserChange::AddedToGroup(g) | UserChange::RemovedFromGroup(g) => {
                    format!("{id}:{g}")
                }
                _ => id.clone(),
            };
            let uid = common::uid_of(&format!(
                "jumpcloud:inventory-change:{tenant}:{code}:{subject}:{time_ms}"
            ));
            let record = new
                .get(id)
                .or_else(|| old.get(id))
                .copied()
                .unwrap_or(&Value::Null);
            let mut event = common::skeleton(header, &meta, &uid, code, "systemusers", 1);
            let user = user_object(record, id, tenant_uid);
            let name = user
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or(id.as_str())
                .to_owned();
            let mut message = format!(
                "inventory comparison: user {name} {}",
                code.trim_start_matches("inventory_user_")
                    .trim_start_matches("inventory_")
                    .replace('_', " ")
            );
            match change {
                UserChange::AdminGranted | UserChange::AdminRevoked => {
                    event.insert("privileges".into(), json!(["admin"]));
                    event.insert("user".into(), Value::Object(user));
                }
                UserChange::AddedToGroup(group) | UserChange::RemovedFromGroup(group) => {
                    let mut object = Map::new();
                    object.insert("uid".into(), json!(group));
                    if let Some(group_name) = group_names.get(group) {
                        object.insert("name".into(), json!(group_name));
                        message.push_str(&format!(" {group_name}"));
                    }
                    event.insert("group".into(), Value::Object(object));
                    event.insert("user".into(), Value::Object(user));
                }
                _ => {
                    event.insert("user".into(), Value::Object(user));
                }
            }
            event.insert("message".into(), json!(message));
            let before_state = old.get(id).map(|u| state(u).to_owned());
            let after_state = new.get(id).map(|u| state(u).to_owned());
            event.insert(
                "unmapped".into(),
                json!({"jumpcloud": {"detected_by": "inventory_comparison",
                    "state_before": before_state, "state_after": after_state}}),
            );
            common::record(header, uid, tenant_uid, code, Some(id.clone()), event)
        })
        .collect()
}
