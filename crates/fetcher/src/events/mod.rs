//! Directory Insights event sources: one per organisation, windows `[cursor - overlap,
//! now - lag)`, `X-Search_after` paging, dedup, batches with checkpoint tokens, and commits on
//! acknowledgement; groups of sources swept with one request ([`OrgGroup`]).

mod ack;
mod config;
mod dedup;
mod group;
mod source;
#[cfg(test)]
mod tests;
mod window;

pub use ack::{Acker, CheckpointToken};
pub use config::EventsConfig;
pub use dedup::{EventKey, SeenEvents};
pub use group::{OrgGroup, Turn, TurnOutcome, TurnPriority, error_backoff};
pub use source::{
    EventSource, backfill_checkpoint_key, live_checkpoint_key, provider_checkpoint_key,
};
pub(crate) use source::{PageOf, check_paging, latest_timestamp};
pub use window::{Window, halve, live_window, minus, range_window};

use bytes::Bytes;
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

/// Events of one page (after dedup) plus the token to acknowledge them with.
#[derive(Debug)]
pub struct EventBatch {
    /// Organisation.
    pub org_id: String,
    /// Events in API order; never empty.
    pub events: Vec<RawEvent>,
    /// Acknowledge with [`Acker::ack`] once the sink has every event.
    pub checkpoint: CheckpointToken,
}
