//! The running pipeline: fetch -> map -> encode -> produce -> delivery ack -> checkpoint.
//!
//! One task per organisation pulls batches (pages) from its [`fetcher::EventSource`]. Each batch
//! is mapped event by event; what maps is delivered to its class topic, what does not is
//! delivered to the dead-letter topic with the reason. When every record of the batch is
//! acknowledged by the sink, the batch's checkpoint token is acknowledged to the fetcher, which
//! commits the cursor once every earlier batch is acknowledged too. At most
//! `max_in_flight_batches` batches per organisation are held at once (backpressure: a slow or
//! absent broker stops the fetching, not the memory). A record whose delivery fails is retried
//! with backoff until it is delivered or the pipeline shuts down (then its batch is not
//! acknowledged and will be fetched again after a restart: at-least-once).

pub mod sink;
pub mod stats;

use std::sync::Arc;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use fetcher::{Acker, EventBatch, EventSource, FetchError, RawEvent};
use futures::future::BoxFuture;
use mapper::Mapper;
use producer::{DeadLetter, Stage};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;

pub use sink::{FileSink, Outcome, Sink, SinkError};
pub use stats::{BatchCounts, PipelineStats};

/// Run until caught up, or follow the stream until shutdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Catch up to `now - lag`, then stop.
    Once,
    /// Poll forever (until shutdown).
    Follow,
}

/// A shutdown signal: `true` once shutdown was requested.
pub type Shutdown = watch::Receiver<bool>;

/// The parts a pipeline run shares between its tasks.
pub struct Pipeline {
    mapper: Arc<Mapper>,
    sink: Arc<Sink>,
    stats: Arc<PipelineStats>,
    max_in_flight_batches: usize,
}

/// How a run ended, per organisation.
#[derive(Debug, Default)]
pub struct RunReport {
    /// Organisations whose source stopped on an error (`--once`), with the error.
    pub failed_orgs: Vec<(String, String)>,
}

impl RunReport {
    /// True when every organisation ran to its end.
    pub fn is_success(&self) -> bool {
        self.failed_orgs.is_empty()
    }
}

impl Pipeline {
    /// A pipeline writing `mapper`'s output to `sink`.
    pub fn new(mapper: Arc<Mapper>, sink: Arc<Sink>, max_in_flight_batches: usize) -> Self {
        Self {
            mapper,
            sink,
            stats: Arc::new(PipelineStats::default()),
            max_in_flight_batches: max_in_flight_batches.max(1),
        }
    }

    /// The counters of this pipeline.
    pub fn stats(&self) -> Arc<PipelineStats> {
        Arc::clone(&self.stats)
    }

    /// Runs every source to its end (`Once`) or until `shutdown` (`Follow`), then flushes the
    /// sink. Acknowledged batches are checkpointed by the fetcher as they complete.
    pub async fn run(
        &self,
        sources: Vec<EventSource>,
        mode: Mode,
        shutdown: Shutdown,
    ) -> RunReport {
        let mut tasks = JoinSet::new();
        for source in sources {
            let org_id = source.org_id().to_string();
            let ctx = BatchContext {
                mapper: Arc::clone(&self.mapper),
                sink: Arc::clone(&self.sink),
                stats: Arc::clone(&self.stats),
                shutdown: shutdown.clone(),
            };
            let max_in_flight = self.max_in_flight_batches;
            let shutdown = shutdown.clone();
            tasks.spawn(async move {
                let result = run_source(source, ctx, mode, max_in_flight, shutdown).await;
                (org_id, result)
            });
        }
        let mut report = RunReport::default();
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok((_, Ok(()))) => {}
                Ok((org_id, Err(err))) => report.failed_orgs.push((org_id, err.to_string())),
                Err(join_error) => report
                    .failed_orgs
                    .push(("?".into(), format!("task failed: {join_error}"))),
            }
        }
        if let Err(err) = self.sink.flush(Duration::from_secs(30)) {
            tracing::error!(error = %err, "flushing the sink at the end of the run failed");
        }
        report
    }
}

#[derive(Clone)]
struct BatchContext {
    mapper: Arc<Mapper>,
    sink: Arc<Sink>,
    stats: Arc<PipelineStats>,
    shutdown: Shutdown,
}

/// Resolves once shutdown is requested (never, if the sender is gone without requesting it).
async fn shutdown_requested(shutdown: &mut Shutdown) {
    loop {
        if *shutdown.borrow_and_update() {
            return;
        }
        if shutdown.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

async fn next_batch(
    source: &mut EventSource,
    mode: Mode,
) -> Result<Option<EventBatch>, FetchError> {
    match mode {
        Mode::Once => source.next_batch().await,
        Mode::Follow => source.next_batch_follow().await.map(Some),
    }
}

async fn run_source(
    mut source: EventSource,
    ctx: BatchContext,
    mode: Mode,
    max_in_flight: usize,
    mut shutdown: Shutdown,
) -> Result<(), FetchError> {
    let acker = source.acker();
    let org_id = source.org_id().to_string();
    let permits = Arc::new(Semaphore::new(max_in_flight));
    let mut in_flight = JoinSet::new();
    let mut result = Ok(());
    let mut error_delay = Duration::from_secs(1);
    loop {
        let permit = tokio::select! {
            biased;
            () = shutdown_requested(&mut shutdown) => break,
            permit = Arc::clone(&permits).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        let next = tokio::select! {
            biased;
            () = shutdown_requested(&mut shutdown) => break,
            next = next_batch(&mut source, mode) => next,
        };
        match next {
            Ok(Some(batch)) => {
                error_delay = Duration::from_secs(1);
                ctx.stats.set_org_error(&org_id, None);
                in_flight.spawn(deliver_batch(batch, ctx.clone(), acker.clone(), permit));
            }
            Ok(None) => {
                ctx.stats.set_org_error(&org_id, None);
                break;
            }
            Err(err) => {
                tracing::error!(org = %org_id, error = %err, "fetching Directory Insights events failed");
                ctx.stats.set_org_error(&org_id, Some(err.to_string()));
                if mode == Mode::Once {
                    result = Err(err);
                    break;
                }
                // Follow: this organisation waits and tries again; the others keep flowing.
                tokio::select! {
                    () = shutdown_requested(&mut shutdown) => break,
                    () = tokio::time::sleep(error_delay) => {}
                }
                error_delay = (error_delay * 2).min(Duration::from_secs(300));
            }
        }
        while let Some(done) = in_flight.try_join_next() {
            if let Err(join_error) = done {
                tracing::error!(org = %org_id, error = %join_error, "a delivery task failed");
            }
        }
    }
    while let Some(done) = in_flight.join_next().await {
        if let Err(join_error) = done {
            tracing::error!(org = %org_id, error = %join_error, "a delivery task failed");
        }
    }
    result
}

/// How one raw event ended up.
#[derive(Debug, Clone, Copy)]
enum EventOutcome {
    /// Delivered as (class_uid, class_name, activity_id).
    Delivered(u32, &'static str, i32),
    /// Could not be mapped: dead-lettered.
    DeadLetteredMap,
    /// Mapped but could not be encoded/delivered as it is: dead-lettered.
    DeadLetteredEncode,
}

/// Maps one raw event and hands it to the sink (waiting while the sink's queue is full); the
/// returned future resolves when it is durably taken. Nothing but the raw event is kept while
/// it is in flight.
async fn start_delivery(
    event: &RawEvent,
    org_id: &str,
    ctx: &BatchContext,
) -> BoxFuture<'static, Result<EventOutcome, SinkError>> {
    match ctx.mapper.map(&event.bytes) {
        Ok(record) => {
            let key = (record.class_uid, record.class_name, record.activity_id);
            let delivery = ctx.sink.enqueue(&record, &event.bytes, org_id).await;
            drop(record);
            Box::pin(async move {
                match delivery.await? {
                    Outcome::Delivered => Ok(EventOutcome::Delivered(key.0, key.1, key.2)),
                    Outcome::DeadLettered => Ok(EventOutcome::DeadLetteredEncode),
                }
            })
        }
        Err(err) => {
            let letter = DeadLetter {
                raw: event.bytes.clone(),
                reason: err.to_string(),
                stage: Stage::Map,
                org_id: Some(org_id.to_string()),
                event_id: event.id.clone(),
            };
            let delivery = ctx.sink.deliver_dead_letter(letter);
            Box::pin(async move { delivery.await.map(|()| EventOutcome::DeadLetteredMap) })
        }
    }
}

async fn deliver_batch(
    batch: EventBatch,
    ctx: BatchContext,
    acker: Acker,
    _permit: OwnedSemaphorePermit,
) {
    let EventBatch {
        org_id,
        events,
        checkpoint,
    } = batch;
    let mut counts = BatchCounts {
        fetched: events.len() as u64,
        ..BatchCounts::default()
    };
    // In order: map, enqueue (backpressure), keep only the delivery future.
    let mut deliveries = Vec::with_capacity(events.len());
    for event in &events {
        let started = std::time::Instant::now();
        let delivery = start_delivery(event, &org_id, &ctx).await;
        deliveries.push(async move {
            let outcome = delivery.await;
            (outcome, started)
        });
    }
    let results = futures::future::join_all(deliveries).await;

    let mut all_delivered = true;
    for (event, (result, started)) in events.iter().zip(results) {
        let outcome = match result {
            Ok(outcome) => Ok(outcome),
            // Transport failure: map again from the raw event and retry until delivered or
            // shutdown.
            Err(err) => {
                tracing::warn!(org = %org_id, error = %err, "delivery failed; retrying");
                ctx.sink.recover(&err).await;
                deliver_with_retry(event, &org_id, &ctx).await
            }
        };
        match outcome {
            Ok(EventOutcome::Delivered(class_uid, class_name, activity_id)) => {
                ctx.stats
                    .delivery_latency
                    .observe(started.elapsed().as_secs_f64());
                *counts
                    .delivered
                    .entry((class_uid, class_name, activity_id))
                    .or_default() += 1;
            }
            Ok(EventOutcome::DeadLetteredMap) => counts.dead_lettered_map += 1,
            Ok(EventOutcome::DeadLetteredEncode) => counts.dead_lettered_encode += 1,
            Err(_) => all_delivered = false,
        }
    }
    if !all_delivered {
        tracing::warn!(
            org = %org_id,
            batch = checkpoint.sequence(),
            "batch not fully delivered before shutdown; it is not acknowledged and will be fetched again"
        );
        return;
    }
    if let Err(err) = ctx.sink.sync() {
        tracing::error!(org = %org_id, error = %err, "sink sync failed; batch not acknowledged");
        return;
    }
    let sequence = checkpoint.sequence();
    match acker.ack(checkpoint) {
        Ok(()) => ctx.stats.add_batch(&org_id, counts),
        Err(err) => {
            tracing::error!(org = %org_id, batch = sequence, error = %err, "acknowledging a delivered batch failed")
        }
    }
}

/// Delivers one event, retrying transport failures with exponential backoff and jitter until it
/// is delivered or shutdown is requested (each attempt maps the raw event again).
async fn deliver_with_retry(
    event: &RawEvent,
    org_id: &str,
    ctx: &BatchContext,
) -> Result<EventOutcome, SinkError> {
    let attempt = || async {
        let result = start_delivery(event, org_id, ctx).await.await;
        if let Err(err) = &result {
            ctx.sink.recover(err).await;
        }
        result
    };
    let policy = ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(200))
        .with_max_delay(Duration::from_secs(30))
        .with_jitter()
        .without_max_times();
    attempt
        .retry(policy)
        .when(|_| !*ctx.shutdown.borrow())
        .notify(|err, delay| tracing::warn!(org = %org_id, error = %err, retry_in = ?delay, "delivery failed; retrying"))
        .await
}
