//! `jumpcloud-ocsf run`: the product's main job. Polls Directory Insights for every configured
//! organisation, maps to OCSF and produces to Kafka; checkpoints move on Kafka's acks.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use fetcher::{CheckpointStore, EventSource, FileCheckpointStore, JumpCloudClient};
use mapper::{MapOptions, Mapper, MappingTables};
use producer::OcsfProducer;
use tokio::sync::watch;

use crate::config::{AppConfig, MapperConfig};
use crate::observability::{self, Observed, OrgView};
use crate::pipeline::{Mode, Pipeline, RunReport, Sink};

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
        Ok(report.is_success())
    })
}

async fn run_async(args: Args) -> Result<RunReport> {
    let config = AppConfig::load(args.config.as_deref())?;
    let mapper = Arc::new(build_mapper(&config.mapper)?);
    let producer = OcsfProducer::new(config.kafka.clone())
        .await
        .context("starting the Kafka producer")?;
    let topics = producer
        .ensure_topics()
        .await
        .context("creating the Kafka topics")?;
    tracing::info!(?topics, "Kafka topics ready");
    let sink = Arc::new(Sink::kafka(producer, config.kafka.clone()));
    let (client, sources) = build_sources(&config)?;
    let pipeline = Pipeline::new(
        mapper,
        Arc::clone(&sink),
        config.pipeline.max_in_flight_events,
    );
    if let Some(listen) = config.metrics.listen {
        let observed = Observed {
            pipeline: pipeline.stats(),
            fetch: client.stats(),
            orgs: org_views(&sources),
            sink,
        };
        observability::serve(listen, observed)
            .await
            .with_context(|| format!("metrics listener {listen}"))?;
    }
    let shutdown = shutdown_on_signal();
    let mode = if args.once { Mode::Once } else { Mode::Follow };
    let report = pipeline.run(sources, mode, shutdown).await;
    let totals = pipeline.stats().totals();
    tracing::info!(
        fetched = totals.fetched,
        delivered = totals.delivered,
        dead_lettered = totals.dead_lettered,
        "pipeline stopped"
    );
    Ok(report)
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
            acker: source.acker(),
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

/// The deployment's checkpoint store.
pub fn checkpoint_store(config: &AppConfig) -> Result<Arc<dyn CheckpointStore>> {
    let path = &config.events.checkpoint_path;
    let store = FileCheckpointStore::open(path)
        .with_context(|| format!("checkpoint file {}", path.display()))?;
    Ok(Arc::new(store))
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

/// The client and one live event source per configured organisation (or the credential's own).
pub fn build_sources(config: &AppConfig) -> Result<(JumpCloudClient, Vec<EventSource>)> {
    let client = JumpCloudClient::new(config.jumpcloud.clone())?;
    let store = checkpoint_store(config)?;
    let sources = org_ids(config)
        .into_iter()
        .map(|org_id| {
            EventSource::new(
                client.clone(),
                org_id.clone(),
                config.events.clone(),
                Arc::clone(&store),
            )
            .with_context(|| format!("event source of organisation {org_id:?}"))
        })
        .collect::<Result<Vec<_>>>()?;
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
