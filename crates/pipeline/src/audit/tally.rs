//! What a chunk of mapped events, and then a unit, delivered to each audit window: counts of
//! records and dead letters, and the identities of the events. Made where the facts are (the
//! mapping knows each event's window and whether it became a record or a dead letter), carried
//! with the chunk, merged per unit when it is finished.

use std::collections::BTreeMap;
use std::sync::Arc;

use fetcher::RawEvent;
use fetcher::timestamp::parse_timestamp;

use super::window::{Windows, identity};

/// One source's deliveries into one window.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct WindowDelta {
    /// OCSF records.
    pub(crate) delivered: u32,
    /// Dead letters.
    pub(crate) dead: u32,
    /// The identities of those events ([`identity`]).
    pub(crate) ids: Vec<u64>,
}

impl WindowDelta {
    pub(crate) fn events(&self) -> u32 {
        self.delivered + self.dead
    }
}

/// Deliveries per (source's checkpoint key, window start).
#[derive(Debug, Default)]
pub(crate) struct Tally {
    pub(crate) windows: BTreeMap<(Arc<str>, i64), WindowDelta>,
}

impl Tally {
    /// Counts one event of `source` into the window starting at `start`.
    pub(crate) fn add(&mut self, source: &Arc<str>, start: i64, id: u64, dead: bool) {
        let delta = self.windows.entry((Arc::clone(source), start)).or_default();
        if dead {
            delta.dead += 1;
        } else {
            delta.delivered += 1;
        }
        delta.ids.push(id);
    }

    /// Adds `other`'s deliveries.
    pub(crate) fn merge(&mut self, other: Tally) {
        for (key, delta) in other.windows {
            let into = self.windows.entry(key).or_default();
            into.delivered += delta.delivered;
            into.dead += delta.dead;
            into.ids.extend(delta.ids);
        }
    }

    /// Events counted.
    pub(crate) fn events(&self) -> u64 {
        self.windows.values().map(|d| u64::from(d.events())).sum()
    }
}

/// Places a batch's events in windows: by each event's `timestamp`; an event whose timestamp
/// cannot be read takes the window of the event before it in the batch (pages are in time
/// order), or of the first readable one after it, or of the batch's end when none is readable.
pub(crate) struct Placing {
    windows: Windows,
    last: i64,
}

impl Placing {
    /// For a batch of `events` ending (its cursor after it) at `end_ms`.
    pub(crate) fn new(windows: Windows, events: &[RawEvent], end_ms: i64) -> Self {
        let first = events
            .iter()
            .find_map(|event| event_ms(event.timestamp.as_deref()))
            .unwrap_or(end_ms.saturating_sub(1));
        Self {
            windows,
            last: windows.start_of(first),
        }
    }

    /// The window of the next event of the batch, and its identity.
    pub(crate) fn place(
        &mut self,
        id: Option<&str>,
        timestamp: Option<&str>,
        bytes: &[u8],
    ) -> (i64, u64) {
        if let Some(ms) = event_ms(timestamp) {
            self.last = self.windows.start_of(ms);
        }
        (self.last, identity(id, timestamp, bytes))
    }
}

fn event_ms(timestamp: Option<&str>) -> Option<i64> {
    timestamp
        .and_then(parse_timestamp)
        .map(|time| time.timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn event(timestamp: Option<&str>) -> RawEvent {
        RawEvent {
            org_id: Arc::from("o"),
            id: Some("x".into()),
            timestamp: timestamp.map(str::to_owned),
            bytes: Bytes::from_static(b"{}"),
        }
    }

    #[test]
    fn unreadable_timestamps_take_a_neighbours_window() {
        let windows = Windows::new(std::time::Duration::from_secs(10)).unwrap();
        let events = [
            event(None),
            event(Some("1970-01-01T00:00:25Z")),
            event(Some("nonsense")),
            event(Some("1970-01-01T00:00:31Z")),
        ];
        let mut placing = Placing::new(windows, &events, 60_000);
        let starts: Vec<i64> = events
            .iter()
            .map(|e| {
                placing
                    .place(e.id.as_deref(), e.timestamp.as_deref(), &e.bytes)
                    .0
            })
            .collect();
        assert_eq!(starts, [20_000, 20_000, 20_000, 30_000]);
        let mut none = Placing::new(windows, &[event(None)], 60_000);
        assert_eq!(none.place(None, None, b"{}").0, 50_000);
    }

    #[test]
    fn tallies_merge_per_source_and_window() {
        let a: Arc<str> = Arc::from("events/a");
        let mut one = Tally::default();
        one.add(&a, 0, 1, false);
        one.add(&a, 0, 2, true);
        let mut two = Tally::default();
        two.add(&a, 0, 3, false);
        two.add(&a, 10, 4, false);
        one.merge(two);
        assert_eq!(one.events(), 4);
        let first = &one.windows[&(Arc::clone(&a), 0)];
        assert_eq!(
            (first.delivered, first.dead, first.ids.clone()),
            (2, 1, vec![1, 2, 3])
        );
    }
}
