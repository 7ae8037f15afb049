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
