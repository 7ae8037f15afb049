//! OCSF records the project maps itself, for the producer's tests and its benchmark: the
//! mapper's output for the repository's Directory Insights fixtures (one record per class,
//! activity and profile combination, every class of the mapper) and the inventory mapper's
//! output for the vendored JumpCloud console samples (User and Device Inventory Info).
//! Included with `#[path]` by the unit tests, the integration tests and the example.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;

const WORKSPACE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

fn ndjson_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("fixture directory")
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "ndjson"))
        .collect();
    files.sort();
    files
}

fn console_sample(name: &str) -> Value {
    let path = Path::new(WORKSPACE)
        .join("tests/fixtures/public/jumpcloud-inventory")
        .join(format!("jupiterone-graph-jumpcloud.{name}.json"));
    let text = std::fs::read_to_string(&path).expect("console sample");
    serde_json::from_str(&text).expect("console sample JSON")
}

fn array(value: Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items,
        Value::Object(mut map) => match map.remove("results") {
            Some(Value::Array(items)) => items,
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

/// The records, one OCSF event (JSON text) each, in a stable order.
pub fn mapped_examples() -> Vec<String> {
    let mapper = mapper::Mapper::default();
    let mut seen = BTreeSet::new();
    let mut records = Vec::new();
    for dir in [
        "tests/fixtures/public/jumpcloud-events",
        "tests/fixtures/events",
    ] {
        for file in ndjson_files(&Path::new(WORKSPACE).join(dir)) {
            let text = std::fs::read(&file).expect("fixture file");
            for line in text.split(|b| *b == b'\n') {
                if line.trim_ascii().is_empty() {
                    continue;
                }
                let record = mapper.map(line).expect("fixture events map");
                let json = String::from_utf8(record.json).expect("UTF-8 output");
                let with_device = json.contains("\"device\":");
                if seen.insert((record.class_uid, record.activity_id, with_device)) {
                    records.push(json);
                }
            }
        }
    }
    let input = mapper::inventory::InventoryInput {
        tenant_uid: Some("60259a2ad81e1a474d4e7c83".into()),
        collected_at_ms: 1_774_001_730_123,
        users: array(console_sample("api_systemusers")),
        apple_mdms: array(console_sample("api_v2_applemdms")),
        mdm_devices: array(console_sample("api_v2_applemdms_ID_devices")),
        ..Default::default()
    };
    for record in mapper::inventory::map_snapshot(&input, input.collected_at_ms) {
        let record = record.expect("console samples map");
        records.push(String::from_utf8(record.json).expect("UTF-8 output"));
    }
    records
}
