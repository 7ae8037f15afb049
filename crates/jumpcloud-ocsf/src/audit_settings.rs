//! `[audit]`: the audit of delivered counts against Directory Insights' own count (on by
//! default), and the plan the pipeline audits by.

use std::time::Duration;

use anyhow::{Result, bail};
use fetcher::JumpCloudClient;
use pipeline::AuditPlan;
use pipeline::audit::Windows;
use serde::Deserialize;

/// `[audit]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuditSettings {
    /// Count what each unit delivers per window and audit the settled windows inside `run`.
    /// Default on; needs `[pipeline] state_store = "kafka"` (the counts live beside the cursors).
    pub enabled: bool,
    /// The windows of event time (UTC) counted and audited: whole seconds dividing a day.
    /// Default 1 h.
    #[serde(deserialize_with = "fetcher::duration::deserialize")]
    pub window: Duration,
    /// A window is audited once its end is this old (and its organisation's cursor is an overlap
    /// past it): events JumpCloud makes visible later than this are not seen. Default 1 h.
    #[serde(deserialize_with = "fetcher::duration::deserialize")]
    pub settle_after: Duration,
    /// Fetch a window missing events again and deliver what was not delivered. Default on.
    pub repair: bool,
    /// A window still missing events this long after its end is given up: reported, its
    /// event identities dropped. Default 24 h.
    #[serde(deserialize_with = "fetcher::duration::deserialize")]
    pub repair_for: Duration,
    /// Summaries of audited windows are kept this long in the state topic (for
    /// `jumpcloud-ocsf audit`). Default 7 days.
    #[serde(deserialize_with = "fetcher::duration::deserialize")]
    pub keep_summaries: Duration,
}

impl Default for AuditSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            window: Duration::from_secs(3600),
            settle_after: Duration::from_secs(3600),
            repair: true,
            repair_for: Duration::from_secs(24 * 3600),
            keep_summaries: Duration::from_secs(7 * 86_400),
        }
    }
}

impl AuditSettings {
    /// Checks the settings.
    pub fn validate(&self) -> Result<()> {
        if let Err(reason) = Windows::new(self.window) {
            bail!("audit.window: {reason}");
        }
        if self.settle_after.is_zero() {
            bail!("audit.settle_after must be longer than 0");
        }
        Ok(())
    }

    /// The windows.
    pub fn windows(&self) -> Windows {
        Windows::new(self.window).unwrap_or_else(|_| Windows::hourly())
    }

    /// The pipeline's audit plan, counting and repairing with `client`; `None` when disabled.
    pub fn plan(&self, client: &JumpCloudClient) -> Option<AuditPlan> {
        self.enabled.then(|| AuditPlan {
            client: client.clone(),
            windows: self.windows(),
            settle_after: self.settle_after,
            repair: self.repair,
            repair_for: self.repair_for,
            keep_summaries: self.keep_summaries,
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::config::AppConfig;

    #[test]
    fn hours_settled_for_an_hour_by_default_and_windows_must_divide_a_day() {
        let config =
            AppConfig::parse("[audit]\nwindow = \"10s\"\nsettle_after = \"30s\"\n").unwrap();
        config.validate().unwrap();
        assert_eq!(config.audit.windows().span_ms(), 10_000);
        let defaults = AppConfig::default();
        assert!(defaults.audit.enabled && defaults.audit.repair);
        assert_eq!(defaults.audit.windows().span_ms(), 3_600_000);
        let odd = AppConfig::parse("[audit]\nwindow = \"7m\"\n").unwrap();
        let error = odd.validate().unwrap_err().to_string();
        assert!(error.starts_with("audit.window: "), "{error}");
    }
}
