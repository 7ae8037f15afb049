//! The writer: the one place records are handed to the destination and units finished.
//!
//! Mapped chunks arrive in the order their sources handed their batches out; the writer gathers
//! them into a unit (up to [`UnitLimits`], ending only after a batch's last chunk), hands every
//! record over, then finishes the unit: the sources' checkpoints after it
//! ([`Acknowledgements::advance`]) are written with it by [`Destination::finish`] (in the
//! transaction, or after every record is acknowledged), and only then are they durable. An
//! inventory snapshot is a unit of its own through the same path.
//!
//! Units are pipelined: the fetch tasks map the next unit's records while one commits. In
//! exactly-once mode a unit is finished before the next begins (one transaction at a time); in
//! at-least-once mode up to [`UNITS_IN_FLIGHT`] units wait for their acknowledgements at once,
//! finished in order by the [`Finisher`] task, so cursors still move in order. A unit that
//! fails rewinds every source ([`Acknowledgements::rewind`]); units of the old epoch still in
//! flight fail with it, unwritten.

use std::sync::Arc;
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};
use producer::ProduceError;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::ack::Acknowledgements;
use crate::audit::{Book, Tally};
use crate::deliveries::UnitDeliveries;
use crate::destination::{Destination, KeyedRecord, Prepared, UnitError};
use crate::health::Retrying;
use crate::map::{EventIdentity, MappedChunk, Refused};
use crate::stats::PipelineStats;

/// How large a unit grows before it is finished.
#[derive(Debug, Clone, Copy)]
pub struct UnitLimits {
    /// Events (a unit ends after a whole batch, so it may pass this by up to one batch).
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

/// At-least-once units waiting for their acknowledgements at once.
pub(crate) const UNITS_IN_FLIGHT: usize = 3;

/// Where the writer says whether a snapshot's unit became durable.
pub(crate) type SnapshotReply = oneshot::Sender<Result<(), String>>;

/// A unit that is not event batches (an inventory snapshot; the audit's results, or a
/// repair's events): its records and dead letters, its state records, and where the writer
/// says whether it became durable.
pub(crate) struct SnapshotUnit {
    /// What it is, for the log: `inventory snapshot`, `audit results`, `audit repair`.
    pub(crate) what: &'static str,
    pub(crate) org: String,
    pub(crate) items: Vec<Prepared>,
    pub(crate) state: Vec<KeyedRecord>,
    /// A repair's deliveries, counted by the audit like a batch's.
    pub(crate) tally: Option<Tally>,
    pub(crate) reply: SnapshotReply,
}

/// One unit: what was handed over, and what finishing it needs.
pub(crate) struct Unit {
    /// Its chunks, records handed over: their batches, counts and in-flight guards.
    chunks: Vec<MappedChunk>,
    /// For each handed-over index: the event it was made from (snapshot records have none).
    identities: Vec<EventIdentity>,
    deliveries: Arc<UnitDeliveries>,
    events: usize,
    /// The rewind epoch it was begun in.
    epoch: u64,
    failed: Option<String>,
    /// A snapshot's state records, and its reply.
    snapshot: Option<(Vec<KeyedRecord>, SnapshotReply)>,
    /// A repair's deliveries (a snapshot unit's).
    tally: Option<Tally>,
}

impl Unit {
    /// True when it ends after a whole batch (or holds none).
    fn at_batch_boundary(&self) -> bool {
        self.chunks.last().is_none_or(|chunk| chunk.batch.is_some())
    }
}

/// What finishing units needs; shared by the writer (exactly-once: finished in line) and the
/// [`Finisher`] task (at-least-once).
#[derive(Clone)]
pub(crate) struct Finishing {
    pub(crate) destination: Arc<Destination>,
    pub(crate) acks: Arc<Acknowledgements>,
    pub(crate) stats: Arc<PipelineStats>,
    pub(crate) refused: Arc<Refused>,
    pub(crate) retry: Arc<Retrying>,
    /// With the audit: the book the units' deliveries are counted in.
    pub(crate) audit: Option<Arc<Book>>,
}

pub(crate) struct Writer {
    pub(crate) finishing: Finishing,
    pub(crate) limits: UnitLimits,
    /// Units finished one after the other in line (exactly-once), or by the finisher task.
    pub(crate) pipelined: bool,
}

impl Writer {
    /// Writes units until every source is done (the chunk channel closes) and the inventory
    /// task, if any, has ended. `Err` only when this process was fenced: it must stop and write
    /// nothing more.
    pub(crate) async fn run(
        self,
        mut chunks: mpsc::Receiver<MappedChunk>,
        mut snapshots: Option<mpsc::Receiver<SnapshotUnit>>,
    ) -> Result<(), UnitError> {
        let (finisher, finished) = if self.pipelined {
            let (units, queue) = mpsc::channel(UNITS_IN_FLIGHT - 1);
            let task = tokio::spawn(Finisher(self.finishing.clone()).run(queue));
            (Some(units), Some(task))
        } else {
            (None, None)
        };
        let mut delays = unit_delays();
        let mut chunks_open = true;
        let result = loop {
            let unit = tokio::select! {
                chunk = chunks.recv(), if chunks_open => match chunk {
                    None => {
                        chunks_open = false;
                        continue;
                    }
                    Some(chunk) if !chunk.in_flight.is_current() => continue,
                    Some(first) => self.gather(first, &mut chunks).await,
                },
                snapshot = next_snapshot(&mut snapshots), if snapshots.is_some() => match snapshot {
                    None => {
                        snapshots = None;
                        continue;
                    }
                    Some(snapshot) => self.snapshot(snapshot).await,
                },
                else => break Ok(()),
            };
            let unit = match unit {
                Ok(unit) => unit,
                Err((unit, error)) => match self.finishing.failed(unit, error, &mut delays).await {
                    Err(fenced) => break Err(fenced),
                    Ok(()) => continue,
                },
            };
            match &finisher {
                Some(units) => {
                    if units.send(unit).await.is_err() {
                        break Ok(());
                    }
                }
                None => {
                    if let Err(fenced) = self.finishing.finish(unit, &mut delays).await {
                        break Err(fenced);
                    }
                }
            }
        };
        drop(finisher);
        if let Some(task) = finished
            && let Err(join_error) = task.await
        {
            tracing::error!(error = %join_error, "the finisher task failed");
        }
        result
    }

    /// Begins a unit with `first` and gathers chunks until the limits (after a whole batch),
    /// handing every record over.
    async fn gather(
        &self,
        first: MappedChunk,
        chunks: &mut mpsc::Receiver<MappedChunk>,
    ) -> Result<Unit, (Unit, UnitError)> {
        let mut unit = self.new_unit();
        if let Err(error) = self
            .finishing
            .destination
            .begin(&self.finishing.retry)
            .await
        {
            return Err((unit, error));
        }
        tracing::debug!(org = %first.org_id, "unit begun");
        self.add(&mut unit, first).await;
        let deadline = Instant::now() + self.limits.max_duration;
        while unit.failed.is_none() {
            let boundary = unit.at_batch_boundary();
            if boundary && unit.events >= self.limits.max_events {
                break;
            }
            let next = if boundary {
                match tokio::time::timeout_at(deadline, chunks.recv()).await {
                    Ok(next) => next,
                    Err(_) => break,
                }
            } else {
                // The rest of the batch: a batch never spans two units.
                chunks.recv().await
            };
            match next {
                Some(chunk) if chunk.in_flight.is_current() => self.add(&mut unit, chunk).await,
                Some(_stale) => {
                    unit.failed = Some("the sources were rewound while the unit was open".into());
                }
                None => {
                    if !boundary {
                        unit.failed = Some("the sources stopped in the middle of a batch".into());
                    }
                    break;
                }
            }
        }
        Ok(unit)
    }

    /// A snapshot's unit: begun, every record handed over.
    async fn snapshot(&self, snapshot: SnapshotUnit) -> Result<Unit, (Unit, UnitError)> {
        let SnapshotUnit {
            what,
            org,
            items,
            state,
            tally,
            reply,
        } = snapshot;
        tracing::info!(
            org,
            records = items.len(),
            state_records = state.len(),
            "writing an {what}"
        );
        let mut unit = self.new_unit();
        unit.snapshot = Some((state, reply));
        unit.tally = tally;
        if let Err(error) = self
            .finishing
            .destination
            .begin(&self.finishing.retry)
            .await
        {
            return Err((unit, error));
        }
        for prepared in items {
            if !self.hand_over(&mut unit, prepared, None).await {
                break;
            }
        }
        Ok(unit)
    }

    fn new_unit(&self) -> Unit {
        Unit {
            chunks: Vec::new(),
            identities: Vec::new(),
            deliveries: Arc::new(UnitDeliveries::new(
                self.finishing.stats.delivery_latency.clone(),
            )),
            events: 0,
            epoch: self.finishing.acks.epoch(),
            failed: None,
            snapshot: None,
            tally: None,
        }
    }

    /// Hands every record of `chunk` over, in order; then gives its room in the mapped lead
    /// back.
    async fn add(&self, unit: &mut Unit, mut chunk: MappedChunk) {
        for item in std::mem::take(&mut chunk.items) {
            if !self
                .hand_over(unit, item.prepared, Some(item.identity))
                .await
            {
                break;
            }
        }
        unit.events += usize::try_from(chunk.counts.fetched).unwrap_or(usize::MAX);
        chunk.lead = None;
        unit.chunks.push(chunk);
    }

    /// Hands one record over; false (and the unit failed) when the destination refused it.
    async fn hand_over(
        &self,
        unit: &mut Unit,
        prepared: Prepared,
        identity: Option<EventIdentity>,
    ) -> bool {
        let index = unit.deliveries.hand_over();
        if let Some(identity) = identity {
            unit.identities.push(identity);
        }
        match self
            .finishing
            .destination
            .enqueue(prepared, &unit.deliveries, index)
            .await
        {
            Ok(()) => true,
            Err(err) => {
                unit.deliveries.not_handed_over();
                unit.failed = Some(format!("handing a record over failed: {err}"));
                false
            }
        }
    }
}

/// The delays between failed units: 200 ms doubling to 30 s, with jitter.
fn unit_delays() -> ExponentialBackoff {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(200))
        .with_max_delay(Duration::from_secs(30))
        .with_jitter()
        .without_max_times()
        .build()
}

/// Finishes at-least-once units in order, while the writer hands the next ones over.
struct Finisher(Finishing);

impl Finisher {
    async fn run(self, mut units: mpsc::Receiver<Unit>) {
        let mut delays = unit_delays();
        while let Some(unit) = units.recv().await {
            // At-least-once is never fenced.
            let _ = self.0.finish(unit, &mut delays).await;
        }
    }
}

impl Finishing {
    /// Finishes `unit`: makes its records and the checkpoints after it durable, then tells the
    /// acknowledgements (and a snapshot's task). `Err` only when fenced.
    async fn finish(
        &self,
        mut unit: Unit,
        delays: &mut ExponentialBackoff,
    ) -> Result<(), UnitError> {
        if let Some(message) = unit.failed.take() {
            return self.failed(unit, UnitError::Failed(message), delays).await;
        }
        if unit.epoch != self.acks.epoch() {
            let error =
                UnitError::Failed("a unit before it failed: its sources were rewound".into());
            return self.failed(unit, error, delays).await;
        }
        let cursors = self
            .acks
            .advance(unit.chunks.iter().filter_map(|chunk| chunk.batch.as_ref()));
        let mut keyed = unit
            .snapshot
            .as_mut()
            .map(|(state, _)| std::mem::take(state))
            .unwrap_or_default();
        let counted = self.audit.as_ref().map(|book| {
            let repair = unit.tally.is_some();
            let mut tally = unit.tally.take().unwrap_or_default();
            for chunk in &mut unit.chunks {
                if let Some(chunk_tally) = chunk.tally.take() {
                    tally.merge(chunk_tally);
                }
            }
            let (records, pending) = book.prepare(&tally, &cursors, repair);
            keyed.extend(records);
            pending
        });
        tracing::debug!(
            events = unit.events,
            chunks = unit.chunks.len(),
            cursors = cursors.len(),
            "finishing a unit"
        );
        if let Err(error) = self
            .destination
            .finish(&cursors, &keyed, &unit.deliveries, &self.retry)
            .await
        {
            self.remember_refused(&unit, &unit.deliveries.failures());
            return self.failed(unit, error, delays).await;
        }
        tracing::debug!(events = unit.events, "unit durable");
        self.acks.durable(&cursors);
        if let (Some(book), Some(pending)) = (&self.audit, counted) {
            book.durable(pending);
        }
        for chunk in std::mem::take(&mut unit.chunks) {
            self.stats.add_batch(&chunk.org_id, chunk.counts);
        }
        if let Some((_, reply)) = unit.snapshot.take() {
            let _ = reply.send(Ok(()));
        }
        self.retry.health.durable();
        *delays = unit_delays();
        Ok(())
    }

    /// A unit that did not become durable: aborted; unless it is news to nobody (a unit of an
    /// epoch already over), every source rewound, to the state topic's cursors when the unit
    /// may have committed; a snapshot's task told; then a pause before the next unit. `Err`
    /// when fenced.
    async fn failed(
        &self,
        mut unit: Unit,
        error: UnitError,
        delays: &mut ExponentialBackoff,
    ) -> Result<(), UnitError> {
        if let UnitError::Failed(_) = &error {
            self.destination.abort(&error, &self.retry).await?;
        }
        let message = match error {
            UnitError::Fenced(message) => return Err(UnitError::Fenced(message)),
            UnitError::Unknown(message) => {
                self.read_durable_cursors().await;
                message
            }
            UnitError::Failed(message) => {
                // A snapshot holds no batch; a unit of an older epoch was rewound already.
                if unit.snapshot.is_none() && unit.epoch == self.acks.epoch() {
                    self.acks.rewind();
                }
                message
            }
        };
        // Dropped after the rewind: a `--once` source waiting for its batches to become
        // durable sees the rewind, not an empty queue.
        if let Some((_, reply)) = unit.snapshot.take() {
            let _ = reply.send(Err(message.clone()));
        }
        drop(unit);
        self.retry.health.failed(&message);
        let delay = delays.next().unwrap_or(Duration::from_secs(30));
        tracing::warn!(error = %message, retry_in = ?delay, "a unit failed; its sources fetch again from their durable cursors");
        let mut stop = self.retry.stop.clone();
        tokio::select! {
            () = crate::stopped(&mut stop) => {}
            () = tokio::time::sleep(delay) => {}
        }
        Ok(())
    }

    /// Takes each source's durable checkpoint (and the audit's book) from the state topic
    /// (tried until it answers, or until shutdown), then rewinds every source to them.
    async fn read_durable_cursors(&self) {
        let mut delays = crate::health::attempt_delays();
        loop {
            match self.destination.read_state().await {
                Ok(Some(durable)) => {
                    tracing::info!(
                        cursors = durable.cursors.len(),
                        "read the durable cursors back from the state topic"
                    );
                    if let Some(book) = &self.audit {
                        book.reload(&durable.audit, &durable.cursors);
                    }
                    self.acks.rewind_to(durable.cursors);
                    return;
                }
                Ok(None) => break,
                Err(err) => {
                    let message = err.to_string();
                    if self
                        .retry
                        .wait(&mut delays, "reading the durable cursors", &message)
                        .await
                        .is_err()
                    {
                        break;
                    }
                }
            }
        }
        self.acks.rewind();
    }

    /// The events whose records the broker refused as they are: dead letters next time.
    fn remember_refused(&self, unit: &Unit, failures: &[(u32, ProduceError)]) {
        for (index, error) in failures {
            if !error.is_record_fault() {
                continue;
            }
            if let Some(identity) = unit.identities.get(*index as usize) {
                tracing::warn!(org = %identity.0, id = ?identity.1, error = %error, "the broker refused a record; it goes to the dead-letter topic");
                self.refused.insert(identity.clone());
            }
        }
    }
}

async fn next_snapshot(
    snapshots: &mut Option<mpsc::Receiver<SnapshotUnit>>,
) -> Option<SnapshotUnit> {
    match snapshots {
        Some(receiver) => receiver.recv().await,
        None => std::future::pending().await,
    }
}
