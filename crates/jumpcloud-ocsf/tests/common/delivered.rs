//! What a `read_committed` consumer finds in a run's topics, held against the simulator's
//! ground truth.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::{Consumed, EventKey, assert_valid_ocsf_values, consume_from, ocsf_key, topics};

/// The OCSF records (counted by event), dead letters and inventory records of the topics
/// `<prefix>.*`.
pub struct Delivered {
    /// How often each event arrived.
    pub events: BTreeMap<EventKey, usize>,
    /// Every OCSF record, parsed.
    pub values: Vec<serde_json::Value>,
    /// The dead-letter topic's records.
    pub dead_letters: Vec<Consumed>,
    /// Inventory records (5001, 5003 from the console API) and the inventory's change events
    /// (`inventory_*`).
    pub inventory: Vec<serde_json::Value>,
}

impl Delivered {
    /// Reads every topic of `prefix` to its end, as a `read_committed` consumer.
    pub fn read(bootstrap: &str, prefix: &str) -> Self {
        let records = consume_from(
            bootstrap,
            &topics(prefix),
            usize::MAX,
            Duration::from_secs(30),
        );
        let mut events = BTreeMap::new();
        let mut values = Vec::with_capacity(records.len());
        let mut dead_letters = Vec::new();
        let mut inventory = Vec::new();
        for record in records {
            if record.topic.ends_with(".dead_letter") {
                dead_letters.push(record);
                continue;
            }
            let event: serde_json::Value =
                serde_json::from_slice(&record.payload).expect("JSON record");
            let code = event["metadata"]["event_code"].as_str().unwrap_or_default();
            // The inventory's records come from the console API (a Directory Insights event
            // may be User Inventory Info too: a SaaS account discovered).
            let from_console = event["metadata"]["log_provider"] == "JumpCloud Console API";
            if (from_console && matches!(event["class_uid"].as_u64(), Some(5001 | 5003)))
                || code.starts_with("inventory_")
            {
                inventory.push(event);
                continue;
            }
            *events.entry(ocsf_key(&event)).or_default() += 1;
            values.push(event);
        }
        Self {
            events,
            values,
            dead_letters,
            inventory,
        }
    }

    /// Records beyond the first of each event.
    pub fn duplicates(&self) -> usize {
        self.events.values().map(|n| n - 1).sum()
    }

    /// Events of `truth` that never arrived.
    pub fn missing(&self, truth: &BTreeSet<EventKey>) -> Vec<EventKey> {
        truth
            .iter()
            .filter(|key| !self.events.contains_key(*key))
            .cloned()
            .collect()
    }

    /// Events that arrived and are not in `truth`.
    pub fn foreign(&self, truth: &BTreeSet<EventKey>) -> usize {
        self.events
            .keys()
            .filter(|key| !truth.contains(*key))
            .count()
    }

    /// Prints the counts, then asserts every event of `truth` arrived exactly once, nothing
    /// else did, and every record is valid OCSF.
    #[track_caller]
    pub fn assert_exactly(&self, truth: &BTreeSet<EventKey>) {
        let missing = self.missing(truth);
        println!(
            "ground truth {}; records {}; missing {}; duplicates {}",
            truth.len(),
            self.values.len(),
            missing.len(),
            self.duplicates()
        );
        assert!(
            missing.is_empty(),
            "lost: {:?}",
            &missing[..missing.len().min(5)]
        );
        let duplicated: Vec<_> = self
            .events
            .iter()
            .filter(|(_, n)| **n > 1)
            .take(5)
            .collect();
        assert!(duplicated.is_empty(), "duplicated: {duplicated:?}");
        assert_eq!(
            self.foreign(truth),
            0,
            "records that are not simulator events"
        );
        assert_valid_ocsf_values(&self.values);
    }
}
