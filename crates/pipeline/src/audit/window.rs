//! Audit windows (fixed spans of event time, UTC, aligned to the day) and event identities
//! (a 64-bit hash of an event's `id` and `timestamp`, stable across processes: it is stored).

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};

const DAY_MS: i64 = 86_400_000;

/// The audit's windows: `[start, start + span)` with `start` a multiple of `span` since the
/// epoch; `span` divides a day, so every day starts a window (an hour: `…T10:00:00Z`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Windows {
    span_ms: i64,
}

impl Windows {
    /// Windows of `span`: whole seconds, at least one, dividing a day (1 h, 10 min, 10 s...).
    pub fn new(span: Duration) -> Result<Self, String> {
        let span_ms = i64::try_from(span.as_millis()).unwrap_or(i64::MAX);
        if span_ms < 1_000 || span_ms % 1_000 != 0 || DAY_MS % span_ms != 0 {
            return Err(format!(
                "an audit window must be whole seconds dividing a day (1h, 30m, 10s...), not {span:?}"
            ));
        }
        Ok(Self { span_ms })
    }

    /// Hours (the default).
    pub fn hourly() -> Self {
        Self { span_ms: 3_600_000 }
    }

    /// The span in milliseconds.
    pub fn span_ms(self) -> i64 {
        self.span_ms
    }

    /// The start of the window holding `time_ms`.
    pub fn start_of(self, time_ms: i64) -> i64 {
        time_ms.div_euclid(self.span_ms) * self.span_ms
    }

    /// The first window start at or after `time_ms`.
    pub fn first_from(self, time_ms: i64) -> i64 {
        let start = self.start_of(time_ms);
        if start == time_ms {
            start
        } else {
            start.saturating_add(self.span_ms)
        }
    }

    /// The end (exclusive) of the window starting at `start`.
    pub fn end(self, start: i64) -> i64 {
        start.saturating_add(self.span_ms)
    }
}

/// A window start as it appears in state keys and tables: RFC 3339, seconds, `Z`.
pub fn label(start_ms: i64) -> String {
    DateTime::from_timestamp_millis(start_ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The window start of a [`label`].
pub fn parse_label(text: &str) -> Option<i64> {
    if !text.ends_with('Z') || text.len() != 20 {
        return None;
    }
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|time| time.timestamp_millis())
}

/// A time in milliseconds as a `DateTime`.
pub fn time_of(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// The identity of an event: FNV-1a (64 bit) of its `id` (its whole text when it has none),
/// a separator, and its `timestamp` as sent. The same event fetched again has the same one.
pub fn identity(id: Option<&str>, timestamp: Option<&str>, bytes: &[u8]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut hash = OFFSET;
    let mut feed = |data: &[u8]| {
        for byte in data {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(PRIME);
        }
    };
    match id {
        Some(id) => feed(id.as_bytes()),
        None => feed(bytes),
    }
    feed(&[0xff]);
    feed(timestamp.unwrap_or_default().as_bytes());
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_divide_a_day_and_align_to_it() {
        assert!(Windows::new(Duration::from_secs(7)).is_err());
        assert!(Windows::new(Duration::from_millis(1_500)).is_err());
        assert!(Windows::new(Duration::from_secs(2 * 86_400)).is_err());
        let tens = Windows::new(Duration::from_secs(10)).unwrap();
        assert_eq!(tens.start_of(1_234_567), 1_230_000);
        assert_eq!(tens.start_of(-1), -10_000);
        assert_eq!(tens.first_from(1_230_000), 1_230_000);
        assert_eq!(tens.first_from(1_230_001), 1_240_000);
        assert_eq!(tens.end(1_230_000), 1_240_000);
        assert_eq!(
            Windows::new(Duration::from_secs(3600)).unwrap(),
            Windows::hourly()
        );
    }

    #[test]
    fn labels_round_trip() {
        let start = Windows::hourly().start_of(1_764_669_600_123);
        let text = label(start);
        assert_eq!(text, "2025-12-02T10:00:00Z");
        assert_eq!(parse_label(&text), Some(start));
        assert_eq!(parse_label("2025-12-02T10:00:00.5Z"), None);
        assert_eq!(parse_label("events"), None);
    }

    #[test]
    fn identities_tell_events_apart_by_id_and_time() {
        let a = identity(Some("a1"), Some("2026-01-01T00:00:00Z"), b"{}");
        assert_eq!(
            a,
            identity(Some("a1"), Some("2026-01-01T00:00:00Z"), b"{...}")
        );
        assert_ne!(a, identity(Some("a1"), Some("2026-01-01T00:00:01Z"), b"{}"));
        assert_ne!(a, identity(Some("a2"), Some("2026-01-01T00:00:00Z"), b"{}"));
        // Without an id, the event's text stands in for it.
        assert_ne!(
            identity(None, Some("t"), b"{\"x\":1}"),
            identity(None, Some("t"), b"{\"x\":2}")
        );
    }
}
