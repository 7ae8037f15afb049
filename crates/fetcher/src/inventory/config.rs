//! `[inventory]`: how the console inventory is collected and how often.

use serde::Deserialize;
use std::time::Duration;

/// Inventory collection settings.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct InventoryConfig {
    /// Snapshot interval of the running pipeline (default 6 h; one snapshot is also taken at
    /// start).
    #[serde(deserialize_with = "crate::duration::deserialize")]
    pub interval: Duration,
    /// `limit` of each list request (the console API caps it at 100).
    pub page_size: usize,
    /// Rows re-read at the start of each page so that rows deleted between pages leave no gap
    /// (duplicates are removed by id).
    pub page_overlap: usize,
    /// Per-entity requests (group members, app bindings, device owners) in flight at once.
    pub concurrency: usize,
    /// Collect device -> user bindings (`/api/v2/users/{id}/systems`, one request per user).
    pub device_owners: bool,
    /// Collect Apple MDM servers and their devices.
    pub apple_mdm: bool,
}

impl Default for InventoryConfig {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(6 * 3600),
            page_size: 100,
            page_overlap: 5,
            concurrency: 8,
            device_owners: true,
            apple_mdm: true,
        }
    }
}
