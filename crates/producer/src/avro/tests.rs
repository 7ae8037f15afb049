use std::collections::BTreeSet;

use apache_avro::types::Value as AvroValue;
use serde_json::{Value, json};

use super::*;

const WORKSPACE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

#[path = "../../tests/common/ocsf_records.rs"]
mod ocsf_records;

fn vendored_compact_schema() -> Value {
    serde_json::from_str(ocsf_schema::COMPACT_SCHEMA_JSON).unwrap()
}

/// Valid OCSF events of every class the project emits, as the project maps them.
fn valid_examples() -> Vec<Value> {
    ocsf_records::mapped_examples()
        .iter()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// Drop nulls (null and missing are the same in OCSF).
fn without_nulls(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), without_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(without_nulls).collect()),
        other => other.clone(),
    }
}

/// Avro value decoded by `apache_avro` -> OCSF JSON, parsing the JSON-encoded string fields
/// (found from the schema JSON) and dropping nulls.
fn avro_to_json(
    value: &AvroValue,
    schema: &Value,
    named: &std::collections::HashMap<String, Value>,
) -> Value {
    let schema = match schema {
        Value::String(name) if named.contains_key(name) => &named[name],
        other => other,
    };
    match value {
        AvroValue::Null => Value::Null,
        AvroValue::Boolean(b) => json!(b),
        AvroValue::Int(i) => json!(i),
        AvroValue::Long(l) => json!(l),
        AvroValue::Double(d) => json!(d),
        AvroValue::String(s) => json!(s),
        AvroValue::Union(_, inner) => {
            let non_null = schema
                .as_array()
                .and_then(|variants| variants.iter().find(|v| *v != "null"))
                .unwrap();
            avro_to_json(inner, non_null, named)
        }
        AvroValue::Array(items) => Value::Array(
            items
                .iter()
                .map(|i| avro_to_json(i, &schema["items"], named))
                .collect(),
        ),
        AvroValue::Record(fields) => {
            let mut object = serde_json::Map::new();
            for ((name, field_value), field_schema) in
                fields.iter().zip(schema["fields"].as_array().unwrap())
            {
                assert_eq!(name, field_schema["name"].as_str().unwrap());
                let mut converted = avro_to_json(field_value, &field_schema["type"], named);
                if let (Some(_), Value::String(text)) =
                    (field_schema.get(JSON_ENCODING_ATTRIBUTE), &converted)
                {
                    converted = serde_json::from_str(text).unwrap();
                }
                if !converted.is_null() {
                    object.insert(name.clone(), converted);
                }
            }
            Value::Object(object)
        }
        other => panic!("unexpected Avro value {other:?}"),
    }
}

fn collect_named_json(schema: &Value, named: &mut std::collections::HashMap<String, Value>) {
    match schema {
        Value::Object(map) => {
            if map.get("type") == Some(&json!("record")) {
                named.insert(map["name"].as_str().unwrap().to_owned(), schema.clone());
                for field in map["fields"].as_array().unwrap() {
                    collect_named_json(&field["type"], named);
                }
            } else if let Some(items) = map.get("items") {
                collect_named_json(items, named);
            }
        }
        Value::Array(variants) => variants.iter().for_each(|v| collect_named_json(v, named)),
        _ => {}
    }
}

#[test]
fn committed_avro_schemas_are_not_stale() {
    let generated = generate_avro_schemas(&vendored_compact_schema()).unwrap();
    let generated_files: BTreeSet<String> = generated.iter().map(|g| g.file_name.clone()).collect();
    let committed_files: BTreeSet<String> = std::fs::read_dir(format!("{WORKSPACE}/schemas/avro"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".avsc"))
        .collect();
    assert_eq!(
        generated_files, committed_files,
        "schemas/avro is stale: run `cargo run -p producer --bin generate-avro-schemas`"
    );
    for schema in &generated {
        let committed =
            std::fs::read_to_string(format!("{WORKSPACE}/schemas/avro/{}", schema.file_name))
                .unwrap();
        let committed: Value = serde_json::from_str(&committed).unwrap();
        assert!(
            committed == schema.schema,
            "schemas/avro/{} is stale: run `cargo run -p producer --bin generate-avro-schemas`",
            schema.file_name
        );
    }
    // The compiled-in copies are the committed files.
    assert_eq!(CLASS_SCHEMA_FILES.len(), generated.len());
    for (file, schema) in CLASS_SCHEMA_FILES.iter().zip(&generated) {
        assert_eq!(file.class_uid, schema.class_uid);
        assert_eq!(file.class_name, schema.class_name);
        assert_eq!(
            serde_json::from_str::<Value>(file.text).unwrap(),
            schema.schema
        );
    }
}

#[test]
fn generated_schemas_cover_the_classes_with_named_records() {
    let generated = generate_avro_schemas(&vendored_compact_schema()).unwrap();
    let uids: Vec<u32> = generated.iter().map(|g| g.class_uid).collect();
    assert_eq!(
        uids,
        vec![
            0, 1006, 1007, 2004, 3001, 3002, 3004, 3005, 3006, 4009, 5001, 5003, 5019, 5020, 5023,
            6002, 6003, 6005, 6008
        ]
    );
    let authentication = generated.iter().find(|g| g.class_uid == 3002).unwrap();
    assert_eq!(authentication.record_name, "ocsf.v1_8_0.Authentication");
    let fields = authentication.schema["fields"].as_array().unwrap();
    let field = |name: &str| fields.iter().find(|f| f["name"] == name).unwrap().clone();
    // Required: not nullable. Optional: ["null", T] with default null.
    assert_eq!(field("class_uid")["type"], json!("int"));
    assert_eq!(field("time")["type"], json!("long"));
    assert_eq!(field("is_mfa")["type"], json!(["null", "boolean"]));
    assert_eq!(field("is_mfa")["default"], Value::Null);
    assert_eq!(field("message")["type"], json!(["null", "string"]));
    // Enum ids stay int.
    assert_eq!(field("auth_protocol_id")["type"], json!(["null", "int"]));
    // unmapped is a JSON string.
    assert_eq!(field("unmapped")["type"], json!(["null", "string"]));
    assert_eq!(field("unmapped")[JSON_ENCODING_ATTRIBUTE], json!("json"));
    // Objects are named records, defined once (actor.user) and referenced by name after;
    // Authentication's user is required, so not nullable.
    assert_eq!(
        field("actor")["type"][1]["name"],
        json!("ocsf.v1_8_0.Actor")
    );
    assert_eq!(field("user")["type"], json!("ocsf.v1_8_0.User"));
    assert_eq!(field("auth_factors")["type"][1]["type"], json!("array"));
    let items = &field("auth_factors")["type"][1]["items"];
    let items_name = items.get("name").unwrap_or(items);
    assert_eq!(items_name, &json!("ocsf.v1_8_0.AuthFactor"));
    let mut named = std::collections::HashMap::new();
    collect_named_json(&authentication.schema, &mut named);
    let factor_type_id = named["ocsf.v1_8_0.AuthFactor"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "factor_type_id")
        .unwrap();
    assert_eq!(
        factor_type_id["type"],
        json!("int"),
        "required in auth_factor"
    );
}

#[test]
fn recursion_is_cut_into_json_strings() {
    let generated = generate_avro_schemas(&vendored_compact_schema()).unwrap();
    let mut named = std::collections::HashMap::new();
    for schema in &generated {
        collect_named_json(&schema.schema, &mut named);
    }
    let field_of = |record: &str, field: &str| {
        named[record]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == field)
            .unwrap()
            .clone()
    };
    for (record, field) in [
        ("ocsf.v1_8_0.LdapPerson", "manager"),
        ("ocsf.v1_8_0.Process", "parent_process"),
        ("ocsf.v1_8_0.NetworkProxy", "proxy_endpoint"),
        ("ocsf.v1_8_0.Analytic", "related_analytics"),
    ] {
        let cut = field_of(record, field);
        assert_eq!(cut["type"], json!(["null", "string"]), "{record}.{field}");
        assert_eq!(
            cut[JSON_ENCODING_ATTRIBUTE],
            json!("json"),
            "{record}.{field}"
        );
    }
    // Not cut where there is no cycle.
    assert_eq!(
        field_of("ocsf.v1_8_0.User", "ldap_person")["type"][1]["name"],
        json!("ocsf.v1_8_0.LdapPerson")
    );
}

#[test]
fn every_valid_example_round_trips_through_avro() {
    let encoders = ClassEncoders::from_committed_schemas().unwrap();
    let examples = valid_examples();
    assert!(examples.len() >= 10);
    let classes: BTreeSet<u64> = examples
        .iter()
        .filter_map(|e| e["class_uid"].as_u64())
        .collect();
    assert_eq!(
        classes,
        BTreeSet::from([
            0, 1006, 2004, 3001, 3002, 3004, 3005, 3006, 4009, 5001, 5003, 5020, 5023, 6002, 6003,
            6005
        ])
    );
    for event in &examples {
        let class_uid = event["class_uid"].as_u64().unwrap() as u32;
        let encoder = encoders.get(class_uid).unwrap();
        let framed = encoder.encode_confluent(0x0102_0304, event).unwrap();
        assert_eq!(&framed[..5], &[0, 1, 2, 3, 4]);
        let decoded =
            apache_avro::from_avro_datum(&encoder.parse_schema().unwrap(), &mut &framed[5..], None)
                .unwrap();
        let schema_json: Value = serde_json::from_str(encoder.schema_text()).unwrap();
        let mut named = std::collections::HashMap::new();
        collect_named_json(&schema_json, &mut named);
        let back = avro_to_json(&decoded, &schema_json, &named);
        // Nulls inside JSON-encoded fields (`unmapped`) come back too; OCSF reads null as absent.
        assert_eq!(
            without_nulls(&back),
            without_nulls(event),
            "class {class_uid}"
        );
    }
}

fn authentication_example() -> Value {
    valid_examples()
        .into_iter()
        .find(|e| e["class_uid"] == 3002)
        .unwrap()
}

#[test]
fn attribute_not_in_schema_is_an_encode_error() {
    let encoders = ClassEncoders::from_committed_schemas().unwrap();
    let mut event = authentication_example();
    event["user"]["shoe_size"] = json!(44);
    let error = encoders
        .get(3002)
        .unwrap()
        .encode_confluent(1, &event)
        .unwrap_err();
    assert_eq!(
        error,
        EncodeError::UnknownField {
            path: "user.shoe_size".into()
        }
    );
}

#[test]
fn wrong_types_and_ranges_are_encode_errors() {
    let encoder = ClassEncoders::from_committed_schemas()
        .unwrap()
        .get(3002)
        .unwrap()
        .clone();
    let mut event = authentication_example();
    event["severity_id"] = json!("1");
    assert_eq!(
        encoder.encode_confluent(1, &event).unwrap_err(),
        EncodeError::WrongType {
            path: "severity_id".into(),
            expected: "int",
            found: "string"
        }
    );
    let mut event = authentication_example();
    event["severity_id"] = json!(3_000_000_000_i64);
    assert!(matches!(
        encoder.encode_confluent(1, &event).unwrap_err(),
        EncodeError::OutOfRange { path, avro_type: "int", .. } if path == "severity_id"
    ));
    let mut event = authentication_example();
    event["time"] = json!(1.5);
    assert!(matches!(
        encoder.encode_confluent(1, &event).unwrap_err(),
        EncodeError::OutOfRange { path, avro_type: "long", .. } if path == "time"
    ));
    let mut event = authentication_example();
    event.as_object_mut().unwrap().remove("metadata");
    assert_eq!(
        encoder.encode_confluent(1, &event).unwrap_err(),
        EncodeError::MissingRequired {
            path: "metadata".into()
        }
    );
    let mut event = authentication_example();
    event["auth_factors"] = json!([{"factor_type_id": 1}, {"factor_type_id": "push"}]);
    assert_eq!(
        encoder.encode_confluent(1, &event).unwrap_err(),
        EncodeError::WrongType {
            path: "auth_factors[1].factor_type_id".into(),
            expected: "int",
            found: "string"
        }
    );
    let mut event = authentication_example();
    event["auth_factors"] = json!({"factor_type_id": 1});
    assert_eq!(
        encoder.encode_confluent(1, &event).unwrap_err(),
        EncodeError::WrongType {
            path: "auth_factors".into(),
            expected: "array",
            found: "object"
        }
    );
}

#[test]
fn unmapped_and_json_fields_keep_their_nesting() {
    let encoder = ClassEncoders::from_committed_schemas()
        .unwrap()
        .get(3002)
        .unwrap()
        .clone();
    let mut event = authentication_example();
    event["unmapped"] = json!({"mfa": {"status": "ok", "codes": [1, 2]}, "note": null});
    let framed = encoder.encode_confluent(7, &event).unwrap();
    let decoded =
        apache_avro::from_avro_datum(&encoder.parse_schema().unwrap(), &mut &framed[5..], None)
            .unwrap();
    let AvroValue::Record(fields) = decoded else {
        panic!("not a record")
    };
    let (_, unmapped) = fields.iter().find(|(name, _)| name == "unmapped").unwrap();
    let AvroValue::Union(1, text) = unmapped else {
        panic!("unmapped is {unmapped:?}")
    };
    let AvroValue::String(text) = text.as_ref() else {
        panic!("not a string")
    };
    let parsed: Value = serde_json::from_str(text).unwrap();
    assert_eq!(
        parsed,
        json!({"mfa": {"status": "ok", "codes": [1, 2]}, "note": null})
    );
}

#[test]
fn camel_case_names() {
    assert_eq!(camel_case("base_event"), "BaseEvent");
    assert_eq!(record_full_name("ldap_person"), "ocsf.v1_8_0.LdapPerson");
}

#[test]
fn unsupported_schemas_are_rejected() {
    assert!(matches!(
        AvroEncoder::new("{"),
        Err(SchemaCompileError::Avro(_))
    ));
    assert!(matches!(
        AvroEncoder::new("\"string\""),
        Err(SchemaCompileError::Unsupported(_))
    ));
    let two_branch =
        r#"{"type":"record","name":"x.R","fields":[{"name":"a","type":["int","string"]}]}"#;
    assert!(matches!(
        AvroEncoder::new(two_branch),
        Err(SchemaCompileError::Unsupported(_))
    ));
}

fn tiny_compact_schema(objects: Value) -> Value {
    json!({
        "types": {"string_t": {}, "integer_t": {}, "long_t": {}, "timestamp_t": {"base": "long_t"},
                  "email_t": {"base": "string_t"}, "json_t": {}, "boolean_t": {}, "float_t": {}},
        "classes": {"3002": {"name": "authentication", "attributes": {
            "time": {"type": "timestamp_t", "requirement": "required"},
            "cloud": {"type": "object_t", "object_type": "node", "requirement": "required", "profiles": ["cloud"]},
            "node": {"type": "object_t", "object_type": "node", "requirement": "optional"},
            "unmapped": {"type": "object_t", "object_type": "object", "requirement": "optional"}
        }}},
        "objects": objects
    })
}

#[test]
fn generator_cuts_self_recursion_and_keeps_profile_fields_optional() {
    let compact = tiny_compact_schema(json!({
        "node": {"attributes": {
            "email": {"type": "email_t", "requirement": "required"},
            "parent": {"type": "object_t", "object_type": "node", "requirement": "optional"},
            "children": {"type": "object_t", "object_type": "node", "requirement": "optional", "is_array": true}
        }},
        "object": {"attributes": {}}
    }));
    let generated = generate_avro_schemas(&compact).unwrap();
    assert_eq!(generated.len(), 1);
    let schema = &generated[0].schema;
    let expected = json!({
        "type": "record",
        "name": "ocsf.v1_8_0.Authentication",
        "fields": [
            // Required, but only under the cloud profile: nullable.
            {"name": "cloud", "type": ["null", {
                "type": "record",
                "name": "ocsf.v1_8_0.Node",
                "fields": [
                    {"name": "children", "type": ["null", "string"], "default": null, "ocsf_encoding": "json"},
                    {"name": "email", "type": "string"},
                    {"name": "parent", "type": ["null", "string"], "default": null, "ocsf_encoding": "json"}
                ]
            }], "default": null},
            {"name": "node", "type": ["null", "ocsf.v1_8_0.Node"], "default": null},
            {"name": "time", "type": "long"},
            {"name": "unmapped", "type": ["null", "string"], "default": null, "ocsf_encoding": "json"}
        ]
    });
    assert_eq!(schema, &expected);
    // And it is valid Avro the encoder compiles.
    AvroEncoder::new(&generated[0].to_file_text()).unwrap();
}

#[test]
fn generator_rejects_unknown_types() {
    let compact = tiny_compact_schema(json!({
        "node": {"attributes": {"odd": {"type": "quaternion_t", "requirement": "optional"}}},
        "object": {"attributes": {}}
    }));
    match generate_avro_schemas(&compact) {
        Err(GenerateError::UnknownType {
            attribute,
            type_name,
        }) => {
            assert_eq!(attribute, "node.odd");
            assert_eq!(type_name, "quaternion_t");
        }
        other => panic!("expected UnknownType, got {other:?}"),
    }
}
