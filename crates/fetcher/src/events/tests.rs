use super::ack::AckTracker;
use super::*;
use crate::checkpoint::{CheckpointStore, FileCheckpointStore};
use crate::stats::SourceStats;
use crate::timestamp::parse_timestamp;
use chrono::{DateTime, Utc};
use std::sync::{Arc, Mutex};
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

struct Fixture {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    store: Arc<FileCheckpointStore>,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("checkpoints.json");
    let store = Arc::new(FileCheckpointStore::open(&path).unwrap());
    Fixture {
        _dir: dir,
        path,
        store,
    }
}

fn tracker(store: &Arc<FileCheckpointStore>, overlap_secs: u64, committed: &str) -> AckTracker {
    let store: Arc<dyn CheckpointStore> = store.clone();
    let lease = super::ack::CheckpointLease::acquire(store.as_ref(), "events/org1").unwrap();
    AckTracker::new(
        lease,
        "events/org1".into(),
        store,
        Duration::from_secs(overlap_secs),
        at(committed),
        SeenEvents::default(),
        Arc::new(SourceStats::default()),
    )
}

#[test]
fn cursor_commits_only_when_every_earlier_batch_is_acked() {
    let fixture = fixture();
    let mut tracker = tracker(&fixture.store, 60, "2026-01-01T00:00:00Z");
    tracker
        .register(
            0,
            at("2026-01-01T00:01:00Z"),
            vec![key("a", "2026-01-01T00:00:30Z")],
            false,
        )
        .unwrap();
    tracker
        .register(
            1,
            at("2026-01-01T00:02:00Z"),
            vec![key("b", "2026-01-01T00:01:30Z")],
            false,
        )
        .unwrap();
    tracker
        .register(
            2,
            at("2026-01-01T00:03:00Z"),
            vec![key("c", "2026-01-01T00:02:30Z")],
            false,
        )
        .unwrap();

    // Out of order: batch 2 first. The cursor must not move, but the ack is durable.
    tracker.ack(2).unwrap();
    assert_eq!(tracker.committed(), at("2026-01-01T00:00:00Z"));
    let saved = fixture.store.load("events/org1").unwrap().unwrap();
    assert_eq!(saved.cursor, at("2026-01-01T00:00:00Z"));
    assert_eq!(
        saved
            .acked
            .iter()
            .map(|a| a.id.as_str())
            .collect::<Vec<_>>(),
        vec!["c"]
    );

    tracker.ack(1).unwrap();
    assert_eq!(tracker.committed(), at("2026-01-01T00:00:00Z"));

    tracker.ack(0).unwrap();
    assert_eq!(tracker.committed(), at("2026-01-01T00:03:00Z"));
    assert_eq!(tracker.pending(), 0);
    let reopened = FileCheckpointStore::open(&fixture.path).unwrap();
    let saved = reopened.load("events/org1").unwrap().unwrap();
    assert_eq!(saved.cursor, at("2026-01-01T00:03:00Z"));
    // Pruned to cursor - overlap (00:02:00): only c remains.
    assert_eq!(
        saved
            .acked
            .iter()
            .map(|a| a.id.as_str())
            .collect::<Vec<_>>(),
        vec!["c"]
    );
}

#[test]
fn empty_batches_are_acknowledged_at_once_but_wait_for_earlier_ones() {
    let fixture = fixture();
    let mut tracker = tracker(&fixture.store, 60, "2026-01-01T00:00:00Z");
    tracker
        .register(
            0,
            at("2026-01-01T00:01:00Z"),
            vec![key("a", "2026-01-01T00:00:30Z")],
            false,
        )
        .unwrap();
    tracker
        .register(1, at("2026-01-01T00:05:00Z"), vec![], true)
        .unwrap();
    assert_eq!(tracker.committed(), at("2026-01-01T00:00:00Z"));
    tracker.ack(0).unwrap();
    assert_eq!(tracker.committed(), at("2026-01-01T00:05:00Z"));
}

/// At-least-once with the file store: a unit's batches are advanced (in memory) before its
/// records are all acknowledged; an empty window registered meanwhile must not write a cursor
/// that counts the unit as done, or a crash then would lose it.
#[test]
fn an_empty_window_does_not_write_past_a_unit_that_is_not_durable_yet() {
    let fixture = fixture();
    let mut tracker = tracker(&fixture.store, 60, "2026-01-01T00:00:00Z");
    tracker
        .register(
            0,
            at("2026-01-01T00:01:00Z"),
            vec![key("a", "2026-01-01T00:00:30Z")],
            false,
        )
        .unwrap();
    let unit = tracker.advance(0).unwrap().expect("the cursor moves");
    assert_eq!(unit.cursor, at("2026-01-01T00:01:00Z"));
    tracker
        .register(1, at("2026-01-01T00:02:00Z"), vec![], true)
        .unwrap();
    assert_eq!(tracker.committed(), at("2026-01-01T00:02:00Z"));
    assert_eq!(
        fixture.store.load("events/org1").unwrap(),
        None,
        "nothing written while the unit is not durable"
    );
    // The unit is durable: the next empty window writes its cursor.
    tracker.mark_durable(&unit);
    tracker
        .register(2, at("2026-01-01T00:03:00Z"), vec![], true)
        .unwrap();
    let saved = fixture.store.load("events/org1").unwrap().unwrap();
    assert_eq!(saved.cursor, at("2026-01-01T00:03:00Z"));
}

#[test]
fn repeated_and_unknown_acks_are_errors() {
    let fixture = fixture();
    let mut tracker = tracker(&fixture.store, 60, "2026-01-01T00:00:00Z");
    tracker
        .register(0, at("2026-01-01T00:01:00Z"), vec![], false)
        .unwrap();
    tracker
        .register(1, at("2026-01-01T00:02:00Z"), vec![], false)
        .unwrap();
    tracker.ack(1).unwrap();
    assert!(matches!(
        tracker.ack(1),
        Err(crate::FetchError::InvalidAck(_))
    ));
    assert!(matches!(
        tracker.ack(7),
        Err(crate::FetchError::InvalidAck(_))
    ));
    tracker.ack(0).unwrap();
    assert!(matches!(
        tracker.ack(0),
        Err(crate::FetchError::InvalidAck(_))
    ));
}

#[test]
fn acker_rejects_tokens_of_another_source_and_works_across_threads() {
    let fixture = fixture();
    let shared = Arc::new(Mutex::new(tracker(
        &fixture.store,
        60,
        "2026-01-01T00:00:00Z",
    )));
    let acker = Acker {
        source_id: 7,
        tracker: Arc::clone(&shared),
    };
    let org: Arc<str> = Arc::from("org1");
    for sequence in 0..4 {
        let cursor = at(&format!("2026-01-01T00:0{}:00Z", sequence + 1));
        ack::lock(&shared)
            .register(sequence, cursor, vec![], false)
            .unwrap();
    }
    let foreign = ack::token(8, &org, 0);
    assert!(matches!(
        acker.ack(foreign),
        Err(crate::FetchError::InvalidAck(_))
    ));
    let handles: Vec<_> = (0..4)
        .rev()
        .map(|sequence| {
            let acker = acker.clone();
            let token = ack::token(7, &org, sequence);
            std::thread::spawn(move || acker.ack(token))
        })
        .collect();
    for handle in handles {
        handle.join().unwrap().unwrap();
    }
    assert_eq!(acker.committed_cursor(), at("2026-01-01T00:04:00Z"));
    assert_eq!(acker.pending_batches(), 0);
}

#[test]
fn acked_events_of_the_overlap_survive_a_restart() {
    let fixture = fixture();
    let mut tracker = tracker(&fixture.store, 120, "2026-01-01T00:00:00Z");
    tracker
        .register(
            0,
            at("2026-01-01T00:03:00Z"),
            vec![
                key("old", "2026-01-01T00:00:10Z"),
                key("new", "2026-01-01T00:02:59.999999999Z"),
            ],
            false,
        )
        .unwrap();
    tracker.ack(0).unwrap();
    let saved = FileCheckpointStore::open(&fixture.path)
        .unwrap()
        .load("events/org1")
        .unwrap()
        .unwrap();
    let ids: Vec<_> = saved
        .acked
        .iter()
        .map(|a| (a.id.as_str(), a.timestamp))
        .collect();
    assert_eq!(ids, vec![("new", at("2026-01-01T00:02:59.999999999Z"))]);
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

#[test]
fn one_checkpoint_key_has_one_live_tracker_until_every_acker_is_gone() {
    let fixture = fixture();
    let first =
        super::ack::CheckpointLease::acquire(fixture.store.as_ref(), "events/org9").unwrap();
    let error =
        super::ack::CheckpointLease::acquire(fixture.store.as_ref(), "events/org9").unwrap_err();
    assert!(error.to_string().contains("already used"), "{error}");
    // Another key, or the same key in another file, is independent.
    let _other_key =
        super::ack::CheckpointLease::acquire(fixture.store.as_ref(), "events/org10").unwrap();
    let elsewhere = fixture_store_elsewhere();
    let _other_file =
        super::ack::CheckpointLease::acquire(elsewhere.store.as_ref(), "events/org9").unwrap();
    drop(first);
    super::ack::CheckpointLease::acquire(fixture.store.as_ref(), "events/org9").unwrap();
}

fn fixture_store_elsewhere() -> Fixture {
    fixture()
}
