//! The audit in process: the simulator over real HTTP holds events back beyond `lag + overlap`
//! (or hides delivered ones), the in-memory destination is the sink and its state topic; what a
//! reader would see is held against the simulator's ground truth.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use fetcher::{Checkpoint, EventBatch, EventSource, EventsConfig, RawEvent};
use mapper::Mapper;
use simulator::{SimConfig, SimHandle};
use tokio::sync::{mpsc, watch};

use super::*;
use crate::ack::Acknowledgements;
use crate::destination::memory::{Fault, MemorySink};
use crate::map::{MappedLead, Mapping};
use crate::tests::{API_KEY, assert_exactly_once, client, ground_truth, sources_with, visible};
use crate::{Destination, Mode, Pipeline, RunReport, UnitLimits};

const WINDOW: Duration = Duration::from_secs(2);

async fn live_sim(orgs: usize, events_per_sec: f64, seed: u64) -> SimHandle {
    let config = SimConfig {
        seed,
        api_key: API_KEY.into(),
        orgs,
        history_events: 0,
        late_max_secs: 0.0,
        live_events_per_sec: events_per_sec,
        ..SimConfig::default()
    };
    simulator::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

/// Live sources: lag 0.5 s, overlap 1 s, polled every 100 ms.
fn sources(sim: &SimHandle, cursors: &BTreeMap<String, Checkpoint>) -> Vec<EventSource> {
    let config = EventsConfig {
        lag: Duration::from_millis(500),
        overlap: Duration::from_secs(1),
        poll_interval: Duration::from_millis(100),
        page_limit: 300,
        initial_lookback: Duration::from_secs(2),
        ..EventsConfig::default()
    };
    sources_with(sim, &config, cursors)
}

fn plan(sim: &SimHandle, repair: bool, settle_after: Duration) -> AuditPlan {
    AuditPlan {
        client: client(sim),
        windows: Windows::new(WINDOW).unwrap(),
        settle_after,
        repair,
        repair_for: Duration::from_secs(3600),
        keep_summaries: Duration::from_secs(3600),
    }
}

fn pipeline(sink: &Arc<MemorySink>, plan: AuditPlan) -> Pipeline {
    let ledger = Ledger::read(&sink.state_records());
    Pipeline::new(
        Arc::new(Mapper::default()),
        Arc::new(Destination::Memory(Arc::clone(sink))),
        12_000,
        UnitLimits {
            max_events: 700,
            max_duration: Duration::from_millis(200),
        },
    )
    .with_audit(plan, ledger)
}

fn follow(
    pipeline: &Arc<Pipeline>,
    sources: Vec<EventSource>,
) -> (watch::Sender<bool>, tokio::task::JoinHandle<RunReport>) {
    let (stop, shutdown) = watch::channel(false);
    let pipeline = Arc::clone(pipeline);
    let running = tokio::spawn(async move { pipeline.run(sources, Mode::Follow, shutdown).await });
    (stop, running)
}

/// Waits until `done` holds, for at most `limit`.
async fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    done()
}

/// (organisation, window start) -> events of `events` in it.
fn per_window<'a>(
    events: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> BTreeMap<(String, i64), u64> {
    let windows = Windows::new(WINDOW).unwrap();
    let mut counts = BTreeMap::new();
    for (org, timestamp) in events {
        let ms = fetcher::timestamp::parse_timestamp(timestamp)
            .unwrap()
            .timestamp_millis();
        *counts
            .entry((org.to_owned(), windows.start_of(ms)))
            .or_default() += 1;
    }
    counts
}

fn summaries(sink: &MemorySink) -> BTreeMap<(String, i64), Summary> {
    let ledger = Ledger::read(&sink.state_records());
    ledger
        .sources
        .into_iter()
        .flat_map(|(key, source)| {
            let org = key.trim_start_matches("events/").to_owned();
            source
                .summaries
                .into_iter()
                .map(move |(start, summary)| ((org.clone(), start), summary))
        })
        .collect()
}

/// Every organisation's windows up to the one of its last event are final.
fn all_final(sink: &MemorySink, last: &BTreeMap<String, i64>) -> bool {
    let ledger = Ledger::read(&sink.state_records());
    last.iter().all(|(org, last)| {
        ledger
            .sources
            .get(&format!("events/{org}"))
            .and_then(|s| s.cover.as_ref())
            .is_some_and(|cover| cover.through.timestamp_millis() > *last)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_made_visible_beyond_lag_and_overlap_are_found_and_repaired_once() {
    let sim = live_sim(2, 200.0, 61).await;
    let orgs = sim.org_ids();
    let sink = MemorySink::new(true);
    // A commit of unknown fate and a failed unit on the way: the book is read back, not guessed.
    sink.memory().faults.extend([
        Fault::Pass,
        Fault::Pass,
        Fault::CommitThenLose,
        Fault::Pass,
        Fault::Fail,
    ]);
    let pipeline = Arc::new(pipeline(&sink, plan(&sim, true, Duration::from_secs(5))));
    let (stop, running) = follow(&pipeline, sources(&sim, &BTreeMap::new()));
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    // Visible 4 s after their time: later than lag + overlap (1.5 s) behind the cursor.
    assert!(sim.hold_next(&orgs[0], 15, Duration::from_secs(4)));
    assert!(sim.hold_next(&orgs[1], 10, Duration::from_secs(4)));
    tokio::time::sleep(Duration::from_secs(3)).await;
    sim.set_live_rate(0.0);
    let held = sim.held();
    assert_eq!(held.len(), 25, "{held:?}");
    let truth = ground_truth(&sim).await;
    let windows = Windows::new(WINDOW).unwrap();
    let mut last: BTreeMap<String, i64> = BTreeMap::new();
    for (org, _, timestamp) in &truth {
        let ms = fetcher::timestamp::parse_timestamp(timestamp)
            .unwrap()
            .timestamp_millis();
        let window = last.entry(org.clone()).or_default();
        *window = (*window).max(windows.start_of(ms));
    }
    let stats = pipeline.stats();
    let settled = wait_until(Duration::from_secs(40), || {
        let repaired: u64 = stats.audit.per_org().values().map(|o| o.repaired).sum();
        repaired == 25 && all_final(&sink, &last)
    })
    .await;
    let _ = stop.send(true);
    let report = running.await.unwrap();
    assert!(report.is_success(), "{report:?}");
    assert!(settled, "audit findings: {:?}", stats.audit.per_org());

    // Every event once, the held ones included.
    assert_exactly_once(&visible(&sink), &truth);
    // The audit found exactly the held events' windows, each missing what was held in it.
    let expected = per_window(held.iter().map(|e| (e.org.as_str(), e.timestamp.as_str())));
    let summaries = summaries(&sink);
    let repaired: BTreeMap<(String, i64), u64> = summaries
        .iter()
        .filter(|(_, s)| s.repaired > 0)
        .map(|(window, s)| (window.clone(), s.repaired))
        .collect();
    assert_eq!(repaired, expected);
    assert!(
        summaries
            .values()
            .all(|s| s.result == Outcome::Match && s.api == s.delivered + s.dead_lettered),
        "{summaries:?}"
    );
    let found = stats
        .audit
        .missing
        .load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(found, expected.len() as u64, "windows found missing events");
    assert!(stats.audit.per_org().values().all(|o| o.missing.is_empty()));
    // Final windows keep no identities.
    let ledger = Ledger::read(&sink.state_records());
    for (key, source) in &ledger.sources {
        let through = source.cover.as_ref().unwrap().through.timestamp_millis();
        assert!(
            source.open.keys().all(|start| *start >= through),
            "{key}: deltas of final windows left: {:?}",
            source.open
        );
    }
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fewer_events_at_the_source_than_delivered_are_reported_never_repaired() {
    let begun = chrono::Utc::now().timestamp_millis();
    let sim = live_sim(1, 100.0, 62).await;
    let org = sim.org_ids()[0].clone();
    let key = fetcher::events::live_checkpoint_key(&org);
    let sink = MemorySink::new(true);
    let pipeline = Arc::new(pipeline(&sink, plan(&sim, true, Duration::from_secs(6))));
    let (stop, running) = follow(&pipeline, sources(&sim, &BTreeMap::new()));
    // The first whole window after the simulator began: events all through it.
    let windows = Windows::new(WINDOW).unwrap();
    let start = windows.start_of(begun + 500) + windows.span_ms();
    let end = start + windows.span_ms();
    let ends_in = end + 500 - chrono::Utc::now().timestamp_millis();
    tokio::time::sleep(Duration::from_millis(u64::try_from(ends_in).unwrap_or(0))).await;
    // Its events are durable (the cursor is an overlap past it) before they disappear.
    assert!(
        wait_until(Duration::from_secs(10), || sink
            .cursors()
            .get(&key)
            .is_some_and(|c| c.cursor.timestamp_millis() - 1_000 >= end))
        .await
    );
    let hidden = sim.hide(
        &org,
        start * 1_000_000,
        end * 1_000_000,
        5,
        Duration::from_secs(600),
    );
    assert_eq!(hidden, 5);
    sim.set_live_rate(0.0);
    let truth = ground_truth(&sim).await;
    let stats = pipeline.stats();
    let reported = wait_until(Duration::from_secs(20), || {
        stats
            .audit
            .per_org()
            .get(&org)
            .is_some_and(|o| o.excess.get(&start) == Some(&5))
    })
    .await;
    let summary = wait_until(Duration::from_secs(5), || {
        summaries(&sink).contains_key(&(org.clone(), start))
    })
    .await;
    wait_until(Duration::from_secs(10), || {
        visible(&sink).len() >= truth.len()
    })
    .await;
    let _ = stop.send(true);
    assert!(running.await.unwrap().is_success());
    assert!(reported && summary, "{:?}", stats.audit.per_org());
    let summary = summaries(&sink)[&(org.clone(), start)].clone();
    assert_eq!(summary.result, Outcome::Excess);
    assert_eq!(summary.api + 5, summary.delivered + summary.dead_lettered);
    assert_eq!(summary.repaired, 0);
    assert_eq!(stats.audit.per_org()[&org].repaired, 0, "never repaired");
    assert_exactly_once(&visible(&sink), &truth);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gap_left_by_a_run_without_repair_is_repaired_once_after_a_restart() {
    let sim = live_sim(2, 150.0, 63).await;
    let orgs = sim.org_ids();
    let sink = MemorySink::new(true);
    let first = Arc::new(pipeline(&sink, plan(&sim, false, Duration::from_secs(5))));
    let (stop, running) = follow(&first, sources(&sim, &BTreeMap::new()));
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert!(sim.hold_next(&orgs[1], 12, Duration::from_secs(4)));
    tokio::time::sleep(Duration::from_secs(2)).await;
    sim.set_live_rate(0.0);
    let held = sim.held();
    let expected = per_window(held.iter().map(|e| (e.org.as_str(), e.timestamp.as_str())));
    // The run finds the gap and reports it, but does not repair it.
    let stats = first.stats();
    let found = wait_until(Duration::from_secs(30), || {
        let missing: BTreeMap<(String, i64), u64> = stats
            .audit
            .per_org()
            .into_iter()
            .flat_map(|(org, o)| {
                o.missing
                    .into_iter()
                    .map(move |(w, n)| ((org.clone(), w), n))
            })
            .collect();
        missing == expected
    })
    .await;
    let _ = stop.send(true);
    assert!(running.await.unwrap().is_success());
    assert!(found, "{:?} against {expected:?}", stats.audit.per_org());
    let truth = ground_truth(&sim).await;
    assert_eq!(
        visible(&sink).len() + held.len(),
        truth.len(),
        "the held events are missing, nothing else"
    );
    // Started again from the state it left (the cursors and the audit's records), one audit
    // with repairs delivers exactly the held events.
    let second = pipeline(&sink, plan(&sim, true, Duration::from_secs(5)));
    let (_stop, shutdown) = watch::channel(false);
    let since = chrono::Utc::now() - chrono::Duration::minutes(5);
    let report = tokio::time::timeout(
        Duration::from_secs(60),
        second.audit_once(sources(&sim, &sink.cursors()), since, shutdown),
    )
    .await
    .expect("the audit ends")
    .unwrap();
    assert_eq!(report.repaired, held.len() as u64, "{report:?}");
    assert_exactly_once(&visible(&sink), &truth);
    let repaired: BTreeMap<(String, i64), u64> = summaries(&sink)
        .into_iter()
        .filter(|(_, s)| s.repaired > 0)
        .map(|(window, s)| (window, s.repaired))
        .collect();
    assert_eq!(repaired, expected);
    sim.shutdown().await;
}

fn raw(id: &str, timestamp: Option<&str>, json: &str) -> RawEvent {
    RawEvent {
        org_id: Arc::from("o"),
        id: Some(id.to_owned()),
        timestamp: timestamp.map(str::to_owned),
        bytes: Bytes::from(json.to_owned()),
    }
}

#[tokio::test]
async fn records_and_dead_letters_are_counted_in_the_window_of_their_event() {
    // 2026-05-28T20:26:40Z: a start of a 10 s window (times before 1973 are dead letters).
    const BASE: i64 = 1_780_000_000_000;
    let windows = Windows::new(Duration::from_secs(10)).unwrap();
    let mapping = Mapping {
        mapper: Arc::new(Mapper::default()),
        destination: Arc::new(Destination::Memory(MemorySink::new(true))),
        refused: Arc::default(),
        lead: MappedLead::default(),
        audit: Some(windows),
    };
    let ok = |id: &str, time: &str| {
        raw(
            id,
            Some(time),
            &format!(
                r#"{{"id":"{id}","event_type":"user_login_attempt","service":"directory","organization":"o","timestamp":"{time}"}}"#
            ),
        )
    };
    let events = vec![
        ok("a", "2026-05-28T20:26:45Z"),
        // Not JSON: a dead letter, in the window of its timestamp.
        raw("b", Some("2026-05-28T20:26:52Z"), r#"{"id":"b","#),
        // No readable timestamp: a dead letter, in the window of the event before it.
        raw("c", None, r#"{"id":"c","event_type":"user_login_attempt"}"#),
        ok("d", "2026-05-28T20:27:05Z"),
    ];
    let key: Arc<str> = Arc::from("events/o");
    let batch = EventBatch {
        org_id: Arc::from("o"),
        checkpoint_key: Arc::clone(&key),
        events,
        cursor_after: time_of(BASE + 30_000),
        keys: Vec::new(),
    };
    let acks = Arc::new(Acknowledgements::default());
    let (sender, mut chunks) = mpsc::channel(4);
    assert!(
        mapping
            .map_batch(batch, acks.handed_out(&key, 0), &sender)
            .await
    );
    let tally = chunks.recv().await.unwrap().tally.unwrap();
    let counts: BTreeMap<i64, (u32, u32, usize)> = tally
        .windows
        .iter()
        .map(|((_, start), d)| (*start, (d.delivered, d.dead, d.ids.len())))
        .collect();
    assert_eq!(
        counts,
        BTreeMap::from([
            (BASE, (1, 0, 1)),
            (BASE + 10_000, (0, 2, 2)),
            (BASE + 20_000, (1, 0, 1))
        ])
    );
    let ids: BTreeSet<u64> = tally.windows.values().flat_map(|d| d.ids.clone()).collect();
    assert!(ids.contains(&identity(Some("a"), Some("2026-05-28T20:26:45Z"), b"")));
    assert_eq!(ids.len(), 4);
}
