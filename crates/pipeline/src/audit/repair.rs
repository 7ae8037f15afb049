//! Repairing a window the API counts more events in: the identities its deltas hold are read
//! back from the state topic, the window is paged again (its source alone, ascending, with
//! `X-Search_after`, each page on a spare turn of the request gate), and each page's events
//! not among them are mapped and written as one unit with their delta. A unit is durable or
//! not as a whole (one transaction in exactly-once mode), so a repair cut short leaves every
//! event it delivered counted, and the next one delivers the rest.

use std::collections::HashSet;
use std::sync::Arc;

use fetcher::timestamp::parse_timestamp;
use fetcher::{EventQuery, RawEvent};
use tokio::sync::oneshot;

use super::records::window_ids;
use super::tally::Tally;
use super::task::{AuditTask, Audited, Interrupted};
use super::window::identity;
use crate::stopped;
use crate::writer::SnapshotUnit;

/// Events per page of a repair (a unit each at most): a repair holds at most one page.
pub(crate) const REPAIR_PAGE: usize = 1_000;

impl AuditTask {
    /// Delivers the events of `source`'s window `start` that its deltas do not hold; returns how
    /// many.
    pub(crate) async fn repair(
        &mut self,
        source: &Audited,
        start: i64,
    ) -> Result<u64, Interrupted> {
        let end = self.book.windows().end(start);
        let expected = self.book.entry(&source.key, start);
        let state = tokio::select! {
            () = stopped(&mut self.stop) => return Err(Interrupted::Stopped),
            state = self.destination.read_state_records() => state
                .map_err(|e| Interrupted::Failed(format!("reading the state topic: {e}")))?
                .ok_or_else(|| Interrupted::Failed("the destination keeps no state topic".into()))?,
        };
        let ids = window_ids(&state, &source.key, start);
        drop(state);
        if ids.deltas != expected.seqs || ids.own.len() as u64 != expected.events() {
            return Err(Interrupted::Failed(format!(
                "the state topic holds {} of the window's {} deltas ({} of {} identities)",
                ids.deltas,
                expected.seqs,
                ids.own.len(),
                expected.events()
            )));
        }
        let mut known: HashSet<u64> = ids.own.into_iter().collect();
        // An event whose timestamp could not be read was counted in a neighbour's window.
        let elsewhere: HashSet<u64> = ids.elsewhere.into_iter().collect();
        let mut repaired = 0u64;
        let mut search_after = None;
        let mut size_hint = 4 * 1024;
        loop {
            let query = EventQuery {
                limit: Some(REPAIR_PAGE),
                sort: Some("ASC"),
                search_after: search_after.take(),
                ..source.query(start, end)
            };
            let page = {
                let _turn = tokio::select! {
                    () = stopped(&mut self.stop) => return Err(Interrupted::Stopped),
                    turn = self.gate.spare_turn() => turn,
                };
                tokio::select! {
                    () = stopped(&mut self.stop) => return Err(Interrupted::Stopped),
                    page = self.plan.client.events_page_for(source.scope(), &query) => page?,
                }
            };
            let last = page.events.len() < page.limit.unwrap_or(REPAIR_PAGE).max(1);
            let mut tally = Tally::default();
            let mut items = Vec::new();
            for event in page.events {
                let id = identity(
                    event.id.as_deref(),
                    event.timestamp.as_deref(),
                    &event.bytes,
                );
                let unplaced = event
                    .timestamp
                    .as_deref()
                    .and_then(parse_timestamp)
                    .is_none();
                if (unplaced && elsewhere.contains(&id)) || !known.insert(id) {
                    continue;
                }
                let raw = RawEvent {
                    org_id: Arc::clone(&source.org),
                    id: event.id,
                    timestamp: event.timestamp,
                    bytes: event.bytes,
                };
                let (outgoing, dead) = self.mapping.map_one(raw, &mut size_hint);
                tally.add(&source.key, start, id, dead);
                items.push(outgoing.prepared);
            }
            if !items.is_empty() {
                let events = tally.events();
                let (reply, answer) = oneshot::channel();
                let unit = SnapshotUnit {
                    what: "audit repair",
                    org: source.org.to_string(),
                    items,
                    state: Vec::new(),
                    tally: Some(tally),
                    reply,
                };
                self.write(unit, answer).await?;
                repaired += events;
                self.stats.audit.repaired(&source.org, events);
            }
            if last {
                return Ok(repaired);
            }
            let next = page.search_after.ok_or_else(|| {
                Interrupted::Failed("a full page came without X-Search_after".into())
            })?;
            if query
                .search_after
                .as_ref()
                .is_some_and(|sent| sent.get() == next.get())
            {
                return Err(Interrupted::Failed(
                    "X-Search_after did not move past the previous page".into(),
                ));
            }
            search_after = Some(next);
        }
    }
}
