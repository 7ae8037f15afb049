//! One shard's pipeline: connect under the shard's transactional id (fencing its previous
//! owner), read the cursors, run the sources of the shard's organisations until stopped.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use fetcher::JumpCloudClient;
use mapper::Mapper;
use pipeline::{
    InFlightBudget, InventoryPlan, Mode, PipelineStats, RequestGate, RunReport, stopped,
};
use tokio::sync::watch;

use crate::config::AppConfig;
use crate::observability::{PipelineView, RunningPipelines};
use crate::wiring::{build_pipeline, connect_kafka, event_sources, org_views, with_audit};

/// Which organisations a pipeline serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Shard {
    /// Every organisation (an instance alone): transactional id `deployment_id`.
    All,
    /// The organisations of one shard: transactional id `deployment_id.shard-N`.
    Number(i32),
}

impl Shard {
    /// The job name in the transactional id (`""` for [`Shard::All`]).
    pub fn role(self) -> String {
        match self {
            Shard::All => String::new(),
            Shard::Number(n) => format!("shard-{n}"),
        }
    }

    /// The name in metrics (`all`, or the number).
    pub fn name(self) -> String {
        match self {
            Shard::All => "all".into(),
            Shard::Number(n) => n.to_string(),
        }
    }

    /// The organisations of `orgs` this shard serves, out of `count` shards.
    pub fn select(self, orgs: &[String], count: i32) -> Vec<String> {
        orgs.iter()
            .filter(|org| match self {
                Shard::All => true,
                Shard::Number(n) => producer::shard_of(org, count) == n,
            })
            .cloned()
            .collect()
    }
}

/// What every shard's pipeline shares in one process.
pub struct ShardContext {
    pub config: AppConfig,
    pub mapper: Arc<Mapper>,
    /// One client: the request-rate cap is the process's, all shards together.
    pub client: JumpCloudClient,
    pub stats: Arc<PipelineStats>,
    pub running: Arc<RunningPipelines>,
    /// Alone: a failure to connect is the run's error. In a cluster: retried while owned.
    pub retry_connect: bool,
    /// Inventory snapshots of each pipeline's organisations; its clones share one request pace,
    /// so the shards together keep to `[inventory] max_requests_per_sec`.
    pub inventory: Option<InventoryPlan>,
    /// Room for fetched events, shared by every pipeline of the process: memory stays within
    /// `[pipeline] max_in_flight_events` however many shards it owns.
    pub budget: InFlightBudget,
    /// Turns at the request budget, shared by every pipeline of the process: sweeps go before
    /// backlog pages across all shards, not within each.
    pub request_gate: Arc<RequestGate>,
    /// Shards connecting at once (each creates a producer, an admin client and two state
    /// readers): a newly assigned instance starts its shards a few at a time.
    pub connecting: tokio::sync::Semaphore,
}

/// The smallest producer queue a shard's pipeline gets.
const MIN_SHARD_QUEUE_KBYTES: u32 = 256;

/// How long to wait before connecting again after a failure.
const CONNECT_RETRY: Duration = Duration::from_secs(5);

/// What one shard's pipeline serves.
pub struct ShardWork {
    pub shard: Shard,
    /// The shards of the deployment (1 alone): each shard's producer gets this share of the
    /// producer queue (`[kafka] queue_max_kbytes`).
    pub shard_count: i32,
    pub orgs: Vec<String>,
    /// Whether it also runs the provider's own events.
    pub provider: bool,
}

/// Runs a shard's pipeline over its organisations (and the provider's own events) until `stop`
/// turns true or the pipeline is fenced.
pub async fn run_shard(
    context: Arc<ShardContext>,
    work: ShardWork,
    mut stop: watch::Receiver<bool>,
) -> Result<RunReport> {
    let ShardWork {
        shard,
        shard_count,
        orgs,
        provider,
    } = work;
    let role = shard.role();
    let mut config = context.config.clone();
    let shares = u32::try_from(shard_count.max(1)).unwrap_or(1);
    config.kafka.queue_max_kbytes = (config.kafka.queue_max_kbytes / shares)
        .max(MIN_SHARD_QUEUE_KBYTES.min(config.kafka.queue_max_kbytes));
    let (destination, store) = loop {
        let connecting = async {
            let _turn = context.connecting.acquire().await;
            connect_kafka(&config, &role).await
        };
        let result = tokio::select! {
            biased;
            () = stopped(&mut stop) => return Ok(RunReport::default()),
            result = connecting => result,
        };
        match result {
            Ok(connected) => break connected,
            // A missing ACL does not go away by retrying: the run ends with it.
            Err(error) if context.retry_connect && !is_missing_acl(&error) => {
                tracing::error!(shard = %shard.name(), error = %format!("{error:#}"), "connecting the shard's pipeline failed; retrying");
                tokio::select! {
                    () = stopped(&mut stop) => return Ok(RunReport::default()),
                    () = tokio::time::sleep(CONNECT_RETRY) => {}
                }
            }
            Err(error) => return Err(error),
        }
    };
    let sources = event_sources(&context.config, &context.client, &store, &orgs, provider)
        .with_context(|| format!("the sources of shard {}", shard.name()))?;
    let pipeline = build_pipeline(&context.config, Arc::clone(&context.mapper), destination)
        .with_stats(Arc::clone(&context.stats))
        .with_budget(context.budget.clone())
        .with_request_gate(Arc::clone(&context.request_gate));
    let mut pipeline = with_audit(pipeline, &context.config, &context.client, &store);
    if let Some(plan) = &context.inventory {
        pipeline = pipeline.with_inventory(plan.clone());
    }
    context.running.insert(
        &shard.name(),
        PipelineView {
            orgs: org_views(&sources),
            destination: pipeline.destination(),
            health: pipeline.health(),
        },
    );
    tracing::info!(shard = %shard.name(), orgs = orgs.len(), "pipeline started");
    let report = pipeline.run(sources, Mode::Follow, stop).await;
    context.running.remove(&shard.name());
    match &report.fenced {
        Some(fenced) => {
            tracing::error!(shard = %shard.name(), error = %fenced, "pipeline fenced: it wrote nothing more")
        }
        None => tracing::info!(shard = %shard.name(), "pipeline stopped"),
    }
    Ok(report)
}

/// Whether `error` says the principal lacks a Kafka ACL.
pub fn is_missing_acl(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<producer::ProducerError>()
            .is_some_and(producer::ProducerError::is_missing_acl)
    })
}
