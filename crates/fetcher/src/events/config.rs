//! Configuration of the Directory Insights event sources (TOML table `[events]`).

use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;

/// How event sources poll, page and checkpoint.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct EventsConfig {
    /// Directory Insights services; `["all"]` lets unknown event types through to the mapper.
    pub services: Vec<String>,
    /// Window end is `now - lag` (events the API has not populated yet are not asked for).
    #[serde(deserialize_with = "crate::duration::deserialize")]
    pub lag: Duration,
    /// Window start is `cursor - overlap` (late events are picked up; repeats are dropped).
    #[serde(deserialize_with = "crate::duration::deserialize")]
    pub overlap: Duration,
    /// Continuous mode: wait this long after catching up before polling again.
    #[serde(deserialize_with = "crate::duration::deserialize")]
    pub poll_interval: Duration,
    /// Page size (`limit`, max 10000).
    pub page_limit: usize,
    /// First run without a checkpoint: start this far back.
    #[serde(deserialize_with = "crate::duration::deserialize")]
    pub initial_lookback: Duration,
    /// Checkpoint file of this deployment; unset: the program's default. The fetcher itself
    /// reads no file: the program opens its checkpoint store here.
    pub checkpoint_path: Option<PathBuf>,
    /// Backfill: largest slice, in events, counted with `/events/count`.
    pub backfill_slice_events: u64,
    /// Directory Insights retention; backfills reaching further back get a warning.
    #[serde(deserialize_with = "crate::duration::deserialize")]
    pub retention: Duration,
    /// Organisations queried together in one request (`x-org-id` repeated), at most; 1 = one
    /// request per organisation. A server that refuses a request as too large (413/414/431)
    /// gets half as many.
    pub group_size: usize,
    /// An organisation whose cursor is more than this behind the newest of its group is paged
    /// alone until it has caught up (a backlog does not hold the group's sweep back).
    #[serde(deserialize_with = "crate::duration::deserialize")]
    pub group_spread: Duration,
}

impl Default for EventsConfig {
    fn default() -> Self {
        Self {
            services: vec!["all".to_string()],
            lag: Duration::from_secs(120),
            overlap: Duration::from_secs(15 * 60),
            poll_interval: Duration::from_secs(60),
            page_limit: 10_000,
            initial_lookback: Duration::from_secs(3600),
            checkpoint_path: None,
            backfill_slice_events: 25_000,
            retention: Duration::from_secs(90 * 86_400),
            group_size: 50,
            group_spread: Duration::from_secs(5 * 60),
        }
    }
}

impl EventsConfig {
    /// Checks limits the API imposes.
    pub fn validate(&self) -> Result<(), String> {
        if self.services.is_empty() {
            return Err("events.services must not be empty (use [\"all\"])".into());
        }
        if !(1..=10_000).contains(&self.page_limit) {
            return Err(format!(
                "events.page_limit must be 1..=10000, got {}",
                self.page_limit
            ));
        }
        if self.group_size == 0 {
            return Err("events.group_size must be at least 1".into());
        }
        if self.backfill_slice_events == 0 {
            return Err("events.backfill_slice_events must be at least 1".into());
        }
        Ok(())
    }
}
