//! The audit's records in the state topic, beside the cursors (keys that are not checkpoint
//! keys), and the [`Ledger`] read back from them.
//!
//! | key | value |
//! |---|---|
//! | `audit/<source>` | [`Cover`] (JSON): from where the source's deliveries are counted, up to where its windows are final, and the cursor this was written with |
//! | `audit/<source>/<window>/<seq>` | one unit's deliveries into the window: [`encode_delta`] (binary: counts, then the events' identities) |
//! | `audit/<source>/<window>` | [`Summary`] (JSON) of a final window; its deltas are tombstoned then |
//!
//! `<source>` is the source's checkpoint key (`events/<org>`, `events/provider/<id>`), `<window>`
//! the window's start ([`super::window::label`]), `<seq>` the delta's number in its window.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::tally::WindowDelta;
use super::window::{Windows, label, parse_label};

/// The prefix of every audit key.
pub const PREFIX: &str = "audit/";

/// True for a key of the audit (not a checkpoint).
pub fn is_audit_key(key: &str) -> bool {
    key.starts_with(PREFIX)
}

/// The key of a source's [`Cover`].
pub(crate) fn cover_key(source: &str) -> String {
    format!("{PREFIX}{source}")
}

/// The key of a final window's [`Summary`].
pub(crate) fn summary_key(source: &str, start: i64) -> String {
    format!("{PREFIX}{source}/{}", label(start))
}

/// The key of a window's delta number `seq`.
pub(crate) fn delta_key(source: &str, start: i64, seq: u32) -> String {
    format!("{PREFIX}{source}/{}/{seq}", label(start))
}

/// What an audit key names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AuditKey {
    Cover {
        source: String,
    },
    Summary {
        source: String,
        start: i64,
    },
    Delta {
        source: String,
        start: i64,
        seq: u32,
    },
}

/// Reads an audit key (`None`: not one).
pub(crate) fn parse_key(key: &str) -> Option<AuditKey> {
    let rest = key.strip_prefix(PREFIX)?;
    if let Some((head, seq)) = rest.rsplit_once('/')
        && !seq.is_empty()
        && seq.bytes().all(|b| b.is_ascii_digit())
        && let Some((source, window)) = head.rsplit_once('/')
        && let Some(start) = parse_label(window)
        && let Ok(seq) = seq.parse()
    {
        return Some(AuditKey::Delta {
            source: source.to_owned(),
            start,
            seq,
        });
    }
    if let Some((source, window)) = rest.rsplit_once('/')
        && let Some(start) = parse_label(window)
    {
        return Some(AuditKey::Summary {
            source: source.to_owned(),
            start,
        });
    }
    Some(AuditKey::Cover {
        source: rest.to_owned(),
    })
}

/// From where a source's deliveries are counted, and up to where its windows are final.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cover {
    /// Deliveries are counted from this time on: the first window starting at or after it is
    /// the first audited (the source's cursor when counting began).
    pub from: DateTime<Utc>,
    /// Every window ending at or before this is final (reconciled, reported or given up).
    pub through: DateTime<Utc>,
    /// The source's cursor written in the same unit: when the state topic's cursor is another,
    /// deliveries happened uncounted (the audit was off) and counting starts again from it.
    pub cursor: Option<DateTime<Utc>>,
}

/// How a window's audit ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Delivered + dead-lettered = the API's count.
    Match,
    /// The API counts more: events were not delivered.
    Missing,
    /// The API counts fewer (events deleted at the source, retention): reported, never repaired.
    Excess,
}

impl Outcome {
    /// `api` against what was delivered and dead-lettered.
    pub fn of(api: u64, delivered_and_dead: u64) -> Self {
        match api.cmp(&delivered_and_dead) {
            std::cmp::Ordering::Equal => Outcome::Match,
            std::cmp::Ordering::Greater => Outcome::Missing,
            std::cmp::Ordering::Less => Outcome::Excess,
        }
    }

    /// The metric label and table word.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Match => "match",
            Outcome::Missing => "missing",
            Outcome::Excess => "excess",
        }
    }
}

/// A final window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// `/events/count` when it was audited.
    pub api: u64,
    /// OCSF records delivered (repaired ones included).
    pub delivered: u64,
    /// Dead letters.
    pub dead_lettered: u64,
    /// Events delivered (or dead-lettered) by a repair.
    pub repaired: u64,
    /// The last comparison.
    pub result: Outcome,
    /// When.
    pub audited_at: DateTime<Utc>,
}

const DELTA_MAGIC: &[u8; 3] = b"JA1";
const REPAIR_FLAG: u8 = 1;
const DELTA_HEADER: usize = 3 + 1 + 4 + 4;

/// A window delta's value: `JA1`, a flag byte (1: written by a repair), records and dead
/// letters (u32 little-endian each), then each event's identity (u64 little-endian): 8 bytes
/// per event.
pub(crate) fn encode_delta(delta: &WindowDelta, repair: bool) -> Vec<u8> {
    let mut value = Vec::with_capacity(DELTA_HEADER + 8 * delta.ids.len());
    value.extend_from_slice(DELTA_MAGIC);
    value.push(if repair { REPAIR_FLAG } else { 0 });
    value.extend_from_slice(&delta.delivered.to_le_bytes());
    value.extend_from_slice(&delta.dead.to_le_bytes());
    for id in &delta.ids {
        value.extend_from_slice(&id.to_le_bytes());
    }
    value
}

/// A decoded delta value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Delta {
    pub(crate) repair: bool,
    pub(crate) delivered: u32,
    pub(crate) dead: u32,
    pub(crate) ids: Vec<u64>,
}

pub(crate) fn decode_delta(value: &[u8]) -> Option<Delta> {
    if value.len() < DELTA_HEADER
        || !value.starts_with(DELTA_MAGIC)
        || (value.len() - DELTA_HEADER) % 8 != 0
    {
        return None;
    }
    let u32_at = |at: usize| {
        value
            .get(at..at + 4)
            .and_then(|b| b.try_into().ok())
            .map(u32::from_le_bytes)
    };
    let ids = value[DELTA_HEADER..]
        .chunks_exact(8)
        .filter_map(|b| b.try_into().ok().map(u64::from_le_bytes))
        .collect();
    Some(Delta {
        repair: value[3] & REPAIR_FLAG != 0,
        delivered: u32_at(4)?,
        dead: u32_at(8)?,
        ids,
    })
}

/// One source's audit records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceLedger {
    /// Its [`Cover`], when one was written.
    pub cover: Option<Cover>,
    /// Windows not final yet, by start: the sum of their deltas.
    pub open: BTreeMap<i64, OpenWindow>,
    /// Final windows kept as summaries, by start.
    pub summaries: BTreeMap<i64, Summary>,
}

/// The sum of a window's deltas.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpenWindow {
    /// Records.
    pub delivered: u64,
    /// Dead letters.
    pub dead_lettered: u64,
    /// Of which written by a repair.
    pub repaired: u64,
    /// Its deltas are numbered `0..seqs`.
    pub seqs: u32,
    /// Deltas found (fewer than `seqs` when one is missing: the window cannot be repaired).
    pub deltas: u32,
}

/// A window's counts as the state topic holds them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowCounts {
    /// Its start (epoch ms).
    pub start: i64,
    /// OCSF records delivered (repaired ones included).
    pub delivered: u64,
    /// Dead letters.
    pub dead_lettered: u64,
    /// Of which delivered by a repair.
    pub repaired: u64,
    /// Audited and final: its identities are no longer kept (it cannot be repaired).
    pub settled: bool,
}

impl SourceLedger {
    /// Every window counted from `since_ms` (from where counting began, when later) to
    /// `horizon_ms` (windows ending at or before it), with its counts: a final window's
    /// summary, an open window's deltas summed, zero for a window nothing was delivered into.
    /// Empty when the source was never counted.
    pub fn window_counts(
        &self,
        windows: Windows,
        since_ms: i64,
        horizon_ms: i64,
    ) -> Vec<WindowCounts> {
        let Some(cover) = &self.cover else {
            return Vec::new();
        };
        let through = cover.through.timestamp_millis();
        let mut start = windows
            .first_from(cover.from.timestamp_millis())
            .max(windows.start_of(since_ms));
        let mut counts = Vec::new();
        while windows.end(start) <= horizon_ms {
            let window = match (self.summaries.get(&start), self.open.get(&start)) {
                (Some(summary), _) => WindowCounts {
                    start,
                    delivered: summary.delivered,
                    dead_lettered: summary.dead_lettered,
                    repaired: summary.repaired,
                    settled: true,
                },
                (None, Some(open)) if start >= through => WindowCounts {
                    start,
                    delivered: open.delivered,
                    dead_lettered: open.dead_lettered,
                    repaired: open.repaired,
                    settled: false,
                },
                _ => WindowCounts {
                    start,
                    delivered: 0,
                    dead_lettered: 0,
                    repaired: 0,
                    settled: start < through,
                },
            };
            counts.push(window);
            start = windows.end(start);
        }
        counts
    }
}

/// Every source's audit records, read from the state topic.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ledger {
    /// By the source's checkpoint key.
    pub sources: BTreeMap<String, SourceLedger>,
    /// Values that could not be read, by key (reported; such a window is never repaired).
    pub unreadable: Vec<String>,
}

impl Ledger {
    /// Reads the audit records among `records` (raw state-topic values by key); other keys are
    /// ignored.
    pub fn read<'a>(records: impl IntoIterator<Item = (&'a String, &'a Vec<u8>)>) -> Self {
        let mut ledger = Ledger::default();
        for (key, value) in records {
            let Some(parsed) = parse_key(key) else {
                continue;
            };
            let sources = &mut ledger.sources;
            match parsed {
                AuditKey::Cover { source } => match serde_json::from_slice(value) {
                    Ok(cover) => source_ledger(sources, source).cover = Some(cover),
                    Err(_) => ledger.unreadable.push(key.clone()),
                },
                AuditKey::Summary { source, start } => match serde_json::from_slice(value) {
                    Ok(summary) => {
                        source_ledger(sources, source)
                            .summaries
                            .insert(start, summary);
                    }
                    Err(_) => ledger.unreadable.push(key.clone()),
                },
                AuditKey::Delta { source, start, seq } => match decode_delta(value) {
                    Some(delta) => {
                        let open = source_ledger(sources, source)
                            .open
                            .entry(start)
                            .or_default();
                        let events = u64::from(delta.delivered) + u64::from(delta.dead);
                        open.delivered += u64::from(delta.delivered);
                        open.dead_lettered += u64::from(delta.dead);
                        if delta.repair {
                            open.repaired += events;
                        }
                        open.seqs = open.seqs.max(seq.saturating_add(1));
                        open.deltas += 1;
                    }
                    None => ledger.unreadable.push(key.clone()),
                },
            }
        }
        ledger
    }
}

fn source_ledger(
    sources: &mut BTreeMap<String, SourceLedger>,
    source: String,
) -> &mut SourceLedger {
    sources.entry(source).or_default()
}

/// The identities `source`'s deltas hold among `records`: of its window `start`, and of its
/// other open windows (where an event whose timestamp could not be read may have been counted).
#[derive(Debug, Default)]
pub(crate) struct WindowIds {
    pub(crate) own: Vec<u64>,
    /// The window's deltas found.
    pub(crate) deltas: u32,
    pub(crate) elsewhere: Vec<u64>,
}

pub(crate) fn window_ids<'a>(
    records: impl IntoIterator<Item = (&'a String, &'a Vec<u8>)>,
    source: &str,
    start: i64,
) -> WindowIds {
    let mut ids = WindowIds::default();
    for (key, value) in records {
        let Some(AuditKey::Delta {
            source: of,
            start: window,
            ..
        }) = parse_key(key)
        else {
            continue;
        };
        if of != source {
            continue;
        }
        let Some(delta) = decode_delta(value) else {
            continue;
        };
        if window == start {
            ids.own.extend(delta.ids);
            ids.deltas += 1;
        } else {
            ids.elsewhere.extend(delta.ids);
        }
    }
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_name_what_they_hold() {
        let start = parse_label("2026-12-02T10:00:00Z").unwrap();
        assert_eq!(
            parse_key(&delta_key("events/abc", start, 12)),
            Some(AuditKey::Delta {
                source: "events/abc".into(),
                start,
                seq: 12
            })
        );
        assert_eq!(
            parse_key(&summary_key("events/provider/p1", start)),
            Some(AuditKey::Summary {
                source: "events/provider/p1".into(),
                start
            })
        );
        assert_eq!(
            parse_key("audit/events/"),
            Some(AuditKey::Cover {
                source: "events/".into()
            })
        );
        // An organisation id of digits is not a delta number.
        assert_eq!(
            parse_key("audit/events/123456"),
            Some(AuditKey::Cover {
                source: "events/123456".into()
            })
        );
        assert_eq!(parse_key("events/abc"), None);
    }

    #[test]
    fn deltas_round_trip_and_add_up_per_window() {
        let delta = WindowDelta {
            delivered: 2,
            dead: 1,
            ids: vec![7, 8, 9],
        };
        let value = encode_delta(&delta, true);
        assert_eq!(value.len(), 12 + 24);
        let decoded = decode_delta(&value).unwrap();
        assert_eq!(
            (decoded.repair, decoded.delivered, decoded.dead),
            (true, 2, 1)
        );
        assert_eq!(decoded.ids, [7, 8, 9]);
        assert_eq!(decode_delta(b"JA1\0"), None);
        let records = BTreeMap::from([
            (delta_key("events/a", 0, 0), encode_delta(&delta, false)),
            (delta_key("events/a", 0, 1), value),
            (
                delta_key("events/a", 10_000, 0),
                encode_delta(&delta, false),
            ),
            ("events/a".to_string(), b"{}".to_vec()),
        ]);
        let ledger = Ledger::read(&records);
        let open = ledger.sources["events/a"].open[&0];
        assert_eq!(
            (
                open.delivered,
                open.dead_lettered,
                open.repaired,
                open.seqs,
                open.deltas
            ),
            (4, 2, 3, 2, 2)
        );
        let ids = window_ids(&records, "events/a", 0);
        assert_eq!((ids.own.len(), ids.deltas, ids.elsewhere.len()), (6, 2, 3));
    }
}
