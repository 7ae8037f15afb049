//! What every inventory-derived record shares: class header, metadata, ids, times.

use serde_json::{Map, Value, json};

use crate::ocsf::{OCSF_VERSION, OcsfClass, severity_caption};

/// The snapshot a record belongs to.
#[derive(Debug, Clone, Copy)]
pub struct SnapshotMeta<'a> {
    /// Organisation.
    pub tenant_uid: Option<&'a str>,
    /// Collection time, epoch ms.
    pub time_ms: i64,
    /// When the record is made, epoch ms (`metadata.processed_time`).
    pub processed_ms: i64,
}

/// Class facts of one record.
#[derive(Debug, Clone, Copy)]
pub struct ClassHeader {
    pub class_uid: u32,
    pub class_caption: &'static str,
    pub class_name: &'static str,
    pub category_uid: u32,
    pub category_caption: &'static str,
    pub activity_id: i32,
    pub activity_caption: &'static str,
}

/// The Discovery category of the inventory classes.
const DISCOVERY: (u32, &str) = (5, "Discovery");

/// 5003 Collect.
pub const USER_INVENTORY_COLLECT: ClassHeader = ClassHeader {
    class_uid: 5003,
    class_caption: "User Inventory Info",
    class_name: "user_inventory",
    category_uid: DISCOVERY.0,
    category_caption: DISCOVERY.1,
    activity_id: 2,
    activity_caption: "Collect",
};

/// 5001 Collect.
pub const DEVICE_INVENTORY_COLLECT: ClassHeader = ClassHeader {
    class_uid: 5001,
    class_caption: "Device Inventory Info",
    class_name: "inventory_info",
    category_uid: DISCOVERY.0,
    category_caption: DISCOVERY.1,
    activity_id: 2,
    activity_caption: "Collect",
};

/// One of the mapper's event classes with an activity.
fn event_class(class: OcsfClass, activity_id: i32, activity_caption: &'static str) -> ClassHeader {
    ClassHeader {
        class_uid: class.uid(),
        class_caption: class.caption(),
        class_name: class.schema_name(),
        category_uid: class.category_uid(),
        category_caption: class.category_caption(),
        activity_id,
        activity_caption,
    }
}

/// Account Change with an activity.
pub fn account_change(activity_id: i32, activity_caption: &'static str) -> ClassHeader {
    event_class(OcsfClass::AccountChange, activity_id, activity_caption)
}

/// User Access Management with an activity.
pub fn user_access(activity_id: i32, activity_caption: &'static str) -> ClassHeader {
    event_class(OcsfClass::UserAccess, activity_id, activity_caption)
}

/// Group Management with an activity.
pub fn group_management(activity_id: i32, activity_caption: &'static str) -> ClassHeader {
    event_class(OcsfClass::GroupManagement, activity_id, activity_caption)
}

/// Entity Management with an activity.
pub fn entity_management(activity_id: i32, activity_caption: &'static str) -> ClassHeader {
    event_class(OcsfClass::EntityManagement, activity_id, activity_caption)
}

/// Deterministic `metadata.uid`: UUIDv5 (URL namespace) of `name`.
pub fn uid_of(name: &str) -> String {
    uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, name.as_bytes()).to_string()
}

/// An RFC 3339 string as epoch ms.
pub fn epoch_ms(value: Option<&Value>) -> Option<i64> {
    let text = value?.as_str()?;
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.timestamp_millis())
}

/// Non-empty string field.
pub fn text<'a>(record: &'a Value, field: &str) -> Option<&'a str> {
    record
        .get(field)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// Boolean field.
pub fn flag(record: &Value, field: &str) -> Option<bool> {
    record.get(field).and_then(Value::as_bool)
}

/// Inserts `value` unless it is `None`.
pub fn put(map: &mut Map<String, Value>, key: &str, value: Option<impl Into<Value>>) {
    if let Some(value) = value {
        map.insert(key.to_owned(), value.into());
    }
}

/// The event skeleton: class, activity, type, severity, time, metadata.
pub fn skeleton(
    header: ClassHeader,
    meta: &SnapshotMeta<'_>,
    uid: &str,
    event_code: &str,
    log_name: &str,
    severity_id: i32,
) -> Map<String, Value> {
    let mut metadata = Map::new();
    metadata.insert("version".into(), json!(OCSF_VERSION));
    metadata.insert(
        "product".into(),
        json!({"name": "JumpCloud Directory", "vendor_name": "JumpCloud", "feature": {"name": "inventory"}}),
    );
    metadata.insert("uid".into(), json!(uid));
    metadata.insert("event_code".into(), json!(event_code));
    metadata.insert("log_name".into(), json!(log_name));
    metadata.insert("log_provider".into(), json!("JumpCloud Console API"));
    metadata.insert("processed_time".into(), json!(meta.processed_ms));
    put(&mut metadata, "tenant_uid", meta.tenant_uid);
    let severity = severity_caption(severity_id).unwrap_or("Unknown");
    let mut event = Map::new();
    event.insert("class_uid".into(), json!(header.class_uid));
    event.insert("class_name".into(), json!(header.class_caption));
    event.insert("category_uid".into(), json!(header.category_uid));
    event.insert("category_name".into(), json!(header.category_caption));
    event.insert("activity_id".into(), json!(header.activity_id));
    event.insert("activity_name".into(), json!(header.activity_caption));
    event.insert(
        "type_uid".into(),
        json!(i64::from(header.class_uid) * 100 + i64::from(header.activity_id)),
    );
    event.insert(
        "type_name".into(),
        json!(format!(
            "{}: {}",
            header.class_caption,
            // For 99 Other, activity_name carries the source's own value; type_name the caption.
            if header.activity_id == 99 {
                "Other"
            } else {
                header.activity_caption
            }
        )),
    );
    event.insert("severity_id".into(), json!(severity_id));
    event.insert("severity".into(), json!(severity));
    event.insert("time".into(), json!(meta.time_ms));
    event.insert("metadata".into(), Value::Object(metadata));
    event
}

/// One observable.
pub fn observable(name: &str, type_id: i32, caption: &str, value: &str) -> Value {
    json!({"name": name, "type_id": type_id, "type": caption, "value": value})
}

/// Serializes the event into an [`crate::OcsfRecord`].
pub fn record(
    header: ClassHeader,
    uid: String,
    tenant_uid: Option<&str>,
    event_code: &str,
    key: Option<String>,
    event: Map<String, Value>,
) -> crate::OcsfRecord {
    let json = serde_json::to_vec(&Value::Object(event)).unwrap_or_default();
    crate::OcsfRecord {
        class_uid: header.class_uid,
        class_name: header.class_name,
        activity_id: header.activity_id,
        uid,
        tenant_uid: tenant_uid.map(str::to_owned),
        event_code: Some(event_code.to_owned()),
        original_event_uid: None,
        subject_user_uid: key,
        json,
    }
}
