//! The mapper's output: one OCSF 1.8.0 event, serialized, with the facts the producer needs
//! (topic, key, headers) lifted out so nobody parses the JSON again.

/// One OCSF event, ready to be encoded for Kafka: the facts and the JSON. Without the JSON
/// (`OcsfRecord<()>`, [`MappedEvent`]) it is the facts of an event whose JSON the mapper wrote
/// into a buffer of the caller's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OcsfRecord<Json = Vec<u8>> {
    /// `class_uid` (0 Base Event, 2004, 3001, 3002, 3004, 3005, 3006, 5001, 5003).
    pub class_uid: u32,
    /// The OCSF class name in snake case, as the schema names it: `base_event`,
    /// `detection_finding`,
    /// `authentication`, `account_change`, `entity_management`, `user_access`,
    /// `group_management`, `inventory_info`, `user_inventory`. Used for topic names.
    pub class_name: &'static str,
    /// `activity_id`.
    pub activity_id: i32,
    /// `metadata.uid`: deterministic UUIDv5 of (organization, id, timestamp).
    pub uid: String,
    /// `metadata.tenant_uid`: the JumpCloud organization.
    pub tenant_uid: Option<String>,
    /// `metadata.event_code`: the Directory Insights `event_type`.
    pub event_code: Option<String>,
    /// `metadata.original_event_uid`: the Directory Insights `id`.
    pub original_event_uid: Option<String>,
    /// The uid of the user the event is about (`user.uid`), the default Kafka key.
    pub subject_user_uid: Option<String>,
    /// The OCSF event as one compact JSON object (no trailing newline).
    pub json: Json,
}

/// What [`crate::Mapper::map_into`] returns: the record's facts, its JSON being in the caller's
/// buffer.
pub type MappedEvent = OcsfRecord<()>;

impl MappedEvent {
    /// Joins the facts with the serialized event.
    pub fn into_record(self, json: Vec<u8>) -> OcsfRecord {
        OcsfRecord {
            class_uid: self.class_uid,
            class_name: self.class_name,
            activity_id: self.activity_id,
            uid: self.uid,
            tenant_uid: self.tenant_uid,
            event_code: self.event_code,
            original_event_uid: self.original_event_uid,
            subject_user_uid: self.subject_user_uid,
            json,
        }
    }
}
