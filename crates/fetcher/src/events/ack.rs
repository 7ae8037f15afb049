//! Acknowledgements: a cursor is committed (durably) only when every batch up to it has been
//! acknowledged, in whatever order the acks arrive.

use super::dedup::{EventKey, SeenEvents};
use crate::checkpoint::{Checkpoint, CheckpointStore};
use crate::client::FetchError;
use crate::stats::SourceStats;
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Identifies one handed-out batch; give it back to [`Acker::ack`] once the sink has the batch.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CheckpointToken {
    source_id: u64,
    org_id: Arc<str>,
    sequence: u64,
}

impl CheckpointToken {
    /// Organisation of the batch.
    pub fn org_id(&self) -> &str {
        &self.org_id
    }

    /// Position of the batch in its source's order (0, 1, 2, ...).
    pub fn sequence(&self) -> u64 {
        self.sequence
    }
}

#[derive(Debug)]
struct PendingBatch {
    cursor_after: DateTime<Utc>,
    keys: Vec<EventKey>,
    acked: bool,
}

/// Checkpoint keys with a live tracker in this process, by `location#key`.
static ACTIVE_CHECKPOINTS: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

/// Exclusive use of one checkpoint key in this process, released when the source and every
/// [`Acker`] of it are dropped (a stale acker must not overwrite a newer source's checkpoint).
#[derive(Debug)]
pub(crate) struct CheckpointLease {
    name: String,
}

impl CheckpointLease {
    pub(crate) fn acquire(store: &dyn CheckpointStore, key: &str) -> Result<Self, FetchError> {
        let name = format!("{}#{key}", store.location());
        let mut active = ACTIVE_CHECKPOINTS.lock().unwrap_or_else(|p| p.into_inner());
        if !active.insert(name.clone()) {
            return Err(FetchError::Config(format!(
                "checkpoint {key} in {} is already used by a running source (or an Acker of a dropped one is still alive); run one source per organisation",
                store.location()
            )));
        }
        Ok(Self { name })
    }
}

impl Drop for CheckpointLease {
    fn drop(&mut self) {
        let mut active = ACTIVE_CHECKPOINTS.lock().unwrap_or_else(|p| p.into_inner());
        active.remove(&self.name);
    }
}

/// Commit bookkeeping of one source.
#[derive(Debug)]
pub(crate) struct AckTracker {
    _lease: CheckpointLease,
    checkpoint_key: String,
    store: Arc<dyn CheckpointStore>,
    overlap: Duration,
    committed: DateTime<Utc>,
    acked: SeenEvents,
    pending: BTreeMap<u64, PendingBatch>,
    /// The furthest cursor the caller moved to with [`Self::advance`], and the furthest it
    /// reported durable: while the first is ahead, a unit is being made durable and an empty
    /// window's cursor (which counts that unit as done) must not be written yet.
    advanced: DateTime<Utc>,
    durable: DateTime<Utc>,
    stats: Arc<SourceStats>,
}

impl AckTracker {
    pub(crate) fn new(
        lease: CheckpointLease,
        checkpoint_key: String,
        store: Arc<dyn CheckpointStore>,
        overlap: Duration,
        committed: DateTime<Utc>,
        acked: SeenEvents,
        stats: Arc<SourceStats>,
    ) -> Self {
        stats
            .committed_cursor_ms
            .store(committed.timestamp_millis(), Ordering::Relaxed);
        Self {
            _lease: lease,
            checkpoint_key,
            store,
            overlap,
            committed,
            acked,
            pending: BTreeMap::new(),
            advanced: committed,
            durable: committed,
            stats,
        }
    }

    /// Records a handed-out batch. An empty batch (nothing for the sink) is acknowledged at once
    /// so the cursor can move past windows without new events; the cursor it moves to is written
    /// only when every batch the caller advanced is durable (else the unit being finished would
    /// be counted durable before it is; the next unit's cursor carries it instead).
    pub(crate) fn register(
        &mut self,
        sequence: u64,
        cursor_after: DateTime<Utc>,
        keys: Vec<EventKey>,
        acknowledged_now: bool,
    ) -> Result<(), FetchError> {
        self.pending.insert(
            sequence,
            PendingBatch {
                cursor_after,
                keys,
                acked: false,
            },
        );
        if !acknowledged_now {
            return Ok(());
        }
        let everything_durable = self.durable >= self.advanced;
        match self.commit_prefix(sequence)? {
            Some(checkpoint) if everything_durable => self.persist(&checkpoint),
            _ => Ok(()),
        }
    }

    /// Marks a batch acknowledged, commits the longest acknowledged prefix and persists.
    pub(crate) fn ack(&mut self, sequence: u64) -> Result<(), FetchError> {
        match self.commit_prefix(sequence)? {
            Some(checkpoint) => self.persist(&checkpoint),
            None => Ok(()),
        }
    }

    /// Marks a batch acknowledged and commits the longest acknowledged prefix in memory; the
    /// checkpoint to make durable when it moved (the caller writes it: in a Kafka transaction
    /// with the batch's records, or to the store after them, then reports it with
    /// [`Self::mark_durable`]).
    pub(crate) fn advance(&mut self, sequence: u64) -> Result<Option<Checkpoint>, FetchError> {
        let moved = self.commit_prefix(sequence)?;
        if let Some(checkpoint) = &moved {
            self.advanced = self.advanced.max(checkpoint.cursor);
        }
        Ok(moved)
    }

    fn commit_prefix(&mut self, sequence: u64) -> Result<Option<Checkpoint>, FetchError> {
        let batch = self.pending.get_mut(&sequence).ok_or_else(|| {
            FetchError::InvalidAck(format!(
                "batch {sequence} of {} is unknown or already committed",
                self.checkpoint_key
            ))
        })?;
        if batch.acked {
            return Err(FetchError::InvalidAck(format!(
                "batch {sequence} of {} was already acknowledged",
                self.checkpoint_key
            )));
        }
        batch.acked = true;
        let mut changed = !batch.keys.is_empty();
        for key in std::mem::take(&mut batch.keys) {
            self.acked.insert(key);
        }
        while let Some(entry) = self.pending.first_entry() {
            if !entry.get().acked {
                break;
            }
            let batch = entry.remove();
            if batch.cursor_after > self.committed {
                self.committed = batch.cursor_after;
                changed = true;
            }
        }
        if !changed {
            return Ok(None);
        }
        self.acked
            .prune_before(super::window::minus(self.committed, self.overlap));
        Ok(Some(Checkpoint {
            cursor: self.committed,
            acked: self.acked.iter().map(EventKey::to_acked).collect(),
            updated_at: Utc::now(),
        }))
    }

    /// Forgets every batch handed out and starts again from `checkpoint` (`None`: from
    /// `initial`): what was handed out after it is fetched again.
    pub(crate) fn rewind(&mut self, checkpoint: Option<&Checkpoint>, initial: DateTime<Utc>) {
        self.pending.clear();
        self.acked = SeenEvents::default();
        self.committed = match checkpoint {
            Some(checkpoint) => {
                for key in checkpoint.acked.iter().filter_map(EventKey::from_acked) {
                    self.acked.insert(key);
                }
                checkpoint.cursor
            }
            None => initial,
        };
        self.advanced = self.committed;
        self.durable = self.committed;
    }

    fn persist(&mut self, checkpoint: &Checkpoint) -> Result<(), FetchError> {
        self.store.save(&self.checkpoint_key, checkpoint)?;
        self.mark_durable(checkpoint);
        Ok(())
    }

    /// `checkpoint` is durable (written by the store, or committed in a Kafka transaction).
    pub(crate) fn mark_durable(&mut self, checkpoint: &Checkpoint) {
        self.durable = self.durable.max(checkpoint.cursor);
        self.stats
            .committed_cursor_ms
            .store(checkpoint.cursor.timestamp_millis(), Ordering::Relaxed);
        tracing::debug!(
            checkpoint = %self.checkpoint_key,
            cursor = %crate::timestamp::format_timestamp(checkpoint.cursor),
            acked_in_overlap = checkpoint.acked.len(),
            "checkpoint committed"
        );
    }

    pub(crate) fn checkpoint_key(&self) -> &str {
        &self.checkpoint_key
    }

    pub(crate) fn committed(&self) -> DateTime<Utc> {
        self.committed
    }

    pub(crate) fn pending(&self) -> usize {
        self.pending.len()
    }
}

pub(crate) type SharedTracker = Arc<Mutex<AckTracker>>;

pub(crate) fn lock(tracker: &SharedTracker) -> std::sync::MutexGuard<'_, AckTracker> {
    tracker
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub(crate) fn token(source_id: u64, org_id: &Arc<str>, sequence: u64) -> CheckpointToken {
    CheckpointToken {
        source_id,
        org_id: Arc::clone(org_id),
        sequence,
    }
}

/// Acknowledges batches of one source; cloneable and callable from any task (e.g. the Kafka
/// delivery-report task).
#[derive(Clone, Debug)]
pub struct Acker {
    pub(crate) source_id: u64,
    pub(crate) tracker: SharedTracker,
}

impl Acker {
    /// The sink has durably taken every event of the batch. Commits (and fsyncs) the cursor as
    /// far as every earlier batch is acknowledged too. Errors: a token of another source, a
    /// repeated ack, or a checkpoint write failure (the ack itself is kept and the write is
    /// retried with the next ack).
    pub fn ack(&self, token: CheckpointToken) -> Result<(), FetchError> {
        if token.source_id != self.source_id {
            return Err(FetchError::InvalidAck(format!(
                "token of batch {} (organisation {}) belongs to another source",
                token.sequence, token.org_id
            )));
        }
        lock(&self.tracker).ack(token.sequence)
    }

    /// Like [`Self::ack`], but writes nothing: returns the checkpoint the acknowledgement moved
    /// to, for the caller to make durable (in the same Kafka transaction as the batch's records,
    /// or after them), then to report with [`Self::mark_durable`].
    pub fn advance(&self, token: &CheckpointToken) -> Result<Option<Checkpoint>, FetchError> {
        if token.source_id != self.source_id {
            return Err(FetchError::InvalidAck(format!(
                "token of batch {} (organisation {}) belongs to another source",
                token.sequence, token.org_id
            )));
        }
        lock(&self.tracker).advance(token.sequence)
    }

    /// `checkpoint` (from [`Self::advance`]) is durable now.
    pub fn mark_durable(&self, checkpoint: &Checkpoint) {
        lock(&self.tracker).mark_durable(checkpoint);
    }

    /// The key this source's checkpoint is stored under (`events/<org>`, `backfill/...`).
    pub fn checkpoint_key(&self) -> String {
        lock(&self.tracker).checkpoint_key().to_string()
    }

    /// The committed cursor.
    pub fn committed_cursor(&self) -> DateTime<Utc> {
        lock(&self.tracker).committed()
    }

    /// Batches handed out and not yet committed.
    pub fn pending_batches(&self) -> usize {
        lock(&self.tracker).pending()
    }
}
