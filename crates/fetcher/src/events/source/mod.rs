//! The event source of one organisation (live or backfill range).

use super::dedup::{EventKey, SeenEvents};
use super::window::{self, Window};
use super::{EventBatch, EventsConfig};
use crate::checkpoint::Checkpoint;
use crate::client::{EventQuery, FetchError, JumpCloudClient, Scope};
use crate::stats::SourceStats;
use crate::timestamp::{floor_to_millis, format_timestamp};
use chrono::{DateTime, Utc};
use serde_json::value::RawValue;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tracing::Instrument;

mod intake;

pub(crate) use intake::{PageOf, check_paging, latest_timestamp};

/// Checkpoint key of an organisation's live cursor.
pub fn live_checkpoint_key(org_id: &str) -> String {
    format!("events/{org_id}")
}

/// Checkpoint key of the Multi-Tenant Portal's own events (`x-provider-id`).
pub fn provider_checkpoint_key(provider_id: &str) -> String {
    format!("events/provider/{provider_id}")
}

/// Checkpoint key of a backfill of `[from, to)`.
pub fn backfill_checkpoint_key(org_id: &str, from: DateTime<Utc>, to: DateTime<Utc>) -> String {
    format!(
        "backfill/{org_id}/{}/{}",
        format_timestamp(from),
        format_timestamp(to)
    )
}

#[derive(Debug, Clone, Copy)]
enum Plan {
    Live,
    Range { to: DateTime<Utc> },
}

#[derive(Debug)]
struct OpenWindow {
    window: Window,
    search_after: Option<Box<RawValue>>,
    /// Every event before this has been fetched (advances page by page).
    progress: DateTime<Utc>,
}

/// Reads one organisation's Directory Insights events; hands out deduplicated batches.
///
/// Cancel-safe: dropping a pending `next_batch` future loses nothing (state changes only after a
/// page has been fully received).
#[derive(Debug)]
pub struct EventSource {
    client: JumpCloudClient,
    /// The organisation (`provider/<id>` for the provider's own events).
    org_id: Arc<str>,
    /// Set for the Multi-Tenant Portal's own events: requests carry `x-provider-id`.
    provider_id: Option<Arc<str>>,
    config: EventsConfig,
    plan: Plan,
    /// `events/<org>`, `events/provider/<id>` or `backfill/<org>/<from>/<to>`.
    checkpoint_key: Arc<str>,
    seen: SeenEvents,
    /// Where the source starts without a checkpoint.
    initial_cursor: DateTime<Utc>,
    /// The checkpoint it started from.
    loaded: Option<Checkpoint>,
    fetch_cursor: DateTime<Utc>,
    window: Option<OpenWindow>,
    caught_up: bool,
    last_slice_span: Option<chrono::Duration>,
    /// The `limit` of the next page request (`page_limit`, or less when the caller has room
    /// for fewer events: [`EventSource::next_batch_of`]).
    request_limit: usize,
    stats: Arc<SourceStats>,
}

impl EventSource {
    /// The live source of `org_id` (empty = the credential's own organisation), resuming from
    /// `checkpoint` (its durable checkpoint, under [`live_checkpoint_key`]), or from
    /// `now - initial_lookback` without one.
    pub fn new(
        client: JumpCloudClient,
        org_id: impl Into<String>,
        config: EventsConfig,
        checkpoint: Option<Checkpoint>,
    ) -> Result<Self, FetchError> {
        let org_id: String = org_id.into();
        let initial = window::minus(Utc::now(), config.initial_lookback);
        Self::build(
            client,
            org_id.clone(),
            config,
            checkpoint,
            live_checkpoint_key(&org_id),
            initial,
            Plan::Live,
        )
    }

    /// The live source of the Multi-Tenant Portal's own events (`x-provider-id`), under the
    /// checkpoint key `events/provider/<id>` ([`provider_checkpoint_key`]); its events are
    /// labelled `provider/<id>`.
    pub fn provider(
        client: JumpCloudClient,
        provider_id: &str,
        config: EventsConfig,
        checkpoint: Option<Checkpoint>,
    ) -> Result<Self, FetchError> {
        if provider_id.is_empty() {
            return Err(FetchError::Config("the provider id is empty".into()));
        }
        let initial = window::minus(Utc::now(), config.initial_lookback);
        let mut source = Self::build(
            client,
            format!("provider/{provider_id}"),
            config,
            checkpoint,
            provider_checkpoint_key(provider_id),
            initial,
            Plan::Live,
        )?;
        source.provider_id = Some(Arc::from(provider_id));
        Ok(source)
    }

    /// A backfill of `[from, to)` for `org_id`, resumable from its own `checkpoint` (under
    /// [`backfill_checkpoint_key`]), sliced with `/events/count` into slices of at most
    /// `backfill_slice_events` events. Warns when `from` is beyond the retention.
    pub fn backfill(
        client: JumpCloudClient,
        org_id: impl Into<String>,
        config: EventsConfig,
        checkpoint: Option<Checkpoint>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Self, FetchError> {
        if from >= to {
            return Err(FetchError::Config(format!(
                "backfill --from {} must be before --to {}",
                format_timestamp(from),
                format_timestamp(to)
            )));
        }
        let org_id: String = org_id.into();
        if from < window::minus(Utc::now(), config.retention) {
            tracing::warn!(
                org = %org_id,
                from = %format_timestamp(from),
                retention = ?config.retention,
                "backfill starts beyond the Directory Insights retention: older events no longer exist"
            );
        }
        let key = backfill_checkpoint_key(&org_id, from, to);
        Self::build(
            client,
            org_id,
            config,
            checkpoint,
            key,
            from,
            Plan::Range { to },
        )
    }

    fn build(
        client: JumpCloudClient,
        org_id: String,
        config: EventsConfig,
        checkpoint: Option<Checkpoint>,
        checkpoint_key: String,
        initial_cursor: DateTime<Utc>,
        plan: Plan,
    ) -> Result<Self, FetchError> {
        config.validate().map_err(FetchError::Config)?;
        let mut seen = SeenEvents::default();
        let cursor = match &checkpoint {
            Some(checkpoint) => {
                for key in checkpoint.acked.iter().filter_map(EventKey::from_acked) {
                    seen.insert(key);
                }
                tracing::info!(
                    org = %org_id,
                    checkpoint = %checkpoint_key,
                    cursor = %format_timestamp(checkpoint.cursor),
                    acked_in_overlap = checkpoint.acked.len(),
                    "resuming from checkpoint"
                );
                checkpoint.cursor
            }
            None => {
                tracing::info!(org = %org_id, checkpoint = %checkpoint_key, start = %format_timestamp(initial_cursor), "no checkpoint: first run");
                initial_cursor
            }
        };
        let stats = Arc::new(SourceStats::default());
        stats
            .committed_cursor_ms
            .store(cursor.timestamp_millis(), Ordering::Relaxed);
        let page_limit = config.page_limit;
        Ok(Self {
            client,
            org_id: Arc::from(org_id),
            provider_id: None,
            config,
            plan,
            checkpoint_key: Arc::from(checkpoint_key),
            seen,
            initial_cursor,
            loaded: checkpoint,
            fetch_cursor: cursor,
            window: None,
            caught_up: false,
            last_slice_span: None,
            request_limit: page_limit,
            stats,
        })
    }

    /// Starts again from `checkpoint` (the last one made durable; `None`: none was, start from
    /// the initial lookback or the range's start): every batch handed out since is forgotten and
    /// its events are fetched again. Used when a delivery failed, e.g. an aborted Kafka
    /// transaction, so nothing is skipped and records keep the order of the source.
    pub fn rewind(&mut self, checkpoint: Option<&Checkpoint>) {
        self.seen = SeenEvents::default();
        if let Some(checkpoint) = checkpoint {
            for key in checkpoint.acked.iter().filter_map(EventKey::from_acked) {
                self.seen.insert(key);
            }
        }
        self.fetch_cursor = checkpoint.map_or(self.initial_cursor, |c| c.cursor);
        self.window = None;
        self.caught_up = false;
        self.last_slice_span = None;
        tracing::info!(
            org = %self.org_id,
            cursor = %format_timestamp(self.fetch_cursor),
            "source rewound to its last durable checkpoint; fetching again from there"
        );
    }

    /// The checkpoint this source started from (`None`: it started from the initial lookback
    /// or the range's start).
    pub fn loaded_checkpoint(&self) -> Option<&Checkpoint> {
        self.loaded.as_ref()
    }

    /// The key its checkpoint is stored under (`events/<org>`, `backfill/...`).
    pub fn checkpoint_key(&self) -> &str {
        &self.checkpoint_key
    }

    /// The client it requests with.
    pub(crate) fn client(&self) -> &JumpCloudClient {
        &self.client
    }

    /// Its configuration (page size, poll interval, ...).
    pub fn config(&self) -> &EventsConfig {
        &self.config
    }

    /// Organisation id.
    pub fn org_id(&self) -> &str {
        &self.org_id
    }

    /// Counters of this source.
    pub fn stats(&self) -> Arc<SourceStats> {
        Arc::clone(&self.stats)
    }

    /// How far events have been fetched (handed out), ahead of the committed cursor.
    pub fn fetch_cursor(&self) -> DateTime<Utc> {
        self.fetch_cursor
    }

    /// True for a live source of one named organisation: one that can be queried together with
    /// others (`x-org-id` repeated). Not a backfill, the provider's events, or the credential's
    /// own organisation (whose id the events carry but the configuration does not).
    pub fn is_groupable(&self) -> bool {
        matches!(self.plan, Plan::Live) && self.provider_id.is_none() && !self.org_id.is_empty()
    }

    /// True for the Multi-Tenant Portal's own events (`x-provider-id`): an organisation's
    /// inventory does not apply to it.
    pub fn is_provider(&self) -> bool {
        self.provider_id.is_some()
    }

    /// True for a live source (not a backfill range).
    pub fn is_live(&self) -> bool {
        matches!(self.plan, Plan::Live)
    }

    /// The organisation as an `x-org-id` value shared with a group's request.
    pub(crate) fn org_arc(&self) -> Arc<str> {
        Arc::clone(&self.org_id)
    }

    /// True once a backfill has fetched its whole range (always false for a live source).
    pub fn is_finished(&self) -> bool {
        match self.plan {
            Plan::Live => false,
            Plan::Range { to } => self.fetch_cursor >= to && self.window.is_none(),
        }
    }

    /// The next batch, or `None` when caught up: a live source returns `None` after each
    /// complete window `[.., now - lag)` (calling again starts a new window); a backfill returns
    /// `None` only when its range is finished (or reaches `now - lag`).
    /// Errors (401/402/403, exhausted retries) leave the cursor where it was; calling again
    /// retries the same page.
    pub async fn next_batch(&mut self) -> Result<Option<EventBatch>, FetchError> {
        self.next_batch_of(self.config.page_limit).await
    }

    /// Like [`Self::next_batch`], with pages of at most `max_events` events (1 to
    /// `page_limit`): a caller short of memory for a whole page still makes progress.
    pub async fn next_batch_of(
        &mut self,
        max_events: usize,
    ) -> Result<Option<EventBatch>, FetchError> {
        self.request_limit = max_events.clamp(1, self.config.page_limit);
        let span = tracing::info_span!("directory_insights", org = %self.org_id);
        self.next_batch_inner().instrument(span).await
    }

    async fn next_batch_inner(&mut self) -> Result<Option<EventBatch>, FetchError> {
        loop {
            if self.window.is_none() {
                if self.caught_up {
                    self.caught_up = false;
                    return Ok(None);
                }
                match self.open_window().await? {
                    Some(open) => self.window = Some(open),
                    None => return Ok(None),
                }
            }
            if let Some(batch) = self.fetch_page().await? {
                return Ok(Some(batch));
            }
        }
    }

    fn query(&self, window: Window, search_after: Option<Box<RawValue>>) -> EventQuery {
        EventQuery {
            service: self.config.services.clone(),
            start_time: format_timestamp(window.start),
            end_time: format_timestamp(window.end),
            limit: Some(self.request_limit),
            sort: Some("ASC"),
            search_after,
        }
    }

    async fn open_window(&mut self) -> Result<Option<OpenWindow>, FetchError> {
        let now = Utc::now();
        let window = match self.plan {
            Plan::Live => {
                window::live_window(self.fetch_cursor, now, self.config.lag, self.config.overlap)
            }
            Plan::Range { to } => {
                let Some(mut slice) =
                    window::range_window(self.fetch_cursor, to, now, self.config.lag)
                else {
                    return Ok(None);
                };
                // Start from twice the previous slice's span: few count calls per slice.
                if let Some(span) = self.last_slice_span {
                    let guess = slice.start + span * 2;
                    if guess < slice.end {
                        slice.end = guess;
                    }
                }
                let mut count = self
                    .client
                    .events_count(&self.org_id, &self.query(slice, None))
                    .await?;
                if self.stats.backfill_expected.load(Ordering::Relaxed) == 0 {
                    let total = self
                        .client
                        .events_count(
                            &self.org_id,
                            &self.query(
                                Window {
                                    start: slice.start,
                                    end: to,
                                },
                                None,
                            ),
                        )
                        .await?;
                    self.stats
                        .backfill_expected
                        .store(total.max(1), Ordering::Relaxed);
                }
                while count > self.config.backfill_slice_events {
                    let Some(half) = window::halve(slice) else {
                        break;
                    };
                    slice = half;
                    count = self
                        .client
                        .events_count(&self.org_id, &self.query(slice, None))
                        .await?;
                }
                self.last_slice_span = Some(slice.end - slice.start);
                self.stats.backfill_slices.fetch_add(1, Ordering::Relaxed);
                let fetched = self.stats.events_fetched.load(Ordering::Relaxed);
                let expected = self.stats.backfill_expected.load(Ordering::Relaxed);
                tracing::info!(
                    org = %self.org_id,
                    start = %format_timestamp(slice.start),
                    end = %format_timestamp(slice.end),
                    slice_events = count,
                    fetched,
                    expected,
                    "backfill slice"
                );
                Some(slice)
            }
        };
        let Some(window) = window else {
            tracing::debug!(org = %self.org_id, "empty window skipped (lag reaches past the cursor)");
            return Ok(None);
        };
        Ok(Some(OpenWindow {
            window,
            search_after: None,
            progress: self.fetch_cursor,
        }))
    }

    async fn fetch_page(&mut self) -> Result<Option<EventBatch>, FetchError> {
        let Some(open) = self.window.as_ref() else {
            return Ok(None);
        };
        let window = open.window;
        let query = self.query(window, open.search_after.clone());
        let page = match self.provider_id.as_deref() {
            Some(provider) => {
                self.client
                    .events_page_for(Scope::Provider(provider), &query)
                    .await?
            }
            None => self.client.events_page(&self.org_id, &query).await?,
        };
        self.stats.pages.fetch_add(1, Ordering::Relaxed);
        let last_page = intake::check_paging(&page, &query, self.request_limit)?;
        let latest = intake::latest_timestamp(&page.events);
        let progress = match self.window.as_mut() {
            Some(open) if !last_page => {
                open.search_after = page.search_after;
                if let Some(latest) = latest {
                    // Sorted by epoch-ms: everything before this millisecond has been returned.
                    open.progress = open.progress.max(floor_to_millis(latest)).min(window.end);
                }
                open.progress
            }
            _ => window.end,
        };
        let page_of = intake::PageOf {
            window,
            last_page,
            progress,
            drop_before: None,
        };
        Ok(Some(self.take_events(page.events, page_of)))
    }
}
