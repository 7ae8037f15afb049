//! `jumpcloud-ocsf run`: the product's main job. Polls Directory Insights for every configured
//! organisation, maps to OCSF and produces to Kafka; checkpoints move on Kafka's acks.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use fetcher::{CheckpointStore, EventSource, FileCheckpointStore, JumpCloudClient};
use mapper::{MapOptions, Mapper, MappingTables};
use pipeline::{
    Destination, InFlightBudget, KafkaDestination, Mode, Pipeline, PipelineStats, RequestGate,
    RunReport, StartingCheckpoints, UnitLimits,
};
use producer::MembershipConfig;
use tokio::sync::watch;

use crate::config::{AppConfig, MapperConfig};
use crate::observability::{self, Observed, OrgView, PipelineView, RunningPipelines};
use crate::supervisor::{ShardContext, Supervisor};

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
    let orgs = super::orgs::resolve_org_ids(&config, &client).await?;
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
    let orgs = super::orgs::resolve_org_ids(&config, &client).await?;
    let sources = super::orgs::event_sources(&config, &client, &store, &orgs, true)?;
    let mut pipeline = build_pipeline(&config, mapper, destination);
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

/// The mapper with the compiled-in tables, or those of `mappings_dir`.
pub fn build_mapper(config: &MapperConfig) -> Result<Mapper> {
    let tables = match &config.mappings_dir {
        Some(dir) => MappingTables::load_dir(dir)?,
        None => MappingTables::embedded()?,
    };
    Ok(Mapper::new(
        tables,
        MapOptions {
            raw_data: config.raw_data,
        },
    ))
}

/// What the metrics read of each source.
pub fn org_views(sources: &[EventSource]) -> Vec<OrgView> {
    sources
        .iter()
        .map(|source| OrgView {
            org_id: source.org_id().to_string(),
            stats: source.stats(),
        })
        .collect()
}

/// The configured organisations, or `[""]` (the credential's own organisation).
pub fn org_ids(config: &AppConfig) -> Vec<String> {
    if config.jumpcloud.org_ids.is_empty() {
        vec![String::new()]
    } else {
        config.jumpcloud.org_ids.clone()
    }
}

/// The file checkpoint store at `events.checkpoint_path`.
pub fn checkpoint_store(config: &AppConfig) -> Result<Arc<dyn CheckpointStore>> {
    let path = config.checkpoint_path();
    let store = FileCheckpointStore::open(path)
        .with_context(|| format!("checkpoint file {}", path.display()))?;
    Ok(Arc::new(store))
}

/// Connects to Kafka as the job `role` of this deployment (`""`: the live run): the producer,
/// the topics, fencing of an earlier process with the same identity, and the checkpoints the
/// sources start from (the state topic's, taking over the file checkpoint where it holds none;
/// or the file's with `state_store = "file"`).
pub async fn connect_kafka(
    config: &AppConfig,
    role: &str,
) -> Result<(Arc<Destination>, StartingCheckpoints)> {
    let file = if config.checkpoint_path().exists()
        || config.kafka.state_store == producer::StateStore::File
    {
        Some(checkpoint_store(config)?)
    } else {
        None
    };
    let (kafka, store) = KafkaDestination::connect(config.kafka.clone(), role, file)
        .await
        .context("connecting to Kafka")?;
    tracing::info!(
        delivery = ?config.kafka.delivery,
        state_store = ?config.kafka.state_store,
        "Kafka ready"
    );
    Ok((Arc::new(Destination::Kafka(Box::new(kafka))), store))
}

/// The delivery engine with the configured flow control.
pub fn build_pipeline(
    config: &AppConfig,
    mapper: Arc<Mapper>,
    destination: Arc<Destination>,
) -> Pipeline {
    Pipeline::new(
        mapper,
        destination,
        config.pipeline.max_in_flight_events,
        UnitLimits {
            max_events: config.pipeline.unit_max_events,
            max_duration: std::time::Duration::from_millis(config.pipeline.unit_max_ms),
        },
    )
}

/// Runs `work` on a new async runtime; `Ok(true)` is success.
pub fn block_on(work: impl std::future::Future<Output = Result<bool>>) -> ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(work) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// The client and one live event source per configured organisation (or the credential's own),
/// resuming from `store`.
pub fn build_sources(
    config: &AppConfig,
    starting: &StartingCheckpoints,
) -> Result<(JumpCloudClient, Vec<EventSource>)> {
    let client = config.jumpcloud_client()?;
    let sources = super::orgs::event_sources(config, &client, starting, &org_ids(config), true)?;
    Ok((client, sources))
}

/// A shutdown signal that turns `true` on Ctrl-C or SIGTERM.
pub fn shutdown_on_signal() -> watch::Receiver<bool> {
    let (sender, receiver) = watch::channel(false);
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutdown requested: stop fetching, deliver what is in flight, commit");
        let _ = sender.send(true);
        // Keep the sender alive so receivers do not see a closed channel.
        std::future::pending::<()>().await;
    });
    receiver
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut sigterm) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = sigterm.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
