//! Maps the fixture mix (the events `cargo bench -p mapper` measures) ROUNDS times, for
//! instruction counts under callgrind:
//!
//! ```sh
//! cargo build --release -p mapper --example profile_loop
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/examples/profile_loop 10
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/examples/profile_loop 0
//! ```
//!
//! (instructions of 10 rounds - those of 0 rounds) / (10 x events) = instructions per event.
//! `--no-raw-data` maps without `raw_data`; `PROFILE_DIR=DIR` maps the NDJSON files of DIR instead; `--baseline` parses into `serde_json::Value` and
//! serializes instead.

use std::hint::black_box;
use std::path::Path;

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
    // PROFILE_DIR: another directory of NDJSON files instead of the fixture mix.
    let chosen = std::env::var("PROFILE_DIR").ok();
    let dirs: Vec<&str> = match &chosen {
        Some(dir) => vec![dir.as_str()],
        None => DIRS.to_vec(),
    };
    for dir in dirs {
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

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rounds: usize = args.iter().find_map(|arg| arg.parse().ok()).unwrap_or(10);
    let baseline = args.iter().any(|arg| arg == "--baseline");
    let raw_data = !args.iter().any(|arg| arg == "--no-raw-data");
    let events = events();
    let mapper = Mapper::new(
        MappingTables::embedded().expect("embedded tables"),
        MapOptions { raw_data },
    );
    let mut out = Vec::with_capacity(1 << 20);
    for _ in 0..rounds {
        for event in &events {
            out.clear();
            if baseline {
                let value: serde_json::Value = serde_json::from_slice(event).expect("JSON");
                serde_json::to_writer(&mut out, &value).expect("write");
            } else {
                let facts = mapper.map_into(event, &mut out).expect("fixtures map");
                black_box(&facts);
            }
            black_box(&out);
        }
    }
    eprintln!("{} events x {rounds} rounds", events.len());
}
