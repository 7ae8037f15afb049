//! The library handle: addresses, org ids, shutdown.

mod common;

use common::*;
use serde_json::{Value, json};
use simulator::SimConfig;

#[tokio::test]
async fn handle_serves_on_loopback_and_shuts_down() {
    let sim = start(SimConfig {
        orgs: 2,
        ..config(50)
    })
    .await;
    assert!(sim.base_url().starts_with("http://127.0.0.1:"));
    assert_eq!(sim.org_ids().len(), 2);
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
async fn skip_offsets_within_the_query_also_across_orgs() {
    let sim = start(SimConfig {
        orgs: 2,
        ..config(300)
    })
    .await;
    let orgs = sim.org_ids();
    let since = since_days(8);
    let request = |body: Value| {
        client()
            .post(events_url(&sim))
            .header("x-api-key", KEY)
            .header("x-org-id", &orgs[0])
            .header("x-org-id", &orgs[1])
            .json(&body)
    };
    let all: Vec<Value> =
        request(json!({"service": ["all"], "start_time": since, "limit": 300, "sort": "DESC"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert_eq!(all.len(), 300);
    let skipped: Vec<Value> = request(
        json!({"service": ["all"], "start_time": since, "limit": 50, "skip": 100, "sort": "DESC"}),
    )
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(ids(&skipped), ids(&all[100..150]));
    let home: Vec<Value> = post_events(
        &sim,
        &json!({"service": ["all"], "start_time": since, "limit": 150}),
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    let home_skipped: Vec<Value> = post_events(
        &sim,
        &json!({"service": ["all"], "start_time": since, "limit": 50, "skip": 100}),
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(ids(&home_skipped), ids(&home[100..150]));
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

#[tokio::test]
async fn malformed_events_are_served_and_in_the_ground_truth() {
    let sim = start(SimConfig {
        malformed_fraction: 0.2,
        ..config(2_000)
    })
    .await;
    let truth = ground_truth(&sim, None).await;
    let broken = |e: &Value| {
        e.get("id").is_none()
            || e.get("event_type").is_none()
            || e["timestamp"]
                .as_str()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .is_none()
            || e["geoip"].is_string()
            || e["success"].is_string()
    };
    let count = truth.iter().filter(|e| broken(e)).count();
    assert!((200..=600).contains(&count), "about 20% malformed: {count}");
    let mut served: Vec<String> = Vec::new();
    let mut body = json!({"service": ["all"], "start_time": since_days(8), "limit": 500});
    loop {
        let response = post_events(&sim, &body, None).await;
        let n: usize = header(&response, "x-result-count").parse().unwrap();
        body["search_after"] = serde_json::from_str(&header(&response, "x-search_after")).unwrap();
        let page: Vec<Value> = response.json().await.unwrap();
        served.extend(page.iter().map(Value::to_string));
        if n < 500 {
            break;
        }
    }
    let mut expected: Vec<String> = truth.iter().map(Value::to_string).collect();
    expected.sort();
    served.sort();
    assert_eq!(
        served, expected,
        "every event served exactly once, malformed ones too"
    );
    sim.shutdown().await;
}
