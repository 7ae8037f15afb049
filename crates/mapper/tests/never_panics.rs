//! Property tests: whatever the input, the mapper returns a result and never panics, and every
//! `Ok` is one line that serde_json reads as one OCSF object with a consistent envelope.
//!
//! Each property reaches what it names, and says so: it counts the cases that mapped and asserts
//! a minimum share, so a generator that drifts into producing only rejected input fails.
//! - mutated bytes: real fixture events with random byte edits (most stay mappable events);
//! - arbitrary JSON: events with timestamps in many forms (valid and not), every known nested
//!   object (`initiated_by`, `resource`, `changes`, `geoip`, `association`, `alert`, `system`,
//!   ...) holding arbitrary values, numbers wider than a double included;
//! - the catalogue: every event type of `mappings/event_types.toml` (patterns instantiated),
//!   whose class must be the table's, or a Base Event when the class's data is missing.

use std::cell::Cell;
use std::collections::BTreeMap;

use mapper::ocsf::OcsfClass;
use mapper::{MapError, Mapper};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Map, Value, json};

const OUR_FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/events");
/// The public samples vendored with their licences.
const PUBLIC_FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/fixtures/public/jumpcloud-events"
);
const EVENT_TYPES: &str = include_str!("../../../mappings/event_types.toml");
const VENDOR_EVENTS: &str = include_str!("../../../mappings/vendor/events.tsv");
const DEVIATIONS: &str = include_str!("../../../mappings/deviations.toml");

/// A number wider than a double, in a `Value` (serde_json cannot hold one): the marker string
/// is replaced by the bare number in the event's text.
const WIDE_MARK: &str = "\u{0}WIDE:";

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    })
}

/// What every `Ok` must be: one line, one JSON object serde_json reads, a consistent envelope,
/// the facts the producer uses equal to the JSON's.
fn check_output(record: &mapper::OcsfRecord) -> Value {
    assert!(!record.json.contains(&b'\n'), "one line");
    let event: Value = serde_json::from_slice(&record.json).unwrap_or_else(|error| {
        panic!(
            "output is not JSON for serde_json ({error}): {}",
            String::from_utf8_lossy(&record.json)
        )
    });
    assert!(event.is_object());
    let class_uid = event["class_uid"].as_i64().expect("class_uid");
    let activity_id = event["activity_id"].as_i64().expect("activity_id");
    assert_eq!(class_uid, i64::from(record.class_uid));
    assert_eq!(activity_id, i64::from(record.activity_id));
    assert_eq!(
        event["type_uid"].as_i64(),
        Some(class_uid * 100 + activity_id)
    );
    assert_eq!(event["metadata"]["version"], "1.8.0");
    assert_eq!(event["metadata"]["uid"], record.uid.as_str());
    assert!(event["time"].is_i64());
    assert!(event["severity_id"].is_i64());
    event
}

// ------------------------------------------------------------------------------------------
// mutated bytes

fn fixture_events() -> Vec<Vec<u8>> {
    let mut events = Vec::new();
    for dir in [OUR_FIXTURES, PUBLIC_FIXTURES] {
        let mut paths: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "ndjson"))
            .collect();
        paths.sort();
        for path in paths {
            let text = std::fs::read(&path).unwrap();
            events.extend(
                text.split(|b| *b == b'\n')
                    .filter(|line| !line.trim_ascii().is_empty())
                    .map(<[u8]>::to_vec),
            );
        }
    }
    events
}

#[derive(Debug, Clone)]
enum Edit {
    Insert(f64, u8),
    Delete(f64),
    Replace(f64, u8),
}

fn edit() -> impl Strategy<Value = Edit> {
    // JSON's sharp bytes, digits, letters, a multi-byte UTF-8 lead byte and anything at all.
    let byte = prop_oneof![
        prop::sample::select(b"{}[]\":,\\-+.eE0123456789 tfn\xc3\xff".to_vec()),
        any::<u8>(),
    ];
    prop_oneof![
        (0.0..1.0, byte.clone()).prop_map(|(at, b)| Edit::Insert(at, b)),
        (0.0..1.0).prop_map(Edit::Delete),
        (0.0..1.0, byte).prop_map(|(at, b)| Edit::Replace(at, b)),
    ]
}

fn apply(mut bytes: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    let at = |fraction: f64, len: usize| ((fraction * len as f64) as usize).min(len);
    for edit in edits {
        match *edit {
            Edit::Insert(f, b) => {
                let i = at(f, bytes.len());
                bytes.insert(i, b);
            }
            Edit::Delete(f) if !bytes.is_empty() => {
                let i = at(f, bytes.len() - 1);
                bytes.remove(i);
            }
            Edit::Replace(f, b) if !bytes.is_empty() => {
                let i = at(f, bytes.len() - 1);
                bytes[i] = b;
            }
            _ => {}
        }
    }
    bytes
}

#[test]
fn mutated_fixture_bytes_never_panic_and_mostly_map() {
    let events = fixture_events();
    assert!(events.len() > 300);
    let mapper = Mapper::default();
    let (cases, mapped) = (Cell::new(0_u32), Cell::new(0_u32));
    runner(2000)
        .run(
            &(
                0..events.len(),
                prop::collection::vec(edit(), 0..4),
                any::<bool>(),
            ),
            |(index, edits, pretty)| {
                let mut bytes = apply(events[index].clone(), &edits);
                if pretty {
                    // Whitespace and line breaks between tokens, as a pretty-printer writes.
                    bytes = bytes
                        .iter()
                        .flat_map(|&b| {
                            if b == b',' {
                                vec![b',', b'\n', b' ']
                            } else {
                                vec![b]
                            }
                        })
                        .collect();
                }
                cases.set(cases.get() + 1);
                match mapper.map(&bytes) {
                    Ok(record) => {
                        mapped.set(mapped.get() + 1);
                        check_output(&record);
                    }
                    Err(error) => assert!(!error.to_string().is_empty()),
                }
                Ok(())
            },
        )
        .unwrap();
    eprintln!("mutated bytes: {} of {} mapped", mapped.get(), cases.get());
    // Edits inside strings (most of an event) keep it an event; a quarter is a low bar.
    assert!(
        mapped.get() * 4 >= cases.get(),
        "only {} of {} mutated events mapped",
        mapped.get(),
        cases.get()
    );
}

// ------------------------------------------------------------------------------------------
// arbitrary JSON in the places the mapper reads

fn leaf() -> impl Strategy<Value = Value> {
    // Numbers wider than a double are rare (they take the mapper's slower path).
    prop_oneof![
        10 => Just(Value::Null),
        10 => any::<bool>().prop_map(Value::Bool),
        10 => any::<i64>().prop_map(Value::from),
        10 => any::<f64>().prop_map(Value::from),
        10 => (-200.0..200.0_f64).prop_map(Value::from),
        10 => ".{0,12}".prop_map(Value::String),
        10 => "[0-9a-f]{24}".prop_map(Value::String),
        1 => prop::sample::select(vec!["1e999", "-96.80e5555555323", "1E+400"])
            .prop_map(|wide| Value::String(format!("{WIDE_MARK}{wide}"))),
    ]
}

fn arbitrary_json() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_@]{1,8}", inner, 0..5)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// A value that is mostly of the expected kind: one of `choices`, else anything.
fn one_of(choices: &[&'static str]) -> impl Strategy<Value = Value> + use<> {
    prop_oneof![
        3 => prop::sample::select(choices.to_vec()).prop_map(Value::from),
        1 => arbitrary_json(),
    ]
}

/// An object with the given keys, each present or not, each value from its strategy.
fn object(fields: Vec<(&'static str, BoxedStrategy<Value>)>) -> BoxedStrategy<Value> {
    let mut out: BoxedStrategy<Map<String, Value>> = Just(Map::new()).boxed();
    for (key, strategy) in fields {
        out = (out, prop::option::weighted(0.7, strategy))
            .prop_map(move |(mut map, value)| {
                if let Some(value) = value {
                    map.insert(key.to_owned(), value);
                }
                map
            })
            .boxed();
    }
    prop_oneof![4 => out.prop_map(Value::Object), 1 => arbitrary_json()].boxed()
}

fn person() -> BoxedStrategy<Value> {
    object(vec![
        ("id", leaf().boxed()),
        (
            "type",
            one_of(&[
                "user",
                "admin",
                "systemuser",
                "system",
                "user_group",
                "alert",
                "rule",
            ])
            .boxed(),
        ),
        ("username", leaf().boxed()),
        ("email", leaf().boxed()),
        ("name", leaf().boxed()),
    ])
}

/// RFC 3339 timestamps as DI writes them (Z, offsets, 0 to 9 fraction digits) and forms that
/// are not: the mapper must reject those and only those.
fn timestamp() -> impl Strategy<Value = (Option<Value>, bool)> {
    let valid = (
        2000_u32..2099,
        1_u32..13,
        1_u32..29,
        0_u32..24,
        0_u32..60,
        0_u32..60,
        0_usize..10,
        prop::sample::select(vec!["Z", "+00:00", "+01:00", "-05:30", "+14:00"]),
    )
        .prop_map(|(y, mo, d, h, mi, s, digits, zone)| {
            let fraction = if digits == 0 {
                String::new()
            } else {
                format!(".{}", &"123456789"[..digits])
            };
            let text = format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}{fraction}{zone}");
            (Some(Value::String(text)), true)
        });
    let invalid = prop_oneof![
        Just((None, false)),
        prop::sample::select(vec![
            "",
            "2026-13-01T00:00:00Z",
            "2026-03-20 10:15:30",
            "2026-03-20T10:15:30",
            "1700000000",
            "yesterday",
            // Valid RFC 3339, not a plausible event time (mapper::PLAUSIBLE_TIME_MS).
            "6022-04-07T12:36:52.123Z",
            "1970-01-01T00:00:00Z",
            "1969-12-31T23:59:59.999Z",
            "2100-01-01T00:00:00Z",
            "9999-12-31T23:59:59Z",
        ])
        .prop_map(|text| (Some(Value::from(text)), false)),
        any::<i64>().prop_map(|n| (Some(Value::from(n)), false)),
        Just((Some(Value::Null), false)),
    ];
    prop_oneof![4 => valid, 1 => invalid]
}

/// An alert, in the vendor's layout: `resource {alert_object_id, source_name, context {...}}`.
fn alert_resource() -> BoxedStrategy<Value> {
    let trigger = prop_oneof![
        person().prop_map(|p| {
            Value::String(
                json!({"id": "t1", "timestamp": "2026-01-01T00:00:00Z",
                       "event_type": "admin_login_attempt", "initiated_by": p})
                .to_string(),
            )
        }),
        arbitrary_json(),
    ];
    object(vec![
        ("alert_object_id", leaf().boxed()),
        ("source_name", leaf().boxed()),
        ("source_type", leaf().boxed()),
        (
            "context",
            object(vec![
                ("rule_name", leaf().boxed()),
                ("rule_object_id", leaf().boxed()),
                ("event_description", leaf().boxed()),
                ("source_url", leaf().boxed()),
                ("di_event", trigger.boxed()),
            ]),
        ),
    ])
}

/// An event: a timestamp, an event type and every nested object the mapper reads, each holding
/// values of the expected kind or arbitrary ones.
fn event(event_type: BoxedStrategy<Value>) -> impl Strategy<Value = (String, bool)> {
    let end = object(vec![
        (
            "type",
            one_of(&[
                "user",
                "user_group",
                "system",
                "application",
                "radius_server",
            ])
            .boxed(),
        ),
        ("object_id", leaf().boxed()),
        ("name", leaf().boxed()),
    ]);
    let nested = object(vec![
        ("initiated_by", person()),
        ("resource", prop_oneof![person(), alert_resource()].boxed()),
        (
            "changes",
            prop::collection::vec(
                object(vec![
                    (
                        "field",
                        one_of(&["suspended", "state", "account_locked", "password", "status"])
                            .boxed(),
                    ),
                    ("from", leaf().boxed()),
                    ("to", leaf().boxed()),
                ]),
                0..3,
            )
            .prop_map(Value::Array)
            .boxed(),
        ),
        (
            "geoip",
            object(vec![
                ("country_code", one_of(&["FR", "US", ""]).boxed()),
                ("region_code", leaf().boxed()),
                ("city_name", leaf().boxed()),
                ("continent_code", one_of(&["EU", "NA", "XX"]).boxed()),
                ("latitude", leaf().boxed()),
                ("longitude", leaf().boxed()),
                ("asn", leaf().boxed()),
                ("as_org", leaf().boxed()),
            ]),
        ),
        (
            "association",
            object(vec![
                ("op", one_of(&["add", "remove"]).boxed()),
                (
                    "connection",
                    object(vec![("from", end.clone()), ("to", end)]),
                ),
            ]),
        ),
        (
            "status",
            one_of(&["new", "In Progress", "resolved", "odd"]).boxed(),
        ),
        ("severity", one_of(&["low", "high", "P1"]).boxed()),
        (
            "system",
            object(vec![
                ("id", leaf().boxed()),
                ("hostname", leaf().boxed()),
                ("displayName", leaf().boxed()),
            ]),
        ),
        (
            "windows_meta",
            object(vec![(
                "logon_type",
                prop_oneof![(0_i64..16).prop_map(Value::from), one_of(&["Network", "x"])].boxed(),
            )]),
        ),
        (
            "auth_context",
            object(vec![
                (
                    "auth_methods",
                    prop::collection::btree_map(
                        prop::sample::select(vec!["password", "totp", "webauthn", "duo", "x"]),
                        arbitrary_json(),
                        0..4,
                    )
                    .prop_map(|map| {
                        Value::Object(map.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
                    })
                    .boxed(),
                ),
                ("system", person()),
            ]),
        ),
        (
            "mfa_meta",
            object(vec![("type", one_of(&["totp", "duo", "none"]).boxed())]),
        ),
        (
            "application",
            object(vec![
                ("id", leaf().boxed()),
                ("display_label", leaf().boxed()),
                ("sso_type", one_of(&["saml", "oidc"]).boxed()),
            ]),
        ),
        (
            "client_ip",
            one_of(&["1.2.3.4", "::1", "not an ip"]).boxed(),
        ),
        ("src_ip", one_of(&["10.0.0.1"]).boxed()),
        ("username", leaf().boxed()),
        ("success", leaf().boxed()),
        ("sso_token_success", leaf().boxed()),
        ("error_message", leaf().boxed()),
        ("error_code", leaf().boxed()),
        ("mfa", leaf().boxed()),
        ("useragent", arbitrary_json().boxed()),
        ("id", leaf().boxed()),
        ("organization", leaf().boxed()),
    ]);
    (timestamp(), event_type, nested).prop_map(|((timestamp, valid), event_type, nested)| {
        let mut object = match nested {
            Value::Object(map) => map,
            other => Map::from_iter([("extra".to_owned(), other)]),
        };
        object.insert("event_type".into(), event_type);
        match timestamp {
            Some(timestamp) => object.insert("timestamp".into(), timestamp),
            None => object.remove("timestamp"),
        };
        (with_wide_numbers(&Value::Object(object).to_string()), valid)
    })
}

/// The event's text with the wide-number markers made bare numbers.
fn with_wide_numbers(text: &str) -> String {
    let marker = serde_json::to_string(WIDE_MARK).unwrap();
    let marker = &marker[..marker.len() - 1]; // `"\u0000WIDE:`
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(marker) {
        out.push_str(&rest[..at]);
        let after = &rest[at + marker.len()..];
        let end = after.find('"').unwrap();
        out.push_str(&after[..end]);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

#[test]
fn arbitrary_json_events_never_panic_and_map_when_their_timestamp_is_valid() {
    let mapper = Mapper::default();
    let (cases, mapped, wide) = (Cell::new(0_u32), Cell::new(0_u32), Cell::new(0_u32));
    let event_type = prop_oneof![
        3 => prop::sample::select(catalogue().into_iter().map(|(t, _)| t).collect::<Vec<_>>())
            .prop_map(Value::from),
        1 => arbitrary_json(),
    ]
    .boxed();
    runner(1500)
        .run(&event(event_type), |(text, timestamp_valid)| {
            cases.set(cases.get() + 1);
            match mapper.map(text.as_bytes()) {
                Ok(record) => {
                    mapped.set(mapped.get() + 1);
                    if serde_json::from_str::<Value>(&text).is_err() {
                        wide.set(wide.get() + 1); // serde_json refuses the input, not the output
                    }
                    let event = check_output(&record);
                    assert_eq!(event["raw_data"].as_str(), Some(text.as_str()));
                }
                Err(error) => {
                    assert!(!timestamp_valid, "{error} for {text}");
                    assert!(
                        matches!(error, MapError::Timestamp(_)),
                        "{error} for {text}"
                    );
                }
            }
            Ok(())
        })
        .unwrap();
    eprintln!(
        "arbitrary JSON: {} of {} mapped, {} with numbers wider than a double",
        mapped.get(),
        cases.get(),
        wide.get()
    );
    assert!(
        mapped.get() * 10 >= cases.get() * 6,
        "only {} of {} events mapped",
        mapped.get(),
        cases.get()
    );
    assert!(wide.get() > 0, "no case held a number wider than a double");
}

// ------------------------------------------------------------------------------------------
// every catalogue event type

/// Every event type of the mapping tables with the class it maps to (`None`: decided by the
/// association's ends): the vendor's 551 (with the deviations' classes), this product's own,
/// and its patterns instantiated with a few verbs.
fn catalogue() -> Vec<(String, Option<u32>)> {
    let tables: toml::Table = toml::from_str(EVENT_TYPES).unwrap();
    let deviations: toml::Table = toml::from_str(DEVIATIONS).unwrap();
    let class_of = |entry: &toml::Value| {
        let class = entry["class"].as_str().unwrap();
        let uid = OcsfClass::from_schema_name(class).unwrap().uid();
        (entry["activity"].as_str() != Some("from_association")).then_some(uid)
    };
    let mut vendor: BTreeMap<String, Option<u32>> = BTreeMap::new();
    for line in VENDOR_EVENTS.lines().skip(1) {
        let columns: Vec<&str> = line.split('\t').collect();
        vendor.insert(columns[1].to_owned(), Some(columns[3].parse().unwrap()));
    }
    for (event_type, entry) in deviations["event_types"].as_table().unwrap() {
        vendor.insert(event_type.clone(), class_of(entry));
    }
    let mut out = vendor.clone();
    for (event_type, entry) in tables["event_types"].as_table().unwrap() {
        if let Some(alias) = entry.get("same_as").and_then(toml::Value::as_str) {
            out.insert(event_type.clone(), vendor[alias]);
        } else if entry.get("class").is_some() {
            out.insert(event_type.clone(), class_of(entry));
        }
    }
    for pattern in tables["patterns"].as_array().unwrap() {
        let matcher = pattern["match"].as_str().unwrap();
        for verb in ["create", "update", "delete", "run"] {
            let event_type = matcher.replacen('*', verb, 1);
            out.entry(event_type).or_insert_with(|| class_of(pattern));
        }
    }
    out.into_iter().collect()
}

#[test]
fn every_catalogue_event_type_maps_to_its_tables_class() {
    let catalogue = catalogue();
    assert!(catalogue.len() > 600, "{}", catalogue.len());
    let expected: BTreeMap<String, Option<u32>> = catalogue.iter().cloned().collect();
    let mapper = Mapper::default();
    let (cases, classified) = (Cell::new(0_u32), Cell::new(0_u32));
    let seen = std::cell::RefCell::new(std::collections::BTreeSet::new());
    let event_type =
        prop::sample::select(catalogue.iter().map(|(t, _)| t.clone()).collect::<Vec<_>>())
            .prop_map(Value::from)
            .boxed();
    let valid_time = event(event_type).prop_filter("a valid timestamp", |(_, valid)| *valid);
    // The classes of many types (the few types of the others are reached by the conformance
    // test's and the fixtures' events, which carry the vendor's fields). Random events reach a
    // class only when they happen to carry its data: 3,000 cases at least, then more, 1,000 at a
    // time up to 20,000, until each of these was reached (a fixed 3,000 missed Group
    // Management, 3006, once in CI on 2026-12-07; none of 24 runs here did).
    const REACHED: [u32; 6] = [1006, 3001, 3002, 3004, 3005, 3006];
    let all_reached =
        |seen: &std::collections::BTreeSet<u32>| REACHED.iter().all(|c| seen.contains(c));
    let mut round = 0;
    while round < 3 || (round < 20 && !all_reached(&seen.borrow())) {
        round += 1;
        runner(1000)
            .run(&valid_time, |(text, _)| {
                cases.set(cases.get() + 1);
                let record = mapper
                    .map(text.as_bytes())
                    .unwrap_or_else(|error| panic!("{error} for {text}"));
                let event = check_output(&record);
                let event_type = event["metadata"]["event_code"].as_str().unwrap().to_owned();
                let class = record.class_uid;
                match expected[&event_type] {
                    // The table's class, or a Base Event when that class's data is missing.
                    Some(uid) => assert!(class == uid || class == 0, "{event_type} -> {class}"),
                    None => assert!(
                        [3004, 3005, 3006, 0].contains(&class),
                        "{event_type} -> {class}"
                    ),
                }
                if class != 0 {
                    classified.set(classified.get() + 1);
                    seen.borrow_mut().insert(class);
                }
                Ok(())
            })
            .unwrap();
    }
    eprintln!(
        "catalogue: {} of {} got their table's class ({:?})",
        classified.get(),
        cases.get(),
        seen.borrow()
    );
    assert!(
        classified.get() * 4 >= cases.get(),
        "only {} of {} events got their class",
        classified.get(),
        cases.get()
    );
    let seen = seen.into_inner();
    for class in REACHED {
        assert!(seen.contains(&class), "class {class} not reached: {seen:?}");
    }
}

// ------------------------------------------------------------------------------------------

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let depth = 100_000;
    let text = format!(
        "{{\"timestamp\":\"2026-01-01T00:00:00Z\",\"a\":{}{}}}",
        "[".repeat(depth),
        "]".repeat(depth)
    );
    let error = Mapper::default().map(text.as_bytes()).unwrap_err();
    assert!(matches!(error, MapError::TooDeep(_)), "{error}");
}

#[test]
fn huge_strings_map() {
    let big = "x".repeat(2 * 1024 * 1024);
    let text = json!({"id": "big", "timestamp": "2026-01-01T00:00:00Z", "event_type": "user_login_attempt",
                      "initiated_by": {"id": "u1", "type": "user", "username": big.clone()}, "success": true})
    .to_string();
    let record = Mapper::default().map(text.as_bytes()).unwrap();
    let event: Value = serde_json::from_slice(&record.json).unwrap();
    assert_eq!(
        event["user"]["name"].as_str().map(str::len),
        Some(big.len())
    );
}

// ------------------------------------------------------------------------------------------
// the fuzz target's oracle: strict JSON and no OCSF error

/// The `mapper` fuzz target's oracle as a property test: every event of every table type, with
/// arbitrary values in every nested object the mapper reads and timestamps of every kind
/// (implausible ones included), either maps to a record that serde_json reads and the OCSF 1.8.0
/// validator finds nothing wrong with (strict: warnings count), or is a timestamp error.
#[test]
fn every_mapped_event_is_strict_valid_ocsf() {
    let catalogue = catalogue();
    let mapper = Mapper::default();
    let validator = ocsf_schema::Validator::ocsf_1_8_0().strict(true);
    let (cases, mapped) = (Cell::new(0_u32), Cell::new(0_u32));
    let event_type = prop_oneof![
        9 => prop::sample::select(catalogue.iter().map(|(t, _)| t.clone()).collect::<Vec<_>>())
            .prop_map(Value::from),
        1 => arbitrary_json(),
    ]
    .boxed();
    runner(2000)
        .run(&event(event_type), |(text, timestamp_valid)| {
            cases.set(cases.get() + 1);
            match mapper.map(text.as_bytes()) {
                Ok(record) => {
                    mapped.set(mapped.get() + 1);
                    let event = check_output(&record);
                    let findings = validator.validate_json(&record.json);
                    let listed: Vec<String> = findings.iter().map(ToString::to_string).collect();
                    assert!(
                        listed.is_empty(),
                        "{}\nfor {text}\n-> {event}",
                        listed.join("\n")
                    );
                }
                Err(error) => {
                    assert!(!timestamp_valid, "{error} for {text}");
                    assert!(
                        matches!(error, MapError::Timestamp(_)),
                        "{error} for {text}"
                    );
                }
            }
            Ok(())
        })
        .unwrap();
    eprintln!("strict-valid: {} of {} mapped", mapped.get(), cases.get());
    assert!(
        mapped.get() * 10 >= cases.get() * 6,
        "only {} of {} mapped",
        mapped.get(),
        cases.get()
    );
}
