//! Faults on demand, each seen by a real HTTP client.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};

fn body() -> Value {
    json!({"service": ["all"], "start_time": since_days(8), "limit": 200})
}

#[tokio::test]
async fn each_queued_fault_appears_when_asked() {
    let sim = start(config(500)).await;

    // 429 with Retry-After, then without
    assert_eq!(
        admin_post(
            &sim,
            "/__sim/faults",
            json!({"kind": "rate_limit", "count": 2, "retry_after_secs": 3})
        )
        .await
        .status(),
        201
    );
    for _ in 0..2 {
        let response = post_events(&sim, &body(), None).await;
        assert_eq!(response.status(), 429);
        assert_eq!(header(&response, "retry-after"), "3");
    }
    admin_post(
        &sim,
        "/__sim/faults",
        json!({"kind": "rate_limit", "count": 1}),
    )
    .await;
    let response = post_events(&sim, &body(), None).await;
    assert_eq!(response.status(), 429);
    assert!(response.headers().get("retry-after").is_none());
    assert_eq!(
        post_events(&sim, &body(), None).await.status(),
        200,
        "burst over"
    );

    // 5xx with a chosen status
    for status in [500_u16, 502, 503, 504] {
        admin_post(
            &sim,
            "/__sim/faults",
            json!({"kind": "server_error", "status": status}),
        )
        .await;
        let response = post_events(&sim, &body(), None).await;
        assert_eq!(response.status().as_u16(), status);
        assert!(response.json::<Value>().await.unwrap()["message"].is_string());
    }

    // truncated body: 200, but not valid JSON
    admin_post(&sim, "/__sim/faults", json!({"kind": "truncate"})).await;
    let response = post_events(&sim, &body(), None).await;
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    assert!(
        text.starts_with('['),
        "the start of an events array: {text}"
    );
    assert!(
        serde_json::from_str::<Value>(&text).is_err(),
        "truncated body is invalid JSON"
    );

    // reset: the client sees a connection error, not a response
    admin_post(&sim, "/__sim/faults", json!({"kind": "reset"})).await;
    let result = post_events_raw(&sim).await;
    let err = result.expect_err("connection reset");
    assert!(
        err.is_request() || err.is_connect() || err.is_body(),
        "{err:?}"
    );
    assert_eq!(
        post_events(&sim, &body(), None).await.status(),
        200,
        "server still healthy"
    );

    // slow
    admin_post(
        &sim,
        "/__sim/faults",
        json!({"kind": "slow", "delay_ms": 400}),
    )
    .await;
    let started = Instant::now();
    let response = post_events(&sim, &body(), None).await;
    assert_eq!(response.status(), 200);
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "slow response was delayed"
    );

    // path_prefix: console requests are not affected by an /insights fault
    admin_post(
        &sim,
        "/__sim/faults",
        json!({"kind": "server_error", "path_prefix": "/insights"}),
    )
    .await;
    let users = client()
        .get(format!("{}/api/systemusers", sim.base_url()))
        .header("x-api-key", KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(users.status(), 200);
    assert_eq!(post_events(&sim, &body(), None).await.status(), 503);

    // admin endpoints are never faulted; DELETE clears everything
    admin_post(
        &sim,
        "/__sim/faults",
        json!({"kind": "server_error", "count": 100}),
    )
    .await;
    assert_eq!(ground_truth(&sim, None).await.len(), 500);
    let cleared = client()
        .delete(format!("{}/__sim/faults", sim.base_url()))
        .header("x-api-key", KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(cleared.status(), 204);
    assert_eq!(post_events(&sim, &body(), None).await.status(), 200);

    let bad = admin_post(&sim, "/__sim/faults", json!({"kind": "explode"})).await;
    assert_eq!(bad.status(), 400);
    sim.shutdown().await;
}

async fn post_events_raw(sim: &simulator::SimHandle) -> Result<String, reqwest::Error> {
    let response = client()
        .post(events_url(sim))
        .header("x-api-key", KEY)
        .json(&body())
        .send()
        .await?;
    response.text().await
}

#[tokio::test]
async fn random_faults_hit_roughly_the_asked_share() {
    let sim = start(config(200)).await;
    let response = admin_post(
        &sim,
        "/__sim/faults/random",
        json!({"probability": 0.5, "kinds": ["rate_limit", "server_error"]}),
    )
    .await;
    assert_eq!(response.status(), 200);
    let mut faulted = 0;
    for _ in 0..200 {
        let status = post_events(&sim, &body(), None).await.status().as_u16();
        assert!([200, 429, 500, 502, 503, 504].contains(&status));
        if status != 200 {
            faulted += 1;
        }
    }
    assert!(
        (50..=150).contains(&faulted),
        "about half faulted: {faulted}"
    );
    client()
        .delete(format!("{}/__sim/faults", sim.base_url()))
        .header("x-api-key", KEY)
        .send()
        .await
        .unwrap();
    for _ in 0..20 {
        assert_eq!(post_events(&sim, &body(), None).await.status(), 200);
    }
    sim.shutdown().await;
}
