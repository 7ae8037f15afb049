//! Durable checkpoints: the committed cursor of each organisation plus the ids of the events the
//! sink acknowledged inside the overlap (so an overlap re-fetch after a restart re-emits nothing
//! already delivered). Behind [`CheckpointStore`] so a Kafka-backed store can follow.

mod file;
#[cfg(test)]
mod tests;

use chrono::{DateTime, Utc};
pub use file::FileCheckpointStore;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

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
pub trait CheckpointStore: Send + Sync + std::fmt::Debug {
    /// The stored checkpoint for `key`, `None` if there is none yet.
    fn load(&self, key: &str) -> Result<Option<Checkpoint>, CheckpointError>;
    /// Durably replaces the checkpoint for `key` (returns after it is on disk).
    fn save(&self, key: &str, checkpoint: &Checkpoint) -> Result<(), CheckpointError>;
    /// Where the checkpoints live (file path, topic, ...): two sources of the same key and
    /// location must not run at once in one process.
    fn location(&self) -> String;
}
