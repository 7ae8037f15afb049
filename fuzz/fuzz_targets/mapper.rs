//! The mapper on arbitrary bytes: `Mapper::default().map(bytes)` never panics, and every record
//! it returns is one well-formed OCSF JSON object:
//! - `record.json` is one line that serde_json reads as exactly one JSON object (nothing after
//!   it), with no key given twice in any object the mapper writes (source values copied
//!   verbatim into `unmapped.jumpcloud` are exempt: README.md, "Findings");
//! - its `class_uid` equals `record.class_uid`, its `activity_id` `record.activity_id`;
//! - its `metadata.uid` is a lowercase hyphenated UUIDv5 string, equal to `record.uid`;
//! - it is valid OCSF 1.8.0 to the project's validator (`ocsf-schema`, strict: warnings count),
//!   read as serde_json reads it (a key repeated inside a verbatim source value is exempt):
//!   this oracle found an event of the year 6022 whose `time` no validator reads as
//!   milliseconds (now a `MapError`), and values that are no e-mail address in `email_addr`.
//!
//! The input is also tried as an event that maps: when it parses as a JSON object, the object
//! with `timestamp` set to a valid RFC 3339 string is mapped too, and that must return a record
//! (the mapper's contract: an object no deeper than serde_json reads, with a usable timestamp,
//! always maps), held to the same checks.

#![no_main]

use std::collections::BTreeSet;
use std::fmt;
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use mapper::{Mapper, OcsfRecord};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

static MAPPER: LazyLock<Mapper> = LazyLock::new(Mapper::default);
static VALIDATOR: LazyLock<ocsf_schema::Validator> =
    LazyLock::new(|| ocsf_schema::Validator::ocsf_1_8_0().strict(true));

fuzz_target!(|data: &[u8]| {
    if let Ok(record) = MAPPER.map(data) {
        check(&record);
    }
    if let Ok(mut object) = serde_json::from_slice::<Map<String, Value>>(data) {
        object.insert(
            "timestamp".to_owned(),
            Value::String("2026-01-01T00:00:00.123456Z".to_owned()),
        );
        let event = serde_json::to_vec(&object).unwrap();
        match MAPPER.map(&event) {
            Ok(record) => check(&record),
            Err(error) => panic!(
                "a JSON object with a valid timestamp did not map ({error}): {}",
                String::from_utf8_lossy(&event)
            ),
        }
    }
});

fn check(record: &OcsfRecord) {
    let json = &record.json;
    let shown = || String::from_utf8_lossy(json).into_owned();
    assert!(!json.contains(&b'\n'), "more than one line: {}", shown());
    // Exactly one object: `from_slice` refuses anything after the value.
    let event: Map<String, Value> = serde_json::from_slice(json)
        .unwrap_or_else(|error| panic!("not one JSON object ({error}): {}", shown()));
    // serde_json keeps the last of a repeated key; a reader that keeps the first would see
    // another event. Not checked inside source values copied verbatim (see `Place::Verbatim`).
    let mut deserializer = serde_json::Deserializer::from_slice(json);
    if let Err(error) = deserializer.deserialize_any(NoRepeatedKeys(Place::Top)) {
        panic!("{error}: {}", shown());
    }

    assert_eq!(
        event.get("class_uid").and_then(Value::as_u64),
        Some(u64::from(record.class_uid)),
        "class_uid: {}",
        shown()
    );
    assert_eq!(
        event.get("activity_id").and_then(Value::as_i64),
        Some(i64::from(record.activity_id)),
        "activity_id: {}",
        shown()
    );
    let uid = event
        .get("metadata")
        .and_then(|metadata| metadata.get("uid"))
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no string metadata.uid: {}", shown()));
    let parsed = uuid::Uuid::try_parse(uid)
        .unwrap_or_else(|error| panic!("metadata.uid {uid:?} is not a UUID ({error})"));
    assert_eq!(
        parsed.hyphenated().to_string(),
        uid,
        "metadata.uid not lowercase hyphenated"
    );
    assert_eq!(parsed.get_version_num(), 5, "metadata.uid {uid} not UUIDv5");
    assert_eq!(uid, record.uid, "metadata.uid differs from record.uid");

    // On the parsed object, not the text: the validator's JSON reader refuses a repeated key
    // anywhere, and a source object with a key twice stays so in `unmapped` (Findings 2).
    let findings = VALIDATOR.validate(&Value::Object(event));
    if !findings.is_empty() {
        let listed: Vec<String> = findings.iter().map(ToString::to_string).collect();
        panic!("not valid OCSF 1.8.0:\n{}\n{}", listed.join("\n"), shown());
    }
}

/// Where a value sits in the output, for the repeated-key check.
#[derive(Clone, Copy, PartialEq)]
enum Place {
    /// The event's top level: `unmapped` is special.
    Top,
    /// Written by the mapper: no key twice.
    Mapped,
    /// `unmapped`: no key twice; `jumpcloud` is the source's residue.
    Unmapped,
    /// `unmapped.jumpcloud`: the source's top-level fields, each once (the mapper keeps the
    /// last of a repeated one), their values as the source had them.
    SourceTop,
    /// A source value copied verbatim: not checked (a nested object of the source that repeats a
    /// key keeps both; see README.md, "Findings").
    Verbatim,
}

/// Reads any JSON value and fails on an object that names a key twice, where the mapper is
/// responsible for the keys.
#[derive(Clone, Copy)]
struct NoRepeatedKeys(Place);

impl NoRepeatedKeys {
    fn child(self, key: Option<&str>) -> NoRepeatedKeys {
        NoRepeatedKeys(match (self.0, key) {
            (Place::Top, Some("unmapped")) => Place::Unmapped,
            (Place::Top | Place::Mapped, _) => Place::Mapped,
            (Place::Unmapped, Some("jumpcloud")) => Place::SourceTop,
            (Place::Unmapped, _) => Place::Mapped,
            (Place::SourceTop | Place::Verbatim, _) => Place::Verbatim,
        })
    }
}

impl<'de> DeserializeSeed<'de> for NoRepeatedKeys {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for NoRepeatedKeys {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(self.child(None))?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut keys = BTreeSet::new();
        while let Some(key) = map.next_key::<String>()? {
            map.next_value_seed(self.child(Some(&key)))?;
            if self.0 != Place::Verbatim && !keys.insert(key.clone()) {
                return Err(de::Error::custom(format!("key {key:?} given twice")));
            }
        }
        Ok(())
    }
}
