//! The JumpCloud console's records as the API returns them.
//!
//! One job: name the console data that `fetcher` collects and `mapper` maps, so that neither
//! crate knows the other (the JumpCloud client knows no OCSF; the mapper does no I/O). The
//! records are kept verbatim (`serde_json::Value`, every field optional) and the edges between
//! them by id; nothing here reads, maps or validates them.
//!
//! ```
//! use serde_json::json;
//!
//! let inventory = console_model::InventoryInput {
//!     tenant_uid: Some("org-1".into()),
//!     users: vec![json!({"_id": "u1", "username": "ada"})],
//!     ..Default::default()
//! };
//! assert_eq!(console_model::record_id(&inventory.users[0]).as_deref(), Some("u1"));
//! ```

use std::collections::BTreeMap;

use serde_json::Value;

/// How a user reaches an SSO application.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct ApplicationBinding {
    /// The user's id.
    pub user_id: String,
    /// Bound to the user directly (a path of one step).
    pub direct: bool,
    /// The user groups through which the user is bound (sorted, unique).
    pub via_group_ids: Vec<String>,
}

/// One organisation's inventory as the console API returned it (records verbatim, edges by
/// id): what the fetcher collects and the mapper maps.
#[derive(Debug, Clone, Default)]
pub struct InventoryInput {
    /// The organisation's id as resolved (the requested one, or the only one the credential
    /// reaches): `metadata.tenant_uid`.
    pub tenant_uid: Option<String>,
    /// When the collection started, epoch ms (`time` of every record).
    pub collected_at_ms: i64,
    /// `GET /api/systemusers` records.
    pub users: Vec<Value>,
    /// `GET /api/systems` records.
    pub systems: Vec<Value>,
    /// `GET /api/v2/usergroups` records.
    pub groups: Vec<Value>,
    /// Group id -> direct member user ids (`/api/v2/usergroups/{id}/members`, type `user`).
    pub group_members: BTreeMap<String, Vec<String>>,
    /// `GET /api/applications` records.
    pub applications: Vec<Value>,
    /// Application id -> bound user group ids (`/api/v2/applications/{id}/usergroups`).
    pub application_groups: BTreeMap<String, Vec<String>>,
    /// Application id -> users who reach it (`/api/v2/applications/{id}/users`, with paths).
    pub application_users: BTreeMap<String, Vec<ApplicationBinding>>,
    /// `GET /api/v2/applemdms` records.
    pub apple_mdms: Vec<Value>,
    /// Devices of every Apple MDM server (`/api/v2/applemdms/{id}/devices`, with `appleMdmId`).
    pub mdm_devices: Vec<Value>,
    /// System id -> bound user ids (`/api/v2/users/{id}/systems`); empty when the collection
    /// skipped device owners.
    pub system_users: BTreeMap<String, Vec<String>>,
}

/// The id of a console record: `_id` (v1 lists), else `id` (v2 lists).
pub fn record_id(record: &Value) -> Option<String> {
    record
        .get("_id")
        .or_else(|| record.get("id"))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::record_id;

    #[test]
    fn record_id_prefers_underscore_id() {
        assert_eq!(
            record_id(&json!({"_id": "a", "id": "b"})).as_deref(),
            Some("a")
        );
        assert_eq!(record_id(&json!({"id": "b"})).as_deref(), Some("b"));
        assert_eq!(record_id(&json!({"name": "x"})), None);
        assert_eq!(record_id(&json!({"_id": 7})), None);
    }
}
