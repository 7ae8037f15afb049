//! Avro end to end: the same simulator events through `run --once` twice, as JSON and as Avro
//! (Confluent wire format, schemas registered in the real schema registry). Every Avro record
//! is decoded by an independent implementation (Python fastavro, `tests/avro/decode_avro.py`)
//! with the schema fetched from the registry by the id in its header, and must equal the JSON
//! encoding of the same event; the decoded events pass the OCSF validator.

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::process::Command;
use std::time::Duration;

use base64::Engine as _;
use common::*;
use simulator::SimConfig;

const API_KEY: &str = "avro-test-key";

fn decoder() -> std::path::PathBuf {
    std::path::PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/avro/decode_avro.py"
    ))
}

/// Drops nulls recursively (null and absent are the same in OCSF).
fn without_nulls(value: serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(map) => serde_json::Value::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, without_nulls(v)))
                .collect(),
        ),
        serde_json::Value::Array(items) => {
            serde_json::Value::Array(items.into_iter().map(without_nulls).collect())
        }
        other => other,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn avro_records_decode_independently_to_the_json_encoding() {
    let sim_config = SimConfig {
        seed: 707,
        api_key: API_KEY.to_string(),
        orgs: 3,
        history_events: 3_000,
        history_days: 2,
        // History ends a minute ago: an event in the run's last `lag` (3 s) would wait for the
        // next poll, and `run --once` does only one.
        history_anchor_ns: Some(simulator::ids::now_ns() - 60 * 1_000_000_000),
        ..SimConfig::default()
    };
    let sim = simulator::start(sim_config, ([127, 0, 0, 1], 0).into())
        .await
        .unwrap();
    let registry = registry_url();
    let truth = ground_truth(&sim.base_url(), API_KEY).await;

    let mut by_format = BTreeMap::new();
    for format in ["json", "avro"] {
        let dir = tempfile::tempdir().unwrap();
        let prefix = unique_prefix(format);
        let extra = format!("[kafka.schema_registry]\nurl = \"{registry}\"\n");
        let config = write_config(
            dir.path(),
            &sim.base_url(),
            API_KEY,
            &sim.org_ids(),
            &prefix,
            &extra,
        );
        set_in_config(&config, "kafka", &format!("format = \"{format}\""));
        let output = Command::new(binary())
            .args(["run", "--once", "--config"])
            .arg(&config)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{format}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let records = consume(&topics(&prefix), truth.len(), Duration::from_secs(60));
        assert_eq!(
            records.len(),
            truth.len(),
            "{format}: every event delivered"
        );
        by_format.insert(format, (dir, records));
    }

    // JSON side: metadata.uid -> event.
    let (_, json_records) = &by_format["json"];
    let json_events: BTreeMap<String, serde_json::Value> = json_records
        .iter()
        .map(|r| {
            let event: serde_json::Value = serde_json::from_slice(&r.payload).unwrap();
            (
                event["metadata"]["uid"].as_str().unwrap().to_string(),
                without_nulls(event),
            )
        })
        .collect();

    // Avro side: Confluent framing, content type, then the independent decoder.
    let (avro_dir, avro_records) = &by_format["avro"];
    let input = avro_dir.path().join("avro-values.ndjson");
    let mut file = std::fs::File::create(&input).unwrap();
    for record in avro_records {
        assert_eq!(record.payload[0], 0, "Confluent magic byte");
        assert!(record.payload.len() > 5, "4-byte schema id and a body");
        assert_eq!(
            record.headers["content-type"],
            "application/vnd.apache.avro+binary"
        );
        let b64 = base64::engine::general_purpose::STANDARD.encode(&record.payload);
        writeln!(file, "{{\"value_b64\":\"{b64}\"}}").unwrap();
    }
    drop(file);
    let decoded = Command::new("python3")
        .arg(decoder())
        .args(["--registry", &registry, "--input"])
        .arg(&input)
        .output()
        .unwrap();
    assert!(
        decoded.status.success(),
        "decoder: {}",
        String::from_utf8_lossy(&decoded.stderr)
    );
    let lines: Vec<&[u8]> = decoded
        .stdout
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(lines.len(), avro_records.len());
    let mut compared = 0;
    for line in &lines {
        let event = without_nulls(serde_json::from_slice(line).unwrap());
        let uid = event["metadata"]["uid"].as_str().unwrap().to_string();
        let json = json_events
            .get(&uid)
            .unwrap_or_else(|| panic!("Avro event {uid} has no JSON twin"));
        assert_eq!(&event, json, "Avro and JSON encodings of {uid} differ");
        compared += 1;
    }
    assert_eq!(compared, json_events.len());
    assert_valid_ocsf(&lines);
    sim.shutdown().await;
}
