//! Console inventory -> OCSF 1.8.0: User Inventory Info (5003) per user, Device Inventory Info
//! (5001) per system and per Apple MDM device, Account Change (3001) / User Access Management
//! (3005) for what changed between two snapshots, and the audit events of response actions.
//!
//! Input is the console API's records kept verbatim ([`InventoryInput`], of crate
//! `console-model`: the fetcher collects into it, the caller hands it over); every field is
//! optional. Mapping reads no clock: the caller passes the processing time. The graph travels
//! with the records so a consumer can rebuild it from one snapshot:
//! user ∈ group in `user.groups`, user -> application (direct or through which groups) in
//! `unmapped.jumpcloud.applications`, group -> application in each group entry's
//! `unmapped.jumpcloud.group_applications`, device -> user in `device.owner` and
//! `unmapped.jumpcloud.users`.

mod audit;
mod changes;
mod common;
mod device;
mod removed;
#[cfg(test)]
mod tests;
mod user;

use std::collections::BTreeMap;

use serde_json::Value;

pub use audit::{AuditActor, AuditRecordInput, audit_record};
pub use changes::{UserChange, diff_users, user_change_records};
/// The console's records (crate `console-model`, which `fetcher` collects into), re-exported:
/// the mapper's callers name them with the functions that map them.
pub use console_model::{ApplicationBinding, InventoryInput, record_id};
use device::{mdm_device_inventory, system_inventory};
pub use removed::{KnownDevice, device_removed_records, known_devices};
use user::user_inventory;

/// Why an inventory record could not be mapped (the caller dead-letters it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InventoryMapError {
    /// The record is not a JSON object.
    #[error("{kind} record is not a JSON object")]
    NotAnObject {
        /// `user`, `system`, `mdm device`.
        kind: &'static str,
    },
    /// The record has no id.
    #[error("{kind} record without an id")]
    NoId {
        /// `user`, `system`, `mdm device`.
        kind: &'static str,
    },
}

/// A group as carried in `user.groups`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRef {
    /// Group id.
    pub uid: String,
    /// Group name.
    pub name: String,
    /// Application ids bound to the group.
    pub application_ids: Vec<String>,
}

/// An application as carried in `unmapped.jumpcloud.applications`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplicationRef {
    /// Application id.
    pub uid: String,
    /// Connector name (`salesforce`).
    pub name: String,
    /// Display label.
    pub label: String,
    /// Bound to the user directly.
    pub direct: bool,
    /// Groups through which the user reaches it.
    pub via_group_ids: Vec<String>,
}

/// A user as carried in `device.owner`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRef {
    /// User id.
    pub uid: String,
    /// Username.
    pub name: String,
    /// Email.
    pub email: String,
}

/// The edges of one user, resolved to names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserLinks {
    /// Groups the user is a direct member of.
    pub groups: Vec<GroupRef>,
    /// Applications the user reaches.
    pub applications: Vec<ApplicationRef>,
    /// System ids bound to the user.
    pub system_ids: Vec<String>,
}

fn text(record: &Value, field: &str) -> String {
    record
        .get(field)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// The change events between a previous snapshot (its user records and direct group
/// memberships, group id -> user ids) and `input`: Account Change (3001), User Access Management
/// (3005) and Group Management (3006), made at `processed_ms` (epoch ms).
pub fn snapshot_changes(
    previous_users: &[Value],
    previous_members: &BTreeMap<String, Vec<String>>,
    input: &InventoryInput,
    processed_ms: i64,
) -> Vec<crate::OcsfRecord> {
    let changes = diff_users(
        previous_users,
        &input.users,
        previous_members,
        &input.group_members,
    );
    let group_names: BTreeMap<String, String> = input
        .groups
        .iter()
        .filter_map(|g| Some((record_id(g)?, g.get("name")?.as_str()?.to_owned())))
        .collect();
    user_change_records(
        input.tenant_uid.as_deref(),
        input.collected_at_ms,
        processed_ms,
        &changes,
        previous_users,
        &input.users,
        &group_names,
    )
}

/// [`map_snapshot`]'s records, and apart the ones that could not be mapped (with their raw
/// JSON, for the dead-letter topic).
pub fn map_snapshot_split(
    input: &InventoryInput,
    processed_ms: i64,
) -> (Vec<crate::OcsfRecord>, Vec<(InventoryMapError, Value)>) {
    let mut records = Vec::with_capacity(input.users.len() + input.systems.len());
    let mut rejected = Vec::new();
    for result in map_snapshot(input, processed_ms) {
        match result {
            Ok(record) => records.push(record),
            Err(failure) => rejected.push(failure),
        }
    }
    (records, rejected)
}

/// Every record of one snapshot: 5003 per user, 5001 per system and per MDM device, in that
/// order, processed at `processed_ms` (epoch ms, `metadata.processed_time`). A record that
/// cannot be mapped is an `Err` with its raw JSON, for the dead-letter topic.
pub fn map_snapshot(
    input: &InventoryInput,
    processed_ms: i64,
) -> Vec<Result<crate::OcsfRecord, (InventoryMapError, Value)>> {
    let meta = common::SnapshotMeta {
        tenant_uid: input.tenant_uid.as_deref(),
        time_ms: input.collected_at_ms,
        processed_ms,
    };
    let group_names: BTreeMap<String, String> = input
        .groups
        .iter()
        .filter_map(|g| Some((record_id(g)?, text(g, "name"))))
        .collect();
    let mut group_apps: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (app, groups) in &input.application_groups {
        for group in groups {
            group_apps
                .entry(group.as_str())
                .or_default()
                .push(app.clone());
        }
    }
    let mut links: BTreeMap<String, UserLinks> = BTreeMap::new();
    for (group, members) in &input.group_members {
        let group_ref = GroupRef {
            uid: group.clone(),
            name: group_names.get(group).cloned().unwrap_or_default(),
            application_ids: group_apps.get(group.as_str()).cloned().unwrap_or_default(),
        };
        for member in members {
            links
                .entry(member.clone())
                .or_default()
                .groups
                .push(group_ref.clone());
        }
    }
    let applications: BTreeMap<String, &Value> = input
        .applications
        .iter()
        .filter_map(|a| Some((record_id(a)?, a)))
        .collect();
    for (app_id, bindings) in &input.application_users {
        let app = applications.get(app_id);
        for binding in bindings {
            links
                .entry(binding.user_id.clone())
                .or_default()
                .applications
                .push(ApplicationRef {
                    uid: app_id.clone(),
                    name: app.map(|a| text(a, "name")).unwrap_or_default(),
                    label: app
                        .map(|a| {
                            let label = text(a, "displayLabel");
                            if label.is_empty() {
                                text(a, "displayName")
                            } else {
                                label
                            }
                        })
                        .unwrap_or_default(),
                    direct: binding.direct,
                    via_group_ids: binding.via_group_ids.clone(),
                });
        }
    }
    for (system, users) in &input.system_users {
        for user in users {
            links
                .entry(user.clone())
                .or_default()
                .system_ids
                .push(system.clone());
        }
    }
    let user_refs: BTreeMap<String, UserRef> = input
        .users
        .iter()
        .filter_map(|u| {
            Some((
                record_id(u)?,
                UserRef {
                    uid: record_id(u)?,
                    name: text(u, "username"),
                    email: text(u, "email"),
                },
            ))
        })
        .collect();
    let owners_of = |system_id: Option<String>| -> Vec<UserRef> {
        system_id
            .and_then(|id| input.system_users.get(&id))
            .map(|ids| {
                ids.iter()
                    .map(|id| {
                        user_refs.get(id).cloned().unwrap_or(UserRef {
                            uid: id.clone(),
                            name: String::new(),
                            email: String::new(),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let empty = UserLinks::default();
    let mut out = Vec::with_capacity(input.users.len() + input.systems.len());
    for user in &input.users {
        let user_links = record_id(user)
            .and_then(|id| links.get(&id))
            .unwrap_or(&empty);
        out.push(user_inventory(&meta, user, user_links).map_err(|e| (e, user.clone())));
    }
    let mut serial_owner: BTreeMap<String, Vec<UserRef>> = BTreeMap::new();
    for system in &input.systems {
        let owners = owners_of(record_id(system));
        let serial = text(system, "serialNumber");
        if !serial.is_empty() && !owners.is_empty() {
            serial_owner.insert(serial, owners.clone());
        }
        out.push(system_inventory(&meta, system, &owners).map_err(|e| (e, system.clone())));
    }
    for device in &input.mdm_devices {
        let owners = serial_owner
            .get(&text(device, "serialNumber"))
            .cloned()
            .unwrap_or_default();
        out.push(mdm_device_inventory(&meta, device, &owners).map_err(|e| (e, device.clone())));
    }
    out
}
