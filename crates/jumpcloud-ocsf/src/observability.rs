//! Prometheus `/metrics`, `/healthz` and `/readyz` for the running pipeline.
//!
//! The counters live where the work is done (`fetcher::FetchStats`/`SourceStats`, the
//! pipeline's `PipelineStats`, the producer's queue); a collector reads them at scrape time.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use fetcher::{FetchStats, SourceStats};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;
use std::sync::atomic::Ordering;

use pipeline::{DeliveryHealth, Destination, PipelineStats};

/// One organisation's source, as seen by the metrics.
#[derive(Debug, Clone)]
pub struct OrgView {
    /// Organisation id (`""` = the credential's own).
    pub org_id: String,
    /// The source's counters (the delivery engine keeps its durable cursor and pending
    /// batches there).
    pub stats: Arc<SourceStats>,
}

/// What one running pipeline shows the metrics.
#[derive(Clone)]
pub struct PipelineView {
    /// Its organisations' sources.
    pub orgs: Vec<OrgView>,
    /// Where its records go (Kafka queue depth).
    pub destination: Arc<Destination>,
    /// Whether its units keep failing.
    pub health: Arc<DeliveryHealth>,
}

/// The pipelines running in this process, and the shards it owns in a cluster. The
/// supervisor keeps it current; the metrics and `/readyz` read it.
#[derive(Default)]
pub struct RunningPipelines {
    pipelines: RwLock<BTreeMap<String, PipelineView>>,
    cluster: RwLock<Option<ClusterView>>,
}

/// This instance's part in a cluster.
#[derive(Debug, Clone, Default)]
pub struct ClusterView {
    /// Shards in the deployment (the coordination topic's partitions).
    pub shard_count: i32,
    /// The shards this instance owns.
    pub owned: Vec<i32>,
}

impl RunningPipelines {
    /// Shows the pipeline named `name` (a shard number, or `all`).
    pub fn insert(&self, name: &str, view: PipelineView) {
        write(&self.pipelines).insert(name.to_owned(), view);
    }

    /// Stops showing the pipeline named `name`.
    pub fn remove(&self, name: &str) {
        write(&self.pipelines).remove(name);
    }

    /// Sets the shards this instance owns.
    pub fn set_cluster(&self, view: ClusterView) {
        *write(&self.cluster) = Some(view);
    }

    /// The shards this instance owns, in a cluster.
    pub fn cluster(&self) -> Option<ClusterView> {
        read(&self.cluster).clone()
    }

    /// Every running source.
    pub fn orgs(&self) -> Vec<OrgView> {
        read(&self.pipelines)
            .values()
            .flat_map(|view| view.orgs.iter().cloned())
            .collect()
    }

    /// Each running pipeline's name and delivery health.
    pub fn health(&self) -> Vec<(String, Arc<DeliveryHealth>)> {
        read(&self.pipelines)
            .iter()
            .map(|(name, view)| (name.clone(), Arc::clone(&view.health)))
            .collect()
    }

    /// Records queued in the producers, not yet acknowledged.
    pub fn in_flight(&self) -> usize {
        read(&self.pipelines)
            .values()
            .map(|view| view.destination.in_flight())
            .sum()
    }
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|p| p.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|p| p.into_inner())
}

/// Everything the metrics read.
#[derive(Clone)]
pub struct Observed {
    /// Pipeline counters (shared by every pipeline of the process).
    pub pipeline: Arc<PipelineStats>,
    /// JumpCloud client counters.
    pub fetch: Arc<FetchStats>,
    /// The running pipelines, their sources and destinations.
    pub running: Arc<RunningPipelines>,
}

impl std::fmt::Debug for Observed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Observed")
            .field("orgs", &self.running.orgs().len())
            .finish_non_exhaustive()
    }
}

fn org_label(org_id: &str) -> String {
    if org_id.is_empty() {
        "default".to_string()
    } else {
        org_id.to_string()
    }
}

fn counter(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    values: &[(Vec<(&str, String)>, u64)],
) -> std::fmt::Result {
    let mut family =
        encoder.encode_descriptor(name, help, None, ConstCounter::new(0u64).metric_type())?;
    for (labels, value) in values {
        let labels: Vec<(String, String)> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        ConstCounter::new(*value).encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}

fn gauge(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    values: &[(Vec<(&str, String)>, f64)],
) -> std::fmt::Result {
    let mut family =
        encoder.encode_descriptor(name, help, None, ConstGauge::new(0f64).metric_type())?;
    for (labels, value) in values {
        let labels: Vec<(String, String)> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        ConstGauge::new(*value).encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}

impl Collector for Observed {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::fmt::Result {
        let per_org = self.pipeline.per_org();
        let now_ms = chrono::Utc::now().timestamp_millis();
        let mut fetched = Vec::new();
        let mut duplicates = Vec::new();
        let mut dead = Vec::new();
        let mut lag = Vec::new();
        let mut checkpoint_age = Vec::new();
        let mut pending = Vec::new();
        let mut dedup_keys = Vec::new();
        let mut never_completed = 0u64;
        for org in &self.running.orgs() {
            let label = org_label(&org.org_id);
            fetched.push((
                vec![("org", label.clone())],
                org.stats.events_fetched.load(Ordering::Relaxed),
            ));
            duplicates.push((
                vec![("org", label.clone())],
                org.stats.duplicates_skipped.load(Ordering::Relaxed),
            ));
            let totals = per_org.get(&org.org_id).cloned().unwrap_or_default();
            dead.push((
                vec![("org", label.clone()), ("stage", "map".to_string())],
                totals.dead_lettered_map,
            ));
            dead.push((
                vec![("org", label.clone()), ("stage", "encode".to_string())],
                totals.dead_lettered_encode,
            ));
            // Computed now: an organisation that stopped being polled shows its lag growing;
            // one that never completed a window has no value (counted apart, never 0).
            match org.stats.data_lag_seconds(now_ms) {
                Some(seconds) => lag.push((vec![("org", label.clone())], seconds)),
                None => never_completed += 1,
            }
            let committed = org.stats.committed_cursor_ms.load(Ordering::Relaxed);
            checkpoint_age.push((
                vec![("org", label.clone())],
                (now_ms - committed) as f64 / 1000.0,
            ));
            pending.push((
                vec![("org", label.clone())],
                org.stats.pending_batches.load(Ordering::Relaxed) as f64,
            ));
            dedup_keys.push((
                vec![("org", label)],
                org.stats.dedup_keys.load(Ordering::Relaxed) as f64,
            ));
        }
        let delivered: Vec<_> = self
            .pipeline
            .per_org_class()
            .into_iter()
            .map(|((org, class), n)| {
                (
                    vec![("org", org_label(&org)), ("class", class.to_string())],
                    n,
                )
            })
            .collect();
        counter(
            &mut encoder,
            "jumpcloud_ocsf_events_fetched",
            "Directory Insights events fetched (after dedup)",
            &fetched,
        )?;
        counter(
            &mut encoder,
            "jumpcloud_ocsf_duplicates_skipped",
            "Events skipped as already seen (overlap re-fetch)",
            &duplicates,
        )?;
        counter(
            &mut encoder,
            "jumpcloud_ocsf_records_delivered",
            "OCSF records acknowledged by the sink, per class",
            &delivered,
        )?;
        counter(
            &mut encoder,
            "jumpcloud_ocsf_dead_letters",
            "Records sent to the dead-letter topic, per stage",
            &dead,
        )?;
        let f = &self.fetch;
        let statuses = [
            ("2xx", f.responses_2xx.load(Ordering::Relaxed)),
            ("429", f.responses_429.load(Ordering::Relaxed)),
            ("4xx", f.responses_4xx.load(Ordering::Relaxed)),
            ("5xx", f.responses_5xx.load(Ordering::Relaxed)),
            (
                "transport_error",
                f.transport_errors.load(Ordering::Relaxed),
            ),
        ];
        let responses: Vec<_> = statuses
            .iter()
            .map(|(s, n)| (vec![("status", s.to_string())], *n))
            .collect();
        counter(
            &mut encoder,
            "jumpcloud_ocsf_api_responses",
            "JumpCloud API responses by status class",
            &responses,
        )?;
        counter(
            &mut encoder,
            "jumpcloud_ocsf_api_retries",
            "JumpCloud API retries scheduled by the backoff policy",
            &[(vec![], f.retries.load(Ordering::Relaxed))],
        )?;
        counter(
            &mut encoder,
            "jumpcloud_ocsf_oauth_token_refreshes",
            "OAuth access tokens obtained",
            &[(vec![], f.token_refreshes.load(Ordering::Relaxed))],
        )?;
        gauge(
            &mut encoder,
            "jumpcloud_ocsf_data_lag_seconds",
            "Now minus the end of the last completed query window, computed when scraped; absent for an organisation that has not completed one",
            &lag,
        )?;
        gauge(
            &mut encoder,
            "jumpcloud_ocsf_orgs_without_completed_window",
            "Organisations that have not completed a query window yet (no data lag to show)",
            &[(vec![], never_completed as f64)],
        )?;
        gauge(
            &mut encoder,
            "jumpcloud_ocsf_checkpoint_age_seconds",
            "Now minus the committed cursor",
            &checkpoint_age,
        )?;
        gauge(
            &mut encoder,
            "jumpcloud_ocsf_batches_pending",
            "Batches handed out and not yet committed",
            &pending,
        )?;
        gauge(
            &mut encoder,
            "jumpcloud_ocsf_dedup_keys",
            "Event keys held for overlap dedup",
            &dedup_keys,
        )?;
        let failing: Vec<_> = self
            .running
            .health()
            .into_iter()
            .map(|(name, health)| {
                (
                    vec![("pipeline", name)],
                    health.consecutive_failures() as f64,
                )
            })
            .collect();
        gauge(
            &mut encoder,
            "jumpcloud_ocsf_unit_failures_consecutive",
            "Failed attempts to make a unit durable since the last durable unit (a failed unit, or a transactional call retried while the broker is away), per pipeline (`all`, or a shard)",
            &failing,
        )?;
        let queued = self.running.in_flight() as f64;
        gauge(
            &mut encoder,
            "jumpcloud_ocsf_kafka_queue_depth",
            "Records queued in the Kafka producers, not yet acknowledged",
            &[(vec![], queued)],
        )?;
        if let Some(cluster) = self.running.cluster() {
            gauge(
                &mut encoder,
                "jumpcloud_ocsf_shards",
                "Organisation shards of the deployment (the coordination topic's partitions)",
                &[(vec![], f64::from(cluster.shard_count))],
            )?;
            let owned: Vec<_> = cluster
                .owned
                .iter()
                .map(|shard| (vec![("shard", shard.to_string())], 1.0))
                .collect();
            gauge(
                &mut encoder,
                "jumpcloud_ocsf_shard_owned",
                "1 for each organisation shard this instance owns",
                &owned,
            )?;
        }
        self.encode_audit(&mut encoder)?;
        let inventory = &self.pipeline.inventory;
        for (name, help, value) in [
            (
                "jumpcloud_ocsf_inventory_snapshots",
                "Inventory snapshots committed",
                &inventory.snapshots,
            ),
            (
                "jumpcloud_ocsf_inventory_snapshot_failures",
                "Inventory snapshots that failed (taken again after inventory.retry_after)",
                &inventory.failures,
            ),
            (
                "jumpcloud_ocsf_inventory_records",
                "User and Device Inventory Info records committed",
                &inventory.records,
            ),
            (
                "jumpcloud_ocsf_inventory_changes",
                "Inventory change events committed",
                &inventory.changes,
            ),
            (
                "jumpcloud_ocsf_inventory_dead_lettered",
                "Console records of snapshots that could not be mapped",
                &inventory.dead_lettered,
            ),
        ] {
            counter(
                &mut encoder,
                name,
                help,
                &[(vec![], value.load(Ordering::Relaxed))],
            )?;
        }
        Ok(())
    }
}

impl Observed {
    /// The audit's metrics: comparisons by result, and per organisation the events missing
    /// now, repaired, delivered beyond the API's count, and the windows waiting.
    fn encode_audit(&self, encoder: &mut DescriptorEncoder) -> std::fmt::Result {
        let audit = &self.pipeline.audit;
        let results: Vec<_> = [
            ("match", &audit.matched),
            ("missing", &audit.missing),
            ("excess", &audit.excess),
        ]
        .into_iter()
        .map(|(result, value)| {
            (
                vec![("result", result.to_string())],
                value.load(Ordering::Relaxed),
            )
        })
        .collect();
        counter(
            encoder,
            "jumpcloud_ocsf_audit_windows",
            "Settled windows compared with /events/count, by result (a window repaired and compared again counts twice)",
            &results,
        )?;
        let findings = audit.per_org();
        let mut missing = Vec::new();
        let mut excess = Vec::new();
        let mut repaired = Vec::new();
        let (mut backlog, mut open) = (0u64, 0u64);
        for org in &self.running.orgs() {
            let found = findings.get(&org.org_id).cloned().unwrap_or_default();
            let label = vec![("org", org_label(&org.org_id))];
            missing.push((label.clone(), found.missing_events() as f64));
            excess.push((label.clone(), found.excess.values().sum::<u64>() as f64));
            repaired.push((label, found.repaired));
            backlog += found.backlog;
            open += found.open_windows;
        }
        gauge(
            encoder,
            "jumpcloud_ocsf_audit_missing_events",
            "Events the API counts and the pipeline has not delivered, in settled windows not repaired (yet)",
            &missing,
        )?;
        gauge(
            encoder,
            "jumpcloud_ocsf_audit_excess_events",
            "Events delivered beyond the API's count in settled windows (deleted at the source, retention)",
            &excess,
        )?;
        counter(
            encoder,
            "jumpcloud_ocsf_audit_repaired_events",
            "Events delivered (or dead-lettered) by repairs of windows missing them",
            &repaired,
        )?;
        gauge(
            encoder,
            "jumpcloud_ocsf_audit_backlog_windows",
            "Settled windows not audited yet",
            &[(vec![], backlog as f64)],
        )?;
        gauge(
            encoder,
            "jumpcloud_ocsf_audit_open_windows",
            "Windows with deliveries not audited and final yet (their counts held in memory)",
            &[(vec![], open as f64)],
        )
    }
}

#[derive(Clone)]
struct AppState {
    registry: Arc<Registry>,
    observed: Observed,
}

/// The registry with every metric of the pipeline.
fn registry(observed: &Observed) -> Registry {
    let mut registry = Registry::default();
    registry.register(
        "jumpcloud_ocsf_delivery_latency_seconds",
        "Seconds from handing a record to the sink to its acknowledgement",
        observed.pipeline.delivery_latency.clone(),
    );
    registry.register_collector(Box::new(observed.clone()));
    registry
}

/// The HTTP routes: `/metrics`, `/healthz`, `/readyz`.
pub fn router(observed: Observed) -> Router {
    let state = AppState {
        registry: Arc::new(registry(&observed)),
        observed,
    };
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .with_state(state)
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let mut body = String::new();
    match prometheus_client::encoding::text::encode(&mut body, &state.registry) {
        Ok(()) => (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            body,
        )
            .into_response(),
        Err(err) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("encoding metrics failed: {err}\n"),
        )
            .into_response(),
    }
}

/// Ready when every organisation has fetched successfully and none is failing now.
async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let states = state.observed.pipeline.org_states();
    let mut problems = Vec::new();
    for org in &state.observed.running.orgs() {
        match states.get(&org.org_id) {
            Some(None) => {}
            Some(Some(error)) => problems.push(format!("{}: {error}", org_label(&org.org_id))),
            None => problems.push(format!(
                "{}: no successful fetch yet",
                org_label(&org.org_id)
            )),
        }
    }
    // A pipeline whose units keep failing (a broker away, an ACL missing) is stuck.
    for (name, health) in state.observed.running.health() {
        if let Some(problem) = health.problem() {
            problems.push(format!("pipeline {name}: {problem}"));
        }
    }
    // In a cluster, say which shards this instance owns (none is ready: a standby).
    let shards = match state.observed.running.cluster() {
        Some(cluster) => format!(
            "shards: {} of {}\n",
            cluster
                .owned
                .iter()
                .map(i32::to_string)
                .collect::<Vec<_>>()
                .join(","),
            cluster.shard_count
        ),
        None => String::new(),
    };
    // The audit's findings are detail: a window missing events does not stop delivery.
    let audit: String = state
        .observed
        .pipeline
        .audit
        .problems(20)
        .into_iter()
        .map(|line| line + "\n")
        .collect();
    if problems.is_empty() {
        (StatusCode::OK, format!("ready\n{shards}{audit}"))
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready\n{shards}{}\n{audit}", problems.join("\n")),
        )
    }
}

/// Serves the routes on `listen` until the process ends.
pub async fn serve(listen: SocketAddr, observed: Observed) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        if let Err(err) = axum::serve(listener, router(observed)).await {
            tracing::error!(error = %err, "metrics server stopped");
        }
    });
    tracing::info!(%addr, "metrics on http://{addr}/metrics, health on /healthz and /readyz");
    Ok(addr)
}
