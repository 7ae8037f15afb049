//! DI JSON -> OCSF JSON throughput on one core, next to a baseline measured in the same run:
//! `serde_json` parse into `Value` and serialize back, of the same input.
//!
//! The mix: every fixture event, i.e. the 2 vendored public samples in
//! tests/fixtures/public/jumpcloud-events/ and tests/fixtures/events/ (one event per catalogue
//! event_type plus 16 shaped like other public samples; 331 events).
//! Run: `cargo bench -p mapper` (prints a summary with events/s and the ratios at the end).

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group};
use mapper::{MapOptions, Mapper, MappingTables};

const DIRS: [&str; 2] = [
    concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/public/jumpcloud-events"
    ),
    concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/events"),
];

fn events() -> Vec<Vec<u8>> {
    let mut events = Vec::new();
    for dir in DIRS {
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .expect("fixture directory")
            .map(|entry| entry.expect("entry").path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "ndjson"))
            .collect();
        files.sort();
        for file in files {
            let text = std::fs::read(Path::new(&file)).expect("fixture file");
            events.extend(
                text.split(|b| *b == b'\n')
                    .filter(|line| !line.trim_ascii().is_empty())
                    .map(<[u8]>::to_vec),
            );
        }
    }
    events
}

fn map_all(mapper: &Mapper, events: &[Vec<u8>], out: &mut Vec<u8>) {
    for event in events {
        out.clear();
        let facts = mapper.map_into(event, out).expect("fixtures map");
        black_box(&facts);
    }
}

fn value_roundtrip_all(events: &[Vec<u8>], out: &mut Vec<u8>) {
    for event in events {
        out.clear();
        let value: serde_json::Value = serde_json::from_slice(event).expect("fixtures are JSON");
        serde_json::to_writer(&mut *out, &value).expect("write to Vec");
        black_box(&out);
    }
}

fn with_raw_data(raw_data: bool) -> Mapper {
    Mapper::new(
        MappingTables::embedded().expect("embedded tables"),
        MapOptions { raw_data },
    )
}

fn bench(c: &mut Criterion) {
    let events = events();
    let mut group = c.benchmark_group("di_to_ocsf");
    group.throughput(Throughput::Elements(events.len() as u64));
    let mut out = Vec::with_capacity(1 << 20);
    let with_raw = with_raw_data(true);
    let without_raw = with_raw_data(false);
    group.bench_function("mapper_raw_data_on", |b| {
        b.iter(|| map_all(&with_raw, &events, &mut out))
    });
    group.bench_function("mapper_raw_data_off", |b| {
        b.iter(|| map_all(&without_raw, &events, &mut out))
    });
    group.bench_function("baseline_serde_json_value_roundtrip", |b| {
        b.iter(|| value_roundtrip_all(&events, &mut out))
    });
    group.finish();
}

/// Events per second over `duration` of repeated passes.
fn events_per_second(events: &[Vec<u8>], duration: Duration, mut pass: impl FnMut()) -> f64 {
    pass();
    let started = Instant::now();
    let mut passes = 0_u64;
    while started.elapsed() < duration {
        pass();
        passes += 1;
    }
    (passes * events.len() as u64) as f64 / started.elapsed().as_secs_f64()
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Rounds of the three measurements, interleaved, so that a change in the machine's load hits
/// the mapper and the baseline alike; the ratios are the medians of the per-round ratios.
fn summary() {
    const ROUNDS: usize = 9;
    const PER_MEASUREMENT: Duration = Duration::from_millis(400);
    let events = events();
    let bytes: usize = events.iter().map(Vec::len).sum();
    let mut out = Vec::with_capacity(1 << 20);
    let with_raw = with_raw_data(true);
    let without_raw = with_raw_data(false);
    let (mut on, mut off, mut baseline) = (Vec::new(), Vec::new(), Vec::new());
    let (mut on_ratio, mut off_ratio) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let round_on = events_per_second(&events, PER_MEASUREMENT, || {
            map_all(&with_raw, &events, &mut out)
        });
        let round_off = events_per_second(&events, PER_MEASUREMENT, || {
            map_all(&without_raw, &events, &mut out)
        });
        let round_baseline = events_per_second(&events, PER_MEASUREMENT, || {
            value_roundtrip_all(&events, &mut out)
        });
        on_ratio.push(round_on / round_baseline);
        off_ratio.push(round_off / round_baseline);
        on.push(round_on);
        off.push(round_off);
        baseline.push(round_baseline);
    }
    println!(
        "\nsummary: {} events, {} bytes; one core; medians of {ROUNDS} interleaved rounds\n  mapper (raw_data on):  {:>10.0} events/s ({:.2}x baseline)\n  mapper (raw_data off): {:>10.0} events/s ({:.2}x baseline)\n  baseline serde_json Value parse+serialize: {:>10.0} events/s",
        events.len(),
        bytes,
        median(on),
        median(on_ratio),
        median(off),
        median(off_ratio),
        median(baseline)
    );
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    summary();
}
