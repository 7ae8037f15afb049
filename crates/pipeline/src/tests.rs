//! The engine's own tests, in process: the simulator over real HTTP as the source, the
//! in-memory destination (`destination/memory.rs`) with scripted faults as the sink. What a
//! reader would see is the memory's visible records, held against the simulator's ground truth.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use fetcher::{AuthConfig, Checkpoint, ClientConfig, EventSource, EventsConfig, JumpCloudClient};
use mapper::Mapper;
use secrecy::SecretString;
use simulator::{SimConfig, SimHandle};
use tokio::sync::{Notify, watch};

use crate::destination::memory::{Fault, Line, MemorySink};
use crate::{Destination, Mode, Pipeline, RunReport, UnitLimits};

pub(crate) const API_KEY: &str = "engine-test-key";

/// (organisation, id, timestamp).
pub(crate) type Identity = (String, String, String);

async fn start_sim(orgs: usize, events: usize) -> SimHandle {
    let config = SimConfig {
        seed: 31,
        api_key: API_KEY.into(),
        orgs,
        history_events: events,
        history_days: 1,
        late_max_secs: 0.0,
        live_events_per_sec: 0.0,
        // History ends a minute ago: every event is older than the lag.
        history_anchor_ns: Some(simulator::ids::now_ns() - 60 * 1_000_000_000),
        ..SimConfig::default()
    };
    simulator::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

/// A client of the simulator (its API key, 1,000 requests/s).
pub(crate) fn client(sim: &SimHandle) -> JumpCloudClient {
    JumpCloudClient::new(ClientConfig {
        base_url: Some(sim.base_url()),
        auth: AuthConfig::ApiKey {
            api_key: SecretString::from(API_KEY),
        },
        max_requests_per_sec: 1000,
        ..ClientConfig::default()
    })
    .unwrap()
}

/// A source per organisation of the simulator with `config`, from its cursor in `cursors`.
pub(crate) fn sources_with(
    sim: &SimHandle,
    config: &EventsConfig,
    cursors: &BTreeMap<String, Checkpoint>,
) -> Vec<EventSource> {
    let client = client(sim);
    sim.org_ids()
        .into_iter()
        .map(|org| {
            let key = fetcher::events::live_checkpoint_key(&org);
            EventSource::new(
                client.clone(),
                org,
                config.clone(),
                cursors.get(&key).cloned(),
            )
            .unwrap()
        })
        .collect()
}

fn sources(sim: &SimHandle, cursors: &BTreeMap<String, Checkpoint>) -> Vec<EventSource> {
    let config = EventsConfig {
        lag: Duration::from_secs(2),
        overlap: Duration::from_secs(30),
        poll_interval: Duration::from_millis(100),
        page_limit: 300,
        initial_lookback: Duration::from_secs(2 * 86_400),
        ..EventsConfig::default()
    };
    sources_with(sim, &config, cursors)
}

fn pipeline(sink: &Arc<MemorySink>) -> Pipeline {
    Pipeline::new(
        Arc::new(Mapper::default()),
        Arc::new(Destination::Memory(Arc::clone(sink))),
        12_000,
        UnitLimits {
            max_events: 700,
            max_duration: Duration::from_millis(200),
        },
    )
}

/// Runs every source to its end.
async fn run_once(pipeline: &Pipeline, sources: Vec<EventSource>) -> RunReport {
    let (_stop, shutdown) = watch::channel(false);
    tokio::time::timeout(
        Duration::from_secs(120),
        pipeline.run(sources, Mode::Once, shutdown),
    )
    .await
    .expect("the run ends")
}

pub(crate) async fn ground_truth(sim: &SimHandle) -> BTreeSet<Identity> {
    let body = reqwest::Client::new()
        .get(format!("{}/__sim/events", sim.base_url()))
        .header("x-api-key", API_KEY)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    body.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let event: serde_json::Value = serde_json::from_str(line).unwrap();
            identity_of(&event["organization"], &event["id"], &event["timestamp"])
        })
        .collect()
}

pub(crate) fn identity_of(
    org: &serde_json::Value,
    id: &serde_json::Value,
    time: &serde_json::Value,
) -> Identity {
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_owned();
    (text(org), text(id), text(time))
}

/// The visible records, in the order they became visible.
pub(crate) fn visible(sink: &MemorySink) -> Vec<Identity> {
    sink.memory()
        .visible
        .iter()
        .filter_map(|line| match line {
            Line::Record { json, .. } => {
                let record: serde_json::Value = serde_json::from_slice(json).unwrap();
                let metadata = &record["metadata"];
                Some(identity_of(
                    &metadata["tenant_uid"],
                    &metadata["original_event_uid"],
                    &metadata["original_time"],
                ))
            }
            Line::DeadLetter(_) => None,
        })
        .collect()
}

/// Asserts every event of `truth` is visible exactly once, and nothing else.
#[track_caller]
pub(crate) fn assert_exactly_once(seen: &[Identity], truth: &BTreeSet<Identity>) {
    let mut counts: BTreeMap<&Identity, usize> = BTreeMap::new();
    for identity in seen {
        *counts.entry(identity).or_default() += 1;
    }
    let missing = truth.iter().filter(|i| !counts.contains_key(i)).count();
    let duplicated = counts.values().filter(|n| **n > 1).count();
    let foreign = counts.keys().filter(|i| !truth.contains(*i)).count();
    assert_eq!(
        (missing, duplicated, foreign),
        (0, 0, 0),
        "missing, duplicated, foreign of {} events",
        truth.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn units_deliver_every_event_once_in_the_order_of_its_source() {
    let sim = start_sim(2, 3_000).await;
    let sink = MemorySink::new(true);
    let pipeline = pipeline(&sink);
    let report = run_once(&pipeline, sources(&sim, &BTreeMap::new())).await;
    assert!(report.is_success(), "{report:?}");
    let seen = visible(&sink);
    assert_exactly_once(&seen, &ground_truth(&sim).await);
    // Within an organisation, records keep the source's (time) order.
    for org in sim.org_ids() {
        let times: Vec<_> = seen
            .iter()
            .filter(|i| i.0 == org)
            .map(|i| fetcher::timestamp::parse_timestamp(&i.2).unwrap())
            .collect();
        assert!(times.windows(2).all(|w| w[0] <= w[1]), "{org} out of order");
    }
    let (finished, cursors) = {
        let memory = sink.memory();
        (memory.finished, memory.cursors.clone())
    };
    assert!(finished > 3, "several units: {finished}");
    for org in sim.org_ids() {
        assert!(
            cursors.contains_key(&fetcher::events::live_checkpoint_key(&org)),
            "{org}'s cursor is durable"
        );
    }
    assert_eq!(pipeline.stats().totals().delivered, seen.len() as u64);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_unit_rewinds_every_source_and_nothing_is_lost_or_repeated() {
    let sim = start_sim(2, 2_000).await;
    let sink = MemorySink::new(true);
    sink.memory().faults.extend([
        Fault::Pass,
        Fault::Fail,
        Fault::Pass,
        Fault::Fail,
        Fault::Fail,
    ]);
    let pipeline = pipeline(&sink);
    let report = run_once(&pipeline, sources(&sim, &BTreeMap::new())).await;
    assert!(report.is_success(), "{report:?}");
    assert_exactly_once(&visible(&sink), &ground_truth(&sim).await);
    assert_eq!(
        pipeline.health().consecutive_failures(),
        0,
        "delivery works again"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fenced_writer_stops_the_run_and_writes_nothing_more() {
    let sim = start_sim(2, 2_000).await;
    let sink = MemorySink::new(true);
    sink.memory().faults.extend([Fault::Pass, Fault::Fence]);
    let pipeline = pipeline(&sink);
    let report = run_once(&pipeline, sources(&sim, &BTreeMap::new())).await;
    assert!(report.fenced.is_some(), "{report:?}");
    assert_eq!(sink.memory().finished, 2, "no unit after the fence");
    // Only the first unit is visible: whole batches of it, each event once.
    let seen = visible(&sink);
    assert!(
        !seen.is_empty() && seen.len() <= 700 + 300,
        "{}",
        seen.len()
    );
    let truth = ground_truth(&sim).await;
    let distinct: BTreeSet<&Identity> = seen.iter().collect();
    assert_eq!(distinct.len(), seen.len(), "no duplicates");
    assert!(seen.iter().all(|i| truth.contains(i)));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unit_of_unknown_fate_is_taken_from_the_state_and_not_delivered_again() {
    let sim = start_sim(2, 2_000).await;
    let sink = MemorySink::new(true);
    // The second unit commits, but the engine is told its fate is unknown.
    sink.memory()
        .faults
        .extend([Fault::Pass, Fault::CommitThenLose]);
    let pipeline = pipeline(&sink);
    let report = run_once(&pipeline, sources(&sim, &BTreeMap::new())).await;
    assert!(report.is_success(), "{report:?}");
    assert_exactly_once(&visible(&sink), &ground_truth(&sim).await);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_next_unit_is_mapped_while_one_commits_and_waits_to_be_handed_over() {
    let sim = start_sim(1, 3_000).await;
    let sink = MemorySink::new(true);
    let release = Arc::new(Notify::new());
    sink.memory()
        .faults
        .push_back(Fault::Hold(Arc::clone(&release)));
    let pipeline = Arc::new(pipeline(&sink));
    let running = {
        let pipeline = Arc::clone(&pipeline);
        let sources = sources(&sim, &BTreeMap::new());
        tokio::spawn(async move { run_once(&pipeline, sources).await })
    };
    // While the first unit commits (held), the next unit's records are mapped ...
    let mut mapped_ahead = false;
    for _ in 0..200 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let memory = sink.memory();
        if memory.finished == 1 && memory.prepared > memory.open.len() {
            mapped_ahead = true;
            break;
        }
    }
    let (open, prepared) = {
        let memory = sink.memory();
        (memory.open.len(), memory.prepared)
    };
    assert!(mapped_ahead, "mapped {prepared}, handed over {open}");
    // ... but not handed over: the transaction holds the first unit's records only.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        sink.memory().open.len(),
        open,
        "nothing handed over meanwhile"
    );
    assert!(open > 0 && open <= 700 + 300, "one unit: {open}");
    release.notify_one();
    let report = running.await.unwrap();
    assert!(report.is_success(), "{report:?}");
    assert_exactly_once(&visible(&sink), &ground_truth(&sim).await);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_least_once_no_cursor_passes_a_unit_still_waiting_for_its_acknowledgements() {
    let sim = start_sim(1, 1_500).await;
    let sink = MemorySink::new(false);
    let release = Arc::new(Notify::new());
    sink.memory()
        .faults
        .push_back(Fault::Hold(Arc::clone(&release)));
    let pipeline = Arc::new(pipeline(&sink));
    let (stop, shutdown) = watch::channel(false);
    let running = {
        let pipeline = Arc::clone(&pipeline);
        let sources = sources(&sim, &BTreeMap::new());
        tokio::spawn(async move { pipeline.run(sources, Mode::Follow, shutdown).await })
    };
    // The first unit waits for its acknowledgements; the source goes on: its later pages and
    // then its quiet windows (batches without events, which only move the cursor) are handed
    // over in later units, at least one of them in flight behind the first.
    for _ in 0..200 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        if sink.memory().visible.len() >= 1_500 {
            break;
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        sink.memory().visible.len(),
        1_500,
        "every record handed over"
    );
    assert!(
        sink.cursors().is_empty(),
        "no cursor is written while an earlier unit waits for its acknowledgements"
    );
    // The process dies here: what it leaves is every record once, and no cursor, so a restart
    // fetches everything again (duplicates, never a gap).
    running.abort();
    let _ = running.await;
    drop(stop);
    assert!(sink.cursors().is_empty());
    let restarted = MemorySink::new(false);
    let report = run_once(&pipeline_for(&restarted), sources(&sim, &sink.cursors())).await;
    assert!(report.is_success(), "{report:?}");
    assert_exactly_once(&visible(&restarted), &ground_truth(&sim).await);
    release.notify_one();
    sim.shutdown().await;
}

fn pipeline_for(sink: &Arc<MemorySink>) -> Pipeline {
    pipeline(sink)
}
