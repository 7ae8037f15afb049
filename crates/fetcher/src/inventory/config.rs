//! How the console inventory is collected.

use std::fmt;
use std::num::NonZeroU32;
use std::sync::Arc;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

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
    /// A cap on the inventory's own request rate, below the client's (which every request
    /// shares): the share of the request budget the inventory may take, so that it never
    /// starves the event sources. Clones share the cap.
    pub pace: RequestPace,
}

impl Default for InventoryConfig {
    fn default() -> Self {
        Self {
            page_size: 100,
            page_overlap: 5,
            concurrency: 8,
            device_owners: true,
            apple_mdm: true,
            pace: RequestPace::unlimited(),
        }
    }
}

/// A request-rate cap shared by clones (`None`: only the client's own cap applies).
#[derive(Clone, Default)]
pub struct RequestPace(Option<Arc<DefaultDirectRateLimiter>>);

impl RequestPace {
    /// No cap of its own.
    pub fn unlimited() -> Self {
        Self(None)
    }

    /// At most `per_second` requests a second, evenly spaced (bursts of one, so the
    /// inventory never takes a run of the client's budget at once).
    pub fn per_second(per_second: NonZeroU32) -> Self {
        let quota = Quota::per_second(per_second).allow_burst(NonZeroU32::MIN);
        Self(Some(Arc::new(RateLimiter::direct(quota))))
    }

    /// Waits until one more request is allowed.
    pub async fn wait(&self) {
        if let Some(limiter) = &self.0 {
            limiter.until_ready().await;
        }
    }
}

impl PartialEq for RequestPace {
    fn eq(&self, other: &Self) -> bool {
        match (&self.0, &other.0) {
            (None, None) => true,
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl fmt::Debug for RequestPace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            None => f.write_str("RequestPace(unlimited)"),
            Some(_) => f.write_str("RequestPace(capped)"),
        }
    }
}
