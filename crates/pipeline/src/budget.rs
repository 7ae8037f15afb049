//! Room for fetched events not yet handed to the destination, shared by every source of a
//! pipeline (and by the pipelines of one process given the same budget): it bounds memory
//! whatever the broker does.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

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
    /// Events holding room now.
    pub(crate) fn in_use(&self) -> usize {
        self.capacity
            .saturating_sub(self.events.available_permits())
    }

    /// Room for a page of at most `page_limit` events: a whole page (at most the whole budget)
    /// when there is room for it, else what there is once at least a quarter of a page is free.
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
}
