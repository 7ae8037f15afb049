//! How the binary builds what runs from the configuration: the mapper, the Kafka destination
//! and the store the cursors are read from, the delivery engine, the organisations and their
//! sources (`orgs.rs`), and the views the metrics read of them.
//!
//! The commands and the supervisor build their pipelines here; this module imports neither.

mod orgs;

use std::sync::Arc;

use anyhow::{Context, Result};
use fetcher::{CheckpointStore, EventSource, FileCheckpointStore, JumpCloudClient};
use mapper::{MapOptions, Mapper, MappingTables};
use pipeline::{Destination, KafkaDestination, Pipeline, StartingCheckpoints};

pub use orgs::{build_sources, event_sources, provider_shard_key, resolve_org_ids};

use crate::config::{AppConfig, MapperConfig};
use crate::observability::OrgView;

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
        || config.pipeline.state_store == pipeline::StateStore::File
    {
        Some(checkpoint_store(config)?)
    } else {
        None
    };
    let (kafka, store) =
        KafkaDestination::connect(config.kafka.clone(), &config.pipeline, role, file)
            .await
            .context("connecting to Kafka")?;
    tracing::info!(
        delivery = ?config.pipeline.delivery,
        state_store = ?config.pipeline.state_store,
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
        config.pipeline.unit_limits(),
    )
}

/// `pipeline` with the audit of `[audit]` when it is enabled and the cursors are in Kafka: its
/// counts are read back from `store` (the state topic) and kept with the cursors.
pub fn with_audit(
    pipeline: Pipeline,
    config: &AppConfig,
    client: &JumpCloudClient,
    store: &StartingCheckpoints,
) -> Pipeline {
    match config.audit.plan(client) {
        Some(plan) if config.pipeline.state_store == pipeline::StateStore::Kafka => {
            pipeline.with_audit(plan, store.audit_ledger().clone())
        }
        Some(_) => {
            tracing::warn!("[audit] needs [pipeline] state_store = \"kafka\": the audit is off");
            pipeline
        }
        None => pipeline,
    }
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

#[cfg(test)]
mod tests;
