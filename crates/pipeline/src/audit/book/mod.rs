//! The audit's book in memory: per source, from where its deliveries are counted, up to where
//! its windows are final, and each open window's counts (what the state topic holds, summed).
//! The identities stay in the state topic (read back only to repair a window): 24 bytes per
//! open window with deliveries here, 8 per event there.
//!
//! The book changes only with what is durable: the writer asks it for a unit's audit records
//! ([`Book::prepare`], written by `Destination::finish` like the cursors: in the transaction, or
//! after the acknowledgements) and merges them once the unit is durable ([`Book::durable`]).
//! After a unit of unknown fate it is read again from the state topic ([`Book::reload`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use fetcher::Checkpoint;

use super::records::{
    self, Cover, Ledger, SourceLedger, Summary, cover_key, delta_key, summary_key,
};
use super::tally::Tally;
use super::window::{Windows, time_of};
use crate::destination::KeyedRecord;

/// An open window: deliveries counted, not final yet.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) start: i64,
    pub(crate) delivered: u32,
    pub(crate) dead: u32,
    /// Of `delivered + dead`, by a repair.
    pub(crate) repaired: u32,
    /// Its deltas in the state topic are numbered `0..seqs`.
    pub(crate) seqs: u32,
}

impl Entry {
    pub(crate) fn events(&self) -> u64 {
        u64::from(self.delivered) + u64::from(self.dead)
    }
}

#[derive(Debug)]
struct SourceBook {
    from: DateTime<Utc>,
    /// Every window starting before this is final.
    through: i64,
    /// The cursor last written with the source's [`Cover`].
    cursor: Option<DateTime<Utc>>,
    /// Open windows with deliveries, by start.
    open: Vec<Entry>,
    /// Final windows starting at or after `through` (behind one still open).
    finals: Vec<i64>,
    /// Windows whose deltas are not all readable: never repaired.
    incomplete: Vec<i64>,
    /// Records to tombstone with the next results (deltas of windows no longer counted).
    stale: Vec<String>,
}

impl SourceBook {
    /// The book of a source from its `ledger`, when it is consistent with `checkpoint` (the
    /// source's durable cursor); else counting starts again at `start` (the source's cursor).
    fn read(
        windows: Windows,
        source: &str,
        ledger: Option<&SourceLedger>,
        checkpoint: Option<DateTime<Utc>>,
        start: DateTime<Utc>,
    ) -> Self {
        let empty = SourceLedger::default();
        let ledger = ledger.unwrap_or(&empty);
        let consistent = ledger
            .cover
            .as_ref()
            .filter(|cover| cover.cursor == checkpoint);
        let (from, through) = match consistent {
            Some(cover) => (cover.from, cover.through.timestamp_millis()),
            None => {
                if ledger.cover.is_some() || !ledger.open.is_empty() {
                    tracing::info!(
                        source,
                        from = %start,
                        "audit: deliveries were made without counting (the audit was off); counting starts again from the cursor"
                    );
                }
                (start, windows.first_from(start.timestamp_millis()))
            }
        };
        let first = windows.first_from(from.timestamp_millis());
        let through = through.max(first);
        let mut book = SourceBook {
            from,
            through,
            cursor: checkpoint,
            open: Vec::new(),
            finals: Vec::new(),
            incomplete: Vec::new(),
            stale: Vec::new(),
        };
        for (&start, open) in &ledger.open {
            if consistent.is_none() || start < through {
                book.stale
                    .extend((0..open.seqs).map(|seq| delta_key(source, start, seq)));
                continue;
            }
            if open.deltas < open.seqs {
                book.incomplete.push(start);
            }
            book.open.push(Entry {
                start,
                delivered: u32::try_from(open.delivered).unwrap_or(u32::MAX),
                dead: u32::try_from(open.dead_lettered).unwrap_or(u32::MAX),
                repaired: u32::try_from(open.repaired).unwrap_or(u32::MAX),
                seqs: open.seqs,
            });
        }
        for &start in ledger.summaries.keys() {
            if consistent.is_none() {
                book.stale.push(summary_key(source, start));
            } else if start >= through {
                book.finals.push(start);
            }
        }
        book.advance(windows);
        book
    }

    fn entry(&self, start: i64) -> Option<&Entry> {
        self.open
            .binary_search_by_key(&start, |e| e.start)
            .ok()
            .map(|i| &self.open[i])
    }

    fn entry_mut(&mut self, start: i64) -> &mut Entry {
        let index = match self.open.binary_search_by_key(&start, |e| e.start) {
            Ok(index) => index,
            Err(index) => {
                self.open.insert(
                    index,
                    Entry {
                        start,
                        ..Entry::default()
                    },
                );
                index
            }
        };
        &mut self.open[index]
    }

    /// Moves `through` past the final windows that follow it.
    fn advance(&mut self, windows: Windows) {
        self.finals.sort_unstable();
        self.finals.dedup();
        while let Some(position) = self.finals.iter().position(|f| *f == self.through) {
            self.finals.remove(position);
            self.through = windows.end(self.through);
        }
        self.finals.retain(|f| *f >= self.through);
    }

    fn cover(&self) -> Cover {
        Cover {
            from: self.from,
            through: time_of(self.through),
            cursor: self.cursor,
        }
    }
}

/// A unit's audit records, to merge into the book once the unit is durable.
#[derive(Debug, Default)]
pub(crate) struct Pending {
    deltas: Vec<(Arc<str>, i64, u32, u32, bool)>,
    cursors: Vec<(Arc<str>, DateTime<Utc>)>,
}

/// A window made final by an audit (written as its summary).
#[derive(Debug, Clone)]
pub(crate) struct Final {
    pub(crate) source: Arc<str>,
    pub(crate) start: i64,
    pub(crate) summary: Option<Summary>,
    /// Its deltas `0..seqs` are tombstoned.
    pub(crate) seqs: u32,
}

/// See the module documentation.
#[derive(Debug)]
pub(crate) struct Book {
    windows: Windows,
    state_topic: String,
    keep_summaries_ms: i64,
    sources: Mutex<HashMap<Arc<str>, SourceBook>>,
}

/// A source as the book starts it: its checkpoint key, durable cursor, and current cursor.
pub(crate) struct Started {
    pub(crate) key: Arc<str>,
    pub(crate) checkpoint: Option<DateTime<Utc>>,
    pub(crate) cursor: DateTime<Utc>,
}

impl Book {
    pub(crate) fn new(
        windows: Windows,
        state_topic: String,
        keep_summaries: std::time::Duration,
        ledger: &Ledger,
        sources: impl IntoIterator<Item = Started>,
    ) -> Self {
        let sources = sources
            .into_iter()
            .map(|started| {
                let book = SourceBook::read(
                    windows,
                    &started.key,
                    ledger.sources.get(&*started.key),
                    started.checkpoint,
                    started.cursor,
                );
                (started.key, book)
            })
            .collect();
        Self {
            windows,
            state_topic,
            keep_summaries_ms: i64::try_from(keep_summaries.as_millis()).unwrap_or(i64::MAX),
            sources: Mutex::new(sources),
        }
    }

    fn sources(&self) -> MutexGuard<'_, HashMap<Arc<str>, SourceBook>> {
        self.sources.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn windows(&self) -> Windows {
        self.windows
    }

    fn record(&self, key: String, value: Option<Vec<u8>>) -> KeyedRecord {
        KeyedRecord {
            topic: self.state_topic.clone(),
            key,
            value,
        }
    }

    fn cover_record(&self, source: &str, cover: &Cover) -> KeyedRecord {
        self.record(
            cover_key(source),
            Some(serde_json::to_vec(cover).unwrap_or_default()),
        )
    }

    /// The audit records of a unit that delivered `tally` and moves the sources to `cursors`:
    /// one delta per source and window, and each counted source's cover with its new cursor.
    /// `repair`: the deltas are a repair's.
    pub(crate) fn prepare(
        &self,
        tally: &Tally,
        cursors: &[(String, Checkpoint)],
        repair: bool,
    ) -> (Vec<KeyedRecord>, Pending) {
        let sources = self.sources();
        let mut keyed = Vec::new();
        let mut pending = Pending::default();
        for ((source, start), delta) in &tally.windows {
            let Some(book) = sources.get(source) else {
                continue;
            };
            let seq = book.entry(*start).map_or(0, |e| e.seqs);
            keyed.push(self.record(
                delta_key(source, *start, seq),
                Some(records::encode_delta(delta, repair)),
            ));
            pending.deltas.push((
                Arc::clone(source),
                *start,
                delta.delivered,
                delta.dead,
                repair,
            ));
        }
        for (key, checkpoint) in cursors {
            let Some((source, book)) = sources.get_key_value(key.as_str()) else {
                continue;
            };
            let cover = Cover {
                cursor: Some(checkpoint.cursor),
                ..book.cover()
            };
            keyed.push(self.cover_record(source, &cover));
            pending
                .cursors
                .push((Arc::clone(source), checkpoint.cursor));
        }
        (keyed, pending)
    }

    /// The unit whose records [`Self::prepare`] made is durable.
    pub(crate) fn durable(&self, pending: Pending) {
        let mut sources = self.sources();
        for (source, start, delivered, dead, repair) in pending.deltas {
            if let Some(book) = sources.get_mut(&source) {
                let entry = book.entry_mut(start);
                entry.delivered = entry.delivered.saturating_add(delivered);
                entry.dead = entry.dead.saturating_add(dead);
                if repair {
                    entry.repaired = entry.repaired.saturating_add(delivered + dead);
                }
                entry.seqs += 1;
            }
        }
        for (source, cursor) in pending.cursors {
            if let Some(book) = sources.get_mut(&source) {
                book.cursor = Some(cursor);
            }
        }
    }

    /// A unit's fate was unknown: the book as the state topic holds it now (`ledger`), with the
    /// durable `cursors` read back with it.
    pub(crate) fn reload(
        &self,
        ledger: &Ledger,
        cursors: &std::collections::BTreeMap<String, Checkpoint>,
    ) {
        let mut sources = self.sources();
        for (key, book) in sources.iter_mut() {
            let checkpoint = cursors.get(&**key).map(|c| c.cursor);
            let start = checkpoint.unwrap_or(book.from);
            *book = SourceBook::read(
                self.windows,
                key,
                ledger.sources.get(&**key),
                checkpoint,
                start,
            );
        }
    }

    /// The first windows of `source` due for an audit: not final, starting at or after where
    /// counting began, ending at or before `horizon_ms`; at most `limit`, oldest first, with
    /// their counts; windows `skip` names are passed over.
    pub(crate) fn due(
        &self,
        source: &str,
        horizon_ms: i64,
        limit: usize,
        skip: impl Fn(i64) -> bool,
    ) -> Vec<Entry> {
        let sources = self.sources();
        let Some(book) = sources.get(source) else {
            return Vec::new();
        };
        let mut due = Vec::new();
        let mut start = book.through;
        while due.len() < limit && self.windows.end(start) <= horizon_ms {
            if !book.finals.contains(&start) && !skip(start) {
                due.push(book.entry(start).copied().unwrap_or(Entry {
                    start,
                    ..Entry::default()
                }));
            }
            start = self.windows.end(start);
        }
        due
    }

    /// Windows of `source` ending at or before `horizon_ms` and not final yet.
    pub(crate) fn backlog(&self, source: &str, horizon_ms: i64) -> u64 {
        let sources = self.sources();
        let Some(book) = sources.get(source) else {
            return 0;
        };
        let span = self.windows.span_ms();
        let windows = (self.windows.start_of(horizon_ms) - book.through).max(0) / span;
        let finals = book
            .finals
            .iter()
            .filter(|start| self.windows.end(**start) <= horizon_ms)
            .count();
        u64::try_from(windows)
            .unwrap_or(0)
            .saturating_sub(finals as u64)
    }

    /// The counts of `source`'s window `start` now (zero when nothing was delivered into it).
    pub(crate) fn entry(&self, source: &str, start: i64) -> Entry {
        self.sources()
            .get(source)
            .and_then(|book| book.entry(start).copied())
            .unwrap_or(Entry {
                start,
                ..Entry::default()
            })
    }

    /// True when `source`'s window `start` may be repaired (its identities are all readable).
    pub(crate) fn repairable(&self, source: &str, start: i64) -> bool {
        self.sources()
            .get(source)
            .is_some_and(|book| !book.incomplete.contains(&start))
    }

    /// The records that make `finals` final: each summary (kept `keep_summaries`), tombstones of
    /// its deltas and of the summary `keep_summaries` older, the stale records of their
    /// sources, and their covers with `through` moved on.
    pub(crate) fn results(&self, finals: &[Final]) -> Vec<KeyedRecord> {
        let sources = self.sources();
        let mut keyed = Vec::new();
        let mut touched: Vec<&Arc<str>> = Vec::new();
        for done in finals {
            let Some(book) = sources.get(&done.source) else {
                continue;
            };
            if let Some(summary) = &done.summary {
                keyed.push(self.record(
                    summary_key(&done.source, done.start),
                    Some(serde_json::to_vec(summary).unwrap_or_default()),
                ));
            }
            keyed.extend(
                (0..done.seqs)
                    .map(|seq| self.record(delta_key(&done.source, done.start, seq), None)),
            );
            let expired = self
                .windows
                .start_of(done.start.saturating_sub(self.keep_summaries_ms));
            if expired < done.start
                && expired >= self.windows.first_from(book.from.timestamp_millis())
            {
                keyed.push(self.record(summary_key(&done.source, expired), None));
            }
            if !touched.contains(&&done.source) {
                touched.push(&done.source);
            }
        }
        for source in touched {
            let Some(book) = sources.get(source) else {
                continue;
            };
            keyed.extend(book.stale.iter().map(|key| self.record(key.clone(), None)));
            let mut after = SourceBook {
                from: book.from,
                through: book.through,
                cursor: book.cursor,
                open: Vec::new(),
                finals: book.finals.clone(),
                incomplete: Vec::new(),
                stale: Vec::new(),
            };
            after.finals.extend(
                finals
                    .iter()
                    .filter(|f| f.source == *source)
                    .map(|f| f.start),
            );
            after.advance(self.windows);
            keyed.push(self.cover_record(source, &after.cover()));
        }
        keyed
    }

    /// The records of [`Self::results`] are durable.
    pub(crate) fn finalized(&self, finals: &[Final]) {
        let mut sources = self.sources();
        for done in finals {
            let Some(book) = sources.get_mut(&done.source) else {
                continue;
            };
            book.stale.clear();
            if let Ok(index) = book.open.binary_search_by_key(&done.start, |e| e.start) {
                book.open.remove(index);
            }
            book.incomplete.retain(|start| *start != done.start);
            book.finals.push(done.start);
            book.advance(self.windows);
        }
    }

    /// Open windows with deliveries of `source` (for the metrics).
    pub(crate) fn open_windows(&self, source: &str) -> u64 {
        self.sources()
            .get(source)
            .map_or(0, |book| book.open.len() as u64)
    }
}

#[cfg(test)]
mod tests;
