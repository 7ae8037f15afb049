//! How the console inventory is collected.

/// Inventory collection settings.
#[derive(Clone, Debug, PartialEq)]
pub struct InventoryConfig {
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
            page_size: 100,
            page_overlap: 5,
            concurrency: 8,
            device_owners: true,
            apple_mdm: true,
        }
    }
}
