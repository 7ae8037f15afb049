//! Query windows: `[cursor - overlap, now - lag)`, never `start > end`.

use chrono::{DateTime, Utc};
use std::time::Duration;

/// A query window; `start` inclusive, `end` exclusive (the API's semantics).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// Inclusive start.
    pub start: DateTime<Utc>,
    /// Exclusive end.
    pub end: DateTime<Utc>,
}

fn to_chrono(duration: Duration) -> chrono::Duration {
    chrono::Duration::from_std(duration).unwrap_or(chrono::Duration::MAX)
}

/// `time - duration`, saturating at the earliest representable time.
pub fn minus(time: DateTime<Utc>, duration: Duration) -> DateTime<Utc> {
    time.checked_sub_signed(to_chrono(duration))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// The live window for `cursor`, or `None` when it would be empty (`start >= end`, e.g. the lag
/// is larger than the time since the cursor): an empty window is skipped, never sent.
pub fn live_window(
    cursor: DateTime<Utc>,
    now: DateTime<Utc>,
    lag: Duration,
    overlap: Duration,
) -> Option<Window> {
    let end = minus(now, lag);
    let start = minus(cursor, overlap);
    (start < end).then_some(Window { start, end })
}

/// The next backfill slice of `[cursor, to)`, capped at `now - lag`, or `None` when done.
pub fn range_window(
    cursor: DateTime<Utc>,
    to: DateTime<Utc>,
    now: DateTime<Utc>,
    lag: Duration,
) -> Option<Window> {
    let end = to.min(minus(now, lag));
    (cursor < end).then_some(Window { start: cursor, end })
}

/// Halves the window (keeps `start`), for slicing by `/events/count`; `None` when it cannot be
/// split further (under one millisecond).
pub fn halve(window: Window) -> Option<Window> {
    let span = window.end - window.start;
    if span <= chrono::Duration::milliseconds(1) {
        return None;
    }
    Some(Window {
        start: window.start,
        end: window.start + span / 2,
    })
}
