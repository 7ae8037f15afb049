//! Scale bench (prints its figures): generates N history events (default 1,000,000, env
//! `SIM_BENCH_EVENTS`), then pages through all of them over HTTP with limit 10000 and times the
//! first and a deep page (O(page) paging: both should cost about the same).
//!
//! `cargo bench -p simulator --bench scale`

use std::time::Instant;

use serde_json::{Value, json};
use simulator::SimConfig;

fn rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

async fn page(client: &reqwest::Client, url: &str, body: &Value) -> (Vec<u8>, String, usize) {
    let response = client
        .post(url)
        .header("x-api-key", "bench")
        .json(body)
        .send()
        .await
        .expect("request");
    let after = response
        .headers()
        .get("x-search_after")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("[]")
        .to_owned();
    let count = response
        .headers()
        .get("x-result-count")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let bytes = response.bytes().await.expect("body").to_vec();
    (bytes, after, count)
}

#[tokio::main]
async fn main() {
    let events: usize = std::env::var("SIM_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let orgs: usize = std::env::var("SIM_BENCH_ORGS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let config = SimConfig {
        api_key: "bench".into(),
        history_events: events,
        orgs,
        history_days: 30,
        ..SimConfig::default()
    };
    let started = Instant::now();
    let sim = simulator::start(config, "127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("start");
    let generation = started.elapsed();
    println!(
        "generate  {events} events / {orgs} org(s): {:.2} s ({:.0} events/s), RSS {:.0} MiB",
        generation.as_secs_f64(),
        events as f64 / generation.as_secs_f64(),
        rss_mib().unwrap_or(f64::NAN)
    );

    let client = reqwest::Client::new();
    let url = format!("{}/insights/directory/v1/events", sim.base_url());
    let since = (chrono::Utc::now() - chrono::Duration::days(31)).to_rfc3339();
    let mut body = json!({"service": ["all"], "start_time": since, "limit": 10_000});
    let started = Instant::now();
    let (mut total, mut bytes, mut pages) = (0_usize, 0_usize, 0_usize);
    let mut first_page_ms = 0.0;
    let mut deep_page_ms = 0.0;
    loop {
        let t = Instant::now();
        let (payload, after, count) = page(&client, &url, &body).await;
        let ms = t.elapsed().as_secs_f64() * 1e3;
        if pages == 0 {
            first_page_ms = ms;
        }
        if pages == events / 20_000 {
            deep_page_ms = ms;
        }
        pages += 1;
        total += count;
        bytes += payload.len();
        if count < 10_000 {
            break;
        }
        body["search_after"] = serde_json::from_str(&after).expect("search_after");
    }
    let paging = started.elapsed();
    println!(
        "page all  {total} events in {pages} pages: {:.2} s ({:.0} events/s, {:.0} MiB/s)",
        paging.as_secs_f64(),
        total as f64 / paging.as_secs_f64(),
        bytes as f64 / 1048576.0 / paging.as_secs_f64()
    );
    println!(
        "page cost first page {first_page_ms:.1} ms, middle page {deep_page_ms:.1} ms (limit 10000)"
    );
    assert_eq!(total, events, "every event paged exactly once");
    sim.shutdown().await;
}
