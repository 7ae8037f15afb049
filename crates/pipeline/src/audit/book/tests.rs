use super::*;
use std::collections::BTreeMap;
use std::time::Duration;

fn ten() -> Windows {
    Windows::new(Duration::from_secs(10)).unwrap()
}

fn checkpoint(ms: i64) -> Checkpoint {
    Checkpoint {
        cursor: time_of(ms),
        acked: Vec::new(),
        updated_at: time_of(ms),
    }
}

fn started(key: &str, checkpoint: Option<i64>, cursor: i64) -> Started {
    Started {
        key: Arc::from(key),
        checkpoint: checkpoint.map(time_of),
        cursor: time_of(cursor),
    }
}

fn state_of(records: &[KeyedRecord]) -> BTreeMap<String, Vec<u8>> {
    let mut state = BTreeMap::new();
    for record in records {
        match &record.value {
            Some(value) => state.insert(record.key.clone(), value.clone()),
            None => state.remove(&record.key),
        };
    }
    state
}

#[test]
fn units_count_into_windows_and_the_state_reads_back_the_same_book() {
    let book = Book::new(
        ten(),
        "s".into(),
        Duration::from_secs(60),
        &Ledger::default(),
        [started("events/a", None, 5_000)],
    );
    let source: Arc<str> = Arc::from("events/a");
    let mut tally = Tally::default();
    tally.add(&source, 10_000, 1, false);
    tally.add(&source, 10_000, 2, true);
    tally.add(&source, 20_000, 3, false);
    let (mut keyed, pending) =
        book.prepare(&tally, &[("events/a".into(), checkpoint(25_000))], false);
    book.durable(pending);
    let mut second = Tally::default();
    second.add(&source, 20_000, 4, false);
    let (more, pending) = book.prepare(&second, &[("events/a".into(), checkpoint(28_000))], true);
    keyed.extend(more);
    book.durable(pending);
    let keys: Vec<&str> = keyed.iter().map(|r| r.key.as_str()).collect();
    assert!(
        keys.contains(&"audit/events/a/1970-01-01T00:00:20Z/1"),
        "{keys:?}"
    );
    let entry = book.entry("events/a", 20_000);
    assert_eq!(
        (entry.delivered, entry.dead, entry.repaired, entry.seqs),
        (2, 0, 1, 2)
    );
    // Counting began at 5 s: the first window audited starts at 10 s.
    let due = book.due("events/a", 40_000, 10, |_| false);
    assert_eq!(
        due.iter().map(|e| e.start).collect::<Vec<_>>(),
        [10_000, 20_000, 30_000]
    );
    // What the state topic holds gives the same book after a restart.
    let state = state_of(&keyed);
    let again = Book::new(
        ten(),
        "s".into(),
        Duration::from_secs(60),
        &Ledger::read(&state),
        [started("events/a", Some(28_000), 28_000)],
    );
    assert_eq!(again.entry("events/a", 20_000), entry);
    assert_eq!(again.due("events/a", 40_000, 10, |_| false), due);
}

#[test]
fn final_windows_move_through_on_and_their_deltas_are_tombstoned() {
    let book = Book::new(
        ten(),
        "s".into(),
        Duration::from_secs(20),
        &Ledger::default(),
        [started("events/a", None, 0)],
    );
    let source: Arc<str> = Arc::from("events/a");
    let mut tally = Tally::default();
    tally.add(&source, 0, 1, false);
    tally.add(&source, 10_000, 2, false);
    let (mut state, pending) =
        book.prepare(&tally, &[("events/a".into(), checkpoint(60_000))], false);
    book.durable(pending);
    let summary = |n| Summary {
        api: n,
        delivered: n,
        dead_lettered: 0,
        repaired: 0,
        result: records::Outcome::Match,
        audited_at: time_of(0),
    };
    // The second window is final first: `through` waits for the first.
    let second = [Final {
        source: Arc::clone(&source),
        start: 10_000,
        summary: Some(summary(1)),
        seqs: 1,
    }];
    state.extend(book.results(&second));
    book.finalized(&second);
    assert_eq!(
        book.due("events/a", 60_000, 10, |_| false)
            .iter()
            .map(|e| e.start)
            .collect::<Vec<_>>(),
        [0, 20_000, 30_000, 40_000, 50_000]
    );
    let first = [Final {
        source: Arc::clone(&source),
        start: 0,
        summary: Some(summary(1)),
        seqs: 1,
    }];
    state.extend(book.results(&first));
    book.finalized(&first);
    let keys = state_of(&state);
    assert!(
        !keys.keys().any(|k| k.contains("Z/")),
        "deltas tombstoned: {keys:?}"
    );
    let ledger = Ledger::read(&keys);
    let cover = ledger.sources["events/a"].cover.clone().unwrap();
    assert_eq!(cover.through, time_of(20_000));
    assert_eq!(ledger.sources["events/a"].summaries.len(), 2);
    // A summary older than keep_summaries (20 s) is tombstoned as later windows end.
    let later = [Final {
        source: Arc::clone(&source),
        start: 20_000,
        summary: None,
        seqs: 0,
    }];
    let records = book.results(&later);
    assert!(
        records
            .iter()
            .any(|r| r.key == "audit/events/a/1970-01-01T00:00:00Z" && r.value.is_none())
    );
}

#[test]
fn a_cursor_moved_without_counting_starts_counting_again() {
    let source: Arc<str> = Arc::from("events/a");
    let book = Book::new(
        ten(),
        "s".into(),
        Duration::from_secs(60),
        &Ledger::default(),
        [started("events/a", None, 0)],
    );
    let mut tally = Tally::default();
    tally.add(&source, 0, 1, false);
    let (keyed, pending) = book.prepare(&tally, &[("events/a".into(), checkpoint(9_000))], false);
    book.durable(pending);
    let ledger = Ledger::read(&state_of(&keyed));
    // The checkpoint moved to 47 s while nothing was counted.
    let again = Book::new(
        ten(),
        "s".into(),
        Duration::from_secs(60),
        &ledger,
        [started("events/a", Some(47_000), 47_000)],
    );
    assert_eq!(
        again
            .due("events/a", 100_000, 10, |_| false)
            .first()
            .map(|e| e.start),
        Some(50_000)
    );
    assert_eq!(again.entry("events/a", 0).events(), 0);
    let results = again.results(&[Final {
        source,
        start: 50_000,
        summary: None,
        seqs: 0,
    }]);
    assert!(
        results
            .iter()
            .any(|r| r.key == "audit/events/a/1970-01-01T00:00:00Z/0" && r.value.is_none()),
        "the old delta is tombstoned"
    );
}
