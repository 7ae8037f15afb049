//! The mapper's real output fits the Avro schemas: every fixture event the mapper maps (the
//! vendored public samples and ours) encodes with its class schema (an event that does not
//! would be dead-lettered in Avro mode while passing in JSON mode).

use producer::avro::ClassEncoders;

const FIXTURES: [&str; 2] = [
    concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/public/jumpcloud-events"
    ),
    concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/events"),
];

#[test]
fn every_mapped_fixture_event_encodes_with_its_avro_schema() {
    let mapper = mapper::Mapper::default();
    let encoders = ClassEncoders::from_committed_schemas().unwrap();
    let mut encoded = 0;
    let mut classes = std::collections::BTreeSet::new();
    let paths = FIXTURES
        .iter()
        .flat_map(|dir| std::fs::read_dir(dir).unwrap())
        .map(|entry| entry.unwrap().path());
    for path in paths {
        if path.extension().and_then(|e| e.to_str()) != Some("ndjson") {
            continue;
        }
        for (number, line) in std::fs::read_to_string(&path).unwrap().lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let Ok(record) = mapper.map(line.as_bytes()) else {
                continue; // the mapper's own tests own its errors
            };
            let event: serde_json::Value = serde_json::from_slice(&record.json).unwrap();
            let encoder = encoders.get(record.class_uid).unwrap();
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
    assert!(encoded >= 300, "only {encoded} fixture events mapped");
    assert_eq!(
        classes,
        std::collections::BTreeSet::from([0, 3001, 3002, 3004, 3005, 3006]),
        "classes covered"
    );
}
