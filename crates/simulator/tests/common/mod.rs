//! Shared helpers of the simulator's HTTP tests.
#![allow(dead_code)]

use std::collections::HashSet;

use reqwest::Response;
use serde_json::{Value, json};
use simulator::{SimConfig, SimHandle};

pub const KEY: &str = "test-key";

pub fn config(history_events: usize) -> SimConfig {
    SimConfig {
        api_key: KEY.to_owned(),
        history_events,
        users_per_org: 30,
        systems_per_org: 12,
        groups_per_org: 4,
        applications_per_org: 4,
        ..SimConfig::default()
    }
}

pub async fn start(config: SimConfig) -> SimHandle {
    simulator::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
}

/// GET `path` (e.g. `/api/systemusers?limit=100`) with the API key; the JSON body.
pub async fn get_json<T: serde::de::DeserializeOwned>(sim: &SimHandle, path: &str) -> T {
    client()
        .get(format!("{}{path}", sim.base_url()))
        .header("x-api-key", KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

pub fn events_url(sim: &SimHandle) -> String {
    format!("{}/insights/directory/v1/events", sim.base_url())
}

pub async fn post_events(sim: &SimHandle, body: &Value, org: Option<&str>) -> Response {
    let mut request = client()
        .post(events_url(sim))
        .header("x-api-key", KEY)
        .json(body);
    if let Some(org) = org {
        request = request.header("x-org-id", org);
    }
    request.send().await.unwrap()
}

pub fn header(response: &Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

/// One full paging run: resends the query with each `X-Search_after` until
/// `X-Result-Count < X-Limit`. Returns every event and the number of pages.
pub async fn page_all(sim: &SimHandle, base: Value, org: Option<&str>) -> (Vec<Value>, usize) {
    let mut all = Vec::new();
    let mut body = base.clone();
    let mut pages = 0;
    loop {
        let response = post_events(sim, &body, org).await;
        assert_eq!(response.status(), 200);
        let count: usize = header(&response, "x-result-count").parse().unwrap();
        let limit: usize = header(&response, "x-limit").parse().unwrap();
        let after = header(&response, "x-search_after");
        assert!(!after.is_empty(), "X-Search_after present on every page");
        let page: Vec<Value> = response.json().await.unwrap();
        assert_eq!(page.len(), count);
        pages += 1;
        all.extend(page);
        if count < limit {
            return (all, pages);
        }
        body["search_after"] = serde_json::from_str(&after).unwrap();
    }
}

pub async fn ground_truth(sim: &SimHandle, org: Option<&str>) -> Vec<Value> {
    let mut url = format!("{}/__sim/events", sim.base_url());
    if let Some(org) = org {
        url.push_str(&format!("?org={org}"));
    }
    let response = client()
        .get(url)
        .header("x-api-key", KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let total: usize = header(&response, "x-total-count").parse().unwrap();
    let text = response.text().await.unwrap();
    let events: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.len(), total);
    events
}

pub fn ids(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect()
}

pub fn unique(ids: &[String]) -> HashSet<String> {
    let set: HashSet<String> = ids.iter().cloned().collect();
    assert_eq!(set.len(), ids.len(), "no event returned twice");
    set
}

pub fn since_days(days: i64) -> String {
    (chrono::Utc::now() - chrono::Duration::days(days))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

pub fn query(services: &[&str], start: &str) -> Value {
    json!({"service": services, "start_time": start, "limit": 1000})
}

pub async fn admin_post(sim: &SimHandle, path: &str, body: Value) -> Response {
    client()
        .post(format!("{}{path}", sim.base_url()))
        .header("x-api-key", KEY)
        .json(&body)
        .send()
        .await
        .unwrap()
}
