//! Every fixture event (the vendored public samples in `tests/fixtures/public/jumpcloud-events/`
//! and ours in `tests/fixtures/events/`: one per catalogue event_type, plus events shaped like
//! the public samples we may not redistribute) maps to the hand-written expected
//! class/activity/status, and every output passes the OCSF 1.8.0 validator, strict.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use mapper::{MapOptions, Mapper, MappingTables};
use serde::Deserialize;

const PUBLIC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/public");
const PUBLIC_FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/fixtures/public/jumpcloud-events"
);
const OUR_FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/events");

#[derive(Debug, Deserialize)]
struct Expected {
    event_type: String,
    class_uid: u32,
    activity_id: i32,
    status_id: Option<i64>,
}

fn expectations(dir: &str) -> BTreeMap<String, Expected> {
    let text = std::fs::read_to_string(Path::new(dir).join("expected.toml")).unwrap();
    toml::from_str(&text).unwrap()
}

fn ndjson_files(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "ndjson"))
        .collect();
    files.sort();
    files
}

/// Maps every line of every file, checks it against `expected`, returns the OCSF lines.
fn map_and_check(dir: &str, expected: &BTreeMap<String, Expected>, mapper: &Mapper) -> Vec<String> {
    let mut outputs = Vec::new();
    let mut seen = 0;
    for file in ndjson_files(dir) {
        let name = file.file_name().unwrap().to_str().unwrap().to_owned();
        let text = std::fs::read(&file).unwrap();
        for (index, line) in text.split(|b| *b == b'\n').enumerate() {
            if line.trim_ascii().is_empty() {
                continue;
            }
            let key = format!("{name}:{}", index + 1);
            let want = expected
                .get(&key)
                .unwrap_or_else(|| panic!("{key} has no expectation"));
            seen += 1;
            let record = mapper
                .map(line)
                .unwrap_or_else(|error| panic!("{key} did not map: {error}"));
            let event: serde_json::Value = serde_json::from_slice(&record.json).unwrap();
            let status = event.get("status_id").and_then(serde_json::Value::as_i64);
            assert_eq!(
                (record.class_uid, record.activity_id, status),
                (want.class_uid, want.activity_id, want.status_id),
                "{key} ({}) class/activity/status",
                want.event_type
            );
            assert_eq!(event["class_uid"], want.class_uid, "{key}");
            assert_eq!(event["activity_id"], want.activity_id, "{key}");
            assert_eq!(
                record.event_code.as_deref().unwrap_or(""),
                want.event_type,
                "{key} event_code"
            );
            assert_eq!(event["metadata"]["uid"], record.uid.as_str(), "{key}");
            outputs.push(String::from_utf8(record.json).unwrap());
        }
    }
    assert_eq!(seen, expected.len(), "every expectation has its fixture");
    outputs
}

/// Every event passes the OCSF 1.8.0 validator, strict (warnings count).
fn assert_valid(outputs: &[String]) {
    let validator = ocsf_schema::Validator::ocsf_1_8_0().strict(true);
    let findings: Vec<String> = outputs
        .iter()
        .enumerate()
        .flat_map(|(index, line)| {
            validator
                .validate_json(line.as_bytes())
                .into_iter()
                .map(move |finding| format!("output {}: {finding}", index + 1))
        })
        .collect();
    assert!(findings.is_empty(), "{}", findings.join("\n"));
}

#[test]
fn public_samples_map_as_expected_and_validate() {
    let expected = expectations(PUBLIC);
    let outputs = map_and_check(PUBLIC_FIXTURES, &expected, &Mapper::default());
    assert_eq!(outputs.len(), 2);
    assert_valid(&outputs);
}

#[test]
fn every_catalogue_event_type_maps_as_expected_and_validates() {
    let expected = expectations(OUR_FIXTURES);
    let outputs = map_and_check(OUR_FIXTURES, &expected, &Mapper::default());
    assert!(outputs.len() > 300, "{} fixtures", outputs.len());
    assert_valid(&outputs);
}

#[test]
fn outputs_validate_without_raw_data_too() {
    let mapper = Mapper::new(
        MappingTables::embedded().unwrap(),
        MapOptions { raw_data: false },
    );
    let mut outputs = map_and_check(PUBLIC_FIXTURES, &expectations(PUBLIC), &mapper);
    outputs.extend(map_and_check(
        OUR_FIXTURES,
        &expectations(OUR_FIXTURES),
        &mapper,
    ));
    assert!(outputs.len() > 300, "{} fixtures", outputs.len());
    assert!(outputs.iter().all(|line| !line.contains("\"raw_data\"")));
    assert_valid(&outputs);
}

#[test]
fn fixtures_cover_every_event_type_of_the_mapping_tables() {
    // Every exact entry in mappings/event_types.toml has at least one fixture.
    let tables_text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../mappings/event_types.toml"
    ))
    .unwrap();
    let tables: toml::Table = toml::from_str(&tables_text).unwrap();
    let expected = expectations(OUR_FIXTURES);
    let covered: std::collections::BTreeSet<&str> = expected
        .values()
        .map(|want| want.event_type.as_str())
        .collect();
    let missing: Vec<&String> = tables["event_types"]
        .as_table()
        .unwrap()
        .keys()
        .filter(|event_type| !covered.contains(event_type.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "event types without a fixture: {missing:?}"
    );
}

/// Every scalar of the source ends up in the OCSF event: either at the same path under
/// `unmapped.jumpcloud`, or as a value of some OCSF attribute. Booleans and enum-like `type`
/// fields are translated (status_id, is_mfa, type_id...), so only strings and numbers are
/// checked, and `type`/`sso_type` strings only case-insensitively or as enum captions. An
/// RFC 3339 time (an alert's `created_at`) may be mapped as its epoch milliseconds.
#[test]
fn no_source_field_is_lost() {
    let mapper = Mapper::new(
        MappingTables::embedded().unwrap(),
        MapOptions { raw_data: false },
    );
    let mut checked = 0;
    for dir in [PUBLIC_FIXTURES, OUR_FIXTURES] {
        for file in ndjson_files(dir) {
            let text = std::fs::read(&file).unwrap();
            for (index, line) in text.split(|b| *b == b'\n').enumerate() {
                if line.trim_ascii().is_empty() {
                    continue;
                }
                let source: serde_json::Value = serde_json::from_slice(line).unwrap();
                let record = mapper.map(line).unwrap();
                let output: serde_json::Value = serde_json::from_slice(&record.json).unwrap();
                let unmapped = &output["unmapped"]["jumpcloud"];
                let mut mapped_values = std::collections::HashSet::new();
                collect_scalars(&output, "", &mut mapped_values);
                let mut leaves = Vec::new();
                leaves_of(&source, &mut Vec::new(), &mut leaves);
                for (path, value) in leaves {
                    let in_unmapped = path
                        .iter()
                        .try_fold(unmapped, |node, key| node.get(key))
                        .is_some();
                    let text = match &value {
                        serde_json::Value::String(text) => text.clone(),
                        serde_json::Value::Number(number) => number.to_string(),
                        _ => continue,
                    };
                    let enum_like = path
                        .last()
                        .is_some_and(|key| key == "type" || key == "sso_type");
                    let as_epoch_ms = chrono::DateTime::parse_from_rfc3339(&text)
                        .map(|time| time.timestamp_millis().to_string())
                        .ok();
                    let found = in_unmapped
                        || mapped_values.contains(&text)
                        || as_epoch_ms.is_some_and(|ms| mapped_values.contains(&ms))
                        || (enum_like
                            && mapped_values
                                .iter()
                                .any(|mapped| mapped.eq_ignore_ascii_case(&text)))
                        || (enum_like && ["systemuser", "totp"].contains(&text.as_str()));
                    assert!(
                        found,
                        "{}:{}: source field {} = {text:?} is neither mapped nor in unmapped",
                        file.display(),
                        index + 1,
                        path.join(".")
                    );
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 5000, "{checked} fields checked");
}

fn leaves_of(
    value: &serde_json::Value,
    path: &mut Vec<String>,
    out: &mut Vec<(Vec<String>, serde_json::Value)>,
) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, inner) in map {
                path.push(key.clone());
                leaves_of(inner, path, out);
                path.pop();
            }
        }
        // Arrays are kept whole (never mapped piecewise); check the array itself.
        serde_json::Value::Array(_) => out.push((path.clone(), serde_json::Value::Null)),
        scalar => out.push((path.clone(), scalar.clone())),
    }
}

fn collect_scalars(
    value: &serde_json::Value,
    skip: &str,
    out: &mut std::collections::HashSet<String>,
) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, inner) in map {
                if key != "unmapped" || !skip.is_empty() {
                    collect_scalars(inner, skip, out);
                }
            }
        }
        serde_json::Value::Array(items) => items
            .iter()
            .for_each(|item| collect_scalars(item, skip, out)),
        serde_json::Value::String(text) => {
            out.insert(text.clone());
        }
        serde_json::Value::Number(number) => {
            out.insert(number.to_string());
        }
        _ => {}
    }
}
