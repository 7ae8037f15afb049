//! The JumpCloud client: reads Directory Insights events, inventory and runs response actions.
//!
//! One job: talk to JumpCloud (API key or OAuth 2.0 service account, US/EU/IN regions or any
//! base URL, `x-org-id` per organisation), page through Directory Insights with
//! `X-Search_after`, handle late arrival (lag + overlap + dedup by event id), back off on
//! 429/5xx, and hand out batches of raw events with a checkpoint token. A cursor is committed to
//! the durable checkpoint store only after the sink acknowledged every event up to it.
//!
//! Flow: [`JumpCloudClient`] -> [`EventSource::next_batch`] -> [`EventBatch`] of [`RawEvent`]s
//! -> the sink -> [`Acker::ack`] -> [`CheckpointStore::save`].

pub mod actions;
pub mod checkpoint;
pub mod client;
pub mod duration;
pub mod events;
pub mod inventory;
pub mod stats;
pub mod timestamp;

pub use checkpoint::{
    AckedEvent, Checkpoint, CheckpointError, CheckpointStore, FileCheckpointStore,
};
pub use client::{
    AuthConfig, ClientConfig, EventQuery, EventsPage, FetchError, JsonResponse, JumpCloudClient,
    PageEvent, Region, RetryConfig, Scope, split_page,
};
pub use events::{
    Acker, CheckpointToken, EventBatch, EventSource, EventsConfig, OrgGroup, RawEvent, Turn,
    TurnOutcome, TurnPriority,
};
pub use stats::{FetchStats, SourceStats};
