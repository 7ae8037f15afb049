//! The delivery engine: Directory Insights batches mapped to OCSF, handed to the destination
//! and finished as a unit, then the cursors moved.
//!
//! ```text
//! EventSource ──batch──> SourceTask ──channel──> Writer: map ─> Destination ─> finish ─> cursors
//!  (fetcher)              (one per source)        (one)   (mapper) (producer)  (txn / acks)
//! ```
//!
//! - One task per source fetches pages within a shared in-flight budget (memory) and sends
//!   them, in order, to one writer.
//! - The writer gathers batches into a unit, maps each event and hands it over (a map failure
//!   becomes a dead letter with the raw event), then finishes the unit: in exactly-once mode
//!   one Kafka transaction holds the unit's records, dead letters and the cursors after it; in
//!   at-least-once mode every record is acknowledged first and the cursors written after.
//! - A unit that fails (aborted, not acknowledged) rewinds every source to its durable cursor:
//!   nothing is skipped, and within a partition records keep the order of the source.
//! - A fenced writer (another process with the same identity) stops the whole run.
//! - With [`Pipeline::with_inventory`], one task takes inventory snapshots of the sources'
//!   organisations and hands each to the same writer as one unit: its records, change events
//!   and its state in a compacted topic (`inventory/`).

mod deliveries;
mod destination;
mod files;
mod gate;
mod group_task;
mod health;
mod inventory;
mod source_task;
mod state;
mod stats;
mod transaction;
mod unit;

use std::collections::HashSet;
use std::sync::Arc;

use fetcher::{EventSource, OrgGroup};
use mapper::Mapper;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

pub use destination::{Destination, KafkaDestination, UnitError};
pub use files::FileSink;
pub use gate::RequestGate;
pub use health::DeliveryHealth;
pub use inventory::{CorruptState, InventoryPlan, InventoryStats};
pub use source_task::{InFlightBudget, Mode, stopped};
pub use state::KafkaState;
pub use stats::{BatchCounts, OrgTotals, PipelineStats};
pub use unit::UnitLimits;

use group_task::GroupTask;
use inventory::InventoryTask;
use source_task::{Rewinds, SourceTask};
use unit::Writer;

/// A shutdown signal: `true` once shutdown was requested.
pub type Shutdown = watch::Receiver<bool>;

/// How a run ended.
#[derive(Debug, Default)]
pub struct RunReport {
    /// Sources that stopped on an error (`--once`), with the error.
    pub failed_orgs: Vec<(String, String)>,
    /// Set when the run stopped because another process with the same identity took over.
    pub fenced: Option<String>,
}

impl RunReport {
    /// True when every source ran to its end and the run was not fenced.
    pub fn is_success(&self) -> bool {
        self.failed_orgs.is_empty() && self.fenced.is_none()
    }
}

/// The engine's parts, shared by its tasks.
pub struct Pipeline {
    mapper: Arc<Mapper>,
    destination: Arc<Destination>,
    stats: Arc<PipelineStats>,
    budget: InFlightBudget,
    gate: Arc<RequestGate>,
    limits: UnitLimits,
    inventory: Option<InventoryPlan>,
    health: Arc<DeliveryHealth>,
}

impl Pipeline {
    /// A pipeline writing `mapper`'s output to `destination`, holding at most
    /// `max_in_flight_events` fetched events not yet handed to the destination (all sources
    /// together).
    pub fn new(
        mapper: Arc<Mapper>,
        destination: Arc<Destination>,
        max_in_flight_events: usize,
        limits: UnitLimits,
    ) -> Self {
        Self {
            mapper,
            destination,
            stats: Arc::new(PipelineStats::default()),
            budget: InFlightBudget::new(max_in_flight_events),
            gate: RequestGate::shared(),
            limits,
            inventory: None,
            health: Arc::default(),
        }
    }

    /// Fetches within `budget` (shared by the pipelines of one process, so that their fetched
    /// events together stay within `[pipeline] max_in_flight_events`) instead of a budget of
    /// its own.
    pub fn with_budget(mut self, budget: InFlightBudget) -> Self {
        self.budget = budget;
        self
    }

    /// Takes its turns at the request budget from `gate` (shared by the pipelines of one
    /// process, so that sweeps go first across all of them) instead of a gate of its own.
    pub fn with_request_gate(mut self, gate: Arc<RequestGate>) -> Self {
        self.gate = gate;
        self
    }

    /// Counts into `stats` (shared by the pipelines of one process, so that totals stay
    /// monotonic when a pipeline stops and another starts) instead of counters of its own.
    pub fn with_stats(mut self, stats: Arc<PipelineStats>) -> Self {
        self.stats = stats;
        self
    }

    /// Takes inventory snapshots of the organisations of the sources it runs (see
    /// [`InventoryPlan`]), written by the same writer as the events. Kafka destination only.
    pub fn with_inventory(mut self, plan: InventoryPlan) -> Self {
        self.inventory = Some(plan);
        self
    }

    /// The counters of this pipeline.
    pub fn stats(&self) -> Arc<PipelineStats> {
        Arc::clone(&self.stats)
    }

    /// Whether this pipeline's units keep failing (for `/readyz` and the metrics).
    pub fn health(&self) -> Arc<DeliveryHealth> {
        Arc::clone(&self.health)
    }

    /// The destination.
    pub fn destination(&self) -> Arc<Destination> {
        Arc::clone(&self.destination)
    }

    /// Runs every source to its end (`Once`) or until `shutdown` (`Follow`). On shutdown the
    /// sources stop fetching and the writer finishes what they already handed out.
    pub async fn run(
        &self,
        sources: Vec<EventSource>,
        mode: Mode,
        shutdown: Shutdown,
    ) -> RunReport {
        // The organisations whose inventory this pipeline takes (not the provider's events).
        let orgs: Vec<String> = sources
            .iter()
            .filter(|s| !s.is_provider())
            .map(|s| s.org_id().to_string())
            .collect();
        let known = match &self.inventory {
            Some(plan) => match self.load_inventory(plan, &orgs).await {
                Ok(known) => Some(known),
                Err(error) => {
                    return RunReport {
                        failed_orgs: orgs.into_iter().map(|org| (org, error.clone())).collect(),
                        fenced: None,
                    };
                }
            },
            None => None,
        };
        let rewinds = Arc::new(Rewinds::default());
        let budget = self.budget.clone();
        // The sources stop on shutdown, or when the writer is fenced.
        let (stop_sources, stop) = watch::channel(false);
        let mut forward = shutdown.clone();
        let stopper = stop_sources.clone();
        let forwarding = tokio::spawn(async move {
            source_task::stopped(&mut forward).await;
            let _ = stopper.send(true);
        });
        let (sender, receiver) = mpsc::channel(64);
        let mut tasks = JoinSet::new();
        for source in &sources {
            let acker = source.acker();
            rewinds.set_durable(&acker.checkpoint_key(), source.loaded_checkpoint().cloned());
        }
        let (groups, ranges) = group_sources(sources);
        let gate = Arc::clone(&self.gate);
        for group in groups {
            let task = GroupTask {
                batches: sender.clone(),
                budget: budget.clone(),
                gate: Arc::clone(&gate),
                rewinds: Arc::clone(&rewinds),
                stats: Arc::clone(&self.stats),
                mode,
                stop: stop.clone(),
            };
            tasks.spawn(async move { task.run(group).await });
        }
        for source in ranges {
            let org_id = source.org_id().to_string();
            let task = SourceTask {
                batches: sender.clone(),
                budget: budget.clone(),
                rewinds: Arc::clone(&rewinds),
                stats: Arc::clone(&self.stats),
                mode,
                stop: stop.clone(),
            };
            tasks.spawn(async move {
                match task.run(source).await {
                    Ok(()) => Vec::new(),
                    Err(err) => vec![(org_id, err.to_string())],
                }
            });
        }
        drop(sender);
        let (snapshots, inventory_task) = match (&self.inventory, known) {
            (Some(plan), Some(known)) => {
                let (units, snapshots) = mpsc::channel(1);
                let task = InventoryTask {
                    plan: plan.clone(),
                    orgs,
                    known,
                    units,
                    stop: stop.clone(),
                    mode,
                    stats: Arc::clone(&self.stats),
                };
                (Some(snapshots), Some(tokio::spawn(task.run())))
            }
            _ => (None, None),
        };
        let writer = Writer {
            mapper: Arc::clone(&self.mapper),
            destination: Arc::clone(&self.destination),
            stats: Arc::clone(&self.stats),
            rewinds,
            limits: self.limits,
            refused: HashSet::new(),
            retry: health::Retrying {
                health: Arc::clone(&self.health),
                stop: shutdown.clone(),
            },
        };
        let mut report = RunReport::default();
        if let Err(error) = writer.run(receiver, snapshots).await {
            tracing::error!(error = %error, "stopping: this process was fenced");
            report.fenced = Some(error.to_string());
            let _ = stop_sources.send(true);
        }
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(failed) => report.failed_orgs.extend(failed),
                Err(join_error) => report
                    .failed_orgs
                    .push(("?".into(), format!("task failed: {join_error}"))),
            }
        }
        if let Some(task) = inventory_task
            && let Err(join_error) = task.await
        {
            report
                .failed_orgs
                .push(("inventory".into(), format!("task failed: {join_error}")));
        }
        forwarding.abort();
        report
    }

    /// The committed inventory state of `orgs`, read from the state topic (created if missing).
    async fn load_inventory(
        &self,
        plan: &InventoryPlan,
        orgs: &[String],
    ) -> Result<std::collections::BTreeMap<String, inventory::KnownOrg>, String> {
        let records = self
            .destination
            .read_compacted(&plan.state_topic)
            .await
            .map_err(|e| format!("reading the inventory state: {e}"))?;
        let entries = records.len();
        let known = inventory::load(&plan.state_topic, records, orgs).map_err(|e| e.to_string())?;
        tracing::info!(
            topic = %plan.state_topic,
            entries,
            organisations_with_a_snapshot = known.values().filter(|k| k.collected_at_ms.is_some()).count(),
            "read the inventory state"
        );
        Ok(known)
    }
}

/// The live sources in groups of at most `events.group_size` (those that cannot be grouped in
/// a group of their own), and the backfill ranges, each paged by its own task.
fn group_sources(sources: Vec<EventSource>) -> (Vec<OrgGroup>, Vec<EventSource>) {
    let mut groups = Vec::new();
    let mut ranges = Vec::new();
    let mut groupable: Vec<EventSource> = Vec::new();
    for source in sources {
        if source.is_groupable() {
            groupable.push(source);
        } else if source.is_live() {
            groups.extend(OrgGroup::new(vec![source]).ok());
        } else {
            ranges.push(source);
        }
    }
    let size = groupable
        .first()
        .map_or(1, |source| source.config().group_size.max(1));
    let mut groupable = groupable.into_iter().peekable();
    while groupable.peek().is_some() {
        let members: Vec<EventSource> = groupable.by_ref().take(size).collect();
        groups.extend(OrgGroup::new(members).ok());
    }
    (groups, ranges)
}
