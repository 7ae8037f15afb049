//! Throughput of the whole fetch path against the simulator over HTTP on localhost: request,
//! page split into verbatim raw events, dedup, batch, acknowledgement and durable checkpoint.
//! Run: `cargo bench -p fetcher --bench fetch`. Reports events/s for 100,000 events in pages of
//! 10,000 (one organisation, no faults).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use fetcher::{AuthConfig, ClientConfig, EventSource, EventsConfig, JumpCloudClient};
use secrecy::SecretString;
use simulator::SimConfig;
use std::time::Duration;

const EVENTS: usize = 100_000;

fn fetch_all(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let sim = runtime
        .block_on(simulator::start(
            SimConfig {
                seed: 1,
                api_key: "bench".into(),
                history_events: EVENTS,
                history_days: 1,
                ..SimConfig::default()
            },
            "127.0.0.1:0".parse().unwrap(),
        ))
        .unwrap();
    let client = JumpCloudClient::new(ClientConfig {
        base_url: Some(sim.base_url()),
        auth: AuthConfig::ApiKey {
            api_key: SecretString::from("bench"),
        },
        max_requests_per_sec: 1000,
        ..ClientConfig::default()
    })
    .unwrap();
    let org = sim.org_ids()[0].clone();
    let mut group = c.benchmark_group("fetch");
    group
        .sample_size(10)
        .throughput(Throughput::Elements(EVENTS as u64));
    group.bench_function("100k_events_pages_of_10000", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let config = EventsConfig {
                    initial_lookback: Duration::from_secs(2 * 86_400),
                    lag: Duration::from_secs(1),
                    ..EventsConfig::default()
                };
                let mut source =
                    EventSource::new(client.clone(), org.clone(), config, None).unwrap();
                let mut fetched = 0;
                while let Some(batch) = source.next_batch().await.unwrap() {
                    fetched += batch.events.len();
                }
                assert_eq!(fetched, EVENTS);
            })
        })
    });
    group.finish();
    runtime.block_on(sim.shutdown());
}

criterion_group!(benches, fetch_all);
criterion_main!(benches);
