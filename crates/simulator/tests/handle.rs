//! The library handle: addresses, org ids, the schema registry on its own port, shutdown.

mod common;

use common::*;
use serde_json::{Value, json};
use simulator::SimConfig;

#[tokio::test]
async fn handle_serves_the_registry_on_its_own_port_and_shuts_down() {
    let sim = start(SimConfig {
        orgs: 2,
        registry_listen: Some("127.0.0.1:0".parse().unwrap()),
        ..config(50)
    })
    .await;
    assert!(sim.base_url().starts_with("http://127.0.0.1:"));
    let registry = sim.registry_url().expect("registry served");
    assert_ne!(registry, sim.base_url());
    let subjects = client()
        .get(format!("{registry}/subjects"))
        .send()
        .await
        .unwrap();
    assert_eq!(subjects.status(), 200);
    assert_eq!(subjects.json::<Value>().await.unwrap(), json!([]));
    assert_eq!(sim.event_count(), 50);
    let base = sim.base_url();
    sim.shutdown().await;
    assert!(
        client()
            .get(format!("{base}/__sim/orgs"))
            .header("x-api-key", KEY)
            .send()
            .await
            .is_err(),
        "stopped"
    );
}

#[tokio::test]
async fn skip_offsets_within_the_query() {
    let sim = start(config(300)).await;
    let since = since_days(8);
    let all: Vec<Value> = post_events(
        &sim,
        &json!({"service": ["all"], "start_time": since, "limit": 300}),
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    let skipped: Vec<Value> = post_events(
        &sim,
        &json!({"service": ["all"], "start_time": since, "limit": 50, "skip": 100}),
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(ids(&skipped), ids(&all[100..150]));
    sim.shutdown().await;
}

#[tokio::test]
async fn q_matches_text_anywhere_in_the_event() {
    let sim = start(config(1_000)).await;
    let truth = ground_truth(&sim, None).await;
    let hostname = truth
        .iter()
        .find_map(|e| e["system"]["hostname"].as_str())
        .unwrap()
        .to_owned();
    let expected = truth
        .iter()
        .filter(|e| {
            e.to_string()
                .to_lowercase()
                .contains(&hostname.to_lowercase())
        })
        .count();
    let got: Vec<Value> = post_events(&sim, &json!({"service": ["all"], "start_time": since_days(8), "limit": 10_000, "q": hostname.to_lowercase()}), None).await.json().await.unwrap();
    assert_eq!(got.len(), expected);
    assert!(got.iter().all(|e| e.to_string().contains(&hostname)));
    sim.shutdown().await;
}
