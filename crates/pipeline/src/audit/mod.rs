//! Completeness proven against the source: what each live source delivered, per window of
//! event time, is compared with what Directory Insights counts (`/events/count`) once the window
//! has settled, and a window the API counts more events in is fetched again and only the
//! events not delivered yet are delivered.
//!
//! ```text
//! map.rs: each event's window and identity ──chunk──> writer: unit finished ──> Book
//!   (Tally)                                   (Book::prepare: deltas in the unit, like cursors)
//! AuditTask: settled window ──/events/count──> match: summary, deltas tombstoned
//!                                          └─> missing: repair (the window's pages, minus the
//!                                              identities its deltas hold) ──> audited again
//! ```
//!
//! - **Counted where the facts are.** The mapping knows each event's window (its timestamp,
//!   UTC) and whether it became a record or a dead letter: each chunk carries a [`Tally`]; the
//!   writer merges a unit's into one delta per source and window (counts and 8-byte identities)
//!   and writes them with the unit (`Destination::finish`, the one path that writes cursors:
//!   in the transaction in exactly-once mode, after the acknowledgements otherwise), with each
//!   source's [`Cover`] carrying the cursor written beside it. The [`Book`] merges them only
//!   once the unit is durable: its counts are what the state topic holds.
//! - **Audited once settled.** A window is due when its end is `settle_after` old and its
//!   source's durable cursor is `overlap` past it (the live path never fetches it again). The
//!   count request takes a turn of the request gate after every sweep and backlog page
//!   ([`crate::RequestGate`]'s spare turns).
//! - **Repaired exactly once.** A window the API counts more events in is paged again (its
//!   source alone, the same services); an event whose identity the window's deltas hold is
//!   dropped, the rest mapped and written as units of their own, each with its delta (one
//!   transaction in exactly-once mode: a crash leaves the window either repaired or not); then
//!   the window is counted again. A window the API counts fewer events in is reported, never
//!   repaired.
//! - **Final.** A window that matches (or is reported, or still misses events `repair_for`
//!   after its end) gets a [`Summary`], kept `keep_summaries`; its deltas are tombstoned.

mod book;
mod records;
mod repair;
mod tally;
mod task;
#[cfg(test)]
mod tests;
mod window;

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use fetcher::JumpCloudClient;

pub(crate) use book::{Book, Started};
pub use records::{
    Cover, Ledger, OpenWindow, Outcome, SourceLedger, Summary, WindowCounts, is_audit_key,
};
pub(crate) use tally::{Placing, Tally};
pub use task::AuditReport;
pub(crate) use task::{AuditTask, Audited};
pub use window::{Windows, identity, label, parse_label, time_of};

/// How the pipeline audits its live sources.
#[derive(Debug, Clone)]
pub struct AuditPlan {
    /// The client the counts and repairs request with (the sources' client: one rate cap).
    pub client: JumpCloudClient,
    /// The windows (hours by default).
    pub windows: Windows,
    /// A window is audited once its end is this old (and its source's cursor past it).
    pub settle_after: Duration,
    /// Repair windows the API counts more events in.
    pub repair: bool,
    /// A window still missing events this long after its end is given up (reported).
    pub repair_for: Duration,
    /// Summaries of final windows are kept this long (for `jumpcloud-ocsf audit`).
    pub keep_summaries: Duration,
}

impl AuditPlan {
    /// Time between rounds: a quarter of `settle_after`, within 1 s to 1 min.
    pub(crate) fn check_every(&self) -> Duration {
        (self.settle_after / 4).clamp(Duration::from_secs(1), Duration::from_secs(60))
    }

    /// Time before a window still missing events is audited again.
    pub(crate) fn retry_after(&self) -> Duration {
        self.settle_after
            .clamp(self.check_every(), Duration::from_secs(3600))
    }
}

/// The audit's counters, for the metrics and `/readyz`.
#[derive(Debug, Default)]
pub struct AuditStats {
    /// Window comparisons that matched.
    pub matched: AtomicU64,
    /// ... that found events missing.
    pub missing: AtomicU64,
    /// ... that found more events delivered than the API counts.
    pub excess: AtomicU64,
    orgs: Mutex<BTreeMap<String, OrgAudit>>,
}

/// One organisation's audit findings.
#[derive(Debug, Default, Clone)]
pub struct OrgAudit {
    /// Events delivered by repairs.
    pub repaired: u64,
    /// Windows found missing events and not repaired yet (or given up), with the events missing.
    pub missing: BTreeMap<i64, u64>,
    /// Windows where more events were delivered than the API counts, with how many more.
    pub excess: BTreeMap<i64, u64>,
    /// Settled windows not audited yet (at the last round).
    pub backlog: u64,
    /// Windows with deliveries not final yet (their counts held in memory).
    pub open_windows: u64,
}

impl OrgAudit {
    /// Events missing now in its windows.
    pub fn missing_events(&self) -> u64 {
        self.missing.values().sum()
    }
}

impl AuditStats {
    fn orgs(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, OrgAudit>> {
        self.orgs.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn compared(&self, outcome: Outcome) {
        match outcome {
            Outcome::Match => &self.matched,
            Outcome::Missing => &self.missing,
            Outcome::Excess => &self.excess,
        }
        .fetch_add(1, Ordering::Relaxed);
    }

    /// The last comparison of `org`'s window `start` (`api` against `ours`).
    pub(crate) fn window(&self, org: &str, start: i64, api: u64, ours: u64) {
        let mut orgs = self.orgs();
        let findings = orgs.entry(org.to_owned()).or_default();
        findings.missing.remove(&start);
        findings.excess.remove(&start);
        match Outcome::of(api, ours) {
            Outcome::Match => {}
            Outcome::Missing => {
                findings.missing.insert(start, api - ours);
            }
            Outcome::Excess => {
                findings.excess.insert(start, ours - api);
            }
        }
    }

    pub(crate) fn progress(&self, org: &str, backlog: u64, open_windows: u64) {
        let mut orgs = self.orgs();
        let findings = orgs.entry(org.to_owned()).or_default();
        findings.backlog = backlog;
        findings.open_windows = open_windows;
    }

    pub(crate) fn repaired(&self, org: &str, events: u64) {
        self.orgs().entry(org.to_owned()).or_default().repaired += events;
    }

    /// Every organisation's findings.
    pub fn per_org(&self) -> BTreeMap<String, OrgAudit> {
        self.orgs().clone()
    }

    /// One line per window missing events or holding more than the API counts (the first
    /// `limit`), for `/readyz`.
    pub fn problems(&self, limit: usize) -> Vec<String> {
        let orgs = self.orgs();
        let mut lines = Vec::new();
        for (org, findings) in orgs.iter() {
            let org = if org.is_empty() { "default" } else { org };
            for (start, missing) in &findings.missing {
                lines.push(format!(
                    "audit: {org} window {}: {missing} event(s) missing",
                    label(*start)
                ));
            }
            for (start, excess) in &findings.excess {
                lines.push(format!(
                    "audit: {org} window {}: {excess} event(s) more delivered than the API counts",
                    label(*start)
                ));
            }
        }
        lines.truncate(limit);
        lines
    }
}
