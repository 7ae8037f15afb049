//! Checkpoints: where a source resumes (its cursor) plus the ids of the events delivered inside
//! the overlap (so an overlap re-fetch after a restart re-emits nothing already delivered), how
//! a checkpoint moves as batches are delivered ([`Checkpoint::after`]), and the file store
//! ([`CheckpointStore`], [`FileCheckpointStore`]). Which checkpoint is durable, and when, is the
//! delivery engine's business.

mod file;
#[cfg(test)]
mod tests;

use crate::events::{EventBatch, EventKey, SeenEvents};
use chrono::{DateTime, Utc};
pub use file::FileCheckpointStore;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;

/// An acknowledged event remembered for dedup (organisation is the checkpoint's key).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AckedEvent {
    /// Event timestamp, full precision.
    pub timestamp: DateTime<Utc>,
    /// Event id.
    pub id: String,
}

/// What is stored per source (organisation, or backfill range).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct Checkpoint {
    /// Every event with a timestamp before this was fetched and acknowledged (late arrivals
    /// excepted, which the overlap re-fetch picks up).
    pub cursor: DateTime<Utc>,
    /// Acknowledged events with `timestamp >= cursor - overlap`, plus acknowledged events of
    /// batches past the cursor whose predecessors are still pending.
    pub acked: Vec<AckedEvent>,
    /// When this checkpoint was written.
    pub updated_at: DateTime<Utc>,
}

impl Checkpoint {
    /// The checkpoint of a source once `batches` (its next batches, in the order it handed them
    /// out) are delivered after `previous` (its checkpoint before them; `None`: it had none):
    /// the last batch's cursor, and the keys of the events delivered at or after
    /// `cursor - overlap`. `None` when `batches` is empty.
    pub fn after<'a>(
        previous: Option<&Checkpoint>,
        batches: impl IntoIterator<Item = &'a EventBatch>,
        overlap: Duration,
        now: DateTime<Utc>,
    ) -> Option<Checkpoint> {
        let mut delivered = SeenEvents::default();
        if let Some(previous) = previous {
            for key in previous.acked.iter().filter_map(EventKey::from_acked) {
                delivered.insert(key);
            }
        }
        let mut cursor = previous.map(|p| p.cursor);
        let mut moved = false;
        for batch in batches {
            for key in &batch.keys {
                delivered.insert(key.clone());
            }
            cursor = Some(cursor.map_or(batch.cursor_after, |c| c.max(batch.cursor_after)));
            moved = true;
        }
        let cursor = cursor.filter(|_| moved)?;
        delivered.prune_before(crate::events::minus(cursor, overlap));
        Some(Checkpoint {
            cursor,
            acked: delivered.iter().map(EventKey::to_acked).collect(),
            updated_at: now,
        })
    }
}

/// Why the checkpoint store failed. A corrupt or unreadable checkpoint stops the fetcher: it
/// never silently restarts from zero.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// The file exists but cannot be read.
    #[error(
        "cannot read checkpoint file {path}: {reason}; fix its permissions or storage, the fetcher will not restart from zero on its own"
    )]
    Unreadable {
        /// File path.
        path: PathBuf,
        /// Cause.
        reason: String,
    },
    /// The file is not a valid checkpoint.
    #[error(
        "checkpoint file {path} is corrupt: {reason}; restore it from a backup, or move it away deliberately to start again from the configured initial lookback (events may then be re-sent or missed)"
    )]
    Corrupt {
        /// File path.
        path: PathBuf,
        /// Cause.
        reason: String,
    },
    /// Writing failed; the previous checkpoint is still intact.
    #[error("cannot write checkpoint file {path}: {reason}")]
    Write {
        /// File path.
        path: PathBuf,
        /// Cause.
        reason: String,
    },
}

/// Durable storage of checkpoints, one per key (organisation id or backfill range).
///
/// The contract every store keeps: `save` returns only once the checkpoint is durable (a crash
/// after it loses nothing of it), and `load` returns the last checkpoint saved.
pub trait CheckpointStore: Send + Sync + std::fmt::Debug {
    /// The stored checkpoint for `key`, `None` if there is none yet.
    fn load(&self, key: &str) -> Result<Option<Checkpoint>, CheckpointError>;
    /// Durably replaces the checkpoint for `key` (returns after it is on disk).
    fn save(&self, key: &str, checkpoint: &Checkpoint) -> Result<(), CheckpointError>;
    /// Where the checkpoints live (file path, topic, ...): two sources of the same key and
    /// location must not run at once in one process.
    fn location(&self) -> String;
}
