//! The delivery engine's part in the fetcher's tests: each source's batches delivered in the
//! order handed out, and its checkpoint after them kept in a file store, from which a restarted
//! source resumes.

#![allow(dead_code)] // each test binary uses its own part

use std::path::Path;
use std::time::Duration;

use chrono::Utc;
use fetcher::{Checkpoint, CheckpointStore, EventBatch, FileCheckpointStore};

/// Checkpoints of delivered batches, in a file.
pub struct Ledger {
    store: FileCheckpointStore,
    overlap: Duration,
}

impl Ledger {
    /// The ledger in the checkpoint file `path` (kept across "restarts": open it again).
    pub fn open(path: &Path, overlap: Duration) -> Self {
        Self {
            store: FileCheckpointStore::open(path).unwrap(),
            overlap,
        }
    }

    /// `batch` is delivered (after every earlier batch of its source): its source's checkpoint
    /// moves past it.
    pub fn deliver(&self, batch: &EventBatch) {
        let previous = self.checkpoint(&batch.checkpoint_key);
        if let Some(next) = Checkpoint::after(previous.as_ref(), [batch], self.overlap, Utc::now())
        {
            self.store.save(&batch.checkpoint_key, &next).unwrap();
        }
    }

    /// Sets the checkpoint under `key` (a source delivered up to there earlier).
    pub fn save(&self, key: &str, checkpoint: &Checkpoint) {
        self.store.save(key, checkpoint).unwrap();
    }

    /// The checkpoint under `key`.
    pub fn checkpoint(&self, key: &str) -> Option<Checkpoint> {
        self.store.load(key).unwrap()
    }

    /// The live checkpoint of `org` (`events/<org>`).
    pub fn live(&self, org: &str) -> Option<Checkpoint> {
        self.checkpoint(&fetcher::events::live_checkpoint_key(org))
    }
}
