//! `jumpcloud-ocsf run`: the product's main job. Polls Directory Insights for every configured
//! organisation, maps to OCSF and produces to Kafka; checkpoints move on Kafka's acks.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use mapper::Mapper;
use pipeline::{InFlightBudget, Mode, PipelineStats, RequestGate, RunReport};
use producer::MembershipConfig;

use crate::config::AppConfig;
use crate::observability::{self, Observed, PipelineView, RunningPipelines};
use crate::runtime::{block_on, shutdown_on_signal};
use crate::supervisor::{ShardContext, Supervisor};
use crate::wiring::{
    build_mapper, build_pipeline, connect_kafka, event_sources, org_views, resolve_org_ids,
    with_audit,
};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Configuration file (TOML); environment variables override it (see README).
    #[arg(long, short, env = "JUMPCLOUD_OCSF_CONFIG")]
    pub config: Option<PathBuf>,
    /// Catch up to `now - lag` for every organisation, then exit (0 when all succeeded).
    #[arg(long)]
    pub once: bool,
}

pub fn run(args: Args) -> ExitCode {
    block_on(async {
        let report = run_async(args).await?;
        for (org, error) in &report.failed_orgs {
            eprintln!("error: organisation {org:?}: {error}");
        }
        if let Some(fenced) = &report.fenced {
            eprintln!("error: {fenced}");
        }
        Ok(report.is_success())
    })
}

async fn run_async(args: Args) -> Result<RunReport> {
    let config = AppConfig::load(args.config.as_deref())?;
    let mapper = Arc::new(build_mapper(&config.mapper)?);
    if args.once {
        if config.cluster.group_id.is_some() {
            anyhow::bail!(
                "--once catches up every organisation in one process; it cannot share them with a [cluster]"
            );
        }
        return run_once(config, mapper).await;
    }
    let client = config.jumpcloud_client()?;
    let orgs = resolve_org_ids(&config, &client).await?;
    let running = Arc::new(RunningPipelines::default());
    let stats = Arc::new(PipelineStats::default());
    if let Some(listen) = config.metrics.listen {
        let observed = Observed {
            pipeline: Arc::clone(&stats),
            fetch: client.stats(),
            running: Arc::clone(&running),
        };
        observability::serve(listen, observed)
            .await
            .with_context(|| format!("metrics listener {listen}"))?;
    }
    let shutdown = shutdown_on_signal();
    let membership = config
        .cluster
        .group_id
        .clone()
        .map(|group_id| MembershipConfig {
            group_id,
            topic: config.cluster.topic.clone(),
            shards: config.cluster.shards,
            session_timeout: config.cluster.session_timeout,
            revoke_timeout: REVOKE_TIMEOUT,
        });
    let context = Arc::new(ShardContext {
        retry_connect: membership.is_some(),
        inventory: config.inventory.plan(&client),
        budget: InFlightBudget::new(config.pipeline.max_in_flight_events),
        request_gate: RequestGate::shared(),
        connecting: tokio::sync::Semaphore::new(2),
        config,
        mapper,
        client,
        stats: Arc::clone(&stats),
        running,
    });
    let supervisor = Supervisor::new(context, orgs);
    let report = match membership {
        Some(membership) => supervisor.run_in_cluster(membership, shutdown).await?,
        None => supervisor.run_alone(shutdown).await?,
    };
    log_totals(&stats);
    Ok(report)
}

/// How long a revoked shard may take to stop before the group releases it anyway.
const REVOKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(90);

/// `--once`: one pipeline catches every organisation up, then the run ends.
async fn run_once(config: AppConfig, mapper: Arc<Mapper>) -> Result<RunReport> {
    let (destination, store) = connect_kafka(&config, "").await?;
    let client = config.jumpcloud_client()?;
    let orgs = resolve_org_ids(&config, &client).await?;
    let sources = event_sources(&config, &client, &store, &orgs, true)?;
    let pipeline = build_pipeline(&config, mapper, destination);
    let mut pipeline = with_audit(pipeline, &config, &client, &store);
    if let Some(plan) = config.inventory.plan(&client) {
        pipeline = pipeline.with_inventory(plan);
    }
    if let Some(listen) = config.metrics.listen {
        let running = Arc::new(RunningPipelines::default());
        running.insert(
            "all",
            PipelineView {
                orgs: org_views(&sources),
                destination: pipeline.destination(),
                health: pipeline.health(),
            },
        );
        let observed = Observed {
            pipeline: pipeline.stats(),
            fetch: client.stats(),
            running,
        };
        observability::serve(listen, observed)
            .await
            .with_context(|| format!("metrics listener {listen}"))?;
    }
    let report = pipeline
        .run(sources, Mode::Once, shutdown_on_signal())
        .await;
    log_totals(&pipeline.stats());
    Ok(report)
}

fn log_totals(stats: &PipelineStats) {
    let totals = stats.totals();
    tracing::info!(
        fetched = totals.fetched,
        delivered = totals.delivered,
        dead_lettered = totals.dead_lettered,
        "pipeline stopped"
    );
}
