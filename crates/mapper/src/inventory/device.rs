//! `/api/systems` and Apple MDM device records -> Device Inventory Info (5001).

use serde_json::{Map, Value, json};

use super::common::{self, DEVICE_INVENTORY_COLLECT, SnapshotMeta, epoch_ms, flag, put, text};
use super::{InventoryMapError, UserRef};

/// (`os.type_id`, caption) from an OS family or name.
fn os_type(family: &str, name: &str) -> (i32, &'static str) {
    let family = family.to_ascii_lowercase();
    let name = name.to_ascii_lowercase();
    if family == "darwin" || name.contains("mac") {
        (300, "macOS")
    } else if family == "windows" || name.contains("windows") {
        (100, "Windows")
    } else if name.contains("ipados") || name.contains("ipad") {
        (302, "iPadOS")
    } else if family == "ios" || name.contains("ios") || name.contains("iphone") {
        (301, "iOS")
    } else if family == "android" || name.contains("android") {
        (201, "Android")
    } else if family == "linux"
        || [
            "ubuntu",
            "debian",
            "centos",
            "red hat",
            "rhel",
            "fedora",
            "amazon linux",
            "linux",
        ]
        .iter()
        .any(|d| name.contains(d))
    {
        (200, "Linux")
    } else {
        (0, "Unknown")
    }
}

/// (`device.type_id`, caption) from an Apple model name; Unknown when there is no hint.
fn device_type(model: &str) -> (i32, &'static str) {
    let model = model.to_ascii_lowercase();
    if model.contains("macbook") {
        (3, "Laptop")
    } else if model.contains("imac")
        || model.contains("mac mini")
        || model.contains("mac pro")
        || model.contains("mac studio")
    {
        (2, "Desktop")
    } else if model.contains("ipad") {
        (4, "Tablet")
    } else if model.contains("iphone") {
        (5, "Mobile")
    } else {
        (0, "Unknown")
    }
}

fn owner_object(owner: &UserRef) -> Value {
    let mut user = Map::new();
    user.insert("uid".into(), json!(owner.uid));
    if !owner.name.is_empty() {
        user.insert("name".into(), json!(owner.name));
    }
    if !owner.email.is_empty() {
        user.insert("email_addr".into(), json!(owner.email));
    }
    Value::Object(user)
}

fn keep(record: &Value, fields: &[&str], into: &mut Map<String, Value>) {
    for field in fields {
        if let Some(value) = record.get(*field)
            && !value.is_null()
        {
            into.insert((*field).to_owned(), value.clone());
        }
    }
}

fn finish(
    meta: &SnapshotMeta<'_>,
    kind: &str,
    id: String,
    mut device: Map<String, Value>,
    owners: &[UserRef],
    mut jumpcloud: Map<String, Value>,
    message: String,
) -> crate::OcsfRecord {
    let header = DEVICE_INVENTORY_COLLECT;
    let tenant = meta.tenant_uid.unwrap_or_default();
    let uid = common::uid_of(&format!(
        "jumpcloud:inventory:{tenant}:{kind}:{id}:{}",
        meta.time_ms
    ));
    let (event_code, log_name) = match kind {
        "system" => ("system", "systems"),
        _ => ("applemdm_device", "applemdms"),
    };
    let mut event = common::skeleton(header, meta, &uid, event_code, log_name, 1);
    event.insert("message".into(), json!(message));
    if let Some(owner) = owners.first() {
        device.insert("owner".into(), owner_object(owner));
    }
    if let Some(tenant) = meta.tenant_uid {
        device.insert("org".into(), json!({"uid": tenant}));
    }
    let mut observables = vec![common::observable(
        "device.uid",
        47,
        "Device Object: uid",
        &id,
    )];
    if let Some(hostname) = device.get("hostname").and_then(Value::as_str) {
        observables.push(common::observable(
            "device.hostname",
            1,
            "Hostname",
            hostname,
        ));
    }
    if let Some(ip) = device.get("ip").and_then(Value::as_str) {
        observables.push(common::observable("device.ip", 2, "IP Address", ip));
    }
    if let Some(mac) = device.get("mac").and_then(Value::as_str) {
        observables.push(common::observable("device.mac", 3, "MAC Address", mac));
    }
    if let Some(serial) = device
        .get("hw_info")
        .and_then(|h| h.get("serial_number"))
        .and_then(Value::as_str)
    {
        observables.push(common::observable(
            "device.hw_info.serial_number",
            37,
            "Serial Number",
            serial,
        ));
    }
    jumpcloud.insert(
        "user_uids".into(),
        json!(owners.iter().map(|o| o.uid.as_str()).collect::<Vec<_>>()),
    );
    event.insert("device".into(), Value::Object(device));
    event.insert("observables".into(), Value::Array(observables));
    event.insert("unmapped".into(), json!({ "jumpcloud": jumpcloud }));
    common::record(header, uid, meta.tenant_uid, event_code, Some(id), event)
}

/// One `/api/systems` record -> Device Inventory Info (5001, Collect), keyed by the system id.
/// `owners` are the users bound to it (the first is `device.owner`).
pub fn system_inventory(
    meta: &SnapshotMeta<'_>,
    system: &Value,
    owners: &[UserRef],
) -> Result<crate::OcsfRecord, InventoryMapError> {
    if !system.is_object() {
        return Err(InventoryMapError::NotAnObject { kind: "system" });
    }
    let id = super::record_id(system).ok_or(InventoryMapError::NoId { kind: "system" })?;
    let mut device = Map::new();
    device.insert("uid".into(), json!(id));
    put(&mut device, "hostname", text(system, "hostname"));
    put(&mut device, "name", text(system, "displayName"));
    let (type_id, type_caption) = device_type(text(system, "model").unwrap_or_default());
    device.insert("type_id".into(), json!(type_id));
    device.insert("type".into(), json!(type_caption));
    let os_name = text(system, "os").unwrap_or_default();
    let (os_type_id, os_caption) = os_type(text(system, "osFamily").unwrap_or_default(), os_name);
    let mut os = Map::new();
    os.insert(
        "name".into(),
        json!(if os_name.is_empty() {
            os_caption
        } else {
            os_name
        }),
    );
    os.insert("type_id".into(), json!(os_type_id));
    os.insert("type".into(), json!(os_caption));
    put(&mut os, "version", text(system, "version"));
    device.insert("os".into(), Value::Object(os));
    if let Some(ip) = text(system, "remoteIP").filter(|ip| ip.parse::<std::net::IpAddr>().is_ok()) {
        device.insert("ip".into(), json!(ip));
    }
    if let Some(serial) = text(system, "serialNumber") {
        device.insert("hw_info".into(), json!({"serial_number": serial}));
    }
    let mut agent = Map::new();
    agent.insert("name".into(), json!("JumpCloud Agent"));
    agent.insert("uid".into(), json!(id));
    agent.insert("type_id".into(), json!(8));
    agent.insert("type".into(), json!("Configuration Management"));
    agent.insert("vendor_name".into(), json!("JumpCloud"));
    put(&mut agent, "version", text(system, "agentVersion"));
    device.insert("agent_list".into(), json!([agent]));
    put(
        &mut device,
        "last_seen_time",
        epoch_ms(system.get("lastContact")),
    );
    put(&mut device, "created_time", epoch_ms(system.get("created")));
    device.insert("is_managed".into(), json!(true));
    let mut jumpcloud = Map::new();
    keep(
        system,
        &[
            "active",
            "lastContact",
            "agentVersion",
            "fde",
            "mdm",
            "osFamily",
            "arch",
            "osVersionDetail",
            "systemInsights",
            "secureLogin",
            "allowMultiFactorAuthentication",
            "allowSshPasswordAuthentication",
            "allowSshRootLogin",
            "serialNumber",
        ],
        &mut jumpcloud,
    );
    let encrypted = system.pointer("/fde/active").and_then(Value::as_bool);
    let message = format!(
        "JumpCloud system {}: {} {}, agent {}, disk encryption {}",
        text(system, "hostname").unwrap_or(&id),
        os_name,
        text(system, "version").unwrap_or_default(),
        text(system, "agentVersion").unwrap_or("unknown"),
        match encrypted {
            Some(true) => "on",
            Some(false) => "off",
            None => "unknown",
        }
    );
    Ok(finish(
        meta, "system", id, device, owners, jumpcloud, message,
    ))
}

/// One Apple MDM device record -> Device Inventory Info (5001, Collect), keyed by the device id.
/// `owners` are the users of the agent system with the same serial number, if any.
pub fn mdm_device_inventory(
    meta: &SnapshotMeta<'_>,
    mdm_device: &Value,
    owners: &[UserRef],
) -> Result<crate::OcsfRecord, InventoryMapError> {
    if !mdm_device.is_object() {
        return Err(InventoryMapError::NotAnObject { kind: "mdm device" });
    }
    let id = super::record_id(mdm_device).ok_or(InventoryMapError::NoId { kind: "mdm device" })?;
    let info = mdm_device
        .get("deviceInformation")
        .cloned()
        .unwrap_or(Value::Null);
    let model = text(&info, "modelName").unwrap_or_default();
    let mut device = Map::new();
    device.insert("uid".into(), json!(id));
    put(&mut device, "name", text(&info, "deviceName"));
    put(&mut device, "udid", text(mdm_device, "udid"));
    let (type_id, type_caption) = device_type(model);
    device.insert("type_id".into(), json!(type_id));
    device.insert("type".into(), json!(type_caption));
    put(&mut device, "model", Some(model).filter(|m| !m.is_empty()));
    let (os_type_id, os_caption) = os_type("", model);
    let (os_type_id, os_caption) = if os_type_id == 0 {
        (300, "macOS")
    } else {
        (os_type_id, os_caption)
    };
    let mut os = Map::new();
    os.insert("name".into(), json!(os_caption));
    os.insert("type_id".into(), json!(os_type_id));
    os.insert("type".into(), json!(os_caption));
    put(&mut os, "version", text(mdm_device, "osVersion"));
    device.insert("os".into(), Value::Object(os));
    if let Some(serial) = text(mdm_device, "serialNumber") {
        device.insert("hw_info".into(), json!({"serial_number": serial}));
    }
    if let Some(mac) = text(&info, "wifiMac") {
        device.insert("mac".into(), json!(mac));
    }
    put(&mut device, "is_supervised", flag(&info, "isSupervised"));
    put(&mut device, "is_managed", flag(mdm_device, "enrolled"));
    put(
        &mut device,
        "created_time",
        epoch_ms(mdm_device.get("createdAt")),
    );
    let mut agent = Map::new();
    agent.insert("name".into(), json!("JumpCloud Apple MDM"));
    put(&mut agent, "uid", text(mdm_device, "appleMdmId"));
    agent.insert("type_id".into(), json!(7));
    agent.insert("type".into(), json!("Mobile Device Management"));
    agent.insert("vendor_name".into(), json!("JumpCloud"));
    device.insert("agent_list".into(), json!([agent]));
    let mut jumpcloud = Map::new();
    keep(
        mdm_device,
        &[
            "appleMdmId",
            "enrolled",
            "depRegistered",
            "createdAt",
            "hasActivationLockBypassCodes",
            "securityInfo",
            "serialNumber",
        ],
        &mut jumpcloud,
    );
    let message = format!(
        "JumpCloud Apple MDM device {} ({}): {}",
        text(&info, "deviceName").unwrap_or(&id),
        if model.is_empty() {
            "unknown model"
        } else {
            model
        },
        if flag(mdm_device, "enrolled") == Some(true) {
            "enrolled"
        } else {
            "not enrolled"
        }
    );
    Ok(finish(
        meta,
        "mdm_device",
        id,
        device,
        owners,
        jumpcloud,
        message,
    ))
}
