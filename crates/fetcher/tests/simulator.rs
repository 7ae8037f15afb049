//! The fetcher against the simulator over real HTTP: exactly-once under faults, late arrival,
//! restarts, token expiry, 401/402/403, empty windows, backfill, inventory paging.

mod common;

use common::Ledger;
use fetcher::{
    AuthConfig, ClientConfig, EventBatch, EventSource, EventsConfig, FetchError, JumpCloudClient,
    RetryConfig,
};
use rand::{Rng, SeedableRng};
use secrecy::SecretString;
use simulator::{SimConfig, SimHandle};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

const API_KEY: &str = "fetcher-test-key";
const LAG: Duration = Duration::from_secs(2);
const POLL: Duration = Duration::from_millis(200);

/// (organisation, id, timestamp) of an event.
type EventIdentity = (String, String, String);

async fn start_sim(config: SimConfig) -> SimHandle {
    let config = SimConfig {
        api_key: API_KEY.into(),
        ..config
    };
    simulator::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

fn client_config(base_url: &str) -> ClientConfig {
    ClientConfig {
        base_url: Some(base_url.to_string()),
        auth: AuthConfig::ApiKey {
            api_key: SecretString::from(API_KEY),
        },
        request_timeout: Duration::from_secs(5),
        connect_timeout: Duration::from_secs(2),
        max_requests_per_sec: 1000,
        retry: RetryConfig {
            max_retries: 12,
            min_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(300),
            max_retry_after: Duration::from_secs(2),
        },
        ..ClientConfig::default()
    }
}

/// The checkpoints in the file `config` names.
fn ledger(config: &EventsConfig) -> Arc<Ledger> {
    Arc::new(Ledger::open(
        config.checkpoint_path.as_deref().unwrap(),
        config.overlap,
    ))
}

fn events_config(dir: &Path, page_limit: usize) -> EventsConfig {
    EventsConfig {
        lag: LAG,
        overlap: Duration::from_secs(10),
        poll_interval: POLL,
        page_limit,
        initial_lookback: Duration::from_secs(3 * 86_400),
        checkpoint_path: Some(dir.join("checkpoints.json")),
        ..EventsConfig::default()
    }
}

async fn admin(
    sim: &SimHandle,
    method: reqwest::Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .request(method, format!("{}{path}", sim.base_url()))
        .header("x-api-key", API_KEY);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    assert!(
        response.status().is_success(),
        "{path}: {}",
        response.status()
    );
    response
}

/// The simulator's ground truth: identity -> exact JSON bytes.
async fn ground_truth(sim: &SimHandle) -> HashMap<EventIdentity, String> {
    let text = admin(sim, reqwest::Method::GET, "/__sim/events", None)
        .await
        .text()
        .await
        .unwrap();
    let mut truth = HashMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let value: serde_json::Value = serde_json::from_str(line).unwrap();
        let identity = (
            value["organization"].as_str().unwrap().to_string(),
            value["id"].as_str().unwrap().to_string(),
            value["timestamp"].as_str().unwrap().to_string(),
        );
        assert!(
            truth.insert(identity, line.to_string()).is_none(),
            "ground truth repeats {line}"
        );
    }
    truth
}

/// Every event delivered (and acknowledged) by the sink, with how often.
#[derive(Default)]
struct Sink {
    delivered: BTreeMap<EventIdentity, (usize, String)>,
}

impl Sink {
    fn take(&mut self, batch: &EventBatch) {
        for event in &batch.events {
            let identity = (
                event.org_id.to_string(),
                event.id.clone().expect("simulator events have ids"),
                event
                    .timestamp
                    .clone()
                    .expect("simulator events have timestamps"),
            );
            let bytes = String::from_utf8(event.bytes.to_vec()).unwrap();
            self.delivered.entry(identity).or_insert((0, bytes)).0 += 1;
        }
    }

    fn duplicates(&self) -> usize {
        self.delivered.values().map(|(count, _)| count - 1).sum()
    }

    /// Asserts the sink holds exactly the ground truth of `orgs`, each once, bytes verbatim.
    fn assert_exactly(&self, truth: &HashMap<EventIdentity, String>, orgs: &[String]) {
        assert_eq!(self.duplicates(), 0, "duplicated events");
        let expected: HashMap<_, _> = truth.iter().filter(|(k, _)| orgs.contains(&k.0)).collect();
        let missing: Vec<_> = expected
            .keys()
            .filter(|k| !self.delivered.contains_key(**k))
            .take(5)
            .collect();
        let unexpected: Vec<_> = self
            .delivered
            .keys()
            .filter(|k| !expected.contains_key(k))
            .take(5)
            .collect();
        assert!(
            missing.is_empty(),
            "missing {} events, e.g. {missing:?}",
            expected.len().saturating_sub(self.delivered.len())
        );
        assert!(
            unexpected.is_empty(),
            "unexpected events, e.g. {unexpected:?}"
        );
        assert_eq!(self.delivered.len(), expected.len());
        for (identity, (_, bytes)) in &self.delivered {
            assert_eq!(
                Some(bytes),
                expected.get(identity).copied(),
                "bytes differ for {identity:?}"
            );
        }
    }
}

/// Fetches and delivers until a window opened after `quiet_after` is complete.
async fn drain(source: &mut EventSource, sink: &mut Sink, ledger: &Ledger, quiet_after: Instant) {
    let mut window_opened = Instant::now();
    loop {
        match source.next_batch().await.unwrap() {
            Some(batch) => {
                sink.take(&batch);
                ledger.deliver(&batch);
            }
            None => {
                if window_opened > quiet_after {
                    return;
                }
                tokio::time::sleep(POLL).await;
                window_opened = Instant::now();
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_thousand_events_three_orgs_late_arrival_and_faults_arrive_exactly_once() {
    let sim = start_sim(SimConfig {
        seed: 7,
        orgs: 3,
        history_events: 50_000,
        history_days: 2,
        late_max_secs: 1.5,
        live_events_per_sec: 300.0,
        ..SimConfig::default()
    })
    .await;
    admin(
        &sim,
        reqwest::Method::POST,
        "/__sim/faults/random",
        Some(serde_json::json!({"probability": 0.1, "kinds": ["rate_limit", "server_error", "truncate", "reset"]})),
    )
    .await;
    // Besides the random ones, a 429 burst and 5xx answers for certain (a run with few requests
    // may draw only truncations and resets).
    for fault in [
        serde_json::json!({"kind": "rate_limit", "count": 2, "path_prefix": "/insights"}),
        serde_json::json!({"kind": "server_error", "count": 2, "status": 503, "path_prefix": "/insights"}),
    ] {
        admin(&sim, reqwest::Method::POST, "/__sim/faults", Some(fault)).await;
    }
    let dir = tempfile::tempdir().unwrap();
    // Lag (0.5 s) shorter than the late arrival (up to 1.5 s): events show up after their window
    // was read, and only the overlap re-fetch finds them.
    let config = EventsConfig {
        lag: Duration::from_millis(500),
        ..events_config(dir.path(), 3000)
    };
    let ledger = ledger(&config);
    let client = JumpCloudClient::new(client_config(&sim.base_url())).unwrap();
    let live_for = Duration::from_secs(4);
    let quiet_after = Instant::now() + live_for + Duration::from_millis(2000);
    let mut tasks = Vec::new();
    for org in sim.org_ids() {
        let mut source = EventSource::new(
            client.clone(),
            org.clone(),
            config.clone(),
            ledger.live(&org),
        )
        .unwrap();
        let ledger = Arc::clone(&ledger);
        tasks.push(tokio::spawn(async move {
            let mut sink = Sink::default();
            let stats = source.stats();
            // The first window spans two days of history (~17,000 events per org): the dedup
            // memory must still stay bounded by page + overlap, not by the window.
            let mut most_dedup_keys = 0;
            while let Some(batch) = source.next_batch().await.unwrap() {
                most_dedup_keys = most_dedup_keys.max(stats.dedup_keys.load(Ordering::Relaxed));
                sink.take(&batch);
                ledger.deliver(&batch);
            }
            drain(&mut source, &mut sink, &ledger, quiet_after).await;
            (sink, stats, most_dedup_keys)
        }));
    }
    tokio::time::sleep(live_for).await;
    sim.set_live_rate(0.0);
    let mut sink = Sink::default();
    let mut duplicates_skipped = 0;
    for task in tasks {
        let (org_sink, stats, most_dedup_keys) = task.await.unwrap();
        assert!(
            most_dedup_keys > 0 && most_dedup_keys < 8_000,
            "dedup keys held: {most_dedup_keys}"
        );
        duplicates_skipped += stats.duplicates_skipped.load(Ordering::Relaxed);
        for (identity, (count, bytes)) in org_sink.delivered {
            sink.delivered.entry(identity).or_insert((0, bytes)).0 += count;
        }
    }
    admin(&sim, reqwest::Method::DELETE, "/__sim/faults", None).await;
    let truth = ground_truth(&sim).await;
    assert!(
        truth.len() > 50_000,
        "live events were generated: {}",
        truth.len()
    );
    sink.assert_exactly(&truth, &sim.org_ids());
    let stats = client.stats();
    assert!(
        stats.retries.load(Ordering::Relaxed) > 0,
        "faults were injected and retried"
    );
    assert!(
        stats.responses_429.load(Ordering::Relaxed) + stats.responses_5xx.load(Ordering::Relaxed)
            > 0
    );
    // The overlap re-fetch really happened and its repeats were dropped.
    assert!(duplicates_skipped > 0);
    for org in sim.org_ids() {
        let saved = ledger.live(&org);
        assert!(saved.is_some(), "cursor committed for {org}");
    }
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_restarts_losing_batches_in_flight_lose_nothing_and_duplicate_nothing_delivered() {
    let sim = start_sim(SimConfig {
        seed: 11,
        orgs: 2,
        history_events: 6_000,
        history_days: 1,
        late_max_secs: 1.5,
        live_events_per_sec: 150.0,
        ..SimConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let config = events_config(dir.path(), 250);
    let client = JumpCloudClient::new(client_config(&sim.base_url())).unwrap();
    let orgs = sim.org_ids();
    let mut rng = rand::rngs::StdRng::seed_from_u64(2024);
    let mut sink = Sink::default();
    let mut unacked_batches = 0;
    for _restart in 0..20 {
        // A new process: the store is reopened from disk.
        let ledger = ledger(&config);
        for org in &orgs {
            let mut source = EventSource::new(
                client.clone(),
                org.clone(),
                config.clone(),
                ledger.live(org),
            )
            .unwrap();
            let batches = rng.random_range(1..8);
            for _ in 0..batches {
                let Some(batch) = source.next_batch().await.unwrap() else {
                    break;
                };
                if rng.random_bool(0.7) {
                    sink.take(&batch);
                    ledger.deliver(&batch);
                } else {
                    // Lost in flight: not delivered, and nothing after it is (delivery keeps
                    // the source's order); the process dies here.
                    unacked_batches += 1;
                    break;
                }
            }
            // Dropped here without delivering the rest.
        }
        assert_eq!(
            sink.duplicates(),
            0,
            "a delivered event was handed out again"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(unacked_batches > 0, "the random plan dropped some batches");
    sim.set_live_rate(0.0);
    let quiet_after = Instant::now() + LAG + Duration::from_millis(1600);
    let ledger = ledger(&config);
    for org in &orgs {
        let mut source = EventSource::new(
            client.clone(),
            org.clone(),
            config.clone(),
            ledger.live(org),
        )
        .unwrap();
        drain(&mut source, &mut sink, &ledger, quiet_after).await;
    }
    let truth = ground_truth(&sim).await;
    sink.assert_exactly(&truth, &orgs);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth_token_expiring_mid_run_is_refreshed_and_nothing_is_lost() {
    let sim = start_sim(SimConfig {
        seed: 3,
        orgs: 1,
        history_events: 2_000,
        history_days: 1,
        live_events_per_sec: 100.0,
        oauth_client_id: Some("svc-client".into()),
        oauth_client_secret: Some("svc-secret".into()),
        token_ttl_secs: 1,
        ..SimConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let config = EventsConfig {
        page_limit: 200,
        ..events_config(dir.path(), 200)
    };
    let mut client_config = client_config(&sim.base_url());
    client_config.auth = AuthConfig::Oauth {
        client_id: "svc-client".into(),
        client_secret: SecretString::from("svc-secret"),
        token_url: None,
        // No early refresh: the token really expires and the 401 path refreshes it.
        refresh_margin: Duration::ZERO,
    };
    let client = JumpCloudClient::new(client_config).unwrap();
    let ledger = ledger(&config);
    let org = sim.org_ids()[0].clone();
    let mut source =
        EventSource::new(client.clone(), org.clone(), config, ledger.live(&org)).unwrap();
    let mut sink = Sink::default();
    let live_for = Duration::from_secs(3);
    let quiet_after = Instant::now() + live_for + LAG + Duration::from_millis(500);
    let base_url = sim.base_url();
    let stopper = tokio::spawn(async move {
        tokio::time::sleep(live_for).await;
        reqwest::Client::new()
            .post(format!("{base_url}/__sim/live"))
            .header("x-api-key", API_KEY)
            .json(&serde_json::json!({"events_per_sec": 0.0}))
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap();
    });
    drain(&mut source, &mut sink, &ledger, quiet_after).await;
    stopper.await.unwrap();
    let truth = ground_truth(&sim).await;
    sink.assert_exactly(&truth, &[org]);
    let refreshes = client.stats().token_refreshes.load(Ordering::Relaxed);
    assert!(refreshes >= 2, "token refreshed after expiry: {refreshes}");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn org_without_directory_insights_fails_alone_with_the_remedy() {
    let sim = start_sim(SimConfig {
        seed: 5,
        orgs: 3,
        history_events: 3_000,
        history_days: 1,
        di_disabled_orgs: 1,
        // History ends before `now - lag`, so one window holds all of it.
        history_anchor_ns: Some(
            i64::try_from(
                (std::time::SystemTime::now() - Duration::from_secs(10))
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos(),
            )
            .unwrap(),
        ),
        ..SimConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let config = events_config(dir.path(), 500);
    let ledger = ledger(&config);
    let client = JumpCloudClient::new(client_config(&sim.base_url())).unwrap();
    let orgs = sim.org_ids();
    let disabled = orgs[2].clone();
    let mut tasks = Vec::new();
    for org in orgs.clone() {
        let mut source = EventSource::new(
            client.clone(),
            org.clone(),
            config.clone(),
            ledger.live(&org),
        )
        .unwrap();
        let ledger = Arc::clone(&ledger);
        tasks.push(tokio::spawn(async move {
            let mut sink = Sink::default();
            loop {
                match source.next_batch().await {
                    Ok(Some(batch)) => {
                        sink.take(&batch);
                        ledger.deliver(&batch);
                    }
                    Ok(None) => return (org, Ok(sink)),
                    Err(error) => return (org, Err(error)),
                }
            }
        }));
    }
    let mut healthy = Sink::default();
    for task in tasks {
        let (org, result) = task.await.unwrap();
        match result {
            Ok(sink) => {
                assert_ne!(org, disabled);
                healthy.delivered.extend(sink.delivered);
            }
            Err(error) => {
                assert_eq!(org, disabled);
                assert!(
                    matches!(error, FetchError::DirectoryInsightsDisabled { .. }),
                    "{error:?}"
                );
                let text = error.to_string();
                assert!(
                    text.contains("enable Directory Insights") && text.contains(&disabled),
                    "{text}"
                );
            }
        }
    }
    assert!(
        ledger.live(&disabled).is_none(),
        "a 402 never advances a cursor"
    );
    let truth = ground_truth(&sim).await;
    healthy.assert_exactly(&truth, &orgs[..2]);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_key_and_role_without_directory_insights_name_the_remedy() {
    let sim = start_sim(SimConfig {
        seed: 9,
        history_events: 100,
        history_days: 1,
        no_di_api_key: Some("viewer-key".into()),
        ..SimConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let config = events_config(dir.path(), 500);
    let ledger = ledger(&config);
    let org = sim.org_ids()[0].clone();
    for (key, expected) in [
        ("wrong-key", "regenerate"),
        ("viewer-key", "Directory Insights: View"),
    ] {
        let mut client_config = client_config(&sim.base_url());
        client_config.auth = AuthConfig::ApiKey {
            api_key: SecretString::from(key),
        };
        let client = JumpCloudClient::new(client_config.clone()).unwrap();
        let mut source =
            EventSource::new(client, org.clone(), config.clone(), ledger.live(&org)).unwrap();
        let error = source.next_batch().await.unwrap_err();
        let text = error.to_string();
        assert!(text.contains(expected), "{text}");
        assert!(!text.contains(key), "the key leaked: {text}");
        assert!(!format!("{error:?} {client_config:?}").contains(key));
        assert!(
            ledger.live(&org).is_none(),
            "an access error never advances a cursor"
        );
    }
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lag_beyond_the_cursor_sends_nothing_and_empty_windows_still_move_the_cursor() {
    let sim = start_sim(SimConfig {
        seed: 1,
        history_events: 0,
        history_days: 1,
        ..SimConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let org = sim.org_ids()[0].clone();
    let client = JumpCloudClient::new(client_config(&sim.base_url())).unwrap();
    let ledger = Ledger::open(&dir.path().join("checkpoints.json"), Duration::from_secs(1));

    // start > end: first-run cursor 1 s ago, lag 10 s, overlap 1 s -> no request at all.
    let config = EventsConfig {
        lag: Duration::from_secs(10),
        overlap: Duration::from_secs(1),
        initial_lookback: Duration::from_secs(1),
        ..events_config(dir.path(), 500)
    };
    let mut source =
        EventSource::new(client.clone(), org.clone(), config, ledger.live(&org)).unwrap();
    assert!(source.next_batch().await.unwrap().is_none());
    assert!(source.next_batch().await.unwrap().is_none());
    assert_eq!(
        client.stats().responses(),
        0,
        "a start > end window is never sent"
    );

    drop(source);

    // An empty window is a success: a batch without events moves the cursor to its end.
    let config = EventsConfig {
        initial_lookback: Duration::from_secs(60),
        ..events_config(dir.path(), 500)
    };
    let before = chrono::Utc::now();
    let mut source =
        EventSource::new(client.clone(), org.clone(), config, ledger.live(&org)).unwrap();
    let quiet = source
        .next_batch()
        .await
        .unwrap()
        .expect("the empty window's batch");
    assert!(quiet.events.is_empty() && quiet.keys.is_empty());
    assert!(
        source.next_batch().await.unwrap().is_none(),
        "then caught up"
    );
    assert_eq!(client.stats().responses_2xx.load(Ordering::Relaxed), 1);
    ledger.deliver(&quiet);
    let saved = ledger.live(&org).unwrap();
    assert!(
        saved.cursor > before - chrono::Duration::seconds(3),
        "cursor moved to the window end"
    );
    assert!(saved.cursor <= chrono::Utc::now() - chrono::Duration::seconds(2));
    assert!(saved.acked.is_empty());
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_truncated_bodies_resets_and_timeouts_are_retried() {
    let sim = start_sim(SimConfig {
        seed: 2,
        history_events: 800,
        history_days: 1,
        ..SimConfig::default()
    })
    .await;
    for fault in [
        serde_json::json!({"kind": "rate_limit", "count": 2, "retry_after_secs": 1, "path_prefix": "/insights"}),
        serde_json::json!({"kind": "truncate", "count": 2, "path_prefix": "/insights"}),
        serde_json::json!({"kind": "server_error", "count": 1, "status": 503, "path_prefix": "/insights"}),
        serde_json::json!({"kind": "reset", "count": 1, "path_prefix": "/insights"}),
        serde_json::json!({"kind": "slow", "count": 1, "delay_ms": 4000, "path_prefix": "/insights"}),
    ] {
        admin(&sim, reqwest::Method::POST, "/__sim/faults", Some(fault)).await;
    }
    let dir = tempfile::tempdir().unwrap();
    let config = events_config(dir.path(), 300);
    let ledger = ledger(&config);
    // A 1 s timeout turns the 4 s slow response into a timeout, which is retried.
    let client = JumpCloudClient::new(ClientConfig {
        request_timeout: Duration::from_secs(1),
        ..client_config(&sim.base_url())
    })
    .unwrap();
    let org = sim.org_ids()[0].clone();
    let mut source =
        EventSource::new(client.clone(), org.clone(), config, ledger.live(&org)).unwrap();
    let mut sink = Sink::default();
    drain(&mut source, &mut sink, &ledger, Instant::now()).await;
    let truth = ground_truth(&sim).await;
    sink.assert_exactly(&truth, &[org]);
    let stats = client.stats();
    assert_eq!(stats.responses_429.load(Ordering::Relaxed), 2);
    assert!(stats.responses_5xx.load(Ordering::Relaxed) >= 1);
    assert!(stats.retries.load(Ordering::Relaxed) >= 7);
    assert!(
        stats.transport_errors.load(Ordering::Relaxed) >= 4,
        "truncated x2, reset, timeout"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_is_sliced_by_count_and_resumes_from_its_checkpoint() {
    let sim = start_sim(SimConfig {
        seed: 4,
        history_events: 3_000,
        history_days: 2,
        ..SimConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let config = EventsConfig {
        backfill_slice_events: 400,
        ..events_config(dir.path(), 200)
    };
    let client = JumpCloudClient::new(client_config(&sim.base_url())).unwrap();
    let org = sim.org_ids()[0].clone();
    let to = chrono::Utc::now() - chrono::Duration::seconds(5);
    let from = to - chrono::Duration::days(3);
    let mut sink = Sink::default();
    {
        let ledger = ledger(&config);
        let mut source = EventSource::backfill(
            client.clone(),
            org.clone(),
            config.clone(),
            ledger.checkpoint(&fetcher::events::backfill_checkpoint_key(&org, from, to)),
            from,
            to,
        )
        .unwrap();
        for _ in 0..4 {
            let batch = source.next_batch().await.unwrap().unwrap();
            sink.take(&batch);
            ledger.deliver(&batch);
        }
        // One more batch handed out but never acknowledged: must come again after the restart.
        let _lost = source.next_batch().await.unwrap();
    }
    let ledger = ledger(&config);
    let mut source = EventSource::backfill(
        client.clone(),
        org.clone(),
        config.clone(),
        ledger.checkpoint(&fetcher::events::backfill_checkpoint_key(&org, from, to)),
        from,
        to,
    )
    .unwrap();
    while let Some(batch) = source.next_batch().await.unwrap() {
        sink.take(&batch);
        ledger.deliver(&batch);
    }
    assert!(source.is_finished());
    let slices = source.stats().backfill_slices.load(Ordering::Relaxed);
    assert!(
        slices >= 6,
        "the rest of 3000 events in slices of at most 400: {slices} slices"
    );
    assert!(
        source.next_batch().await.unwrap().is_none(),
        "a finished backfill stays finished"
    );
    // The restarted backfill counted what was left and fetched all of it.
    let expected = source.stats().backfill_expected.load(Ordering::Relaxed);
    assert!(expected > 0 && expected <= 3_000, "{expected}");
    assert_eq!(source.stats().backfill_progress(), Some(1.0));
    let truth: HashMap<_, _> = ground_truth(&sim)
        .await
        .into_iter()
        .filter(|(identity, _)| {
            let time = chrono::DateTime::parse_from_rfc3339(&identity.2).unwrap();
            time >= from && time < to
        })
        .collect();
    assert_eq!(truth.len(), 3_000);
    sink.assert_exactly(&truth, &[org]);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inventory_lists_page_with_limit_skip_and_sort() {
    let sim = start_sim(SimConfig {
        seed: 8,
        history_events: 0,
        users_per_org: 57,
        groups_per_org: 13,
        ..SimConfig::default()
    })
    .await;
    let client = JumpCloudClient::new(client_config(&sim.base_url())).unwrap();
    let org = sim.org_ids()[0].clone();
    let users = client
        .list_v1(Some(&org), "/api/systemusers", 10)
        .await
        .unwrap();
    let ids: std::collections::BTreeSet<_> = users
        .iter()
        .map(|u| u["_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(users.len(), 57);
    assert_eq!(ids.len(), 57);
    let groups = client
        .list_v2(Some(&org), "/api/v2/usergroups", 5)
        .await
        .unwrap();
    let group_ids: std::collections::BTreeSet<_> = groups
        .iter()
        .map(|g| g["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(groups.len(), group_ids.len());
    assert!(groups.len() >= 13);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth_token_is_refreshed_before_expiry_without_any_401() {
    let sim = start_sim(SimConfig {
        seed: 6,
        history_events: 500,
        history_days: 1,
        oauth_client_id: Some("svc-client".into()),
        oauth_client_secret: Some("svc-secret".into()),
        token_ttl_secs: 1,
        ..SimConfig::default()
    })
    .await;
    let mut client_config = client_config(&sim.base_url());
    client_config.auth = AuthConfig::Oauth {
        client_id: "svc-client".into(),
        client_secret: SecretString::from("svc-secret"),
        token_url: None,
        refresh_margin: Duration::from_secs(30),
    };
    let client = JumpCloudClient::new(client_config).unwrap();
    let org = sim.org_ids()[0].clone();
    let mut users = 0;
    for _ in 0..6 {
        users = client
            .list_v1(Some(&org), "/api/systemusers", 100)
            .await
            .unwrap()
            .len();
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert_eq!(users, SimConfig::default().users_per_org);
    let stats = client.stats();
    assert_eq!(
        stats.responses_4xx.load(Ordering::Relaxed),
        0,
        "no request went out with an expired token"
    );
    assert!(stats.token_refreshes.load(Ordering::Relaxed) >= 3);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_mode_waits_for_new_events_after_catching_up() {
    let sim = start_sim(SimConfig {
        seed: 12,
        history_events: 0,
        history_days: 1,
        ..SimConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let config = EventsConfig {
        lag: Duration::from_millis(300),
        ..events_config(dir.path(), 500)
    };
    let ledger = ledger(&config);
    let client = JumpCloudClient::new(client_config(&sim.base_url())).unwrap();
    let org = sim.org_ids()[0].clone();
    let mut source = EventSource::new(client, org.clone(), config, ledger.live(&org)).unwrap();
    while let Some(batch) = source.next_batch().await.unwrap() {
        assert!(batch.events.is_empty(), "nothing yet");
    }
    sim.set_live_rate(50.0);
    // Polling again after each complete window brings the new events. The deadline only
    // guards against a hang; the assertion is on content.
    let polling = async {
        loop {
            match source.next_batch().await.unwrap() {
                Some(batch) if !batch.events.is_empty() => return batch,
                Some(_) => {}
                None => tokio::time::sleep(POLL).await,
            }
        }
    };
    let batch = tokio::time::timeout(Duration::from_secs(30), polling)
        .await
        .unwrap();
    assert!(
        batch
            .events
            .iter()
            .all(|e| *e.org_id == *org && e.id.is_some())
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configured_service_list_fetches_exactly_those_services() {
    let sim = start_sim(SimConfig {
        seed: 13,
        history_events: 3_000,
        history_days: 1,
        ..SimConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let services = vec!["sso".to_string(), "radius".to_string()];
    let config = EventsConfig {
        services: services.clone(),
        ..events_config(dir.path(), 400)
    };
    let ledger = ledger(&config);
    let client = JumpCloudClient::new(client_config(&sim.base_url())).unwrap();
    let org = sim.org_ids()[0].clone();
    let mut source = EventSource::new(client, org.clone(), config, ledger.live(&org)).unwrap();
    let mut sink = Sink::default();
    drain(&mut source, &mut sink, &ledger, Instant::now()).await;
    let truth: HashMap<_, _> = ground_truth(&sim)
        .await
        .into_iter()
        .filter(|(_, json)| {
            let value: serde_json::Value = serde_json::from_str(json).unwrap();
            services.iter().any(|s| value["service"] == s.as_str())
        })
        .collect();
    assert!(
        !truth.is_empty() && truth.len() < 3_000,
        "a strict subset: {}",
        truth.len()
    );
    sink.assert_exactly(&truth, &[org]);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_service_is_rejected_with_the_server_message_and_no_retry() {
    let sim = start_sim(SimConfig {
        seed: 14,
        history_events: 10,
        history_days: 1,
        ..SimConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let config = EventsConfig {
        services: vec!["no_such_service".into()],
        ..events_config(dir.path(), 400)
    };
    let ledger = ledger(&config);
    let client = JumpCloudClient::new(client_config(&sim.base_url())).unwrap();
    let org = sim.org_ids()[0].clone();
    let mut source =
        EventSource::new(client.clone(), org.clone(), config, ledger.live(&org)).unwrap();
    let error = source.next_batch().await.unwrap_err();
    assert!(
        matches!(error, FetchError::Rejected { status: 400, .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("no_such_service"), "{error}");
    assert_eq!(client.stats().retries.load(Ordering::Relaxed), 0);
    assert!(ledger.live(&org).is_none());
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_asked_smaller_than_page_limit_still_bring_every_event_once() {
    let sim = start_sim(SimConfig {
        seed: 31,
        orgs: 1,
        history_events: 2_500,
        history_days: 1,
        late_max_secs: 0.0,
        // History ends a minute ago: every event is older than the lag.
        history_anchor_ns: Some(simulator::ids::now_ns() - 60 * 1_000_000_000),
        ..SimConfig::default()
    })
    .await;
    let truth = ground_truth(&sim).await;
    let dir = tempfile::tempdir().unwrap();
    let config = events_config(dir.path(), 1_000);
    let ledger = ledger(&config);
    let client = JumpCloudClient::new(client_config(&sim.base_url())).unwrap();
    let org = sim.org_ids()[0].clone();
    let mut source = EventSource::new(client, org.clone(), config, ledger.live(&org)).unwrap();
    let mut seen: Vec<EventIdentity> = Vec::new();
    // Alternate room for 137 and for 1,000 events (a pipeline short of memory).
    for room in [137, 1_000].into_iter().cycle() {
        let Some(batch) = source.next_batch_of(room).await.unwrap() else {
            break;
        };
        assert!(
            batch.events.len() <= room,
            "{} > {room}",
            batch.events.len()
        );
        for event in &batch.events {
            seen.push((
                event.org_id.to_string(),
                event.id.clone().unwrap(),
                event.timestamp.clone().unwrap(),
            ));
        }
        ledger.deliver(&batch);
    }
    let unique: std::collections::HashSet<_> = seen.iter().cloned().collect();
    assert_eq!(unique.len(), seen.len(), "no event twice");
    let expected: std::collections::HashSet<_> = truth.keys().cloned().collect();
    assert_eq!(unique, expected, "every event, none missing");
    sim.shutdown().await;
}
