//! The Multi-Tenant Portal over real HTTP: the provider's own events (`x-provider-id`), the
//! provider's organisations (`GET /api/v2/providers/{id}/organizations`), organisations joining.

mod common;

use common::*;
use serde_json::{Value, json};
use simulator::SimConfig;

#[tokio::test]
async fn provider_events_unlisted_orgs_and_the_provider_organisations_list() {
    let config = SimConfig {
        api_key: KEY.to_string(),
        orgs: 3,
        history_events: 300,
        provider_events: 25,
        unlisted_orgs: 1,
        ..SimConfig::default()
    };
    let sim = simulator::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let orgs = sim.org_ids();
    let provider = sim.provider_id();
    let body = json!({"service": ["all"], "start_time": "2020-01-01T00:00:00Z", "limit": 1000});
    // x-provider-id: the provider's own events, each naming the provider.
    let response = client()
        .post(events_url(&sim))
        .header("x-api-key", KEY)
        .header("x-provider-id", &provider)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let events: Vec<Value> = response.json().await.unwrap();
    assert_eq!(events.len(), 25);
    assert!(events.iter().all(|e| e["organization"] == json!(provider)));
    // Another provider: 403; both headers: 400.
    let other = client()
        .post(events_url(&sim))
        .header("x-api-key", KEY)
        .header("x-provider-id", "000000000000000000000000")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 403);
    let both = client()
        .post(events_url(&sim))
        .header("x-api-key", KEY)
        .header("x-provider-id", &provider)
        .header("x-org-id", &orgs[0])
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(both.status(), 400);
    // The unlisted organisation: 403 alone and inside a group, until it joins.
    let grouped = |sim_orgs: Vec<String>| {
        let mut request = client()
            .post(events_url(&sim))
            .header("x-api-key", KEY)
            .json(&body);
        for org in sim_orgs {
            request = request.header("x-org-id", org);
        }
        request.send()
    };
    assert_eq!(grouped(orgs.clone()).await.unwrap().status(), 403);
    let listed: Value = get_json(
        &sim,
        &format!("/api/v2/providers/{provider}/organizations?limit=2"),
    )
    .await;
    assert_eq!(listed["totalCount"], json!(2));
    assert_eq!(listed["results"][1]["id"], json!(orgs[1]));
    let joined = client()
        .post(format!("{}/__sim/orgs/{}/join", sim.base_url(), orgs[2]))
        .header("x-api-key", KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(joined.status(), 200);
    assert_eq!(grouped(orgs.clone()).await.unwrap().status(), 200);
    let listed: Value = get_json(
        &sim,
        &format!("/api/v2/providers/{provider}/organizations?limit=2&skip=2"),
    )
    .await;
    assert_eq!(listed["totalCount"], json!(3));
    assert_eq!(listed["results"][0]["id"], json!(orgs[2]));
    sim.shutdown().await;
}
