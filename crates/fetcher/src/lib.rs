//! The JumpCloud client: reads Directory Insights events, inventory and runs response actions.
//!
//! One job: talk to JumpCloud (API key or OAuth 2.0 service account, US/EU/IN regions or any
//! base URL, `x-org-id` per organisation), page through Directory Insights with
//! `X-Search_after`, handle late arrival (lag + overlap + dedup by event id), back off on
//! 429/5xx, and hand out batches of raw events, each saying where the source's cursor stands
//! once it is delivered. A source starts from a [`Checkpoint`] and is rewound to one; which
//! checkpoint is durable is the delivery engine's business, not the client's.
//!
//! Flow: [`JumpCloudClient`] -> [`EventSource::next_batch`] -> [`EventBatch`] of [`RawEvent`]s
//! (with `cursor_after`) -> the delivery engine.

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
    EventBatch, EventKey, EventSource, EventsConfig, OrgGroup, RawEvent, SeenEvents, Turn,
    TurnOutcome, TurnPriority,
};
pub use stats::{FetchStats, SourceStats};
