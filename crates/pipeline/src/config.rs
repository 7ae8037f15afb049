//! `[pipeline]`: how the delivery engine makes records and cursors durable, and its flow
//! control.

use serde::Deserialize;

use crate::writer::UnitLimits;

/// How a unit's records and the cursors after it are made durable together.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeliveryGuarantee {
    /// Each unit of batches, its dead letters and the cursors after it are written in one Kafka
    /// transaction: the cursors are committed if and only if the records are. Consumers that
    /// read with `isolation.level=read_committed` see every event once.
    #[default]
    ExactlyOnce,
    /// Records are acknowledged by the broker first, the cursors written after: a crash in
    /// between sends the unit again (duplicates, never gaps). For clusters that do not allow
    /// transactions.
    AtLeastOnce,
}

/// Where the cursors (checkpoints) are kept.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StateStore {
    /// A compacted Kafka topic (`[kafka] state_topic`), key = checkpoint key; no volume needed.
    #[default]
    Kafka,
    /// The file at `events.checkpoint_path` (at-least-once only).
    File,
}

/// `[pipeline]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PipelineConfig {
    /// `exactly-once` (default: Kafka transactions) or `at-least-once`.
    pub delivery: DeliveryGuarantee,
    /// Where cursors are kept: `kafka` (default) or `file` (at-least-once only).
    pub state_store: StateStore,
    /// Events fetched and not yet mapped, all organisations together (what is mapped waits in
    /// a small lead, then in the producer's bounded queue). Bounds memory (about 1 KiB per
    /// event): a page is requested with at most as many events as there is room for (up to
    /// `events.page_limit`, once a quarter page is free).
    pub max_in_flight_events: usize,
    /// A unit (one Kafka transaction in exactly-once mode) takes whole batches until it holds
    /// this many events ...
    pub unit_max_events: usize,
    /// ... or this many milliseconds passed since its first batch; then it is finished.
    pub unit_max_ms: u64,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        let unit = UnitLimits::default();
        Self {
            delivery: DeliveryGuarantee::default(),
            state_store: StateStore::default(),
            max_in_flight_events: 12_000,
            unit_max_events: unit.max_events,
            unit_max_ms: u64::try_from(unit.max_duration.as_millis()).unwrap_or(500),
        }
    }
}

impl PipelineConfig {
    /// The unit limits it sets.
    pub fn unit_limits(&self) -> UnitLimits {
        UnitLimits {
            max_events: self.unit_max_events,
            max_duration: std::time::Duration::from_millis(self.unit_max_ms),
        }
    }
}
