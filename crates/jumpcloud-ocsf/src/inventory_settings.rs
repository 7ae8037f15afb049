//! `[inventory]`: inventory snapshots inside `run` (off by default), and the plan the pipeline
//! takes them by.

use std::num::NonZeroU32;
use std::time::Duration;

use anyhow::{Result, bail};
use fetcher::JumpCloudClient;
use fetcher::inventory::{InventoryConfig, RequestPace};
use pipeline::InventoryPlan;
use serde::Deserialize;

/// `[inventory]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InventorySettings {
    /// Take snapshots inside `run`. Default off: a snapshot costs console API requests (one per
    /// user with `device_owners`) and needs the inventory state topic and its ACLs.
    pub enabled: bool,
    /// Time from one organisation's snapshot to its next. Default 6 h: account-state changes
    /// made outside Directory Insights' view show within a working shift, and a 10,000-user
    /// organisation (about 10,200 requests at 2 a second: 85 minutes) finishes well inside it.
    #[serde(deserialize_with = "fetcher::duration::deserialize")]
    pub interval: Duration,
    /// Time before a failed snapshot is taken again. Default 5 min.
    #[serde(deserialize_with = "fetcher::duration::deserialize")]
    pub retry_after: Duration,
    /// The compacted topic with each user's and device's latest state. Default
    /// `jumpcloud-ocsf.inventory-state`.
    pub state_topic: String,
    /// The inventory's own request-rate cap, below `jumpcloud.max_requests_per_sec` (which
    /// every request shares), so the event sources always have the rest. Default 2.
    pub max_requests_per_sec: u32,
    /// Per-entity requests in flight (group members, application bindings, device owners).
    /// Default 2.
    pub concurrency: usize,
    /// Collect device -> user bindings (one request per user). Default on.
    pub device_owners: bool,
    /// Collect Apple MDM servers and devices. Default on.
    pub apple_mdm: bool,
}

impl Default for InventorySettings {
    fn default() -> Self {
        Self {
            enabled: false,
            interval: Duration::from_secs(6 * 3600),
            retry_after: Duration::from_secs(300),
            state_topic: "jumpcloud-ocsf.inventory-state".into(),
            max_requests_per_sec: 2,
            concurrency: 2,
            device_owners: true,
            apple_mdm: true,
        }
    }
}

impl InventorySettings {
    /// Checks the settings against the client's rate cap.
    pub fn validate(&self, client_requests_per_sec: u32) -> Result<()> {
        if !self.enabled {
            return Ok(());
        }
        if self.interval.is_zero() || self.retry_after.is_zero() {
            bail!("inventory.interval and inventory.retry_after must be longer than 0");
        }
        if self.max_requests_per_sec == 0 || self.max_requests_per_sec >= client_requests_per_sec {
            bail!(
                "inventory.max_requests_per_sec ({}) must be at least 1 and below jumpcloud.max_requests_per_sec ({client_requests_per_sec}), so the event sources keep a share of the request budget",
                self.max_requests_per_sec
            );
        }
        if self.state_topic.trim().is_empty() {
            bail!("inventory.state_topic must not be empty");
        }
        Ok(())
    }

    /// The pipeline's inventory plan, collecting with `client`; `None` when disabled.
    pub fn plan(&self, client: &JumpCloudClient) -> Option<InventoryPlan> {
        if !self.enabled {
            return None;
        }
        let pace = NonZeroU32::new(self.max_requests_per_sec)
            .map(RequestPace::per_second)
            .unwrap_or_default();
        Some(InventoryPlan {
            client: client.clone(),
            collect: InventoryConfig {
                concurrency: self.concurrency.max(1),
                device_owners: self.device_owners,
                apple_mdm: self.apple_mdm,
                pace,
                ..InventoryConfig::default()
            },
            interval: self.interval,
            retry_after: self.retry_after,
            state_topic: self.state_topic.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::AppConfig;

    #[test]
    fn off_by_default_and_six_hours_apart_when_enabled() {
        let config = AppConfig::parse("[inventory]\nenabled = true\n").unwrap();
        config.validate().unwrap();
        assert!(!InventorySettings::default().enabled);
        assert_eq!(config.inventory.interval, Duration::from_secs(6 * 3600));
        assert_eq!(config.inventory.max_requests_per_sec, 2);
    }

    #[test]
    fn the_inventory_may_not_take_the_whole_request_budget() {
        let config = AppConfig::parse(
            "[jumpcloud]\nmax_requests_per_sec = 5\n[inventory]\nenabled = true\nmax_requests_per_sec = 5\n",
        )
        .unwrap();
        let error = config.validate().unwrap_err().to_string();
        assert!(
            error.contains("below jumpcloud.max_requests_per_sec (5)"),
            "{error}"
        );
        let disabled = AppConfig::parse(
            "[jumpcloud]\nmax_requests_per_sec = 5\n[inventory]\nmax_requests_per_sec = 5\n",
        )
        .unwrap();
        disabled.validate().unwrap();
    }
}
