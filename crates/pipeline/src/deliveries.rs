//! The broker's verdicts on one unit's records, reported on the producer's polling thread: a
//! count of records still unanswered and the failures (no future per record).

use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::time::Instant;

use producer::{DeliveryListener, ProduceError};
use prometheus_client::metrics::histogram::Histogram;
use tokio::sync::Notify;

/// Verdicts of one unit. Indices are handed out in order by [`Self::hand_over`].
pub struct UnitDeliveries {
    /// Records handed over and not yet answered.
    unanswered: AtomicUsize,
    next_index: AtomicU32,
    all_answered: Notify,
    failures: Mutex<Vec<(u32, ProduceError)>>,
    started: Instant,
    latency: Histogram,
}

impl UnitDeliveries {
    pub(crate) fn new(latency: Histogram) -> Self {
        Self {
            unanswered: AtomicUsize::new(0),
            next_index: AtomicU32::new(0),
            all_answered: Notify::new(),
            failures: Mutex::new(Vec::new()),
            started: Instant::now(),
            latency,
        }
    }

    /// The index of the next record about to be handed over; exactly one verdict must follow
    /// (from the producer, or [`DeliveryListener::delivered`] called with the refusal).
    pub(crate) fn hand_over(&self) -> u32 {
        self.unanswered.fetch_add(1, Ordering::AcqRel);
        self.next_index.fetch_add(1, Ordering::AcqRel)
    }

    /// The record of `index` was refused before it was handed over: no verdict will come.
    pub(crate) fn not_handed_over(&self) {
        if self.unanswered.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.all_answered.notify_waiters();
        }
    }

    /// Records handed over and not yet answered.
    pub(crate) fn unanswered(&self) -> usize {
        self.unanswered.load(Ordering::Acquire)
    }

    /// Resolves once every handed-over record has its verdict; the failures, by index.
    pub(crate) async fn all_answered(&self) -> Vec<(u32, ProduceError)> {
        loop {
            let notified = self.all_answered.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.unanswered.load(Ordering::Acquire) == 0 {
                break;
            }
            notified.await;
        }
        let mut failures =
            std::mem::take(&mut *self.failures.lock().unwrap_or_else(|p| p.into_inner()));
        failures.sort_by_key(|(index, _)| *index);
        failures
    }

    /// The failures so far (a transaction's failures show in its commit as well).
    pub(crate) fn failures(&self) -> Vec<(u32, ProduceError)> {
        self.failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl DeliveryListener for UnitDeliveries {
    fn delivered(&self, index: u32, result: Result<(), ProduceError>) {
        match result {
            Ok(()) => self.latency.observe(self.started.elapsed().as_secs_f64()),
            Err(err) => self
                .failures
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push((index, err)),
        }
        if self.unanswered.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.all_answered.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    #[tokio::test]
    async fn resolves_once_every_record_is_answered_with_the_failures_in_order() {
        let deliveries = Arc::new(UnitDeliveries::new(Histogram::new([0.1].into_iter())));
        let indices: Vec<u32> = (0..3).map(|_| deliveries.hand_over()).collect();
        assert_eq!(indices, [0, 1, 2]);
        deliveries.delivered(2, Err(ProduceError::Cancelled { topic: "t".into() }));
        deliveries.delivered(0, Ok(()));
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
