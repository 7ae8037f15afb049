use super::*;
use crate::timestamp::parse_timestamp;
use chrono::{DateTime, Utc};
use std::time::Duration;

fn at(text: &str) -> DateTime<Utc> {
    parse_timestamp(text).unwrap()
}

fn key(id: &str, ts: &str) -> EventKey {
    EventKey::new(id, at(ts)).unwrap()
}

#[test]
fn live_window_is_cursor_minus_overlap_to_now_minus_lag() {
    let window = live_window(
        at("2026-01-01T10:00:00.123456789Z"),
        at("2026-01-01T10:30:00Z"),
        Duration::from_secs(120),
        Duration::from_secs(900),
    )
    .unwrap();
    assert_eq!(window.start, at("2026-01-01T09:45:00.123456789Z"));
    assert_eq!(window.end, at("2026-01-01T10:28:00Z"));
}

#[test]
fn window_never_has_start_after_end() {
    // Lag larger than the gap since the cursor (elastic/integrations#17209): skipped, not sent.
    let cursor = at("2026-01-01T10:29:00Z");
    let now = at("2026-01-01T10:30:00Z");
    assert_eq!(
        live_window(
            cursor,
            now,
            Duration::from_secs(600),
            Duration::from_secs(60)
        ),
        None
    );
    assert_eq!(
        live_window(
            cursor,
            now,
            Duration::from_secs(120),
            Duration::from_secs(60)
        ),
        None
    );
    let window = live_window(
        cursor,
        now,
        Duration::from_secs(120),
        Duration::from_secs(61),
    )
    .unwrap();
    assert!(window.start < window.end);
}

#[test]
fn range_window_stops_at_to_and_at_now_minus_lag() {
    let now = at("2026-01-10T00:00:00Z");
    let lag = Duration::from_secs(120);
    let window = range_window(
        at("2026-01-01T00:00:00Z"),
        at("2026-01-02T00:00:00Z"),
        now,
        lag,
    )
    .unwrap();
    assert_eq!(window.end, at("2026-01-02T00:00:00Z"));
    let window = range_window(
        at("2026-01-09T00:00:00Z"),
        at("2026-01-11T00:00:00Z"),
        now,
        lag,
    )
    .unwrap();
    assert_eq!(window.end, at("2026-01-09T23:58:00Z"));
    assert_eq!(
        range_window(
            at("2026-01-02T00:00:00Z"),
            at("2026-01-02T00:00:00Z"),
            now,
            lag
        ),
        None
    );
}

#[test]
fn halving_keeps_the_start_and_stops_at_a_millisecond() {
    let window = Window {
        start: at("2026-01-01T00:00:00Z"),
        end: at("2026-01-01T00:00:01Z"),
    };
    let half = halve(window).unwrap();
    assert_eq!(
        half,
        Window {
            start: window.start,
            end: at("2026-01-01T00:00:00.5Z")
        }
    );
    let tiny = Window {
        start: at("2026-01-01T00:00:00Z"),
        end: at("2026-01-01T00:00:00.001Z"),
    };
    assert_eq!(halve(tiny), None);
}

#[test]
fn dedup_compares_timestamps_at_nanosecond_precision() {
    let mut seen = SeenEvents::default();
    assert!(seen.insert(key("a", "2026-01-01T00:00:00.000000001Z")));
    assert!(!seen.insert(key("a", "2026-01-01T00:00:00.000000001Z")));
    // Same id, other nanosecond: a different event as far as dedup goes.
    assert!(seen.insert(key("a", "2026-01-01T00:00:00.000000002Z")));
    // Same instant written differently is the same key.
    assert!(!seen.insert(key("a", "2026-01-01T01:00:00.000000001+01:00")));
    assert_eq!(seen.len(), 2);
}

#[test]
fn dedup_memory_is_pruned_by_time() {
    let mut seen = SeenEvents::default();
    for second in 0..60 {
        seen.insert(key(
            &format!("e{second}"),
            &format!("2026-01-01T00:00:{second:02}Z"),
        ));
    }
    seen.prune_before(at("2026-01-01T00:00:45Z"));
    assert_eq!(seen.len(), 15);
    assert!(seen.contains(&key("e45", "2026-01-01T00:00:45Z")));
    assert!(!seen.contains(&key("e44", "2026-01-01T00:00:44Z")));
}

#[test]
fn events_config_defaults_and_validation() {
    let config = EventsConfig::default();
    assert_eq!(config.services, vec!["all"]);
    assert_eq!(config.lag, Duration::from_secs(120));
    assert_eq!(config.overlap, Duration::from_secs(900));
    assert_eq!(config.page_limit, 10_000);
    assert!(config.validate().is_ok());
    let parsed: EventsConfig = serde_json::from_value(
        serde_json::json!({"lag": "2s", "overlap": "10s", "page_limit": 20000}),
    )
    .unwrap();
    assert_eq!(parsed.lag, Duration::from_secs(2));
    assert!(parsed.validate().unwrap_err().contains("page_limit"));
}
