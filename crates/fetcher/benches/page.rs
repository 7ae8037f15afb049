//! The page reader alone: one 10,000-event Directory Insights page (from the simulator, as
//! served) split into its events with each one's `id` and `timestamp`, next to serde_json merely
//! splitting the same page into `RawValue`s (no fields read) as a yardstick.
//! Run: `cargo bench -p fetcher --bench page`.

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::value::RawValue;
use simulator::SimConfig;

const EVENTS: usize = 10_000;

/// One full page of the simulator's events, exactly as served.
fn simulator_page() -> Bytes {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let sim = simulator::start(
            SimConfig {
                seed: 7,
                api_key: "bench".into(),
                history_events: EVENTS,
                history_days: 1,
                ..SimConfig::default()
            },
            "127.0.0.1:0".parse().unwrap(),
        )
        .await
        .unwrap();
        let body = reqwest::Client::new()
            .post(format!("{}/insights/directory/v1/events", sim.base_url()))
            .header("x-api-key", "bench")
            .header("x-org-id", sim.org_ids()[0].as_str())
            .body(r#"{"service":["all"],"start_time":"2000-01-01T00:00:00Z","limit":10000}"#)
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap()
            .bytes()
            .await
            .unwrap();
        sim.shutdown().await;
        body
    })
}

fn read_page(c: &mut Criterion) {
    let page = simulator_page();
    let events = fetcher::split_page(&page).unwrap();
    assert_eq!(events.len(), EVENTS);
    assert!(
        events
            .iter()
            .all(|e| e.id.is_some() && e.timestamp.is_some())
    );
    let mut group = c.benchmark_group("events_page");
    group.throughput(Throughput::Bytes(page.len() as u64));
    group.bench_function("split_page_with_ids", |b| {
        b.iter(|| fetcher::split_page(&page).unwrap().len())
    });
    group.bench_function("serde_json_split_only", |b| {
        b.iter(|| {
            serde_json::from_slice::<Vec<&RawValue>>(&page)
                .unwrap()
                .len()
        })
    });
    group.finish();
}

criterion_group!(benches, read_page);
criterion_main!(benches);
