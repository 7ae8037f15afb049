//! Conformance with JumpCloud's own OCSF mapping (`mappings/vendor/`): one event of each of the
//! 551 event types the vendor lists, built from the vendor's field rows, is mapped; its class and
//! activity must be the vendor's, and every typed field row (a raw field, no transform, onto a
//! typed OCSF attribute) must arrive at the vendor's path, unless `mappings/deviations.toml`
//! names the difference. Every record must be strict-valid OCSF 1.8.0 and keep every raw value.
//! Prints the agreement counts (`cargo test -p mapper --test conformance -- --nocapture`).

#[path = "conformance/event.rs"]
mod event;
#[path = "conformance/vendor.rs"]
mod vendor;

use std::collections::BTreeMap;

use mapper::Mapper;
use serde_json::Value;

use event::{Schema, same_value, values_at};
use vendor::{FieldRow, Vendor};

const DEVIATIONS: &str = include_str!("../../../mappings/deviations.toml");

/// The deviations file, read here on its own terms (the mapper reads it too).
struct Deviations {
    event_types: BTreeMap<String, toml::Table>,
    fields: Vec<toml::Table>,
}

impl Deviations {
    fn load() -> Deviations {
        let table: toml::Table = toml::from_str(DEVIATIONS).expect("deviations.toml parses");
        let event_types = table
            .get("event_types")
            .and_then(toml::Value::as_table)
            .map(|types| {
                types
                    .iter()
                    .map(|(name, entry)| {
                        (name.clone(), entry.as_table().cloned().unwrap_or_default())
                    })
                    .collect()
            })
            .unwrap_or_default();
        let fields = table
            .get("fields")
            .and_then(toml::Value::as_array)
            .map(|entries| {
                entries
                    .iter()
                    .filter_map(|e| e.as_table().cloned())
                    .collect()
            })
            .unwrap_or_default();
        Deviations {
            event_types,
            fields,
        }
    }

    /// The field deviation that names this row for this event type (and class), if any.
    fn field(&self, row: &FieldRow, event_type: &str, class_name: &str) -> Option<&toml::Table> {
        self.fields.iter().find(|entry| {
            let paths = entry.get("ocsf_fields").and_then(toml::Value::as_array);
            let path_ok = paths
                .into_iter()
                .flatten()
                .filter_map(toml::Value::as_str)
                .any(|path| match path.strip_suffix(".*") {
                    Some(prefix) => row.ocsf_field.starts_with(&format!("{prefix}.")),
                    None => row.ocsf_field == path,
                });
            let list_ok = |key: &str, value: &str| {
                entry
                    .get(key)
                    .and_then(toml::Value::as_array)
                    .is_none_or(|list| list.iter().any(|item| item.as_str() == Some(value)))
            };
            let source_ok = entry
                .get("source")
                .and_then(toml::Value::as_str)
                .is_none_or(|named| {
                    row.sources.iter().any(|s| match named.strip_suffix(".*") {
                        Some(prefix) => s.starts_with(&format!("{prefix}.")),
                        None => s == named,
                    })
                });
            path_ok
                && source_ok
                && list_ok("event_types", event_type)
                && list_ok("classes", class_name)
        })
    }
}

/// The vendor's enum for a user's type: user 1, admin 2, system 3, service 4, else 99.
fn user_type_id(raw: &Value) -> Value {
    let id = match raw.as_str() {
        Some("user") => 1,
        Some("admin") => 2,
        Some("system") => 3,
        Some("service") => 4,
        _ => 99,
    };
    Value::from(id)
}

fn snake(class_name: &str) -> String {
    class_name.to_ascii_lowercase().replace(' ', "_")
}

/// Every string and number leaf of the raw event (booleans become OCSF enums: `success` a
/// `status_id`, so they are not looked for).
fn scalars(value: &Value, out: &mut Vec<Value>) {
    match value {
        Value::Object(map) => map.values().for_each(|v| scalars(v, out)),
        Value::Array(items) => items.iter().for_each(|v| scalars(v, out)),
        Value::Null | Value::Bool(_) => {}
        other => out.push(other.clone()),
    }
}

fn contains_scalar(haystack: &Value, needle: &Value) -> bool {
    match haystack {
        Value::Object(map) => map.values().any(|v| contains_scalar(v, needle)),
        Value::Array(items) => items.iter().any(|v| contains_scalar(v, needle)),
        // Enum-like texts (`initiated_by.type` "admin") arrive as captions ("Admin").
        Value::String(text) => {
            same_value(haystack, needle)
                || needle
                    .as_str()
                    .is_some_and(|n| n.eq_ignore_ascii_case(text))
        }
        other => same_value(other, needle),
    }
}

#[test]
fn every_vendor_event_type_maps_to_the_vendors_ocsf_or_a_stated_deviation() {
    let vendor = Vendor::load();
    let deviations = Deviations::load();
    let schema = Schema::load();
    let mapper = Mapper::default();
    let validator = ocsf_schema::Validator::ocsf_1_8_0().strict(true);
    assert_eq!(vendor.events.len(), 551, "events.tsv rows");

    let (mut class_ok, mut activity_ok, mut typed_total, mut typed_ok, mut typed_deviated) =
        (0, 0, 0, 0, 0);
    let mut unexplained: Vec<String> = Vec::new();
    let mut invalid: Vec<String> = Vec::new();
    let mut lost: Vec<String> = Vec::new();
    let mut base_events = 0;
    // CONFORMANCE_DUMP=FILE writes every record (NDJSON), e.g. for ../shared/ocsf/validate.py.
    let mut dump = std::env::var("CONFORMANCE_DUMP").ok().map(|path| {
        std::io::BufWriter::new(std::fs::File::create(path).expect("CONFORMANCE_DUMP file"))
    });
    for vendor_event in &vendor.events {
        let event_type = &vendor_event.event_type;
        let rows = vendor.rows_for(event_type);
        let test_event = event::build(vendor_event, &rows, &schema);
        let raw = serde_json::to_vec(&test_event.json).unwrap();
        let record = match mapper.map(&raw) {
            Ok(record) => record,
            Err(error) => {
                unexplained.push(format!("{event_type}: did not map: {error}"));
                continue;
            }
        };
        let ocsf: Value = serde_json::from_slice(&record.json).unwrap();
        if let Some(dump) = dump.as_mut() {
            use std::io::Write;
            dump.write_all(&record.json)
                .and_then(|()| dump.write_all(b"\n"))
                .unwrap();
        }
        // CONFORMANCE_SHOW=event_type prints that type's test event and record.
        if std::env::var("CONFORMANCE_SHOW").is_ok_and(|show| show == *event_type) {
            println!(
                "{}\n{}",
                test_event.json,
                String::from_utf8_lossy(&record.json)
            );
        }
        if record.class_uid == 0 {
            base_events += 1;
        }
        let deviation = deviations.event_types.get(event_type);
        let same_class = record.class_uid == vendor_event.class_uid;
        let same_activity = same_class && record.activity_id == vendor_event.activity_id;
        class_ok += usize::from(same_class);
        activity_ok += usize::from(same_activity);
        if !same_activity && deviation.is_none() {
            unexplained.push(format!(
                "{event_type}: class/activity {}/{} (vendor {} {} / {} {})",
                record.class_uid,
                record.activity_id,
                vendor_event.class_name,
                vendor_event.class_uid,
                vendor_event.activity_name,
                vendor_event.activity_id
            ));
        }
        let findings = validator.validate(&ocsf);
        if !findings.is_empty() {
            let list: Vec<String> = findings.iter().map(ToString::to_string).collect();
            invalid.push(format!("{event_type}: {}", list.join("; ")));
        }
        let mut without_raw = ocsf.clone();
        if let Some(map) = without_raw.as_object_mut() {
            map.remove("raw_data");
        }
        let mut leaves = Vec::new();
        scalars(&test_event.json, &mut leaves);
        for leaf in leaves {
            if !contains_scalar(&without_raw, &leaf) {
                lost.push(format!("{event_type}: {leaf}"));
            }
        }
        let class_name = mapper::ocsf::OcsfClass::from_uid(vendor_event.class_uid).map_or_else(
            || snake(&vendor_event.class_name),
            |c| c.schema_name().to_owned(),
        );
        for (row, values) in &test_event.typed {
            typed_total += 1;
            let found = values_at(&ocsf, &row.ocsf_field);
            // A user's type id: the vendor's enum of the raw type (its page omits the transform
            // on some rows).
            let values: Vec<Value> = if row.ocsf_field.ends_with("user.type_id") {
                values.iter().map(user_type_id).collect()
            } else {
                values.clone()
            };
            if found
                .iter()
                .any(|ocsf_value| values.iter().any(|raw| same_value(ocsf_value, raw)))
            {
                typed_ok += 1;
            } else if deviations.field(row, event_type, &class_name).is_some()
                || (deviation.is_some() && !same_class)
            {
                // Stated, or the type is classified differently (a stated deviation) and the
                // vendor's path may not exist in our class.
                typed_deviated += 1;
                if std::env::var("CONFORMANCE_VERBOSE").is_ok() {
                    println!(
                        "  deviated: {event_type}: {} <- {} has {found:?}, raw {values:?}",
                        row.ocsf_field,
                        row.sources.join(", ")
                    );
                }
            } else {
                unexplained.push(format!(
                    "{event_type}: {} <- {} (fields.tsv:{}) has {:?}, raw {:?}",
                    row.ocsf_field,
                    row.sources.join(", "),
                    row.line,
                    found,
                    values
                ));
            }
        }
    }
    println!(
        "conformance with the vendor's mapping: class {class_ok}/551, class+activity \
         {activity_ok}/551, typed fields {typed_ok}/{typed_total} at the vendor's path \
         ({typed_deviated} named by a deviation), Base Events {base_events}, invalid {}, \
         raw values lost {}, unexplained {}",
        invalid.len(),
        lost.len(),
        unexplained.len()
    );
    for (what, lines) in [
        ("unexplained", &unexplained),
        ("invalid", &invalid),
        ("lost", &lost),
    ] {
        for line in lines.iter().take(300) {
            println!("  {what}: {line}");
        }
    }
    assert!(
        unexplained.is_empty() && invalid.is_empty() && lost.is_empty(),
        "{} unexplained differences, {} invalid records, {} raw values lost (listed above)",
        unexplained.len(),
        invalid.len(),
        lost.len()
    );
}
