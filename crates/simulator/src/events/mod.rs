//! Directory Insights events: the catalogue, the generator, and the per-organisation index that
//! serves pages in O(page) (a `BTreeMap` by sort key, one per service besides the global one).

pub mod catalogue;
pub mod generator;
pub mod search;

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::Arc;

use rand::Rng;

use generator::GeneratedEvent;

/// The sort key: timestamp in epoch milliseconds, then an opaque tiebreak (served as
/// `X-Search_after: [epoch_ms, "tiebreak"]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SortKey {
    /// Timestamp, epoch milliseconds (floor).
    pub epoch_ms: i64,
    /// Tiebreak, unique within an organisation.
    pub tiebreak: u64,
}

/// One event held by the simulator, pre-serialized.
#[derive(Debug)]
pub struct StoredEvent {
    /// Sort key.
    pub key: SortKey,
    /// Its `id`.
    pub id: String,
    /// Timestamp, epoch ns.
    pub timestamp_ns: i64,
    /// When it becomes visible to the API, epoch ns.
    pub visible_at_ns: i64,
    /// Its `service`.
    pub service: &'static str,
    /// Its `event_type`.
    pub event_type: &'static str,
    /// Exactly the JSON served.
    pub json: Arc<str>,
}

/// Sort order of a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortOrder {
    /// Oldest first.
    Asc,
    /// Newest first.
    Desc,
}

impl SortOrder {
    /// The `X-Sort` spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            SortOrder::Asc => "ASC",
            SortOrder::Desc => "DESC",
        }
    }
}

/// Which events a scan yields (before `search_term`).
#[derive(Debug, Clone)]
pub struct ScanFilter {
    /// `None` = every service.
    pub services: Option<Vec<&'static str>>,
    /// Inclusive start, epoch ns.
    pub start_ns: i64,
    /// Exclusive end, epoch ns.
    pub end_ns: Option<i64>,
    /// Only events visible at this instant, epoch ns (`None` = every event held).
    pub visible_at_ns: Option<i64>,
}

type Tree = BTreeMap<SortKey, Arc<StoredEvent>>;

/// One organisation's events.
#[derive(Debug, Default)]
pub struct EventIndex {
    all: Tree,
    by_service: HashMap<&'static str, Tree>,
    /// The next events indexed are made visible late (a test's gap with a known truth).
    hold: Option<Hold>,
    /// The events whose visibility a hold or a hide set, in that order.
    held: Vec<SortKey>,
}

/// The next `remaining` events indexed become visible only `delay_ns` after their timestamp.
#[derive(Debug, Clone, Copy)]
struct Hold {
    remaining: usize,
    delay_ns: i64,
}

impl EventIndex {
    /// Adds an event; draws a tiebreak not used yet. Returns its key. While a hold is set
    /// ([`Self::hold_next`]), the event becomes visible no earlier than the hold says.
    pub fn insert(
        &mut self,
        rng: &mut impl Rng,
        event: GeneratedEvent,
        visible_at_ns: i64,
    ) -> SortKey {
        let mut visible_at_ns = visible_at_ns;
        let held = match self.hold.as_mut() {
            Some(hold) if hold.remaining > 0 => {
                hold.remaining -= 1;
                visible_at_ns = visible_at_ns.max(event.timestamp_ns.saturating_add(hold.delay_ns));
                true
            }
            _ => false,
        };
        let epoch_ms = event.timestamp_ns.div_euclid(1_000_000);
        let mut key = SortKey {
            epoch_ms,
            tiebreak: rng.random(),
        };
        while self.all.contains_key(&key) {
            key.tiebreak = rng.random();
        }
        let stored = Arc::new(StoredEvent {
            key,
            id: event.id,
            timestamp_ns: event.timestamp_ns,
            visible_at_ns,
            service: event.kind.service,
            event_type: event.kind.event_type,
            json: Arc::from(event.json),
        });
        self.by_service
            .entry(stored.service)
            .or_default()
            .insert(key, Arc::clone(&stored));
        self.all.insert(key, stored);
        if held {
            self.held.push(key);
        }
        key
    }

    /// The next `count` events indexed become visible only `delay_ns` after their timestamp
    /// (on top of their late arrival): later than a collector's `lag + overlap` when `delay_ns`
    /// is longer. The ground truth holds them as any other.
    pub fn hold_next(&mut self, count: usize, delay_ns: i64) {
        self.hold = Some(Hold {
            remaining: count,
            delay_ns,
        });
    }

    /// The first `count` events with `start_ns <= timestamp < end_ns` become visible only at
    /// `visible_at_ns` (hidden from now until then: e.g. deleted at the source, for a while).
    /// Returns how many were hidden.
    pub fn hide(&mut self, start_ns: i64, end_ns: i64, count: usize, visible_at_ns: i64) -> usize {
        let keys: Vec<SortKey> = self
            .all
            .values()
            .filter(|e| e.timestamp_ns >= start_ns && e.timestamp_ns < end_ns)
            .take(count)
            .map(|e| e.key)
            .collect();
        for key in &keys {
            let Some(old) = self.all.get(key) else {
                continue;
            };
            let event = Arc::new(StoredEvent {
                key: old.key,
                id: old.id.clone(),
                timestamp_ns: old.timestamp_ns,
                visible_at_ns,
                service: old.service,
                event_type: old.event_type,
                json: Arc::clone(&old.json),
            });
            self.by_service
                .entry(event.service)
                .or_default()
                .insert(*key, Arc::clone(&event));
            self.all.insert(*key, event);
            self.held.push(*key);
        }
        keys.len()
    }

    /// The events whose visibility [`Self::hold_next`] or [`Self::hide`] set, in that order.
    pub fn held(&self) -> Vec<Arc<StoredEvent>> {
        self.held
            .iter()
            .filter_map(|key| self.all.get(key).cloned())
            .collect()
    }

    /// Builds an index from many events at once (sorted bulk build, much faster than one
    /// insert at a time). Tiebreaks are drawn from `rng` in the events' order.
    pub fn bulk_load(rng: &mut impl Rng, events: Vec<(GeneratedEvent, i64)>) -> Self {
        let mut keyed: Vec<(SortKey, GeneratedEvent, i64)> = events
            .into_iter()
            .map(|(event, visible_at_ns)| {
                let key = SortKey {
                    epoch_ms: event.timestamp_ns.div_euclid(1_000_000),
                    tiebreak: rng.random(),
                };
                (key, event, visible_at_ns)
            })
            .collect();
        keyed.sort_unstable_by_key(|(key, ..)| *key);
        // Allocated in sort order, so a page is served from neighbouring memory rather than
        // from a cache miss per event (generation order is not time order).
        let stored: Vec<Arc<StoredEvent>> = keyed
            .into_iter()
            .map(|(key, event, visible_at_ns)| {
                Arc::new(StoredEvent {
                    key,
                    id: event.id,
                    timestamp_ns: event.timestamp_ns,
                    visible_at_ns,
                    service: event.kind.service,
                    event_type: event.kind.event_type,
                    json: Arc::from(event.json),
                })
            })
            .collect();
        let mut index = EventIndex::default();
        let mut duplicates = Vec::new();
        let mut by_service: HashMap<&'static str, Vec<(SortKey, Arc<StoredEvent>)>> =
            HashMap::new();
        let mut all = Vec::with_capacity(stored.len());
        for event in stored {
            if all
                .last()
                .is_some_and(|(key, _): &(SortKey, Arc<StoredEvent>)| *key == event.key)
            {
                duplicates.push(event);
                continue;
            }
            by_service
                .entry(event.service)
                .or_default()
                .push((event.key, Arc::clone(&event)));
            all.push((event.key, event));
        }
        index.all = Tree::from_iter(all);
        index.by_service = by_service
            .into_iter()
            .map(|(service, list)| (service, Tree::from_iter(list)))
            .collect();
        // A repeated (ms, tiebreak) is astronomically rare; re-insert those with fresh tiebreaks.
        for event in duplicates {
            let event = Arc::try_unwrap(event).unwrap_or_else(|shared| StoredEvent {
                key: shared.key,
                id: shared.id.clone(),
                timestamp_ns: shared.timestamp_ns,
                visible_at_ns: shared.visible_at_ns,
                service: shared.service,
                event_type: shared.event_type,
                json: Arc::clone(&shared.json),
            });
            index.insert_stored(rng, event);
        }
        index
    }

    fn insert_stored(&mut self, rng: &mut impl Rng, mut event: StoredEvent) -> SortKey {
        while self.all.contains_key(&event.key) {
            event.key.tiebreak = rng.random();
        }
        let key = event.key;
        let stored = Arc::new(event);
        self.by_service
            .entry(stored.service)
            .or_default()
            .insert(key, Arc::clone(&stored));
        self.all.insert(key, stored);
        key
    }

    /// Number of events held.
    pub fn len(&self) -> usize {
        self.all.len()
    }

    /// True when no event is held.
    pub fn is_empty(&self) -> bool {
        self.all.is_empty()
    }

    /// Every event held, in ascending order.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<StoredEvent>> {
        self.all.values()
    }

    /// Events matching `filter`, in `order`, strictly after `after` in that order. Only the
    /// key range of the window is walked, so a page costs O(page) plus skipped events.
    pub fn scan<'a>(
        &'a self,
        filter: &'a ScanFilter,
        order: SortOrder,
        after: Option<SortKey>,
    ) -> Box<dyn Iterator<Item = &'a Arc<StoredEvent>> + 'a> {
        static EMPTY: Tree = BTreeMap::new();
        let (tree, service_filter): (&Tree, Option<&[&'static str]>) = match &filter.services {
            None => (&self.all, None),
            Some(list) if list.len() == 1 => (self.by_service.get(list[0]).unwrap_or(&EMPTY), None),
            Some(list) => (&self.all, Some(list.as_slice())),
        };
        let start_key = SortKey {
            epoch_ms: filter.start_ns.div_euclid(1_000_000),
            tiebreak: 0,
        };
        let mut lower = Bound::Included(start_key);
        let mut upper = match filter.end_ns {
            Some(end) => Bound::Included(SortKey {
                epoch_ms: end.div_euclid(1_000_000),
                tiebreak: u64::MAX,
            }),
            None => Bound::Unbounded,
        };
        if let Some(after) = after {
            match order {
                SortOrder::Asc if after >= start_key => lower = Bound::Excluded(after),
                SortOrder::Desc => {
                    let tighter = match upper {
                        Bound::Included(end_key) => after <= end_key,
                        _ => true,
                    };
                    if tighter {
                        upper = Bound::Excluded(after);
                    }
                }
                SortOrder::Asc => {}
            }
        }
        if !range_is_valid(lower, upper) {
            return Box::new(std::iter::empty());
        }
        let range = tree.range((lower, upper));
        let matches = move |event: &&'a Arc<StoredEvent>| {
            event.timestamp_ns >= filter.start_ns
                && filter.end_ns.is_none_or(|end| event.timestamp_ns < end)
                && filter
                    .visible_at_ns
                    .is_none_or(|now| now >= event.visible_at_ns)
                && service_filter.is_none_or(|list| list.contains(&event.service))
        };
        match order {
            SortOrder::Asc => Box::new(range.map(|(_, e)| e).filter(matches)),
            SortOrder::Desc => Box::new(range.rev().map(|(_, e)| e).filter(matches)),
        }
    }
}

fn range_is_valid(lower: Bound<SortKey>, upper: Bound<SortKey>) -> bool {
    match (lower, upper) {
        (Bound::Included(lo), Bound::Included(hi)) => lo <= hi,
        (Bound::Included(lo) | Bound::Excluded(lo), Bound::Excluded(hi))
        | (Bound::Excluded(lo), Bound::Included(hi)) => lo < hi,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::{Inventory, InventorySizes};
    use generator::{EventBuilder, KindPicker};
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    /// A small organisation: 5 users, 3 systems, 2 groups, 2 applications.
    fn small_inventory() -> Inventory {
        let sizes = InventorySizes {
            users: 5,
            systems: 3,
            groups: 2,
            applications: 2,
        };
        Inventory::generate(
            &mut ChaCha8Rng::seed_from_u64(1),
            "org",
            0,
            sizes,
            1_700_000_000_000_000_000,
        )
    }

    fn index(n: usize) -> EventIndex {
        let inv = small_inventory();
        let builder = EventBuilder::new(&inv);
        let picker = KindPicker::new().unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let mut index = EventIndex::default();
        for i in 0..n {
            // many events share a millisecond
            let ts = 1_700_000_000_000_000_000 + (i as i64 / 3) * 1_000_000 + (i as i64 % 3) * 1000;
            let kind = picker.pick(&mut rng);
            let event = builder.build(&mut rng, kind, ts);
            index.insert(&mut rng, event, 0);
        }
        index
    }

    fn page_through(
        index: &EventIndex,
        filter: &ScanFilter,
        order: SortOrder,
        limit: usize,
    ) -> Vec<SortKey> {
        let mut out = Vec::new();
        let mut after = None;
        loop {
            let page: Vec<SortKey> = index
                .scan(filter, order, after)
                .take(limit)
                .map(|e| e.key)
                .collect();
            out.extend(&page);
            if page.len() < limit {
                return out;
            }
            after = page.last().copied();
        }
    }

    #[test]
    fn bulk_load_equals_one_by_one_inserts() {
        let inv = small_inventory();
        let builder = EventBuilder::new(&inv);
        let picker = KindPicker::new().unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let events: Vec<(GeneratedEvent, i64)> = (0..500)
            .map(|i| {
                let kind = picker.pick(&mut rng);
                (
                    builder.build(&mut rng, kind, 1_700_000_000_000_000_000 + i * 777_777),
                    0,
                )
            })
            .collect();
        let bulk = EventIndex::bulk_load(&mut ChaCha8Rng::seed_from_u64(6), events.clone());
        let mut single = EventIndex::default();
        let mut rng = ChaCha8Rng::seed_from_u64(6);
        for (event, visible) in events {
            single.insert(&mut rng, event, visible);
        }
        let keys = |index: &EventIndex| {
            index
                .iter()
                .map(|e| (e.key, e.json.to_string()))
                .collect::<Vec<_>>()
        };
        assert_eq!(keys(&bulk), keys(&single));
        let filter = ScanFilter {
            services: Some(vec!["sso"]),
            start_ns: 0,
            end_ns: None,
            visible_at_ns: None,
        };
        assert_eq!(
            bulk.scan(&filter, SortOrder::Asc, None).count(),
            single.scan(&filter, SortOrder::Asc, None).count()
        );
        assert_eq!(bulk.len(), 500);
    }

    #[test]
    fn paging_in_both_orders_returns_each_event_once() {
        let index = index(2_000);
        let filter = ScanFilter {
            services: None,
            start_ns: 0,
            end_ns: None,
            visible_at_ns: None,
        };
        let asc = page_through(&index, &filter, SortOrder::Asc, 7);
        let mut desc = page_through(&index, &filter, SortOrder::Desc, 7);
        assert_eq!(asc.len(), 2_000);
        desc.reverse();
        assert_eq!(asc, desc);
        let all: Vec<SortKey> = index.iter().map(|e| e.key).collect();
        assert_eq!(asc, all);
    }

    #[test]
    fn window_is_start_inclusive_end_exclusive_at_nanosecond_precision() {
        let index = index(300);
        let events: Vec<&Arc<StoredEvent>> = index.iter().collect();
        let start = events[10].timestamp_ns;
        let end = events[200].timestamp_ns;
        let filter = ScanFilter {
            services: None,
            start_ns: start,
            end_ns: Some(end),
            visible_at_ns: None,
        };
        let got: Vec<i64> = index
            .scan(&filter, SortOrder::Asc, None)
            .map(|e| e.timestamp_ns)
            .collect();
        let expected: Vec<i64> = events
            .iter()
            .map(|e| e.timestamp_ns)
            .filter(|t| *t >= start && *t < end)
            .collect();
        assert_eq!(got, expected);
        assert!(got.contains(&start));
        assert!(!got.contains(&end));
    }

    #[test]
    fn service_filter_and_visibility_apply() {
        let index = index(1_000);
        let filter = ScanFilter {
            services: Some(vec!["sso"]),
            start_ns: 0,
            end_ns: None,
            visible_at_ns: None,
        };
        let sso: Vec<&str> = index
            .scan(&filter, SortOrder::Asc, None)
            .map(|e| e.service)
            .collect();
        assert!(!sso.is_empty());
        assert!(sso.iter().all(|s| *s == "sso"));
        let expected = index.iter().filter(|e| e.service == "sso").count();
        assert_eq!(sso.len(), expected);
        let two = ScanFilter {
            services: Some(vec!["sso", "radius"]),
            ..filter.clone()
        };
        let expected = index
            .iter()
            .filter(|e| e.service == "sso" || e.service == "radius")
            .count();
        assert_eq!(index.scan(&two, SortOrder::Desc, None).count(), expected);
        let hidden = ScanFilter {
            services: None,
            start_ns: 0,
            end_ns: None,
            visible_at_ns: Some(-1),
        };
        assert_eq!(index.scan(&hidden, SortOrder::Asc, None).count(), 0);
    }
}
