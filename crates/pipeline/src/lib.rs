//! The delivery engine: Directory Insights batches mapped to OCSF, handed to the destination
//! and finished as units, then the cursors durable.
//!
//! ```text
//! OrgGroup ─page─> FetchTask: map ──chunks──> Writer ─> Destination ─> finish ─> Acknowledgements
//! (fetcher)        (one per group) (mapper,     (one)    (producer)    (txn / acks) (durable cursors)
//!                                   encode)
//! ```
//!
//! - One task per group of sources (`fetch.rs`) fetches pages within a shared in-flight budget
//!   (memory), maps and encodes each batch in chunks (`map.rs`; a failure becomes a dead letter
//!   with the raw event) and sends the chunks, in order, to one writer.
//! - The writer (`writer.rs`) gathers whole batches into a unit, hands every record over, then
//!   finishes the unit: in exactly-once mode one Kafka transaction holds the unit's records,
//!   dead letters and the sources' checkpoints after it; in at-least-once mode every record is
//!   acknowledged first and the checkpoints written after. While a unit commits, the next
//!   one's records are being mapped.
//! - `ack.rs` is the one place that knows which batches are in flight and which checkpoint of
//!   each source is durable. A unit that fails rewinds every source to its durable checkpoint:
//!   nothing is skipped, and within a partition records keep the order of the source.
//! - A fenced writer (another process with the same identity) stops the whole run.
//! - With [`Pipeline::with_inventory`], one task takes inventory snapshots of the sources'
//!   organisations and hands each to the same writer as one unit: its records, change events
//!   and its state in a compacted topic (`inventory/`).
//! - With [`Pipeline::with_audit`], each unit also carries what it delivered to each window of
//!   event time, and one task compares every settled window with Directory Insights' count and
//!   repairs a window that misses events (`audit/`).

mod ack;
pub mod audit;
mod budget;
mod config;
mod deliveries;
mod destination;
mod fetch;
mod files;
mod gate;
mod health;
mod inventory;
mod map;
mod state;
mod stats;
#[cfg(test)]
mod tests;
mod writer;

use std::sync::Arc;

use fetcher::{EventSource, OrgGroup};
use mapper::Mapper;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

pub use audit::{AuditPlan, AuditReport, AuditStats};
pub use budget::InFlightBudget;
pub use config::{DeliveryGuarantee, PipelineConfig, StateStore};
pub use destination::{Destination, KafkaDestination, UnitError};
pub use files::FileSink;
pub use gate::RequestGate;
pub use health::DeliveryHealth;
pub use inventory::{CorruptState, InventoryPlan, InventoryStats};
pub use state::StartingCheckpoints;
pub use stats::{BatchCounts, OrgTotals, PipelineStats};
pub use writer::UnitLimits;

use ack::Acknowledgements;
use fetch::FetchTask;
use inventory::InventoryTask;
use map::{MappedLead, Mapping, Refused};
use writer::{Finishing, Writer};

/// A shutdown signal: `true` once shutdown was requested.
pub type Shutdown = watch::Receiver<bool>;

/// Run until caught up, or follow the stream until shutdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Catch up to `now - lag`, then stop.
    Once,
    /// Poll forever (until shutdown).
    Follow,
}

/// Resolves once `stop` turns true (never, if its sender is gone without it).
pub async fn stopped(stop: &mut watch::Receiver<bool>) {
    if stop.wait_for(|stop| *stop).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// One inventory snapshot for [`Pipeline::write_snapshots`], and where the answer goes.
pub struct Snapshot {
    /// The organisation.
    pub org: String,
    /// Its OCSF records (5003/5001, change events).
    pub records: Vec<mapper::OcsfRecord>,
    /// Console records that could not be mapped, with the reason: dead letters.
    pub rejected: Vec<(mapper::inventory::InventoryMapError, serde_json::Value)>,
    /// Told whether the snapshot's unit became durable.
    pub reply: tokio::sync::oneshot::Sender<Result<(), String>>,
}

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
    audit: Option<(AuditPlan, audit::Ledger)>,
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
            audit: None,
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

    /// Counts what each unit delivers to each window of event time (kept with the cursors in
    /// the state topic; `ledger` is what the state topic held at start-up,
    /// [`StartingCheckpoints::audit_ledger`]) and audits the settled windows of the live
    /// sources against `/events/count`, repairing those missing events (see [`AuditPlan`]).
    /// Kafka destination with the Kafka state store only (ignored otherwise).
    pub fn with_audit(mut self, plan: AuditPlan, ledger: audit::Ledger) -> Self {
        self.audit = Some((plan, ledger));
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
        let acks = match Acknowledgements::new(&sources) {
            Ok(acks) => Arc::new(acks),
            Err(error) => {
                return RunReport {
                    failed_orgs: orgs.into_iter().map(|org| (org, error.clone())).collect(),
                    fenced: None,
                };
            }
        };
        let book = self.audit_book(&sources);
        let audited: Vec<audit::Audited> = sources.iter().filter_map(audit::Audited::of).collect();
        // The sources stop on shutdown, or when the writer is fenced.
        let (stop_sources, stop) = watch::channel(false);
        let mut forward = shutdown.clone();
        let stopper = stop_sources.clone();
        let forwarding = tokio::spawn(async move {
            stopped(&mut forward).await;
            let _ = stopper.send(true);
        });
        let (sender, receiver) = mpsc::channel(64);
        let mapping = Mapping {
            mapper: Arc::clone(&self.mapper),
            destination: Arc::clone(&self.destination),
            refused: Arc::new(Refused::default()),
            lead: MappedLead::default(),
            audit: book.as_ref().map(|book| book.windows()),
        };
        let mut tasks = JoinSet::new();
        for group in group_sources(sources) {
            let task = FetchTask {
                chunks: sender.clone(),
                mapping: mapping.clone(),
                budget: self.budget.clone(),
                gate: Arc::clone(&self.gate),
                acks: Arc::clone(&acks),
                stats: Arc::clone(&self.stats),
                health: Arc::clone(&self.health),
                mode,
                stop: stop.clone(),
            };
            tasks.spawn(async move { task.run(group).await });
        }
        drop(sender);
        // Units that are not event batches (snapshots, the audit's) come over one channel.
        let (units, snapshots) = mpsc::channel(1);
        let inventory_task = match (&self.inventory, known) {
            (Some(plan), Some(known)) => {
                let task = InventoryTask {
                    plan: plan.clone(),
                    orgs,
                    known,
                    units: units.clone(),
                    destination: Arc::clone(&self.destination),
                    stop: stop.clone(),
                    mode,
                    stats: Arc::clone(&self.stats),
                };
                Some(tokio::spawn(task.run()))
            }
            _ => None,
        };
        let audit_task = match (&self.audit, &book) {
            (Some((plan, _)), Some(book)) if mode == Mode::Follow => {
                let task = audit::AuditTask {
                    plan: plan.clone(),
                    book: Arc::clone(book),
                    sources: audited,
                    gate: Arc::clone(&self.gate),
                    units: units.clone(),
                    destination: Arc::clone(&self.destination),
                    mapping: mapping.clone(),
                    stats: Arc::clone(&self.stats),
                    stop: stop.clone(),
                    once_since: None,
                };
                Some(tokio::spawn(task.run()))
            }
            _ => None,
        };
        drop(units);
        let writer = self.writer(acks, shutdown.clone(), &mapping.refused, book);
        drop(mapping);
        let mut report = RunReport::default();
        if let Err(error) = writer.run(receiver, Some(snapshots)).await {
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
        if let Some(task) = audit_task
            && let Err(join_error) = task.await
        {
            report
                .failed_orgs
                .push(("audit".into(), format!("task failed: {join_error}")));
        }
        forwarding.abort();
        report
    }

    /// One audit of the settled windows of `sources` starting at or after `since` (`audit
    /// --repair`): each not final yet is counted, and repaired when it misses events, through
    /// this pipeline's writer; then it ends. Needs [`Self::with_audit`]. `Err` when this process
    /// was fenced.
    pub async fn audit_once(
        &self,
        sources: Vec<EventSource>,
        since: chrono::DateTime<chrono::Utc>,
        shutdown: Shutdown,
    ) -> Result<AuditReport, UnitError> {
        let (Some((plan, _)), Some(book)) = (&self.audit, self.audit_book(&sources)) else {
            return Ok(AuditReport {
                problems: vec!["the audit needs the Kafka state store".into()],
                ..AuditReport::default()
            });
        };
        let acks = Arc::new(Acknowledgements::new(&sources).map_err(UnitError::Failed)?);
        let (units, snapshots) = mpsc::channel(1);
        let refused = Arc::new(Refused::default());
        let task = audit::AuditTask {
            plan: plan.clone(),
            book: Arc::clone(&book),
            sources: sources.iter().filter_map(audit::Audited::of).collect(),
            gate: Arc::clone(&self.gate),
            units,
            destination: Arc::clone(&self.destination),
            mapping: Mapping {
                mapper: Arc::clone(&self.mapper),
                destination: Arc::clone(&self.destination),
                refused: Arc::clone(&refused),
                lead: MappedLead::default(),
                audit: Some(book.windows()),
            },
            stats: Arc::clone(&self.stats),
            stop: shutdown.clone(),
            once_since: Some(since.timestamp_millis()),
        };
        let auditing = tokio::spawn(task.run());
        // No event batches: the chunk channel is closed from the start.
        let (no_batches, chunks) = mpsc::channel(1);
        drop(no_batches);
        self.writer(acks, shutdown, &refused, Some(book))
            .run(chunks, Some(snapshots))
            .await?;
        auditing
            .await
            .map_err(|e| UnitError::Failed(format!("the audit task failed: {e}")))
    }

    /// The audit's book for `sources`, when the audit is on and the destination keeps a state
    /// topic.
    fn audit_book(&self, sources: &[EventSource]) -> Option<Arc<audit::Book>> {
        let (plan, ledger) = self.audit.as_ref()?;
        let Some(topic) = self.destination.state_topic() else {
            tracing::warn!("the audit needs the cursors in the Kafka state topic: it is off");
            return None;
        };
        let started = sources
            .iter()
            .filter(|s| s.is_live())
            .map(|source| audit::Started {
                key: Arc::from(source.checkpoint_key()),
                checkpoint: source.loaded_checkpoint().map(|c| c.cursor),
                cursor: source.fetch_cursor(),
            });
        Some(Arc::new(audit::Book::new(
            plan.windows,
            topic,
            plan.keep_summaries,
            ledger,
            started,
        )))
    }

    /// Writes each snapshot `snapshots` brings as one unit through the engine's writer (one
    /// transaction in exactly-once mode): its records, and its rejected console records as dead
    /// letters. Answers each with whether it became durable. For a caller that takes its own
    /// snapshots (the `inventory` command); `run` takes them with [`Self::with_inventory`].
    /// `Err` when this process was fenced.
    pub async fn write_snapshots(
        &self,
        mut snapshots: mpsc::Receiver<Snapshot>,
        shutdown: Shutdown,
    ) -> Result<(), UnitError> {
        let (units, receiver) = mpsc::channel(1);
        let destination = Arc::clone(&self.destination);
        let preparing = tokio::spawn(async move {
            while let Some(snapshot) = snapshots.recv().await {
                let Snapshot {
                    org,
                    records,
                    rejected,
                    reply,
                } = snapshot;
                let items = inventory::prepare_snapshot(&destination, &org, records, rejected);
                let unit = writer::SnapshotUnit {
                    what: "inventory snapshot",
                    org,
                    items,
                    state: Vec::new(),
                    tally: None,
                    reply,
                };
                if units.send(unit).await.is_err() {
                    return;
                }
            }
        });
        // No event batches: the chunk channel is closed from the start.
        let (no_batches, chunks) = mpsc::channel(1);
        drop(no_batches);
        let result = self
            .writer(
                Arc::new(Acknowledgements::default()),
                shutdown,
                &Arc::default(),
                None,
            )
            .run(chunks, Some(receiver))
            .await;
        preparing.abort();
        result
    }

    fn writer(
        &self,
        acks: Arc<Acknowledgements>,
        shutdown: Shutdown,
        refused: &Arc<Refused>,
        audit: Option<Arc<audit::Book>>,
    ) -> Writer {
        Writer {
            finishing: Finishing {
                destination: Arc::clone(&self.destination),
                acks,
                stats: Arc::clone(&self.stats),
                refused: Arc::clone(refused),
                retry: Arc::new(health::Retrying {
                    health: Arc::clone(&self.health),
                    stop: shutdown,
                }),
                audit,
            },
            limits: self.limits,
            pipelined: !self.destination.is_transactional(),
        }
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

/// The sources in groups, each paged by one fetch task: live sources of named organisations in
/// groups of at most `events.group_size`; the others (the provider's events, the credential's
/// own organisation, each backfill range) in groups of their own.
fn group_sources(sources: Vec<EventSource>) -> Vec<OrgGroup> {
    let mut groups = Vec::new();
    let mut groupable: Vec<EventSource> = Vec::new();
    for source in sources {
        if source.is_groupable() {
            groupable.push(source);
        } else {
            groups.extend(OrgGroup::new(vec![source]).ok());
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
    groups
}
