//! Which pipelines this process runs, and when they start and stop.
//!
//! Alone (no `[cluster] group_id`), one pipeline serves every organisation under the
//! transactional id `deployment_id`. In a cluster, the instances of a deployment join one
//! consumer group on the coordination topic (`producer::ShardMembership`); the group
//! coordinator gives each instance some shards, and the instance runs one pipeline per owned
//! shard, over the organisations that hash to it, under the transactional id
//! `deployment_id.shard-N` (Kafka Connect's task fencing, KIP-618): the next owner's
//! `init_transactions` aborts whatever the previous owner left open and fences it, so a paused
//! or partitioned former owner writes nothing more.
//!
//! A revoked shard's pipeline is stopped (its last unit committed or aborted) before the
//! revocation is answered, so the group releases the shard only after that. A shard's pipeline
//! that was fenced while the group still gives the shard to this instance (the broker ended
//! its transaction after an outage longer than `transaction.timeout.ms`, or a former owner's
//! late start) is started again after `session_timeout`, if the shard is still owned then: the
//! group, not the producer, decides who owns a shard.

mod shard;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use pipeline::{RunReport, Shutdown, stopped};
use producer::{MembershipConfig, ShardChange, ShardMembership};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

pub use shard::{Shard, ShardContext};

use crate::observability::ClusterView;
use crate::wiring::{provider_shard_key, resolve_org_ids};
use shard::{ShardWork, run_shard};

/// How long a stopping pipeline may take to commit or abort its last unit before it is dropped
/// (its open transaction is then aborted by the next owner's fencing).
const STOP_TIMEOUT: Duration = Duration::from_secs(60);

/// Resolves with the organisations listed again at the next tick of `ticker` (never without
/// one: the list is fixed unless `org_ids = "all"`).
async fn relisted(
    context: &ShardContext,
    ticker: &mut Option<tokio::time::Interval>,
) -> Vec<String> {
    let Some(ticker) = ticker.as_mut() else {
        return std::future::pending().await;
    };
    loop {
        ticker.tick().await;
        match resolve_org_ids(&context.config, &context.client).await {
            Ok(orgs) => return orgs,
            Err(error) => {
                tracing::warn!(error = %format!("{error:#}"), "listing the organisations failed; keeping the current list")
            }
        }
    }
}

/// A running pipeline.
struct Running {
    orgs: Vec<String>,
    generation: u64,
    stop: watch::Sender<bool>,
    task: JoinHandle<Result<RunReport>>,
}

/// The pipelines of this process.
pub struct Supervisor {
    context: Arc<ShardContext>,
    orgs: Vec<String>,
    alone: bool,
    shard_count: i32,
    owned: BTreeSet<i32>,
    running: BTreeMap<Shard, Running>,
    generation: u64,
    ended: mpsc::UnboundedSender<(Shard, u64)>,
    ended_rx: mpsc::UnboundedReceiver<(Shard, u64)>,
    /// Fenced shards to start again if still owned.
    restart: mpsc::UnboundedSender<i32>,
    restart_rx: mpsc::UnboundedReceiver<i32>,
}

impl Supervisor {
    /// A supervisor of pipelines over `orgs` (listed again every `org_refresh_interval` with
    /// `org_ids = "all"`).
    pub fn new(context: Arc<ShardContext>, orgs: Vec<String>) -> Self {
        let (ended, ended_rx) = mpsc::unbounded_channel();
        let (restart, restart_rx) = mpsc::unbounded_channel();
        Self {
            context,
            orgs,
            alone: false,
            shard_count: 1,
            owned: BTreeSet::new(),
            running: BTreeMap::new(),
            generation: 0,
            ended,
            ended_rx,
            restart,
            restart_rx,
        }
    }

    /// One pipeline over every organisation until `shutdown`; ends early (with its report)
    /// when the pipeline is fenced.
    pub async fn run_alone(mut self, mut shutdown: Shutdown) -> Result<RunReport> {
        self.alone = true;
        self.start(Shard::All);
        let context = Arc::clone(&self.context);
        let mut ticker = self.discovery_ticker();
        loop {
            tokio::select! {
                () = stopped(&mut shutdown) => break,
                orgs = relisted(&context, &mut ticker) => self.set_orgs(orgs).await,
                Some((shard, generation)) = self.ended_rx.recv() => {
                    if let Some(result) = self.join_ended(shard, generation).await {
                        return result;
                    }
                }
            }
        }
        self.stop(Shard::All)
            .await
            .unwrap_or_else(|| Ok(RunReport::default()))
    }

    /// Joins the deployment's group and runs a pipeline per owned shard until `shutdown`,
    /// then leaves the group (the shards go to the other instances).
    pub async fn run_in_cluster(
        mut self,
        membership: MembershipConfig,
        mut shutdown: Shutdown,
    ) -> Result<RunReport> {
        let (changes_tx, mut changes) = mpsc::unbounded_channel();
        let member =
            ShardMembership::join(&self.context.config.kafka, &membership, changes_tx).await?;
        self.shard_count = member.shard_count();
        self.publish_owned();
        let context = Arc::clone(&self.context);
        let mut ticker = self.discovery_ticker();
        let mut failed = None;
        loop {
            tokio::select! {
                () = stopped(&mut shutdown) => break,
                orgs = relisted(&context, &mut ticker) => self.set_orgs(orgs).await,
                Some(change) = changes.recv() => self.apply(change).await,
                Some((shard, generation)) = self.ended_rx.recv() => {
                    match self.join_ended(shard, generation).await {
                        // Every shard would fail the same way: the instance leaves and stops.
                        Some(Err(error)) if shard::is_missing_acl(&error) => {
                            failed = Some(error);
                            break;
                        }
                        Some(Err(error)) => {
                            tracing::error!(shard = %shard.name(), error = %format!("{error:#}"), "shard pipeline failed");
                        }
                        Some(Ok(report)) if report.fenced.is_some() => {
                            self.restart_later(shard, membership.session_timeout);
                        }
                        _ => {}
                    }
                }
                Some(shard) = self.restart_rx.recv() => {
                    let key = Shard::Number(shard);
                    if self.owned.contains(&shard) && !self.running.contains_key(&key) {
                        tracing::info!(shard = %key.name(), "the fenced shard is still owned by this instance: starting its pipeline again");
                        self.start(key);
                    }
                }
            }
        }
        tracing::info!("leaving the group: the owned shards go to the other instances");
        let mut leaving = tokio::task::spawn_blocking(move || member.leave());
        loop {
            tokio::select! {
                _ = &mut leaving => break,
                Some(change) = changes.recv() => self.apply(change).await,
            }
        }
        let shards: Vec<Shard> = self.running.keys().copied().collect();
        self.stop_all(&shards).await;
        match failed {
            Some(error) => Err(error),
            None => Ok(RunReport::default()),
        }
    }

    /// Asks for `shard` to be started again after `delay` (then only if it is still owned).
    fn restart_later(&self, shard: Shard, delay: Duration) {
        let Shard::Number(number) = shard else {
            return;
        };
        tracing::warn!(shard = %shard.name(), retry_in = ?delay, "the shard's pipeline was fenced; it starts again if the group still gives the shard to this instance");
        let restart = self.restart.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let _ = restart.send(number);
        });
    }

    /// Ticks every `org_refresh_interval` when the organisations are discovered.
    fn discovery_ticker(&self) -> Option<tokio::time::Interval> {
        let jumpcloud = &self.context.config.jumpcloud;
        jumpcloud.discovers_orgs().then(|| {
            let every = jumpcloud.org_refresh_interval;
            let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticker
        })
    }

    async fn apply(&mut self, change: ShardChange) {
        match change {
            ShardChange::Assigned(shards) => {
                for shard in shards {
                    self.owned.insert(shard);
                    self.start(Shard::Number(shard));
                }
            }
            ShardChange::Revoked { shards, lost, done } => {
                if lost {
                    tracing::warn!(
                        ?shards,
                        "shards lost (this instance missed its session): stopping them; their new owner has fenced them"
                    );
                }
                for shard in &shards {
                    self.owned.remove(shard);
                }
                // No longer this instance's from now on, stopped or not yet.
                self.publish_owned();
                let stopping: Vec<Shard> = shards.into_iter().map(Shard::Number).collect();
                self.stop_all(&stopping).await;
                let _ = done.send(());
            }
        }
        self.publish_owned();
    }

    fn publish_owned(&self) {
        self.context.running.set_cluster(ClusterView {
            shard_count: self.shard_count,
            owned: self.owned.iter().copied().collect(),
        });
    }

    /// Starts `shard`'s pipeline, unless it has no organisations.
    fn start(&mut self, shard: Shard) {
        let orgs = shard.select(&self.orgs, self.shard_count);
        let provider = self.serves_provider(shard);
        if orgs.is_empty() && !provider {
            tracing::info!(shard = %shard.name(), "no organisation in this shard");
            return;
        }
        self.generation += 1;
        let generation = self.generation;
        let (stop, stop_rx) = watch::channel(false);
        let context = Arc::clone(&self.context);
        let ended = self.ended.clone();
        let work = ShardWork {
            shard,
            shard_count: if self.alone { 1 } else { self.shard_count },
            orgs: orgs.clone(),
            provider,
        };
        let task = tokio::spawn(async move {
            let result = run_shard(context, work, stop_rx).await;
            let _ = ended.send((shard, generation));
            result
        });
        self.running.insert(
            shard,
            Running {
                orgs,
                generation,
                stop,
                task,
            },
        );
    }

    /// Whether `shard` runs the provider's own events (`provider_events`): alone, yes; in a
    /// cluster, the shard of `provider/<id>`.
    fn serves_provider(&self, shard: Shard) -> bool {
        match (shard, provider_shard_key(&self.context.config)) {
            (_, None) => false,
            (Shard::All, Some(_)) => true,
            (Shard::Number(n), Some(key)) => producer::shard_of(&key, self.shard_count) == n,
        }
    }

    /// A pipeline that ended by itself (fenced, or failed to start).
    async fn join_ended(&mut self, shard: Shard, generation: u64) -> Option<Result<RunReport>> {
        if self.running.get(&shard)?.generation != generation {
            return None;
        }
        let running = self.running.remove(&shard)?;
        Some(join(shard, running).await)
    }

    async fn stop(&mut self, shard: Shard) -> Option<Result<RunReport>> {
        let running = self.running.remove(&shard)?;
        let _ = running.stop.send(true);
        Some(join(shard, running).await)
    }

    /// Stops the pipelines of `shards` together.
    async fn stop_all(&mut self, shards: &[Shard]) {
        let stopping: Vec<(Shard, Running)> = shards
            .iter()
            .filter_map(|shard| self.running.remove(shard).map(|r| (*shard, r)))
            .collect();
        for (_, running) in &stopping {
            let _ = running.stop.send(true);
        }
        for (shard, running) in stopping {
            if let Err(error) = join(shard, running).await {
                tracing::error!(shard = %shard.name(), error = %format!("{error:#}"), "shard pipeline failed");
            }
        }
    }

    /// Replaces the organisation list; pipelines whose share changed restart.
    async fn set_orgs(&mut self, orgs: Vec<String>) {
        if orgs == self.orgs {
            return;
        }
        self.orgs = orgs;
        let shards: Vec<Shard> = if self.alone {
            vec![Shard::All]
        } else {
            self.owned.iter().copied().map(Shard::Number).collect()
        };
        for shard in shards {
            let wanted = shard.select(&self.orgs, self.shard_count);
            let current = self.running.get(&shard).map(|r| r.orgs.as_slice());
            if current.unwrap_or_default() == wanted.as_slice() {
                continue;
            }
            tracing::info!(shard = %shard.name(), orgs = wanted.len(), "the shard's organisations changed: restarting its pipeline");
            if let Some(Err(error)) = self.stop(shard).await {
                tracing::error!(shard = %shard.name(), error = %format!("{error:#}"), "shard pipeline failed");
            }
            self.start(shard);
        }
    }
}

/// Waits for a stopping pipeline, up to [`STOP_TIMEOUT`].
async fn join(shard: Shard, running: Running) -> Result<RunReport> {
    let abort = running.task.abort_handle();
    match tokio::time::timeout(STOP_TIMEOUT, running.task).await {
        Ok(Ok(result)) => result,
        Ok(Err(join_error)) => Err(anyhow::anyhow!("shard {} task: {join_error}", shard.name())),
        Err(_) => {
            abort.abort();
            Err(anyhow::anyhow!(
                "shard {} did not stop within {STOP_TIMEOUT:?}; dropped",
                shard.name()
            ))
        }
    }
}
