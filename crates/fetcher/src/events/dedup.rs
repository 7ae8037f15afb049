//! Events already handed out or acknowledged, by (id, timestamp) within one organisation; memory
//! bounded by the overlap (pruned as the cursor moves), not by history.

use crate::checkpoint::AckedEvent;
use crate::timestamp::epoch_nanos;
use chrono::{DateTime, Utc};
use std::collections::BTreeSet;

/// Dedup key: timestamp (ns since epoch) first, so pruning by time is a range split.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventKey {
    /// Nanoseconds since the Unix epoch.
    pub nanos: i64,
    /// Event id.
    pub id: String,
}

impl EventKey {
    /// The key of an event, when it has an id and a representable timestamp.
    pub fn new(id: &str, timestamp: DateTime<Utc>) -> Option<Self> {
        Some(Self {
            nanos: epoch_nanos(timestamp)?,
            id: id.to_string(),
        })
    }

    /// As stored in a checkpoint.
    pub fn to_acked(&self) -> AckedEvent {
        AckedEvent {
            timestamp: DateTime::from_timestamp_nanos(self.nanos),
            id: self.id.clone(),
        }
    }

    /// From a checkpoint entry.
    pub fn from_acked(acked: &AckedEvent) -> Option<Self> {
        Self::new(&acked.id, acked.timestamp)
    }
}

/// A time-ordered set of event keys.
#[derive(Debug, Default)]
pub struct SeenEvents {
    keys: BTreeSet<EventKey>,
}

impl SeenEvents {
    /// Adds a key; `false` if it was already there (a duplicate).
    pub fn insert(&mut self, key: EventKey) -> bool {
        self.keys.insert(key)
    }

    /// True if the key is present.
    pub fn contains(&self, key: &EventKey) -> bool {
        self.keys.contains(key)
    }

    /// Forgets every key with a timestamp before `time`.
    pub fn prune_before(&mut self, time: DateTime<Utc>) {
        let Some(nanos) = epoch_nanos(time) else {
            return;
        };
        let bound = EventKey {
            nanos,
            id: String::new(),
        };
        self.keys = self.keys.split_off(&bound);
    }

    /// Number of keys held.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Keys in time order.
    pub fn iter(&self) -> impl Iterator<Item = &EventKey> {
        self.keys.iter()
    }
}
