//! The running pipeline: fetch -> map -> encode -> produce -> delivery ack -> checkpoint.
//!
//! One task per organisation pulls batches (pages) from its [`fetcher::EventSource`]. Each batch
//! is mapped event by event and handed to the sink in order; what does not map goes to the
//! dead-letter topic with the reason. The broker's verdicts come back to the batch's
//! [`BatchDeliveries`] (a counter, not a future per record). When every record of the batch is
//! acknowledged, the batch's checkpoint token is acknowledged to the fetcher (off the async
//! workers: it writes and fsyncs the checkpoint file), which commits the cursor once every
//! earlier batch is acknowledged too.
//!
//! Memory is bounded by `max_in_flight_events`, shared by all organisations: a page is fetched
//! only with room for it in that budget, and its room is given back when its last record is
//! acknowledged (backpressure: a slow or absent broker stops the fetching, not the memory). A
//! record whose delivery fails is retried with backoff until it is delivered or the pipeline
//! shuts down (then its batch is not acknowledged and is fetched again after a restart:
//! at-least-once).

pub mod sink;
pub mod stats;

use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use backon::{ExponentialBuilder, Retryable};
use fetcher::{Acker, EventBatch, EventSource, FetchError, RawEvent};
use futures::future::BoxFuture;
use mapper::Mapper;
use producer::{DeadLetter, DeliveryListener, ProduceError, Stage};
use prometheus_client::metrics::histogram::Histogram;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, watch};
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
    max_in_flight_events: usize,
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
    /// A pipeline writing `mapper`'s output to `sink`, holding at most `max_in_flight_events`
    /// fetched and not yet acknowledged events (all organisations together; at least one page).
    pub fn new(mapper: Arc<Mapper>, sink: Arc<Sink>, max_in_flight_events: usize) -> Self {
        Self {
            mapper,
            sink,
            stats: Arc::new(PipelineStats::default()),
            max_in_flight_events: max_in_flight_events.clamp(1, Semaphore::MAX_PERMITS),
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
        let budget = Arc::new(Semaphore::new(self.max_in_flight_events));
        for source in sources {
            let org_id = source.org_id().to_string();
            let ctx = BatchContext {
                mapper: Arc::clone(&self.mapper),
                sink: Arc::clone(&self.sink),
                stats: Arc::clone(&self.stats),
                shutdown: shutdown.clone(),
            };
            let budget = InFlightBudget {
                events: Arc::clone(&budget),
                capacity: self.max_in_flight_events,
            };
            let shutdown = shutdown.clone();
            tasks.spawn(async move {
                let result = run_source(source, ctx, mode, budget, shutdown).await;
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

/// Room for fetched, unacknowledged events, shared by every organisation's task.
struct InFlightBudget {
    events: Arc<Semaphore>,
    capacity: usize,
}

impl InFlightBudget {
    /// Room for the next page of `source`: a whole page (`page_limit` events, at most the
    /// whole budget) when there is room for it, else what there is once at least a quarter of
    /// a page is free. The page is then requested with that many events at most, so memory
    /// stays within the budget while the next page is already on its way.
    async fn reserve_page(&self, source: &EventSource) -> Option<OwnedSemaphorePermit> {
        let wanted = source.config().page_limit.clamp(1, self.capacity);
        let floor = (wanted / 4).max(1);
        let as_u32 = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        let mut permit = Arc::clone(&self.events)
            .acquire_many_owned(as_u32(floor))
            .await
            .ok()?;
        let extra = (wanted - floor).min(self.events.available_permits());
        if extra > 0
            && let Ok(more) = Arc::clone(&self.events).try_acquire_many_owned(as_u32(extra))
        {
            permit.merge(more);
        }
        Some(permit)
    }
}

/// The least room a batch holds, however few its events: a batch has a cost of its own (a
/// task, its bookkeeping), and a live source stuck behind an absent broker makes one small
/// batch per poll. With the default budget this allows at most 120 batches in flight.
const MIN_BATCH_ROOM: usize = 100;

/// Gives back the part of a page's reservation its events do not use.
fn fit_to_batch(mut permit: OwnedSemaphorePermit, events: usize) -> OwnedSemaphorePermit {
    let keep = events.max(MIN_BATCH_ROOM);
    if permit.num_permits() > keep {
        drop(permit.split(permit.num_permits() - keep));
    }
    permit
}

async fn run_source(
    mut source: EventSource,
    ctx: BatchContext,
    mode: Mode,
    budget: InFlightBudget,
    mut shutdown: Shutdown,
) -> Result<(), FetchError> {
    let acker = source.acker();
    let org_id = source.org_id().to_string();
    let poll_interval = source.config().poll_interval;
    let mut in_flight = JoinSet::new();
    let mut result = Ok(());
    let mut error_delay = Duration::from_secs(1);
    loop {
        let permit = tokio::select! {
            biased;
            () = shutdown_requested(&mut shutdown) => break,
            permit = budget.reserve_page(&source) => match permit {
                Some(permit) => permit,
                None => break,
            },
        };
        let next = tokio::select! {
            biased;
            () = shutdown_requested(&mut shutdown) => break,
            next = source.next_batch_of(permit.num_permits()) => next,
        };
        match next {
            Ok(Some(batch)) => {
                error_delay = Duration::from_secs(1);
                ctx.stats.set_org_error(&org_id, None);
                let permit = fit_to_batch(permit, batch.events.len());
                in_flight.spawn(deliver_batch(batch, ctx.clone(), acker.clone(), permit));
            }
            Ok(None) => {
                drop(permit);
                ctx.stats.set_org_error(&org_id, None);
                if mode == Mode::Once {
                    break;
                }
                // Caught up: wait for the next window (holding no room in the budget).
                tokio::select! {
                    () = shutdown_requested(&mut shutdown) => break,
                    () = tokio::time::sleep(poll_interval) => {}
                }
            }
            Err(err) => {
                drop(permit);
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
            let letter = raw_dead_letter(event, org_id, Stage::Map, err.to_string());
            let delivery = ctx.sink.deliver_dead_letter(letter);
            Box::pin(async move { delivery.await.map(|()| EventOutcome::DeadLetteredMap) })
        }
    }
}

/// The broker's verdicts on one batch's records, reported on the producer's polling thread:
/// a count of records still unanswered, the failures, and when each record was handed over.
struct BatchDeliveries {
    /// Records handed to the sink and not yet answered, plus one while the batch is still
    /// being handed over (so the count cannot reach zero early).
    unanswered: AtomicUsize,
    all_answered: Notify,
    failures: Mutex<Vec<(u32, ProduceError)>>,
    started: Instant,
    /// Microseconds after `started` at which each record was handed over.
    handed_over_us: Box<[AtomicU32]>,
    latency: Histogram,
}

impl BatchDeliveries {
    fn new(events: usize, latency: Histogram) -> Self {
        Self {
            unanswered: AtomicUsize::new(1),
            all_answered: Notify::new(),
            failures: Mutex::new(Vec::new()),
            started: Instant::now(),
            handed_over_us: (0..events).map(|_| AtomicU32::new(0)).collect(),
            latency,
        }
    }

    fn elapsed_us(&self) -> u32 {
        u32::try_from(self.started.elapsed().as_micros()).unwrap_or(u32::MAX)
    }

    /// Record `index` is about to be handed to the sink.
    fn handing_over(&self, index: usize) {
        if let Some(slot) = self.handed_over_us.get(index) {
            slot.store(self.elapsed_us(), Ordering::Relaxed);
        }
        self.unanswered.fetch_add(1, Ordering::AcqRel);
    }

    /// The sink refused record `index` outright: no verdict will come for it.
    fn not_handed_over(&self) {
        self.answered();
    }

    fn answered(&self) {
        if self.unanswered.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.all_answered.notify_one();
        }
    }

    /// Every record is handed over; resolves once each has its verdict, with the failures.
    async fn all_answered(&self) -> Vec<(u32, ProduceError)> {
        self.answered();
        while self.unanswered.load(Ordering::Acquire) > 0 {
            self.all_answered.notified().await;
        }
        std::mem::take(
            &mut *self
                .failures
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        )
    }
}

impl DeliveryListener for BatchDeliveries {
    fn delivered(&self, index: u32, result: Result<(), ProduceError>) {
        match result {
            Ok(()) => {
                let handed_over = self
                    .handed_over_us
                    .get(index as usize)
                    .map_or(0, |slot| slot.load(Ordering::Relaxed));
                let waited = self.elapsed_us().saturating_sub(handed_over);
                self.latency.observe(f64::from(waited) / 1e6);
            }
            Err(err) => self
                .failures
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .push((index, err)),
        }
        self.answered();
    }
}

/// What became of one event of a batch before the broker's verdicts.
enum Handed {
    /// Handed to the sink as this (class_uid, class_name, activity_id); the verdict comes to
    /// the batch's [`BatchDeliveries`].
    Record(u32, &'static str, i32),
    /// Did not map, or the sink refused the record as it is: a dead letter is on its way.
    DeadLetter(BoxFuture<'static, Result<(), SinkError>>, EventOutcome),
    /// The sink could not take it (transport): retry.
    Retry,
}

async fn deliver_batch(
    batch: EventBatch,
    ctx: BatchContext,
    acker: Acker,
    permit: OwnedSemaphorePermit,
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
    let deliveries = Arc::new(BatchDeliveries::new(
        events.len(),
        ctx.stats.delivery_latency.clone(),
    ));
    let listener: Arc<dyn DeliveryListener> = deliveries.clone();
    // In order: map, hand over (waiting while the sink's queue is full). Only the class of each
    // record is kept; the broker's verdicts arrive at `deliveries`.
    let mut handed = Vec::with_capacity(events.len());
    // One output buffer for the whole batch (the sink copies each record when it takes it).
    let mut json = Vec::with_capacity(16 * 1024);
    for (index, event) in events.iter().enumerate() {
        json.clear();
        let record = match ctx.mapper.map_into(&event.bytes, &mut json) {
            Ok(facts) => facts.into_record(std::mem::take(&mut json)),
            Err(err) => {
                let letter = raw_dead_letter(event, &org_id, Stage::Map, err.to_string());
                let delivery = ctx.sink.deliver_dead_letter(letter);
                handed.push(Handed::DeadLetter(delivery, EventOutcome::DeadLetteredMap));
                continue;
            }
        };
        deliveries.handing_over(index);
        let index_u32 = u32::try_from(index).unwrap_or(u32::MAX);
        match ctx
            .sink
            .enqueue_tracked(&record, &listener, index_u32)
            .await
        {
            Ok(()) => {
                handed.push(Handed::Record(
                    record.class_uid,
                    record.class_name,
                    record.activity_id,
                ));
                json = record.json;
            }
            Err(err) => {
                deliveries.not_handed_over();
                match err.as_record_fault() {
                    Some(fault) => {
                        let letter = DeadLetter {
                            event_id: record.original_event_uid.clone(),
                            ..raw_dead_letter(event, &org_id, fault.stage(), fault.to_string())
                        };
                        let delivery = ctx.sink.deliver_dead_letter(letter);
                        handed.push(Handed::DeadLetter(
                            delivery,
                            EventOutcome::DeadLetteredEncode,
                        ));
                    }
                    None => {
                        tracing::warn!(org = %org_id, error = %err, "handing a record to the sink failed; retrying");
                        ctx.sink.recover(&err).await;
                        handed.push(Handed::Retry);
                    }
                }
            }
        }
    }
    drop(json);
    let mut failures = deliveries.all_answered().await;
    failures.sort_by_key(|(index, _)| *index);
    let mut failures = failures.into_iter().peekable();

    let mut all_delivered = true;
    for (index, (event, handed)) in events.iter().zip(handed).enumerate() {
        let failure = match failures.peek() {
            Some((failed, _)) if *failed as usize == index => failures.next().map(|(_, e)| e),
            _ => None,
        };
        let outcome = match (handed, failure) {
            (Handed::Record(class_uid, class_name, activity_id), None) => {
                Ok(EventOutcome::Delivered(class_uid, class_name, activity_id))
            }
            // The broker refused the record itself (too large for it): dead-letter the event.
            (Handed::Record(..), Some(err)) if err.is_record_fault() => {
                let letter = raw_dead_letter(event, &org_id, err.stage(), err.to_string());
                match ctx.sink.deliver_dead_letter(letter).await {
                    Ok(()) => Ok(EventOutcome::DeadLetteredEncode),
                    Err(err) => retry_event(event, &org_id, &ctx, err).await,
                }
            }
            (Handed::Record(..), Some(err)) => {
                retry_event(event, &org_id, &ctx, SinkError::from(err)).await
            }
            (Handed::DeadLetter(delivery, outcome), _) => match delivery.await {
                Ok(()) => Ok(outcome),
                Err(err) => retry_event(event, &org_id, &ctx, err).await,
            },
            (Handed::Retry, _) => deliver_with_retry(event, &org_id, &ctx).await,
        };
        match outcome {
            Ok(EventOutcome::Delivered(class_uid, class_name, activity_id)) => {
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
    // The events are delivered: give their room back before the (blocking) checkpoint write.
    drop(events);
    drop(permit);
    let sequence = checkpoint.sequence();
    let acked = tokio::task::spawn_blocking(move || acker.ack(checkpoint)).await;
    match acked {
        Ok(Ok(())) => ctx.stats.add_batch(&org_id, counts),
        Ok(Err(err)) => {
            tracing::error!(org = %org_id, batch = sequence, error = %err, "acknowledging a delivered batch failed")
        }
        Err(join_error) => {
            tracing::error!(org = %org_id, batch = sequence, error = %join_error, "acknowledging a delivered batch failed")
        }
    }
}

/// The dead letter of a raw event: its original bytes, why, and where it was refused.
fn raw_dead_letter(event: &RawEvent, org_id: &str, stage: Stage, reason: String) -> DeadLetter {
    DeadLetter {
        raw: event.bytes.clone(),
        reason,
        stage,
        org_id: Some(org_id.to_owned()),
        event_id: event.id.clone(),
    }
}

/// A delivery failed in transport: repair what can be repaired, then retry the event.
async fn retry_event(
    event: &RawEvent,
    org_id: &str,
    ctx: &BatchContext,
    err: SinkError,
) -> Result<EventOutcome, SinkError> {
    tracing::warn!(org = %org_id, error = %err, "delivery failed; retrying");
    ctx.sink.recover(&err).await;
    deliver_with_retry(event, org_id, ctx).await
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_batch_keeps_room_for_its_events_and_at_least_the_minimum() {
        let budget = Arc::new(Semaphore::new(20_000));
        let page = Arc::clone(&budget)
            .acquire_many_owned(10_000)
            .await
            .unwrap();
        let small = fit_to_batch(page, 37);
        assert_eq!(small.num_permits(), MIN_BATCH_ROOM);
        assert_eq!(budget.available_permits(), 20_000 - MIN_BATCH_ROOM);
        let page = Arc::clone(&budget)
            .acquire_many_owned(10_000)
            .await
            .unwrap();
        let full = fit_to_batch(page, 6_000);
        assert_eq!(full.num_permits(), 6_000);
        drop((small, full));
        assert_eq!(budget.available_permits(), 20_000);
    }

    #[tokio::test]
    async fn batch_deliveries_resolve_once_every_record_is_answered() {
        let deliveries = Arc::new(BatchDeliveries::new(3, Histogram::new([0.1].into_iter())));
        for index in 0..3 {
            deliveries.handing_over(index);
        }
        deliveries.delivered(0, Ok(()));
        let error = ProduceError::Cancelled { topic: "t".into() };
        deliveries.delivered(2, Err(error));
        let waiting = tokio::spawn({
            let deliveries = Arc::clone(&deliveries);
            async move { deliveries.all_answered().await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiting.is_finished(), "record 1 is still unanswered");
        deliveries.delivered(1, Ok(()));
        let failures = waiting.await.unwrap();
        assert_eq!(failures.len(), 1);
        assert_eq!(failures[0].0, 2);
    }
}
