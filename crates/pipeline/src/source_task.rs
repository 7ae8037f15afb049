//! One task per source: fetch pages into batches, within the shared in-flight budget, and hand
//! them to the writer in order. When a unit fails, every source is rewound to its last durable
//! cursor ([`Rewinds`]) and fetches again from there.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fetcher::{Acker, Checkpoint, EventBatch, EventSource, FetchError};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, watch};

use crate::stats::PipelineStats;

/// Run until caught up, or follow the stream until shutdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Catch up to `now - lag`, then stop.
    Once,
    /// Poll forever (until shutdown).
    Follow,
}

/// A batch on its way to the writer, with what it holds until its unit is finished.
pub(crate) struct Fetched {
    pub(crate) batch: EventBatch,
    pub(crate) acker: Acker,
    /// Its room in the in-flight budget, given back once its events are handed over.
    pub(crate) permit: Option<OwnedSemaphorePermit>,
    /// The rewind epoch it was fetched in; a batch of an older epoch is dropped unwritten.
    pub(crate) epoch: u64,
    pub(crate) _outstanding: Outstanding,
}

/// Counts a source's batches not yet durable or dropped (`--once` waits for zero).
pub(crate) struct Outstanding(Arc<AtomicUsize>);

impl Outstanding {
    pub(crate) fn new(count: &Arc<AtomicUsize>) -> Self {
        count.fetch_add(1, Ordering::SeqCst);
        Self(Arc::clone(count))
    }
}

impl Drop for Outstanding {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The last durable cursor of each source and the rewind epoch: a failed unit bumps the epoch,
/// every source then starts again from its durable cursor.
#[derive(Default)]
pub(crate) struct Rewinds {
    epoch: AtomicU64,
    durable: Mutex<HashMap<String, Option<Checkpoint>>>,
}

impl Rewinds {
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::SeqCst)
    }

    pub(crate) fn bump(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
    }

    pub(crate) fn set_durable(&self, key: &str, checkpoint: Option<Checkpoint>) {
        self.durable
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.to_owned(), checkpoint);
    }

    /// True when `key` is one of this pipeline's sources.
    pub(crate) fn knows(&self, key: &str) -> bool {
        self.durable
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(key)
    }

    pub(crate) fn durable(&self, key: &str) -> Option<Checkpoint> {
        self.durable
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(key)
            .cloned()
            .flatten()
    }
}

/// Room for fetched events not yet handed to the destination, shared by every source of a
/// pipeline, and by every pipeline of a process that is given the same budget.
#[derive(Clone)]
pub struct InFlightBudget {
    pub(crate) events: Arc<Semaphore>,
    pub(crate) capacity: usize,
}

impl InFlightBudget {
    /// Room for at most `max_events` events.
    pub fn new(max_events: usize) -> Self {
        let capacity = max_events.clamp(1, Semaphore::MAX_PERMITS);
        Self {
            events: Arc::new(Semaphore::new(capacity)),
            capacity,
        }
    }
}

impl std::fmt::Debug for InFlightBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InFlightBudget")
            .field("capacity", &self.capacity)
            .field("free", &self.events.available_permits())
            .finish()
    }
}

/// The least room a batch holds, however few its events: a live source stuck behind an absent
/// broker makes one small batch per poll. With the default budget at most 120 batches.
const MIN_BATCH_ROOM: usize = 100;

impl InFlightBudget {
    /// Room for the next page of `source`: a whole page (at most the whole budget) when there
    /// is room for it, else what there is once at least a quarter of a page is free.
    async fn reserve_page(&self, source: &EventSource) -> Option<OwnedSemaphorePermit> {
        self.reserve(source.config().page_limit).await
    }

    /// Room for a page of at most `page_limit` events (see [`Self::reserve_page`]).
    pub(crate) async fn reserve(&self, page_limit: usize) -> Option<OwnedSemaphorePermit> {
        let wanted = page_limit.clamp(1, self.capacity);
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

/// Gives back the part of a page's reservation its events do not use.
pub(crate) fn fit_to_batch(
    mut permit: OwnedSemaphorePermit,
    events: usize,
) -> OwnedSemaphorePermit {
    let keep = events.max(MIN_BATCH_ROOM);
    if permit.num_permits() > keep {
        drop(permit.split(permit.num_permits() - keep));
    }
    permit
}

/// Resolves once `stop` turns true (never, if its sender is gone without it).
pub async fn stopped(stop: &mut watch::Receiver<bool>) {
    if stop.wait_for(|stop| *stop).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// What a source task needs besides its source.
pub(crate) struct SourceTask {
    pub(crate) batches: mpsc::Sender<Fetched>,
    pub(crate) budget: InFlightBudget,
    pub(crate) rewinds: Arc<Rewinds>,
    pub(crate) stats: Arc<PipelineStats>,
    pub(crate) mode: Mode,
    pub(crate) stop: watch::Receiver<bool>,
}

impl SourceTask {
    /// Fetches batches until the source is caught up and everything it handed out is durable
    /// (`Once`), or until stopped (`Follow`).
    pub(crate) async fn run(mut self, mut source: EventSource) -> Result<(), FetchError> {
        let acker = source.acker();
        let key = acker.checkpoint_key();
        let org_id = source.org_id().to_string();
        let outstanding = Arc::new(AtomicUsize::new(0));
        let mut epoch = self.rewinds.epoch();
        let errors = fetcher::events::error_backoff;
        let mut error_delays = errors();
        loop {
            let now = self.rewinds.epoch();
            if now != epoch {
                source.rewind(self.rewinds.durable(&key).as_ref());
                epoch = now;
            }
            let permit = tokio::select! {
                biased;
                () = stopped(&mut self.stop) => return Ok(()),
                permit = self.budget.reserve_page(&source) => match permit {
                    Some(permit) => permit,
                    None => return Ok(()),
                },
            };
            let next = tokio::select! {
                biased;
                () = stopped(&mut self.stop) => return Ok(()),
                next = source.next_batch_of(permit.num_permits()) => next,
            };
            match next {
                Ok(Some(batch)) => {
                    error_delays = errors();
                    self.stats.set_org_error(&org_id, None);
                    let fetched = Fetched {
                        permit: Some(fit_to_batch(permit, batch.events.len())),
                        batch,
                        acker: acker.clone(),
                        epoch,
                        _outstanding: Outstanding::new(&outstanding),
                    };
                    if self.batches.send(fetched).await.is_err() {
                        return Ok(());
                    }
                }
                Ok(None) => {
                    drop(permit);
                    self.stats.set_org_error(&org_id, None);
                    let wait = match self.mode {
                        // Caught up: done once everything handed out is durable, unless a
                        // failed unit rewinds this source meanwhile.
                        Mode::Once => {
                            if outstanding.load(Ordering::SeqCst) == 0
                                && self.rewinds.epoch() == epoch
                            {
                                return Ok(());
                            }
                            Duration::from_millis(20)
                        }
                        Mode::Follow => source.config().poll_interval,
                    };
                    tokio::select! {
                        () = stopped(&mut self.stop) => return Ok(()),
                        () = tokio::time::sleep(wait) => {}
                    }
                }
                Err(err) => {
                    drop(permit);
                    tracing::error!(org = %org_id, error = %err, "fetching Directory Insights events failed");
                    self.stats.set_org_error(&org_id, Some(err.to_string()));
                    if self.mode == Mode::Once {
                        return Err(err);
                    }
                    let delay = error_delays.next().unwrap_or(Duration::from_secs(300));
                    tokio::select! {
                        () = stopped(&mut self.stop) => return Ok(()),
                        () = tokio::time::sleep(delay) => {}
                    }
                }
            }
        }
    }
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

    #[test]
    fn a_rewind_bumps_the_epoch_and_serves_the_durable_cursor() {
        let rewinds = Rewinds::default();
        assert_eq!(rewinds.epoch(), 0);
        assert_eq!(rewinds.durable("events/a"), None);
        let checkpoint = Checkpoint {
            cursor: chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
            acked: Vec::new(),
            updated_at: chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
        };
        rewinds.set_durable("events/a", Some(checkpoint.clone()));
        rewinds.bump();
        assert_eq!(rewinds.epoch(), 1);
        assert_eq!(rewinds.durable("events/a"), Some(checkpoint));
    }
}
