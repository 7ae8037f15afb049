//! Directory Insights event sources: one per organisation, windows `[cursor - overlap,
//! now - lag)`, `X-Search_after` paging, dedup, and batches that say where the source's cursor
//! stands once they are delivered; groups of sources swept with one request ([`OrgGroup`]).
//! Acknowledging batches and making cursors durable is the delivery engine's job.

mod config;
mod dedup;
mod group;
mod source;
#[cfg(test)]
mod tests;
mod window;

pub use config::EventsConfig;
pub use dedup::{EventKey, SeenEvents};
pub use group::{OrgGroup, Turn, TurnOutcome, TurnPriority, error_backoff};
pub use source::{
    EventSource, backfill_checkpoint_key, live_checkpoint_key, provider_checkpoint_key,
};
pub(crate) use source::{PageOf, check_paging, latest_timestamp};
pub use window::{Window, halve, live_window, minus, range_window};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use std::sync::Arc;

/// One event exactly as received.
#[derive(Clone, Debug, PartialEq)]
pub struct RawEvent {
    /// Organisation it was fetched for (empty = the credential's own organisation).
    pub org_id: Arc<str>,
    /// Its `id`, when present and a string.
    pub id: Option<String>,
    /// Its `timestamp` as sent, when present and a string.
    pub timestamp: Option<String>,
    /// The exact JSON bytes of the event object.
    pub bytes: Bytes,
}

/// Events of one page (after dedup) and where the source's cursor stands once they and every
/// earlier batch of the source are delivered. A source hands out its batches in order.
#[derive(Debug)]
pub struct EventBatch {
    /// Organisation.
    pub org_id: Arc<str>,
    /// The checkpoint key of the source (`events/<org>`, `backfill/<org>/<from>/<to>`).
    pub checkpoint_key: Arc<str>,
    /// Events in API order; empty when the page brought nothing new (the batch then only moves
    /// the cursor past a quiet window).
    pub events: Vec<RawEvent>,
    /// Every event before this was fetched (late arrivals excepted, which the overlap
    /// re-fetch picks up): the source's cursor once this batch is delivered.
    pub cursor_after: DateTime<Utc>,
    /// The dedup keys of its events (those with an id and a timestamp), which the checkpoint
    /// remembers inside the overlap so that a re-fetch after a restart re-emits none of them.
    pub keys: Vec<EventKey>,
}
