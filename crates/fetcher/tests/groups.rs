//! Organisations queried in groups, against the simulator over real HTTP: every organisation's
//! events once, a refused organisation isolated without stopping the others, a backlog paged
//! alone; the provider's organisations listed (and a new one found); the provider's own events.

mod common;

use common::Ledger;
use fetcher::{
    AuthConfig, ClientConfig, EventSource, EventsConfig, JumpCloudClient, OrgGroup, RetryConfig,
    Turn, TurnOutcome,
};
use secrecy::SecretString;
use simulator::{SimConfig, SimHandle};
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

const API_KEY: &str = "groups-test-key";
/// Identity of an event: organisation, id, timestamp.
type Identity = (String, String, String);

async fn start_sim(config: SimConfig) -> SimHandle {
    let config = SimConfig {
        api_key: API_KEY.into(),
        users_per_org: 3,
        systems_per_org: 2,
        groups_per_org: 1,
        applications_per_org: 1,
        // History ends an hour ago: every event is older than the lag.
        history_anchor_ns: Some(simulator::ids::now_ns() - 3_600 * 1_000_000_000),
        history_days: 1,
        ..config
    };
    simulator::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

fn client(sim: &SimHandle) -> JumpCloudClient {
    JumpCloudClient::new(ClientConfig {
        base_url: Some(sim.base_url()),
        auth: AuthConfig::ApiKey {
            api_key: SecretString::from(API_KEY),
        },
        max_requests_per_sec: 1000,
        retry: RetryConfig {
            max_retries: 3,
            min_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(50),
            max_retry_after: Duration::from_secs(1),
        },
        ..ClientConfig::default()
    })
    .unwrap()
}

fn events_config(page_limit: usize) -> EventsConfig {
    EventsConfig {
        lag: Duration::from_secs(5),
        overlap: Duration::from_secs(60),
        poll_interval: Duration::from_secs(600),
        page_limit,
        initial_lookback: Duration::from_secs(3 * 86_400),
        ..EventsConfig::default()
    }
}

fn ledger(dir: &tempfile::TempDir) -> Ledger {
    Ledger::open(
        &dir.path().join("checkpoints.json"),
        events_config(1).overlap,
    )
}

/// The simulator's events of `org`: identities.
async fn truth_of(sim: &SimHandle, org: &str) -> Vec<Identity> {
    let text = reqwest::Client::new()
        .get(format!("{}/__sim/events?org={org}", sim.base_url()))
        .header("x-api-key", API_KEY)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let value: serde_json::Value = serde_json::from_str(line).unwrap();
            (
                value["organization"].as_str().unwrap().to_owned(),
                value["id"].as_str().unwrap().to_owned(),
                value["timestamp"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Runs the group's turns until every member completed a window or `turns` ran out;
/// acknowledges every batch and counts each event (by identity) and each failure.
struct Driven {
    delivered: BTreeMap<Identity, usize>,
    failures: Vec<(String, String)>,
}

async fn drive(group: &mut OrgGroup, ledger: &Ledger, turns: usize) -> Driven {
    let mut driven = Driven {
        delivered: BTreeMap::new(),
        failures: Vec::new(),
    };
    for _ in 0..turns {
        if group.all_completed() {
            break;
        }
        if let Turn::Wait(wait) = group.next_turn() {
            tokio::time::sleep(wait.min(Duration::from_millis(50))).await;
            continue;
        }
        let TurnOutcome {
            batches, failed, ..
        } = group.take_turn(10_000).await;
        driven.failures.extend(failed);
        for batch in batches {
            for event in &batch.events {
                assert_eq!(
                    event.org_id, batch.org_id,
                    "an event in another org's batch"
                );
                let identity = (
                    event.org_id.to_string(),
                    event.id.clone().unwrap(),
                    event.timestamp.clone().unwrap(),
                );
                let json: serde_json::Value = serde_json::from_slice(&event.bytes).unwrap();
                assert_eq!(json["organization"], &*batch.org_id);
                *driven.delivered.entry(identity).or_default() += 1;
            }
            ledger.deliver(&batch);
        }
    }
    driven
}

fn sources(
    client: &JumpCloudClient,
    orgs: &[String],
    config: &EventsConfig,
    ledger: &Ledger,
) -> Vec<EventSource> {
    orgs.iter()
        .map(|org| {
            EventSource::new(
                client.clone(),
                org.clone(),
                config.clone(),
                ledger.live(org),
            )
            .unwrap()
        })
        .collect()
}

#[tokio::test]
async fn a_grouped_sweep_delivers_every_organisations_events_once_with_fewer_requests() {
    let sim = start_sim(SimConfig {
        orgs: 6,
        history_events: 3_000,
        ..SimConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let client = client(&sim);
    let ledger = ledger(&dir);
    let orgs = sim.org_ids();
    let mut group = OrgGroup::new(sources(&client, &orgs, &events_config(1_000), &ledger)).unwrap();
    let driven = drive(&mut group, &ledger, 100).await;
    assert!(driven.failures.is_empty(), "{:?}", driven.failures);
    assert!(group.all_completed());
    let mut expected = Vec::new();
    for org in &orgs {
        expected.extend(truth_of(&sim, org).await);
    }
    assert_eq!(expected.len(), 3_000);
    let delivered: Vec<&Identity> = driven.delivered.keys().collect();
    expected.sort();
    assert_eq!(delivered, expected.iter().collect::<Vec<_>>());
    assert!(
        driven.delivered.values().all(|&n| n == 1),
        "an event came twice"
    );
    // 3,000 events in pages of 1,000: 4 grouped requests (the last one short), where one
    // request per organisation would have needed at least 6.
    assert_eq!(client.stats().responses_2xx.load(Ordering::Relaxed), 4);
    for source in group.sources() {
        assert!(source.stats().last_window_end_ms.load(Ordering::Relaxed) > 0);
    }
}

#[tokio::test]
async fn an_organisation_refused_inside_a_group_is_isolated_and_the_others_go_on() {
    let sim = start_sim(SimConfig {
        orgs: 7,
        history_events: 1_400,
        di_disabled_orgs: 1,
        ..SimConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let client = client(&sim);
    let ledger = ledger(&dir);
    let orgs = sim.org_ids();
    let disabled = orgs.last().unwrap().clone();
    let mut group =
        OrgGroup::new(sources(&client, &orgs, &events_config(10_000), &ledger)).unwrap();
    let driven = drive(&mut group, &ledger, 20).await;
    // The refused organisation never completes; the others did, every event once.
    assert!(!group.all_completed());
    let mut expected = Vec::new();
    for org in &orgs[..orgs.len() - 1] {
        expected.extend(truth_of(&sim, org).await);
    }
    expected.sort();
    assert_eq!(
        driven.delivered.keys().collect::<Vec<_>>(),
        expected.iter().collect::<Vec<_>>()
    );
    assert!(driven.delivered.values().all(|&n| n == 1));
    assert!(!driven.delivered.keys().any(|(org, _, _)| *org == disabled));
    // Its error is its own, named, and no other organisation failed.
    assert!(!driven.failures.is_empty());
    for (org, error) in &driven.failures {
        assert_eq!(org, &disabled, "{error}");
        assert!(error.contains("402"), "{error}");
    }
    for source in group.sources() {
        let completed = source.stats().last_window_end_ms.load(Ordering::Relaxed) > 0;
        assert_eq!(
            completed,
            source.org_id() != disabled,
            "{}",
            source.org_id()
        );
    }
}

#[tokio::test]
async fn a_member_far_behind_is_paged_alone_and_the_others_are_swept_together() {
    let sim = start_sim(SimConfig {
        orgs: 4,
        history_events: 800,
        ..SimConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let client = client(&sim);
    let ledger = ledger(&dir);
    let orgs = sim.org_ids();
    let config = events_config(10_000);
    // Three organisations were caught up an hour and a half ago; the fourth starts from the
    // initial lookback (three days): it is paged alone.
    let recent = chrono::Utc::now() - chrono::Duration::minutes(90);
    for org in &orgs[..3] {
        ledger.save(
            &fetcher::events::live_checkpoint_key(org),
            &fetcher::Checkpoint {
                cursor: recent,
                acked: Vec::new(),
                updated_at: recent,
            },
        );
    }
    let mut group = OrgGroup::new(sources(&client, &orgs, &config, &ledger)).unwrap();
    let driven = drive(&mut group, &ledger, 20).await;
    assert!(driven.failures.is_empty(), "{:?}", driven.failures);
    assert!(group.all_completed());
    // The three swept together: their events since their cursor (minus the overlap) only.
    let start = recent - chrono::Duration::seconds(60);
    let mut expected = Vec::new();
    for (i, org) in orgs.iter().enumerate() {
        for identity in truth_of(&sim, org).await {
            let time = chrono::DateTime::parse_from_rfc3339(&identity.2).unwrap();
            if i == 3 || time >= start {
                expected.push(identity);
            }
        }
    }
    expected.sort();
    assert_eq!(
        driven.delivered.keys().collect::<Vec<_>>(),
        expected.iter().collect::<Vec<_>>()
    );
    // One grouped request for the three, one alone for the fourth.
    assert_eq!(client.stats().responses_2xx.load(Ordering::Relaxed), 2);
}

#[tokio::test]
async fn the_provider_lists_its_organisations_page_by_page_and_a_new_one_once_it_joins() {
    let sim = start_sim(SimConfig {
        orgs: 230,
        history_events: 0,
        unlisted_orgs: 1,
        ..SimConfig::default()
    })
    .await;
    let client = client(&sim);
    let all = sim.org_ids();
    let listed = client
        .provider_organizations(&sim.provider_id())
        .await
        .unwrap();
    assert_eq!(listed, all[..229].to_vec());
    // Three pages of at most 100.
    assert_eq!(client.stats().responses_2xx.load(Ordering::Relaxed), 3);
    let newcomer = all.last().unwrap();
    let joined = reqwest::Client::new()
        .post(format!("{}/__sim/orgs/{newcomer}/join", sim.base_url()))
        .header("x-api-key", API_KEY)
        .send()
        .await
        .unwrap();
    assert!(joined.status().is_success());
    let listed = client
        .provider_organizations(&sim.provider_id())
        .await
        .unwrap();
    assert_eq!(listed, all);
    let error = client
        .provider_organizations("000000000000000000000000")
        .await
        .unwrap_err();
    assert!(error.to_string().contains("404"), "{error}");
}

#[tokio::test]
async fn the_providers_own_events_are_a_source_of_their_own() {
    let sim = start_sim(SimConfig {
        orgs: 2,
        history_events: 100,
        provider_events: 40,
        ..SimConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let client = client(&sim);
    let ledger = ledger(&dir);
    let provider = sim.provider_id();
    let mut source = EventSource::provider(
        client,
        &provider,
        events_config(10_000),
        ledger.checkpoint(&fetcher::events::provider_checkpoint_key(&provider)),
    )
    .unwrap();
    assert!(!source.is_groupable());
    assert_eq!(source.org_id(), format!("provider/{provider}"));
    let mut seen = Vec::new();
    while let Some(batch) = source.next_batch().await.unwrap() {
        for event in &batch.events {
            let json: serde_json::Value = serde_json::from_slice(&event.bytes).unwrap();
            assert_eq!(json["organization"], provider.as_str());
            seen.push(event.id.clone().unwrap());
        }
        ledger.deliver(&batch);
    }
    let mut expected: Vec<String> = truth_of(&sim, &provider)
        .await
        .into_iter()
        .map(|(_, id, _)| id)
        .collect();
    expected.sort();
    seen.sort();
    assert_eq!(seen.len(), 40);
    assert_eq!(seen, expected);
    let checkpoint = ledger
        .checkpoint(&format!("events/provider/{provider}"))
        .expect("the provider's cursor is stored under its own key");
    assert!(checkpoint.cursor > chrono::Utc::now() - chrono::Duration::minutes(1));
}

async fn set_listed(sim: &SimHandle, org: &str, action: &str) {
    let response = reqwest::Client::new()
        .post(format!("{}/__sim/orgs/{org}/{action}", sim.base_url()))
        .header("x-api-key", API_KEY)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
}

#[tokio::test]
async fn an_organisation_refused_in_the_middle_of_a_window_comes_back_without_loss_or_repeat() {
    let sim = start_sim(SimConfig {
        orgs: 3,
        history_events: 1_500,
        ..SimConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let client = client(&sim);
    let ledger = ledger(&dir);
    let orgs = sim.org_ids();
    // Pages of 100: the grouped window takes 16 pages.
    let mut group = OrgGroup::new(sources(&client, &orgs, &events_config(100), &ledger)).unwrap();
    let mut delivered: BTreeMap<Identity, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    for turn in 0..400 {
        if group.all_completed() {
            break;
        }
        if turn == 5 {
            // The third organisation is refused (403) from the sixth page on ...
            set_listed(&sim, &orgs[2], "leave").await;
        }
        if turn == 40 {
            // ... and answers again later: it resumes alone, then rejoins.
            set_listed(&sim, &orgs[2], "join").await;
        }
        if let Turn::Wait(wait) = group.next_turn() {
            tokio::time::sleep(wait.min(Duration::from_millis(50))).await;
            continue;
        }
        let outcome = group.take_turn(10_000).await;
        failures.extend(outcome.failed);
        for batch in outcome.batches {
            for event in &batch.events {
                let identity = (
                    event.org_id.to_string(),
                    event.id.clone().unwrap(),
                    event.timestamp.clone().unwrap(),
                );
                *delivered.entry(identity).or_default() += 1;
            }
            ledger.deliver(&batch);
        }
    }
    assert!(group.all_completed(), "failures: {failures:?}");
    assert!(!failures.is_empty(), "the refusal was seen");
    assert!(
        failures
            .iter()
            .all(|(org, e)| *org == orgs[2] && e.contains("403"))
    );
    let mut expected = Vec::new();
    for org in &orgs {
        expected.extend(truth_of(&sim, org).await);
    }
    expected.sort();
    assert_eq!(
        delivered.keys().collect::<Vec<_>>(),
        expected.iter().collect::<Vec<_>>()
    );
    let repeated: Vec<_> = delivered.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        repeated.is_empty(),
        "{} events delivered more than once, e.g. {:?}",
        repeated.len(),
        repeated.first()
    );
}

#[tokio::test]
async fn a_request_refused_as_too_large_is_asked_again_for_fewer_organisations() {
    // 120 x-org-id headers are more than the simulator's server takes (hyper: 100 headers):
    // 431, then two requests of 60.
    let sim = start_sim(SimConfig {
        orgs: 120,
        history_events: 1_200,
        ..SimConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let client = client(&sim);
    let ledger = ledger(&dir);
    let orgs = sim.org_ids();
    let config = EventsConfig {
        group_size: 120,
        ..events_config(10_000)
    };
    let mut group = OrgGroup::new(sources(&client, &orgs, &config, &ledger)).unwrap();
    let driven = drive(&mut group, &ledger, 20).await;
    assert!(driven.failures.is_empty(), "{:?}", driven.failures);
    let stats = client.stats();
    assert!(
        group.all_completed(),
        "2xx {} 4xx {} transport {} delivered {}",
        stats.responses_2xx.load(Ordering::Relaxed),
        stats.responses_4xx.load(Ordering::Relaxed),
        stats.transport_errors.load(Ordering::Relaxed),
        driven.delivered.len()
    );
    assert_eq!(driven.delivered.len(), 1_200);
    assert!(driven.delivered.values().all(|&n| n == 1));
    assert_eq!(stats.responses_4xx.load(Ordering::Relaxed), 1, "one 431");
    assert_eq!(
        stats.responses_2xx.load(Ordering::Relaxed),
        2,
        "two requests of 60"
    );
}
