//! Maps the fixture mix in a loop for a few seconds (for `perf record`). Not a benchmark.

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_default();
    let raw_data = mode != "--no-raw-data";
    let baseline = mode == "--baseline";
    let mut events = Vec::new();
    for dir in [
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/public/jumpcloud-events"
        ),
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/events"),
    ] {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|ext| ext == "ndjson") {
                let text = std::fs::read(&path).unwrap_or_default();
                events.extend(
                    text.split(|b| *b == b'\n')
                        .filter(|line| !line.is_empty())
                        .map(<[u8]>::to_vec),
                );
            }
        }
    }
    let tables =
        mapper::MappingTables::embedded().unwrap_or_else(|_| mapper::MappingTables::empty());
    let mapper = mapper::Mapper::new(tables, mapper::MapOptions { raw_data });
    let mut out = Vec::new();
    let started = std::time::Instant::now();
    let mut mapped = 0_u64;
    let passes: u64 = std::env::args()
        .nth(2)
        .and_then(|arg| arg.parse().ok())
        .unwrap_or(u64::MAX);
    let mut pass = 0;
    while (passes != u64::MAX || started.elapsed().as_secs() < 4) && pass < passes {
        pass += 1;
        for event in &events {
            out.clear();
            if baseline {
                if let Ok(value) = serde_json::from_slice::<serde_json::Value>(event) {
                    if serde_json::to_writer(&mut out, &value).is_ok() {
                        mapped += 1;
                    }
                }
            } else if mapper.map_into(event, &mut out).is_ok() {
                mapped += 1;
            }
        }
    }
    println!(
        "{:.0} events/s",
        mapped as f64 / started.elapsed().as_secs_f64()
    );
}
