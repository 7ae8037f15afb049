//! Counters for observability; the binary exports them (e.g. to Prometheus).

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// Client-wide counters, shared by every organisation of one instance.
#[derive(Debug, Default)]
pub struct FetchStats {
    /// Responses with a 2xx status.
    pub responses_2xx: AtomicU64,
    /// Responses with status 429.
    pub responses_429: AtomicU64,
    /// Other 4xx responses (401, 402, 403, 400, ...).
    pub responses_4xx: AtomicU64,
    /// 5xx responses.
    pub responses_5xx: AtomicU64,
    /// Requests that failed without a usable response (timeout, reset, truncated body).
    pub transport_errors: AtomicU64,
    /// Retries scheduled by the backoff policy.
    pub retries: AtomicU64,
    /// OAuth access tokens obtained.
    pub token_refreshes: AtomicU64,
}

impl FetchStats {
    pub(crate) fn count_status(&self, status: u16) {
        let counter = match status {
            200..=299 => &self.responses_2xx,
            429 => &self.responses_429,
            500..=599 => &self.responses_5xx,
            _ => &self.responses_4xx,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Total responses with any status.
    pub fn responses(&self) -> u64 {
        self.responses_2xx.load(Ordering::Relaxed)
            + self.responses_429.load(Ordering::Relaxed)
            + self.responses_4xx.load(Ordering::Relaxed)
            + self.responses_5xx.load(Ordering::Relaxed)
    }
}

/// Per-organisation counters of one [`crate::EventSource`].
#[derive(Debug, Default)]
pub struct SourceStats {
    /// Events handed out in batches.
    pub events_fetched: AtomicU64,
    /// Events dropped because they were already handed out or acknowledged (overlap re-fetch).
    pub duplicates_skipped: AtomicU64,
    /// Event keys held for dedup (bounded by the overlap, not by history).
    pub dedup_keys: AtomicU64,
    /// Pages fetched.
    pub pages: AtomicU64,
    /// The durable cursor, Unix milliseconds (the checkpoint the source started from, then
    /// each one the delivery engine made durable).
    pub committed_cursor_ms: AtomicI64,
    /// Batches handed out and not yet durable (kept by the delivery engine).
    pub pending_batches: AtomicU64,
    /// End of the last completed window, Unix milliseconds; 0 until one completes. The data lag
    /// is now minus this, computed when read (a source that stopped polling shows it growing).
    pub last_window_end_ms: AtomicI64,
    /// Backfill: slices opened (each at most `backfill_slice_events` events by `/events/count`).
    pub backfill_slices: AtomicU64,
    /// Backfill: events expected (from `/events/count`), 0 when not backfilling.
    pub backfill_expected: AtomicU64,
}

impl SourceStats {
    /// Seconds from the end of the last completed window to `now_ms`; `None` before the first
    /// window completes (never reported as fresh).
    pub fn data_lag_seconds(&self, now_ms: i64) -> Option<f64> {
        match self.last_window_end_ms.load(Ordering::Relaxed) {
            0 => None,
            end => Some((now_ms - end) as f64 / 1000.0),
        }
    }

    /// Backfill progress in `[0, 1]` (events read / events counted), `None` when not
    /// backfilling.
    pub fn backfill_progress(&self) -> Option<f64> {
        let expected = self.backfill_expected.load(Ordering::Relaxed);
        if expected == 0 {
            return None;
        }
        // Events already acknowledged before a restart are counted and skipped, not re-sent.
        let read = self.events_fetched.load(Ordering::Relaxed)
            + self.duplicates_skipped.load(Ordering::Relaxed);
        Some((read as f64 / expected as f64).min(1.0))
    }
}
