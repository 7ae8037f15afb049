//! Acknowledgement: the one place that knows which batches are in flight and which checkpoint
//! of each source is durable.
//!
//! A source hands out its batches in order, each saying where its cursor stands once it is
//! delivered (`EventBatch::cursor_after`). The writer gathers batches into units, in that
//! order, and finishes units in order; so a source's checkpoint after a unit is its checkpoint
//! after the unit before, moved past the unit's batches of that source ([`Self::advance`],
//! `fetcher::Checkpoint::after`). The destination writes those checkpoints with the unit (the
//! one path that writes cursors), and only then are they [`Self::durable`]. A unit that fails
//! rewinds every source to its durable checkpoint ([`Self::rewind`]): the rewind epoch moves
//! on, batches of an older epoch are dropped unwritten, and the sources fetch again.
//!
//! In the manner of Kafka Connect's exactly-once source task, the transaction is the
//! acknowledgement: a batch is delivered when its unit is durable, never record by record.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::Utc;
use fetcher::{Checkpoint, EventBatch, EventSource, SourceStats};

/// Each source's durable checkpoint, the checkpoint after the units handed to the destination
/// and not yet durable, its batches in flight, and the rewind epoch.
#[derive(Debug, Default)]
pub(crate) struct Acknowledgements {
    epoch: AtomicU64,
    sources: Mutex<HashMap<Arc<str>, SourceAcks>>,
}

#[derive(Debug)]
struct SourceAcks {
    overlap: Duration,
    /// The durable checkpoint: where the source is rewound to (`None`: nothing of it is
    /// durable yet; it starts from its initial cursor). The one record of it in the process.
    durable: Option<Checkpoint>,
    /// The checkpoint after the last unit finished or being finished (ahead of `durable`
    /// while units are in flight).
    advanced: Option<Checkpoint>,
    /// Batches handed out and neither durable nor dropped.
    in_flight: u64,
    stats: Arc<SourceStats>,
}

impl Acknowledgements {
    /// The acknowledgements of `sources`, each durable at the checkpoint it was started from.
    /// Two sources with the same checkpoint key would overwrite each other's cursor: an error.
    pub(crate) fn new<'a>(
        sources: impl IntoIterator<Item = &'a EventSource>,
    ) -> Result<Self, String> {
        let mut map = HashMap::new();
        for source in sources {
            let key: Arc<str> = Arc::from(source.checkpoint_key());
            let durable = source.loaded_checkpoint().cloned();
            let acks = SourceAcks {
                overlap: source.config().overlap,
                advanced: durable.clone(),
                durable,
                in_flight: 0,
                stats: source.stats(),
            };
            if map.insert(Arc::clone(&key), acks).is_some() {
                return Err(format!(
                    "two sources share the checkpoint {key}: each organisation (or backfill range) may run once"
                ));
            }
        }
        Ok(Self {
            epoch: AtomicU64::new(0),
            sources: Mutex::new(map),
        })
    }

    fn sources(&self) -> MutexGuard<'_, HashMap<Arc<str>, SourceAcks>> {
        self.sources.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The rewind epoch: it moves on at every rewind.
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::SeqCst)
    }

    /// A batch of `key`, fetched in `epoch`, is handed out: in flight until the returned guard
    /// is dropped (when its unit is durable, or the batch is dropped). A batch fetched before a
    /// rewind is never current, whenever it is handed out.
    pub(crate) fn handed_out(self: &Arc<Self>, key: &Arc<str>, epoch: u64) -> InFlight {
        if let Some(source) = self.sources().get_mut(key) {
            source.in_flight += 1;
            source
                .stats
                .pending_batches
                .store(source.in_flight, Ordering::Relaxed);
        }
        InFlight {
            acks: Arc::clone(self),
            key: Arc::clone(key),
            epoch,
        }
    }

    /// Batches of `key` in flight.
    pub(crate) fn in_flight(&self, key: &str) -> u64 {
        self.sources().get(key).map_or(0, |source| source.in_flight)
    }

    /// The durable checkpoint of `key`.
    pub(crate) fn durable_checkpoint(&self, key: &str) -> Option<Checkpoint> {
        self.sources().get(key).and_then(|s| s.durable.clone())
    }

    /// The checkpoint of each source of `batches` (a unit's, in the order handed out) once they
    /// are delivered after the units before: what the destination writes with the unit.
    pub(crate) fn advance<'a>(
        &self,
        batches: impl IntoIterator<Item = &'a EventBatch>,
    ) -> Vec<(String, Checkpoint)> {
        let mut by_source: BTreeMap<Arc<str>, Vec<&EventBatch>> = BTreeMap::new();
        for batch in batches {
            by_source
                .entry(Arc::clone(&batch.checkpoint_key))
                .or_default()
                .push(batch);
        }
        let mut sources = self.sources();
        let now = Utc::now();
        let mut cursors = Vec::with_capacity(by_source.len());
        for (key, batches) in by_source {
            let Some(source) = sources.get_mut(&key) else {
                continue;
            };
            if let Some(next) =
                Checkpoint::after(source.advanced.as_ref(), batches, source.overlap, now)
            {
                source.advanced = Some(next.clone());
                cursors.push((key.to_string(), next));
            }
        }
        cursors
    }

    /// `cursors` (from [`Self::advance`]) are durable now.
    pub(crate) fn durable(&self, cursors: &[(String, Checkpoint)]) {
        let mut sources = self.sources();
        for (key, checkpoint) in cursors {
            let Some(source) = sources.get_mut(key.as_str()) else {
                continue;
            };
            source
                .stats
                .committed_cursor_ms
                .store(checkpoint.cursor.timestamp_millis(), Ordering::Relaxed);
            tracing::debug!(
                checkpoint = %key,
                cursor = %checkpoint.cursor,
                delivered_in_overlap = checkpoint.acked.len(),
                "checkpoint durable"
            );
            source.durable = Some(checkpoint.clone());
        }
    }

    /// A unit failed: every source starts again from its durable checkpoint. Batches handed
    /// out before this are dropped unwritten (their epoch is over).
    pub(crate) fn rewind(&self) {
        let mut sources = self.sources();
        for source in sources.values_mut() {
            source.advanced = source.durable.clone();
        }
        self.epoch.fetch_add(1, Ordering::SeqCst);
    }

    /// A unit's fate is unknown (it may have committed): `read` are the checkpoints the state
    /// topic holds now, durable by definition; then every source is rewound to them.
    pub(crate) fn rewind_to(&self, read: BTreeMap<String, Checkpoint>) {
        {
            let mut sources = self.sources();
            for (key, checkpoint) in read {
                if let Some(source) = sources.get_mut(key.as_str()) {
                    source
                        .stats
                        .committed_cursor_ms
                        .store(checkpoint.cursor.timestamp_millis(), Ordering::Relaxed);
                    source.durable = Some(checkpoint);
                }
            }
        }
        self.rewind();
    }
}

/// One batch in flight; dropped when its unit is durable or the batch is dropped.
#[derive(Debug)]
pub(crate) struct InFlight {
    acks: Arc<Acknowledgements>,
    key: Arc<str>,
    epoch: u64,
}

impl InFlight {
    /// True while no rewind happened since the batch was handed out.
    pub(crate) fn is_current(&self) -> bool {
        self.epoch == self.acks.epoch()
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Some(source) = self.acks.sources().get_mut(&self.key) {
            source.in_flight = source.in_flight.saturating_sub(1);
            source
                .stats
                .pending_batches
                .store(source.in_flight, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests;
