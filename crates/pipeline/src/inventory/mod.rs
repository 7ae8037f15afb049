//! Inventory inside the running pipeline: a snapshot of each organisation every
//! [`InventoryPlan::interval`], compared with the state the last committed snapshot left in a
//! compacted Kafka topic, written by the same writer as the event units.
//!
//! ```text
//! InventoryTask ──collect (paced)──> KnownOrg::plan ──channel──> Writer ─> one unit ─> reply
//!  (one per pipeline: its organisations, one at a time)            (records, change events,
//!                                                                   dead letters, state)
//! ```
//!
//! - The task collects through the client the event sources use (its rate cap and backoff),
//!   under a cap of its own ([`fetcher::inventory::RequestPace`]) so it never takes the whole
//!   request budget, and one organisation at a time.
//! - A snapshot is one unit: its 5003/5001 records, its change events (3001/3005/3006, 3004
//!   for a deleted device), its dead letters and its state records (changed entities,
//!   tombstones of deleted ones, the organisation's marker) are committed in one transaction
//!   (exactly-once), or the state is written once every record is acknowledged
//!   (at-least-once). The task takes the new state as its reference only when the writer says
//!   the unit is durable; a snapshot that does not finish is taken again.

mod known;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use fetcher::JumpCloudClient;
use fetcher::inventory::{InventoryConfig, collect_org};
use mapper::OcsfRecord;
use mapper::inventory::InventoryMapError;
use producer::{DeadLetter, Stage};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

pub use known::CorruptState;
pub(crate) use known::{KnownOrg, load};

use crate::destination::{Destination, Prepared};
use crate::stats::PipelineStats;
use crate::writer::SnapshotUnit;
use crate::{Mode, stopped};

/// How the pipeline takes inventory snapshots.
#[derive(Debug, Clone)]
pub struct InventoryPlan {
    /// The client the snapshots are collected with (the event sources' client: one rate cap).
    pub client: JumpCloudClient,
    /// What is collected, and the inventory's own request-rate cap
    /// ([`InventoryConfig::pace`]).
    pub collect: InventoryConfig,
    /// Time from one organisation's snapshot to its next.
    pub interval: Duration,
    /// Time before a failed snapshot (console API or Kafka) is taken again.
    pub retry_after: Duration,
    /// The compacted topic holding each entity's latest state.
    pub state_topic: String,
}

/// Counters of the inventory snapshots.
#[derive(Debug, Default)]
pub struct InventoryStats {
    /// Snapshots committed.
    pub snapshots: AtomicU64,
    /// Snapshots that failed (collection or delivery) and are taken again.
    pub failures: AtomicU64,
    /// 5003/5001 records committed.
    pub records: AtomicU64,
    /// Change events committed.
    pub changes: AtomicU64,
    /// Console records dead-lettered (could not be mapped).
    pub dead_lettered: AtomicU64,
}

/// The scheduler of one pipeline's snapshots.
pub(crate) struct InventoryTask {
    pub(crate) plan: InventoryPlan,
    pub(crate) orgs: Vec<String>,
    pub(crate) known: BTreeMap<String, KnownOrg>,
    pub(crate) units: mpsc::Sender<SnapshotUnit>,
    /// Where the records go: they are made ready for it here, off the writer.
    pub(crate) destination: Arc<Destination>,
    pub(crate) stop: watch::Receiver<bool>,
    pub(crate) mode: Mode,
    pub(crate) stats: Arc<PipelineStats>,
}

/// How one snapshot attempt ended.
enum Attempt {
    Committed,
    Failed(String),
    /// Shutdown, or the writer is gone (fenced).
    Stopped,
}

impl InventoryTask {
    /// Takes each organisation's snapshot when it is due (at once when it has none or its last
    /// is older than the interval), until shutdown; with `Mode::Once`, one round of the
    /// organisations due now.
    pub(crate) async fn run(mut self) {
        let now_ms = epoch_ms();
        let mut due: BTreeMap<String, Instant> = self
            .orgs
            .iter()
            .map(|org| {
                let wait = self
                    .known
                    .get(org)
                    .and_then(|k| k.collected_at_ms)
                    .map(|last| {
                        let next = last.saturating_add(millis(self.plan.interval));
                        Duration::from_millis(u64::try_from(next - now_ms).unwrap_or(0))
                    })
                    .unwrap_or_default();
                (org.clone(), Instant::now() + wait)
            })
            .collect();
        if self.mode == Mode::Once {
            due.retain(|_, when| *when <= Instant::now());
        }
        while let Some((org, when)) = due
            .iter()
            .min_by_key(|(_, when)| **when)
            .map(|(org, when)| (org.clone(), *when))
        {
            tokio::select! {
                () = tokio::time::sleep_until(when) => {}
                () = stopped(&mut self.stop) => return,
            }
            match self.snapshot(&org).await {
                Attempt::Committed => {
                    self.stats
                        .inventory
                        .snapshots
                        .fetch_add(1, Ordering::Relaxed);
                    due.insert(org.clone(), Instant::now() + self.plan.interval);
                }
                Attempt::Failed(error) => {
                    self.stats
                        .inventory
                        .failures
                        .fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(org, %error, retry_in = ?self.plan.retry_after, "inventory snapshot failed; it is taken again");
                    due.insert(org.clone(), Instant::now() + self.plan.retry_after);
                }
                Attempt::Stopped => return,
            }
            if self.mode == Mode::Once {
                due.remove(&org);
            }
        }
    }

    async fn snapshot(&mut self, org: &str) -> Attempt {
        let collected = tokio::select! {
            collected = collect_org(&self.plan.client, org, &self.plan.collect) => collected,
            () = stopped(&mut self.stop) => return Attempt::Stopped,
        };
        let input = match collected {
            Ok(input) => input,
            Err(error) => return Attempt::Failed(format!("collecting: {error}")),
        };
        let known = self.known.get(org).cloned().unwrap_or_default();
        let planned = known.plan(&self.plan.state_topic, org, input, epoch_ms());
        let (reply, answer) = oneshot::channel();
        let (records, changes, rejected) = (
            planned.records.len() - planned.changes,
            planned.changes,
            planned.rejected.len(),
        );
        tracing::info!(
            org,
            records,
            changes,
            rejected,
            state_records = planned.state.len(),
            "inventory snapshot collected; handing it to the writer"
        );
        let items = prepare_snapshot(&self.destination, org, planned.records, planned.rejected);
        let unit = SnapshotUnit {
            what: "inventory snapshot",
            org: org.to_owned(),
            items,
            state: planned.state,
            tally: None,
            reply,
        };
        if self.units.send(unit).await.is_err() {
            return Attempt::Stopped;
        }
        match answer.await {
            Ok(Ok(())) => {
                self.stats
                    .inventory
                    .records
                    .fetch_add(records as u64, Ordering::Relaxed);
                self.stats
                    .inventory
                    .changes
                    .fetch_add(changes as u64, Ordering::Relaxed);
                self.stats
                    .inventory
                    .dead_lettered
                    .fetch_add(rejected as u64, Ordering::Relaxed);
                tracing::info!(
                    org,
                    records,
                    changes,
                    rejected,
                    "inventory snapshot committed"
                );
                self.known.insert(org.to_owned(), planned.next);
                Attempt::Committed
            }
            Ok(Err(error)) => Attempt::Failed(error),
            Err(_) => Attempt::Stopped,
        }
    }
}

/// A snapshot's records made ready for `destination`; a record it cannot take as it is, and a
/// console record that could not be mapped, become dead letters.
pub(crate) fn prepare_snapshot(
    destination: &Destination,
    org: &str,
    records: Vec<OcsfRecord>,
    rejected: Vec<(InventoryMapError, serde_json::Value)>,
) -> Vec<Prepared> {
    let mut items = Vec::with_capacity(records.len() + rejected.len());
    for record in records {
        let json = record.json.clone();
        items.push(match destination.prepare(record) {
            Ok(prepared) => prepared,
            Err(error) => destination.prepare_dead_letter(DeadLetter::new(
                json,
                error.stage(),
                error.to_string(),
                org,
                None,
            )),
        });
    }
    for (error, raw) in rejected {
        items.push(destination.prepare_dead_letter(DeadLetter::new(
            raw.to_string(),
            Stage::Map,
            error.to_string(),
            org,
            None,
        )));
    }
    items
}

fn epoch_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}
