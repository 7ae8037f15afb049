//! Late arrival and live events: an event is served only once visible; a naive cursor loses
//! events, the ground truth has them all.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::*;
use serde_json::{Value, json};
use simulator::SimConfig;

#[tokio::test]
async fn late_events_appear_only_after_their_delay() {
    let sim = start(SimConfig {
        late_max_secs: 2.0,
        live_events_per_sec: 200.0,
        ..config(0)
    })
    .await;
    let since = (chrono::Utc::now() - chrono::Duration::minutes(1)).to_rfc3339();
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    sim.set_live_rate(0.0);
    let held = ground_truth(&sim, None).await;
    assert!(held.len() > 100, "live events generated: {}", held.len());
    let body = json!({"service": ["all"], "start_time": since, "limit": 10_000});
    let (visible_now, _) = page_all(&sim, body.clone(), None).await;
    assert!(
        visible_now.len() < held.len(),
        "some events are not visible yet ({} of {})",
        visible_now.len(),
        held.len()
    );

    // a naive collector: cursor = newest timestamp seen, start_time = cursor
    let newest = visible_now
        .iter()
        .map(|e| e["timestamp"].as_str().unwrap().to_owned())
        .max_by_key(|t| chrono::DateTime::parse_from_rfc3339(t).unwrap())
        .unwrap();

    tokio::time::sleep(Duration::from_millis(2_200)).await;
    let (visible_later, _) = page_all(&sim, body.clone(), None).await;
    let truth: HashSet<String> = ids(&held).into_iter().collect();
    assert_eq!(
        unique(&ids(&visible_later)),
        truth,
        "after late_max every event is served"
    );

    let (naive, _) = page_all(
        &sim,
        json!({"service": ["all"], "start_time": newest, "limit": 10_000}),
        None,
    )
    .await;
    let naive_seen: HashSet<String> = ids(&visible_now).into_iter().chain(ids(&naive)).collect();
    assert!(
        naive_seen.len() < truth.len(),
        "a naive cursor loses late events ({} of {})",
        naive_seen.len(),
        truth.len()
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn live_rate_can_be_changed_over_http() {
    let sim = start(config(0)).await;
    assert_eq!(ground_truth(&sim, None).await.len(), 0);
    let response = admin_post(&sim, "/__sim/live", json!({"events_per_sec": 300.0})).await;
    assert_eq!(response.status(), 200);
    tokio::time::sleep(Duration::from_millis(500)).await;
    admin_post(&sim, "/__sim/live", json!({"events_per_sec": 0})).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let stopped = ground_truth(&sim, None).await.len();
    assert!(stopped > 50, "live events generated: {stopped}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(ground_truth(&sim, None).await.len(), stopped, "stopped");
    let events: Vec<Value> = post_events(
        &sim,
        &json!({"service": ["all"], "start_time": since_days(1), "limit": 10_000}),
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(
        events.len(),
        stopped,
        "late arrival off: all visible at once"
    );
    let bad = admin_post(&sim, "/__sim/live", json!({"events_per_sec": "fast"})).await;
    assert_eq!(bad.status(), 400);
    sim.shutdown().await;
}

/// Visible events of `org` (all of them, paged), by id.
async fn visible_ids(sim: &simulator::SimHandle, org: &str) -> HashSet<String> {
    let body = json!({"service": ["all"], "start_time": since_days(2), "limit": 10_000});
    let (events, _) = page_all(sim, body, Some(org)).await;
    unique(&ids(&events))
}

async fn count(sim: &simulator::SimHandle, org: &str) -> u64 {
    let response = client()
        .post(format!("{}/count", events_url(sim)))
        .header("x-api-key", KEY)
        .header("x-org-id", org)
        .json(&json!({"service": ["all"], "start_time": since_days(8)}))
        .send()
        .await
        .unwrap();
    response.json::<Value>().await.unwrap()["count"]
        .as_u64()
        .unwrap()
}

#[tokio::test]
async fn held_events_are_visible_and_counted_only_after_their_delay_and_stay_in_the_ground_truth() {
    let sim = start(config(0)).await;
    let org = sim.org_ids()[0].clone();
    let response = admin_post(
        &sim,
        &format!("/__sim/orgs/{org}/hold"),
        json!({"next": 5, "delay_secs": 1.5}),
    )
    .await;
    assert_eq!(response.status(), 200);
    sim.set_live_rate(200.0);
    tokio::time::sleep(Duration::from_millis(400)).await;
    sim.set_live_rate(0.0);
    let truth: HashSet<String> = unique(&ids(&ground_truth(&sim, Some(&org)).await));
    let held: Vec<Value> = get_json(&sim, "/__sim/held").await;
    assert_eq!(held.len(), 5, "{held:?}");
    let held_ids: HashSet<String> = held
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    assert!(held_ids.is_subset(&truth), "the ground truth keeps them");
    let now = visible_ids(&sim, &org).await;
    assert!(now.is_disjoint(&held_ids), "not visible yet");
    assert_eq!(
        count(&sim, &org).await,
        (truth.len() - 5) as u64,
        "nor counted"
    );
    tokio::time::sleep(Duration::from_millis(1_700)).await;
    assert_eq!(
        visible_ids(&sim, &org).await,
        truth,
        "visible after the delay"
    );
    assert_eq!(count(&sim, &org).await, truth.len() as u64);
    // The events after the held ones were not held.
    sim.set_live_rate(100.0);
    tokio::time::sleep(Duration::from_millis(200)).await;
    sim.set_live_rate(0.0);
    assert_eq!(sim.held().len(), 5);
    sim.shutdown().await;
}

#[tokio::test]
async fn hidden_events_leave_the_count_for_a_while() {
    let sim = start(config(300)).await;
    let org = sim.org_ids()[0].clone();
    let before = count(&sim, &org).await;
    let response = admin_post(
        &sim,
        &format!("/__sim/orgs/{org}/hide"),
        json!({"start": since_days(8), "end": chrono::Utc::now().to_rfc3339(), "count": 7, "for_secs": 1.0}),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().await.unwrap()["hidden"], 7);
    assert_eq!(count(&sim, &org).await, before - 7);
    assert_eq!(ground_truth(&sim, Some(&org)).await.len() as u64, before);
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    assert_eq!(count(&sim, &org).await, before);
    let bad = admin_post(
        &sim,
        &format!("/__sim/orgs/{org}/hide"),
        json!({"count": 1}),
    )
    .await;
    assert_eq!(bad.status(), 400);
    sim.shutdown().await;
}
