//! The mapper's real output fits the Avro schemas: every public JumpCloud fixture event the
//! mapper maps encodes with its class schema (an event that does not would be dead-lettered in
//! Avro mode while passing in JSON mode).

use producer::avro::ClassEncoders;

/// The public samples vendored with their licences.
const FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/fixtures/public/jumpcloud-events"
);
const OUR_FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/events");

/// Maps every event of the NDJSON files in `dir` and encodes it with its class schema; returns
/// (events encoded, classes seen).
fn encode_all(dir: &str) -> (usize, std::collections::BTreeSet<u32>) {
    let mapper = mapper::Mapper::default();
    let encoders = ClassEncoders::from_committed_schemas().unwrap();
    let mut encoded = 0;
    let mut classes = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("ndjson") {
            continue;
        }
        for (number, line) in std::fs::read_to_string(&path).unwrap().lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let record = mapper.map(line.as_bytes()).unwrap();
            let event: serde_json::Value = serde_json::from_slice(&record.json).unwrap();
            let encoder = encoders
                .get(record.class_uid)
                .unwrap_or_else(|| panic!("no Avro schema for class {}", record.class_uid));
            if let Err(error) = encoder.encode_confluent(1, &event) {
                panic!(
                    "{}:{}: class {}: {error}",
                    path.display(),
                    number + 1,
                    record.class_uid
                );
            }
            encoded += 1;
            classes.insert(record.class_uid);
        }
    }
    (encoded, classes)
}

/// Our fixtures cover the classes of JumpCloud's mapping they hold events of, Detection Finding
/// and the classes the vendor's mapping brought in (Scheduled Job Activity, API Activity, ...).
#[test]
fn every_mapped_event_of_our_fixtures_encodes_with_its_avro_schema() {
    let (encoded, classes) = encode_all(OUR_FIXTURES);
    assert!(encoded > 300, "only {encoded} fixture events");
    assert_eq!(
        classes.into_iter().collect::<Vec<_>>(),
        vec![
            0, 1006, 2004, 3001, 3002, 3004, 3005, 3006, 4009, 5003, 5020, 5023, 6002, 6003, 6005
        ]
    );
}

/// Every vendored public sample maps and encodes (`encode_all` fails on any that does not).
#[test]
fn every_mapped_public_sample_encodes_with_its_avro_schema() {
    // The two public samples vendored with their licences: an admin login and an SSO login.
    let (encoded, classes) = encode_all(FIXTURES);
    assert_eq!(encoded, 2, "fixture events mapped");
    assert_eq!(classes.into_iter().collect::<Vec<_>>(), vec![3002]);
}
