//! The writer: batches, in the order their sources handed them out, gathered into units; each
//! event mapped and handed to the destination, a map failure dead-lettered with the raw event;
//! then the unit finished as a whole (a Kafka transaction, or every record acknowledged) and
//! only then the sources' cursors moved. A unit that fails rewinds every source to its durable
//! cursor, so nothing is skipped and records keep the order of the source.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use fetcher::{Acker, Checkpoint, RawEvent};
use mapper::Mapper;
use producer::{DeadLetter, ProduceError, Stage};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::deliveries::UnitDeliveries;
use crate::destination::{Destination, UnitError};
use crate::health::{Retrying, attempt_delays};
use crate::inventory::SnapshotUnit;
use crate::source_task::{Fetched, Rewinds};
use crate::stats::{BatchCounts, ClassActivity, PipelineStats};

/// How large a unit grows before it is finished.
#[derive(Debug, Clone, Copy)]
pub struct UnitLimits {
    /// Events (the unit takes whole batches, so it may pass this by one batch).
    pub max_events: usize,
    /// Time from the unit's first batch.
    pub max_duration: Duration,
}

impl Default for UnitLimits {
    fn default() -> Self {
        Self {
            max_events: 10_000,
            max_duration: Duration::from_millis(500),
        }
    }
}

/// An event the broker refused as it is (larger than its limit): dead-lettered when it comes
/// again after the rewind, instead of failing its unit forever.
type EventIdentity = (Arc<str>, Option<String>, Option<String>);

fn identity(event: &RawEvent) -> EventIdentity {
    (
        Arc::clone(&event.org_id),
        event.id.clone(),
        event.timestamp.clone(),
    )
}

pub(crate) struct Writer {
    pub(crate) mapper: Arc<Mapper>,
    pub(crate) destination: Arc<Destination>,
    pub(crate) stats: Arc<PipelineStats>,
    pub(crate) rewinds: Arc<Rewinds>,
    pub(crate) limits: UnitLimits,
    pub(crate) refused: HashSet<EventIdentity>,
    /// Where failed attempts are reported, and the shutdown signal that ends waits for them.
    pub(crate) retry: Retrying,
}

/// One unit being written.
struct Unit {
    /// The unit's batches, their events already handed over and dropped: what remains is what
    /// finishing needs (the checkpoint token, the acker, the counts).
    batches: Vec<(Fetched, BatchCounts)>,
    /// Each event of the unit, in order: whose it was (for a record the broker refuses).
    identities: Vec<EventIdentity>,
    /// For each handed-over index: the position of its event in `identities`.
    records: Vec<u32>,
    events: usize,
    failed: Option<String>,
}

impl Writer {
    /// Writes units until every source is done (the channel closes) and the inventory task,
    /// if any, has ended. `Err` only when this process was fenced: it must stop and write
    /// nothing more.
    pub(crate) async fn run(
        mut self,
        mut batches: mpsc::Receiver<Fetched>,
        mut snapshots: Option<mpsc::Receiver<SnapshotUnit>>,
    ) -> Result<(), UnitError> {
        let backoff = || {
            ExponentialBuilder::default()
                .with_min_delay(Duration::from_millis(200))
                .with_max_delay(Duration::from_secs(30))
                .with_jitter()
                .without_max_times()
                .build()
        };
        let mut delays = backoff();
        let mut batches_open = true;
        loop {
            let next = tokio::select! {
                batch = batches.recv(), if batches_open => Next::Batch(batch),
                snapshot = next_snapshot(&mut snapshots), if snapshots.is_some() => Next::Snapshot(snapshot),
                else => break,
            };
            let result = match next {
                Next::Batch(None) => {
                    batches_open = false;
                    continue;
                }
                Next::Snapshot(None) => {
                    snapshots = None;
                    continue;
                }
                Next::Batch(Some(first)) => {
                    if first.epoch != self.rewinds.epoch() {
                        continue;
                    }
                    self.unit(first, &mut batches).await
                }
                Next::Snapshot(Some(snapshot)) => match self.write_snapshot(snapshot).await {
                    // The inventory task takes a failed snapshot again after its own delay.
                    Err(UnitError::Failed(message) | UnitError::Unknown(message)) => {
                        tracing::warn!(error = %message, "an inventory snapshot failed");
                        Ok(())
                    }
                    other => other,
                },
            };
            match result {
                Ok(()) => {
                    delays = backoff();
                    self.retry.health.durable();
                }
                Err(UnitError::Fenced(message)) => return Err(UnitError::Fenced(message)),
                Err(UnitError::Failed(message) | UnitError::Unknown(message)) => {
                    self.retry.health.failed(&message);
                    let delay = delays.next().unwrap_or(Duration::from_secs(30));
                    tracing::warn!(error = %message, retry_in = ?delay, "a unit failed; its sources fetch again from their durable cursors");
                    let mut stop = self.retry.stop.clone();
                    tokio::select! {
                        () = crate::source_task::stopped(&mut stop) => {}
                        () = tokio::time::sleep(delay) => {}
                    }
                }
            }
        }
        Ok(())
    }

    /// Writes and finishes one unit. On failure every source is rewound (the epoch bumped)
    /// before the unit's batches are dropped, so a `--once` source waiting for its batches to
    /// become durable sees the rewind, not an empty queue.
    async fn unit(
        &mut self,
        first: Fetched,
        batches: &mut mpsc::Receiver<Fetched>,
    ) -> Result<(), UnitError> {
        let mut unit = Unit {
            batches: Vec::new(),
            identities: Vec::new(),
            records: Vec::new(),
            events: 0,
            failed: None,
        };
        let result = self.write_unit(&mut unit, first, batches).await;
        match &result {
            // Every source starts again from its durable cursor; batches fetched before this
            // point are dropped as they arrive.
            Err(UnitError::Failed(_)) => self.rewinds.bump(),
            // The unit may have committed: the durable cursors are the state topic's.
            Err(UnitError::Unknown(_)) => {
                self.read_durable_cursors().await;
                self.rewinds.bump();
            }
            _ => {}
        }
        drop(unit);
        result
    }

    /// Takes each source's durable cursor from the state topic (tried until it answers, or
    /// until shutdown).
    async fn read_durable_cursors(&mut self) {
        let mut delays = attempt_delays();
        loop {
            match self.destination.read_cursors().await {
                Ok(Some(cursors)) => {
                    let mut taken = 0;
                    for (key, checkpoint) in cursors {
                        if self.rewinds.knows(&key) {
                            self.rewinds.set_durable(&key, Some(checkpoint));
                            taken += 1;
                        }
                    }
                    tracing::info!(
                        cursors = taken,
                        "read the durable cursors back from the state topic"
                    );
                    return;
                }
                Ok(None) => return,
                Err(err) => {
                    let message = err.to_string();
                    if self
                        .retry
                        .wait(&mut delays, "reading the durable cursors", &message)
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            }
        }
    }

    async fn write_unit(
        &mut self,
        unit: &mut Unit,
        first: Fetched,
        batches: &mut mpsc::Receiver<Fetched>,
    ) -> Result<(), UnitError> {
        self.destination.begin(&self.retry).await?;
        tracing::debug!(org = %first.batch.org_id, "unit begun");
        let deliveries = Arc::new(UnitDeliveries::new(self.stats.delivery_latency.clone()));
        self.add(unit, first, &deliveries).await;
        let deadline = Instant::now() + self.limits.max_duration;
        while unit.events < self.limits.max_events && unit.failed.is_none() {
            match tokio::time::timeout_at(deadline, batches.recv()).await {
                Ok(Some(fetched)) if fetched.epoch == self.rewinds.epoch() => {
                    self.add(unit, fetched, &deliveries).await;
                }
                Ok(Some(_stale)) => {}
                Ok(None) | Err(_) => break,
            }
        }
        if let Some(message) = unit.failed.take() {
            let error = UnitError::Failed(message);
            self.destination.abort(&error, &self.retry).await?;
            return Err(error);
        }
        let cursors = match cursors(unit) {
            Ok(cursors) => cursors,
            Err(message) => {
                let error = UnitError::Failed(message);
                self.destination.abort(&error, &self.retry).await?;
                return Err(error);
            }
        };
        let written: Vec<(String, Checkpoint)> = cursors
            .iter()
            .map(|(key, (checkpoint, _))| (key.clone(), checkpoint.clone()))
            .collect();
        tracing::debug!(
            events = unit.events,
            batches = unit.batches.len(),
            cursors = written.len(),
            "finishing a unit"
        );
        if let Err(error) = self
            .destination
            .finish(&written, &deliveries, &self.retry)
            .await
        {
            self.remember_refused(unit, &deliveries.failures());
            return Err(error);
        }
        tracing::debug!(events = unit.events, "unit durable");
        for (key, (checkpoint, acker)) in cursors {
            acker.mark_durable(&checkpoint);
            self.rewinds.set_durable(&key, Some(checkpoint));
        }
        for (fetched, counts) in std::mem::take(&mut unit.batches) {
            self.stats.add_batch(&fetched.batch.org_id, counts);
        }
        Ok(())
    }

    /// Maps and hands over every event of one batch, in order; then gives the batch's room in
    /// the in-flight budget back (its records are in the producer's bounded queue now, its raw
    /// events are dropped), so the next page is fetched while the unit is still open.
    async fn add(
        &mut self,
        unit: &mut Unit,
        mut fetched: Fetched,
        deliveries: &Arc<UnitDeliveries>,
    ) {
        let first_position = unit.identities.len();
        let org_id = fetched.batch.org_id.clone();
        let mut counts = BatchCounts {
            fetched: fetched.batch.events.len() as u64,
            ..BatchCounts::default()
        };
        // One output buffer for the batch (the destination copies each record it takes).
        let mut json = Vec::with_capacity(16 * 1024);
        for (position, event) in fetched.batch.events.iter().enumerate() {
            if unit.failed.is_some() {
                break;
            }
            let record_ref = u32::try_from(first_position + position).unwrap_or(u32::MAX);
            if self.refused.contains(&identity(event)) {
                let letter = dead_letter(
                    event,
                    &org_id,
                    Stage::Produce,
                    "the broker refused the record (larger than its limit)".into(),
                );
                self.hand_over_dead_letter(unit, letter, record_ref, deliveries)
                    .await;
                counts.dead_lettered_encode += 1;
                continue;
            }
            json.clear();
            let record = match self.mapper.map_into(&event.bytes, &mut json) {
                Ok(facts) => facts.into_record(std::mem::take(&mut json)),
                Err(err) => {
                    let letter = dead_letter(event, &org_id, Stage::Map, err.to_string());
                    self.hand_over_dead_letter(unit, letter, record_ref, deliveries)
                        .await;
                    counts.dead_lettered_map += 1;
                    continue;
                }
            };
            let index = deliveries.hand_over();
            unit.records.push(record_ref);
            match self.destination.enqueue(&record, deliveries, index).await {
                Ok(()) => {
                    *counts
                        .delivered
                        .entry(ClassActivity {
                            class_uid: record.class_uid,
                            class_name: record.class_name,
                            activity_id: record.activity_id,
                        })
                        .or_default() += 1;
                }
                Err(err) => {
                    deliveries.not_handed_over();
                    if err.is_record_fault() {
                        let letter = DeadLetter {
                            event_id: record.original_event_uid.clone(),
                            ..dead_letter(event, &org_id, err.stage(), err.to_string())
                        };
                        self.hand_over_dead_letter(unit, letter, record_ref, deliveries)
                            .await;
                        counts.dead_lettered_encode += 1;
                    } else {
                        unit.failed = Some(format!("handing a record over failed: {err}"));
                    }
                }
            }
            json = record.json;
        }
        unit.events += fetched.batch.events.len();
        unit.identities.extend(
            fetched
                .batch
                .events
                .drain(..)
                .map(|event| (event.org_id, event.id, event.timestamp)),
        );
        fetched.permit = None;
        unit.batches.push((fetched, counts));
    }

    async fn hand_over_dead_letter(
        &self,
        unit: &mut Unit,
        letter: DeadLetter,
        record_ref: u32,
        deliveries: &Arc<UnitDeliveries>,
    ) {
        let index = deliveries.hand_over();
        unit.records.push(record_ref);
        if let Err(err) = self
            .destination
            .enqueue_dead_letter(letter, deliveries, index)
            .await
        {
            deliveries.not_handed_over();
            unit.failed = Some(format!("handing a dead letter over failed: {err}"));
        }
    }

    /// The events whose records the broker refused as they are: dead letters next time.
    fn remember_refused(&mut self, unit: &Unit, failures: &[(u32, ProduceError)]) {
        for (index, error) in failures {
            if !error.is_record_fault() {
                continue;
            }
            let identity = unit
                .records
                .get(*index as usize)
                .and_then(|position| unit.identities.get(*position as usize));
            if let Some(identity) = identity {
                tracing::warn!(org = %identity.0, id = ?identity.1, error = %error, "the broker refused a record; it goes to the dead-letter topic");
                self.refused.insert(identity.clone());
            }
        }
    }
}

/// What the writer takes next.
enum Next {
    Batch(Option<Fetched>),
    Snapshot(Option<SnapshotUnit>),
}

async fn next_snapshot(
    snapshots: &mut Option<mpsc::Receiver<SnapshotUnit>>,
) -> Option<SnapshotUnit> {
    match snapshots {
        Some(receiver) => receiver.recv().await,
        None => std::future::pending().await,
    }
}

/// The cursor each source of the unit moves to, by checkpoint key (the last batch's wins).
fn cursors(unit: &Unit) -> Result<BTreeMap<String, (Checkpoint, Acker)>, String> {
    let mut cursors = BTreeMap::new();
    for (fetched, _) in &unit.batches {
        let moved = fetched
            .acker
            .advance(&fetched.batch.checkpoint)
            .map_err(|e| format!("moving the cursor: {e}"))?;
        if let Some(checkpoint) = moved {
            cursors.insert(
                fetched.acker.checkpoint_key(),
                (checkpoint, fetched.acker.clone()),
            );
        }
    }
    Ok(cursors)
}

/// The dead letter of a raw event: its original bytes, why, and where it was refused.
fn dead_letter(event: &RawEvent, org_id: &str, stage: Stage, reason: String) -> DeadLetter {
    DeadLetter {
        raw: event.bytes.clone(),
        reason,
        stage,
        org_id: Some(org_id.to_owned()),
        event_id: event.id.clone(),
    }
}
