//! Devices gone since the previous snapshot, as Entity Management (3004) Delete events, and
//! what a snapshot must remember of each device to report it ([`KnownDevice`]).

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::common::{self, SnapshotMeta};
use super::{InventoryInput, record_id};

/// A device as a snapshot saw it: enough to say which device is gone.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct KnownDevice {
    /// The console id (`_id` of `/api/systems`, `id` of an Apple MDM device).
    pub uid: String,
    /// `system` or `applemdm_device`.
    pub kind: String,
    /// Hostname, display name or device name, when the console gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Serial number, when the console gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial: Option<String>,
}

fn non_empty(record: &Value, pointer: &str) -> Option<String> {
    record
        .pointer(pointer)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// Every device of `input` (systems, then Apple MDM devices) by id; records without an id are
/// left out (they are dead-lettered by [`super::map_snapshot`]).
pub fn known_devices(input: &InventoryInput) -> BTreeMap<String, KnownDevice> {
    let systems = input.systems.iter().filter_map(|system| {
        Some(KnownDevice {
            uid: record_id(system)?,
            kind: "system".into(),
            name: non_empty(system, "/hostname").or_else(|| non_empty(system, "/displayName")),
            serial: non_empty(system, "/serialNumber"),
        })
    });
    let mdm = input.mdm_devices.iter().filter_map(|device| {
        Some(KnownDevice {
            uid: record_id(device)?,
            kind: "applemdm_device".into(),
            name: non_empty(device, "/deviceInformation/deviceName"),
            serial: non_empty(device, "/serialNumber"),
        })
    });
    systems
        .chain(mdm)
        .map(|device| (device.uid.clone(), device))
        .collect()
}

/// Entity Management (3004) Delete per device of `removed`, found gone at `time_ms` and
/// processed at `processed_ms` (epoch ms). Keyed by the device id.
pub fn device_removed_records(
    tenant_uid: Option<&str>,
    time_ms: i64,
    processed_ms: i64,
    removed: &[KnownDevice],
) -> Vec<crate::OcsfRecord> {
    let meta = SnapshotMeta {
        tenant_uid,
        time_ms,
        processed_ms,
    };
    let header = common::entity_management(4, "Delete");
    let code = "inventory_device_deleted";
    let tenant = tenant_uid.unwrap_or_default();
    removed
        .iter()
        .map(|device| {
            let uid = common::uid_of(&format!(
                "jumpcloud:inventory-change:{tenant}:{code}:{}:{time_ms}",
                device.uid
            ));
            let log_name = match device.kind.as_str() {
                "system" => "systems",
                _ => "applemdms",
            };
            let mut event = common::skeleton(header, &meta, &uid, code, log_name, 1);
            let mut entity = Map::new();
            entity.insert("uid".into(), json!(device.uid));
            common::put(&mut entity, "name", device.name.clone());
            entity.insert("type".into(), json!(device.kind));
            event.insert("entity".into(), Value::Object(entity));
            let name = device.name.as_deref().unwrap_or(device.uid.as_str());
            event.insert(
                "message".into(),
                json!(format!("inventory comparison: device {name} deleted")),
            );
            event.insert(
                "unmapped".into(),
                json!({"jumpcloud": {"detected_by": "inventory_comparison",
                    "device_kind": device.kind, "serial_number": device.serial}}),
            );
            common::record(
                header,
                uid,
                tenant_uid,
                code,
                Some(device.uid.clone()),
                event,
            )
        })
        .collect()
}
