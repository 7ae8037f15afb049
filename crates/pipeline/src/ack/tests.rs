use std::sync::atomic::Ordering;

use chrono::{DateTime, Utc};
use fetcher::{AuthConfig, ClientConfig, EventKey, EventsConfig, JumpCloudClient};
use secrecy::SecretString;

use super::*;

fn at(text: &str) -> DateTime<Utc> {
    fetcher::timestamp::parse_timestamp(text).unwrap()
}

fn client() -> JumpCloudClient {
    JumpCloudClient::new(ClientConfig {
        base_url: Some("http://127.0.0.1:9".into()),
        auth: AuthConfig::ApiKey {
            api_key: SecretString::from("k"),
        },
        ..ClientConfig::default()
    })
    .unwrap()
}

fn source(org: &str, checkpoint: Option<Checkpoint>) -> EventSource {
    let config = EventsConfig {
        overlap: Duration::from_secs(60),
        ..EventsConfig::default()
    };
    EventSource::new(client(), org, config, checkpoint).unwrap()
}

fn checkpoint(cursor: &str) -> Checkpoint {
    Checkpoint {
        cursor: at(cursor),
        acked: Vec::new(),
        updated_at: at(cursor),
    }
}

fn batch(org: &str, cursor_after: &str, ids: &[(&str, &str)]) -> EventBatch {
    EventBatch {
        org_id: org.into(),
        checkpoint_key: fetcher::events::live_checkpoint_key(org).into(),
        events: Vec::new(),
        cursor_after: at(cursor_after),
        keys: ids
            .iter()
            .map(|(id, ts)| EventKey::new(id, at(ts)).unwrap())
            .collect(),
    }
}

#[test]
fn checkpoints_advance_unit_by_unit_and_become_durable_only_when_told() {
    let a = source("a", Some(checkpoint("2026-01-01T00:00:00Z")));
    let b = source("b", None);
    let acks = Acknowledgements::new([&a, &b]).unwrap();
    // Unit 1: two batches of a (one of them a quiet window: no events), one of b.
    let unit1 = [
        batch(
            "a",
            "2026-01-01T00:01:00Z",
            &[("e1", "2026-01-01T00:01:30Z")],
        ),
        batch("b", "2026-01-01T00:01:00Z", &[]),
        batch("a", "2026-01-01T00:02:00Z", &[]),
    ];
    let cursors = acks.advance(&unit1);
    let by_key: BTreeMap<_, _> = cursors.iter().cloned().collect();
    assert_eq!(by_key["events/a"].cursor, at("2026-01-01T00:02:00Z"));
    assert_eq!(
        by_key["events/a"].acked.len(),
        1,
        "e1 is inside the overlap"
    );
    assert_eq!(by_key["events/b"].cursor, at("2026-01-01T00:01:00Z"));
    // Not durable until the destination says so.
    assert_eq!(
        acks.durable_checkpoint("events/a").unwrap().cursor,
        at("2026-01-01T00:00:00Z")
    );
    assert_eq!(acks.durable_checkpoint("events/b"), None);
    acks.durable(&cursors);
    assert_eq!(
        acks.durable_checkpoint("events/a").unwrap().cursor,
        at("2026-01-01T00:02:00Z")
    );
    assert_eq!(
        a.stats().committed_cursor_ms.load(Ordering::Relaxed),
        at("2026-01-01T00:02:00Z").timestamp_millis()
    );
    // Unit 2 builds on unit 1, and is not made durable: a rewind goes back to unit 1.
    let unit2 = [batch(
        "a",
        "2026-01-01T00:02:20Z",
        &[("e2", "2026-01-01T00:02:30Z")],
    )];
    let cursors = acks.advance(&unit2);
    assert_eq!(cursors[0].1.acked.len(), 2, "e1 and e2");
    let epoch = acks.epoch();
    acks.rewind();
    assert_eq!(acks.epoch(), epoch + 1);
    assert_eq!(
        acks.durable_checkpoint("events/a").unwrap().cursor,
        at("2026-01-01T00:02:00Z")
    );
    // After the rewind the next unit builds on the durable checkpoint, not on unit 2.
    let again = acks.advance(&[batch("a", "2026-01-01T00:02:10Z", &[])]);
    assert_eq!(again[0].1.cursor, at("2026-01-01T00:02:10Z"));
    assert_eq!(again[0].1.acked.len(), 1, "only e1: e2 was never durable");
}

#[test]
fn batches_in_flight_are_counted_until_dropped_and_a_rewind_ends_their_epoch() {
    let a = source("a", None);
    let stats = a.stats();
    let acks = Arc::new(Acknowledgements::new([&a]).unwrap());
    let key: Arc<str> = Arc::from("events/a");
    let first = acks.handed_out(&key, acks.epoch());
    let second = acks.handed_out(&key, acks.epoch());
    assert_eq!(acks.in_flight("events/a"), 2);
    assert_eq!(stats.pending_batches.load(Ordering::Relaxed), 2);
    assert!(first.is_current());
    acks.rewind();
    assert!(!first.is_current() && !second.is_current());
    let third = acks.handed_out(&key, acks.epoch());
    assert!(third.is_current());
    // Fetched before the rewind, handed out after it: not current.
    let late = acks.handed_out(&key, acks.epoch() - 1);
    assert!(!late.is_current());
    drop(late);
    drop((first, second));
    assert_eq!(acks.in_flight("events/a"), 1);
    drop(third);
    assert_eq!(acks.in_flight("events/a"), 0);
    assert_eq!(stats.pending_batches.load(Ordering::Relaxed), 0);
}

#[test]
fn a_unit_of_unknown_fate_rewinds_to_what_the_state_topic_holds() {
    let a = source("a", Some(checkpoint("2026-01-01T00:00:00Z")));
    let acks = Acknowledgements::new([&a]).unwrap();
    acks.advance(&[batch("a", "2026-01-01T00:05:00Z", &[])]);
    // The commit's outcome is unknown; the state topic says it committed.
    let read = BTreeMap::from([
        ("events/a".to_string(), checkpoint("2026-01-01T00:05:00Z")),
        (
            "events/other".to_string(),
            checkpoint("2026-01-01T00:09:00Z"),
        ),
    ]);
    let epoch = acks.epoch();
    acks.rewind_to(read);
    assert_eq!(acks.epoch(), epoch + 1);
    assert_eq!(
        acks.durable_checkpoint("events/a").unwrap().cursor,
        at("2026-01-01T00:05:00Z")
    );
    assert_eq!(acks.durable_checkpoint("events/other"), None, "not ours");
}

#[test]
fn two_sources_with_one_checkpoint_key_are_refused() {
    let error = Acknowledgements::new([&source("a", None), &source("a", None)]).unwrap_err();
    assert!(error.contains("events/a"), "{error}");
}
