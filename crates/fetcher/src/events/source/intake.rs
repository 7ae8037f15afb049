//! Taking a page's events into a source: dedup, the batch and the cursor it moves to. Shared by
//! a source's own requests and by the requests of its group ([`crate::events::OrgGroup`]), which
//! hand each member its share of a page.

use super::super::dedup::EventKey;
use super::super::window::{self, Window};
use super::{EventSource, Plan};
use crate::client::{EventQuery, EventsPage, FetchError, PageEvent};
use crate::events::{EventBatch, RawEvent};
use crate::timestamp::{format_timestamp, parse_timestamp};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// Where a page stands in the window it belongs to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PageOf {
    /// The window requested.
    pub(crate) window: Window,
    /// The page was not full: the window is complete.
    pub(crate) last_page: bool,
    /// Every event before this has been returned (the window's end on its last page).
    pub(crate) progress: DateTime<Utc>,
    /// Events before this are dropped (a group's window starts before the member's own).
    pub(crate) drop_before: Option<DateTime<Utc>>,
}

/// Checks that a page can be paged past: `Ok(true)` when it is the window's last page (fewer
/// events than the limit), an error when a full page gives no way forward.
pub(crate) fn check_paging(
    page: &EventsPage,
    query: &EventQuery,
    requested: usize,
) -> Result<bool, FetchError> {
    let limit = page.limit.unwrap_or(requested).max(1);
    if page.events.len() < limit {
        return Ok(true);
    }
    let stuck = match (&page.search_after, &query.search_after) {
        (None, _) => Some("a full page came without X-Search_after; cannot page further"),
        (Some(next), Some(sent)) if next.get() == sent.get() => {
            Some("X-Search_after did not move past the previous page; paging would loop")
        }
        _ => None,
    };
    match stuck {
        Some(reason) => Err(FetchError::Protocol {
            path: crate::client::EVENTS_PATH.into(),
            reason: reason.into(),
        }),
        None => Ok(false),
    }
}

/// The latest readable timestamp of a page.
pub(crate) fn latest_timestamp(events: &[PageEvent]) -> Option<DateTime<Utc>> {
    events
        .iter()
        .filter_map(|event| event.timestamp.as_deref().and_then(parse_timestamp))
        .max()
}

impl EventSource {
    /// Where this source's own window starts: `cursor - overlap`.
    pub(crate) fn own_start(&self) -> DateTime<Utc> {
        window::minus(self.fetch_cursor, self.config.overlap)
    }

    /// Takes this member's share of a group's page (see [`PageOf`]): a batch with the events
    /// that are new (maybe none: the cursor still moves).
    pub(crate) fn take_group_page(&mut self, events: Vec<PageEvent>, page: PageOf) -> EventBatch {
        self.stats.pages.fetch_add(1, Ordering::Relaxed);
        let batch = self.take_events(events, page);
        // A group member never pages alone right after a grouped window: nothing to report.
        self.caught_up = false;
        if !page.last_page {
            // Everything before the group's progress has been fetched for this member too, and
            // its dedup memory now starts at `progress - overlap`: should it page alone next (taken
            // out of the group), its window must start there, not below.
            self.fetch_cursor = self.fetch_cursor.max(page.progress);
        }
        batch
    }

    /// Dedups `events`, moves the fetch cursor and makes the batch (maybe without events).
    pub(super) fn take_events(&mut self, page_events: Vec<PageEvent>, page: PageOf) -> EventBatch {
        let PageOf {
            window,
            last_page,
            progress,
            drop_before,
        } = page;
        let received = page_events.len();
        let mut events = Vec::with_capacity(received);
        let mut keys = Vec::with_capacity(received);
        let mut duplicates = 0u64;
        let received_bytes: usize = page_events.iter().map(|event| event.bytes.len()).sum();
        let mut kept_bytes = 0;
        for PageEvent {
            bytes: raw,
            id,
            timestamp,
            ..
        } in page_events
        {
            let parsed = timestamp.as_deref().and_then(parse_timestamp);
            if let (Some(before), Some(time)) = (drop_before, parsed)
                && time < before
            {
                // Below this member's own window: committed long ago, out of its dedup memory.
                continue;
            }
            if let (Some(id), Some(time)) = (id.as_deref(), parsed)
                && let Some(key) = EventKey::new(id, time)
            {
                if !self.seen.insert(key.clone()) {
                    duplicates += 1;
                    continue;
                }
                keys.push(key);
            }
            kept_bytes += raw.len();
            events.push(RawEvent {
                org_id: Arc::clone(&self.org_id),
                id,
                timestamp,
                bytes: raw,
            });
        }
        if kept_bytes * 2 < received_bytes {
            // The events are slices of the response body, which lives as long as any of them.
            // When dedup dropped most of the page (a live window re-reading its overlap), copy
            // the few new ones out so the body is freed now, not when they are delivered: a
            // broker outage would otherwise hold one whole body per poll.
            for event in &mut events {
                event.bytes = Bytes::copy_from_slice(&event.bytes);
            }
        }
        self.stats
            .duplicates_skipped
            .fetch_add(duplicates, Ordering::Relaxed);
        self.stats
            .events_fetched
            .fetch_add(events.len() as u64, Ordering::Relaxed);
        let cursor_after = if last_page {
            self.fetch_cursor = self.fetch_cursor.max(window.end);
            self.window = None;
            // A live source reports each completed window; a backfill goes on to its next slice.
            self.caught_up = matches!(self.plan, Plan::Live);
            let keep_from = match self.plan {
                Plan::Live => window::minus(self.fetch_cursor, self.config.overlap),
                Plan::Range { .. } => self.fetch_cursor,
            };
            self.seen.prune_before(keep_from);
            self.stats
                .last_window_end_ms
                .fetch_max(window.end.timestamp_millis(), Ordering::Relaxed);
            tracing::debug!(
                org = %self.org_id,
                start = %format_timestamp(window.start),
                end = %format_timestamp(window.end),
                "window complete"
            );
            self.fetch_cursor
        } else {
            // No later request reaches below `progress - overlap`: a long catch-up window keeps
            // the dedup memory bounded by the overlap, not by the window.
            let keep_from = match self.plan {
                Plan::Live => window::minus(progress, self.config.overlap),
                Plan::Range { .. } => progress,
            };
            self.seen.prune_before(keep_from);
            progress
        };
        self.stats
            .dedup_keys
            .store(self.seen.len() as u64, Ordering::Relaxed);
        tracing::debug!(
            org = %self.org_id,
            received,
            emitted = events.len(),
            duplicates,
            last_page,
            "page"
        );
        EventBatch {
            org_id: Arc::clone(&self.org_id),
            checkpoint_key: Arc::clone(&self.checkpoint_key),
            events,
            cursor_after,
            keys,
        }
    }
}
