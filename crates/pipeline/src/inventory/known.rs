//! What the pipeline knows of each organisation's inventory: the latest committed state of
//! every user and device, as records of a compacted Kafka topic, and how a new snapshot is
//! compared with it.
//!
//! Keys (one record per entity, so compaction keeps each entity's latest state and a
//! tombstone removes a deleted one):
//!
//! - `<org>/user/<user id>`: `{"record": <the /api/systemusers record>, "groups": [group ids]}`:
//!   everything the comparison reads (state, lock, password expiry, MFA, admin, memberships);
//! - `<org>/device/<device id>`: [`KnownDevice`] (enough to report that it is gone);
//! - `<org>/snapshot`: `{"collected_at_ms": ..}`: the organisation has a committed snapshot
//!   (change events are computed from the second one on) and when it was taken (the schedule).

use std::collections::BTreeMap;

use mapper::OcsfRecord;
use mapper::inventory::{
    InventoryInput, InventoryMapError, KnownDevice, device_removed_records, known_devices,
    map_snapshot_split, record_id, snapshot_changes,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::destination::KeyedRecord;

/// A user as the last committed snapshot saw it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct KnownUser {
    /// The `/api/systemusers` record, verbatim.
    pub(crate) record: Value,
    /// The user groups the user is a direct member of (sorted).
    pub(crate) groups: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct SnapshotMarker {
    collected_at_ms: i64,
}

/// One organisation's inventory as last committed.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct KnownOrg {
    pub(crate) users: BTreeMap<String, KnownUser>,
    pub(crate) devices: BTreeMap<String, KnownDevice>,
    /// When the last committed snapshot was collected; `None`: there is none yet.
    pub(crate) collected_at_ms: Option<i64>,
}

/// A value in the state topic that is not what its key says.
#[derive(Debug, thiserror::Error)]
#[error("inventory state topic {topic}, key {key}: {reason}")]
pub struct CorruptState {
    topic: String,
    key: String,
    reason: String,
}

/// The state of `orgs` (other organisations' keys belong to other shards and are skipped).
pub(crate) fn load(
    topic: &str,
    records: BTreeMap<String, Vec<u8>>,
    orgs: &[String],
) -> Result<BTreeMap<String, KnownOrg>, CorruptState> {
    let mut known: BTreeMap<String, KnownOrg> = BTreeMap::new();
    for (key, value) in records {
        let corrupt = |reason: String| CorruptState {
            topic: topic.to_owned(),
            key: key.clone(),
            reason,
        };
        // Organisation ids hold no '/'; the entity id is everything after the kind.
        let Some((org, rest)) = key.split_once('/') else {
            return Err(corrupt("not <org>/<kind>[/<id>]".into()));
        };
        if !orgs.iter().any(|o| o == org) {
            continue;
        }
        let entry = known.entry(org.to_owned()).or_default();
        let json_error = |e: serde_json::Error| corrupt(e.to_string());
        match rest.split_once('/') {
            Some(("user", id)) => {
                let user: KnownUser = serde_json::from_slice(&value).map_err(json_error)?;
                entry.users.insert(id.to_owned(), user);
            }
            Some(("device", id)) => {
                let device: KnownDevice = serde_json::from_slice(&value).map_err(json_error)?;
                entry.devices.insert(id.to_owned(), device);
            }
            None if rest == "snapshot" => {
                let marker: SnapshotMarker = serde_json::from_slice(&value).map_err(json_error)?;
                entry.collected_at_ms = Some(marker.collected_at_ms);
            }
            _ => return Err(corrupt("unknown kind".into())),
        }
    }
    Ok(known)
}

/// What one snapshot writes: its records, what could not be mapped, the state records, and
/// the state it leaves once committed.
#[derive(Debug)]
pub(crate) struct PlannedSnapshot {
    /// 5003/5001 records, then the change events.
    pub(crate) records: Vec<OcsfRecord>,
    /// How many of `records` are change events.
    pub(crate) changes: usize,
    /// Console records that could not be mapped, with their raw JSON.
    pub(crate) rejected: Vec<(InventoryMapError, Value)>,
    /// The state topic's records: changed entities, tombstones of deleted ones, the marker.
    pub(crate) state: Vec<KeyedRecord>,
    /// The state once the snapshot is committed.
    pub(crate) next: KnownOrg,
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_default()
}

impl KnownOrg {
    /// The records and state writes of `input`, compared with `self`, made at `processed_ms`.
    pub(crate) fn plan(
        &self,
        topic: &str,
        org: &str,
        input: InventoryInput,
        processed_ms: i64,
    ) -> PlannedSnapshot {
        let (mut records, rejected) = map_snapshot_split(&input, processed_ms);
        let mut groups_of: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (group, members) in &input.group_members {
            for member in members {
                groups_of
                    .entry(member.clone())
                    .or_default()
                    .push(group.clone());
            }
        }
        let mut next = KnownOrg {
            collected_at_ms: Some(input.collected_at_ms),
            devices: known_devices(&input),
            ..KnownOrg::default()
        };
        for user in &input.users {
            let Some(id) = record_id(user) else { continue };
            let mut groups = groups_of.remove(&id).unwrap_or_default();
            groups.sort();
            groups.dedup();
            next.users.insert(
                id,
                KnownUser {
                    record: user.clone(),
                    groups,
                },
            );
        }
        let mut changes = 0;
        if self.collected_at_ms.is_some() {
            let previous_users: Vec<Value> =
                self.users.values().map(|u| u.record.clone()).collect();
            let mut previous_members: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for (id, user) in &self.users {
                for group in &user.groups {
                    previous_members
                        .entry(group.clone())
                        .or_default()
                        .push(id.clone());
                }
            }
            let mut found =
                snapshot_changes(&previous_users, &previous_members, &input, processed_ms);
            let removed: Vec<KnownDevice> = self
                .devices
                .iter()
                .filter(|(id, _)| !next.devices.contains_key(*id))
                .map(|(_, device)| device.clone())
                .collect();
            found.extend(device_removed_records(
                input.tenant_uid.as_deref(),
                input.collected_at_ms,
                processed_ms,
                &removed,
            ));
            changes = found.len();
            records.extend(found);
        }
        let state = self.writes(topic, org, &next);
        PlannedSnapshot {
            records,
            changes,
            rejected,
            state,
            next,
        }
    }

    /// The state records that turn `self` into `next`.
    fn writes(&self, topic: &str, org: &str, next: &KnownOrg) -> Vec<KeyedRecord> {
        let record = |key: String, value: Option<Vec<u8>>| KeyedRecord {
            topic: topic.to_owned(),
            key,
            value,
        };
        let mut writes = Vec::new();
        for (id, user) in &next.users {
            if self.users.get(id) != Some(user) {
                writes.push(record(format!("{org}/user/{id}"), Some(encode(user))));
            }
        }
        for id in self.users.keys().filter(|id| !next.users.contains_key(*id)) {
            writes.push(record(format!("{org}/user/{id}"), None));
        }
        for (id, device) in &next.devices {
            if self.devices.get(id) != Some(device) {
                writes.push(record(format!("{org}/device/{id}"), Some(encode(device))));
            }
        }
        for id in self
            .devices
            .keys()
            .filter(|id| !next.devices.contains_key(*id))
        {
            writes.push(record(format!("{org}/device/{id}"), None));
        }
        if let Some(collected_at_ms) = next.collected_at_ms {
            writes.push(record(
                format!("{org}/snapshot"),
                Some(encode(&SnapshotMarker { collected_at_ms })),
            ));
        }
        writes
    }
}
