//! The Avro schema generator: OCSF 1.8.0 compact schema -> one `.avsc` record schema per class.
//!
//! Follows `docs/ocsf-mapping.md` §6.3:
//! - one record per class (`ocsf.v1_8_0.Authentication`, ...), objects as named records reused
//!   across classes (`ocsf.v1_8_0.User`, ...), fields in name order;
//! - every field that is not required (or is required only under a profile) is `["null", T]`
//!   with `"default": null`;
//! - `boolean_t` -> `boolean`, `integer_t`/`port_t` -> `int`, `long_t`/`timestamp_t` -> `long`,
//!   `float_t` -> `double`, every string subtype (and `datetime_t`) -> `string`, enum ids stay `int`;
//! - `json_t`, the free-form `object` (`unmapped`) and recursion cut points become a
//!   JSON-encoded `string` marked with the field attribute `"ocsf_encoding": "json"`;
//! - recursion is cut at one level: a depth-first walk from the classes (uid order, attributes in
//!   name order) marks every edge back to an object still on the walk's stack, once for the whole
//!   schema, so each named record has the same definition in every class schema.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::{Map, Value, json};

/// The Avro namespace of every generated record.
pub const AVRO_NAMESPACE: &str = "ocsf.v1_8_0";

/// The field attribute that marks a `string` field holding JSON-encoded OCSF content.
pub const JSON_ENCODING_ATTRIBUTE: &str = "ocsf_encoding";

/// The value of [`JSON_ENCODING_ATTRIBUTE`].
pub const JSON_ENCODING_VALUE: &str = "json";

/// One generated class schema.
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratedSchema {
    /// OCSF `class_uid`.
    pub class_uid: u32,
    /// OCSF class name in snake case (`authentication`).
    pub class_name: String,
    /// Avro full name of the class record (`ocsf.v1_8_0.Authentication`).
    pub record_name: String,
    /// File name under `schemas/avro/` (`authentication.avsc`).
    pub file_name: String,
    /// The schema as a JSON value.
    pub schema: Value,
}

impl GeneratedSchema {
    /// The schema as the pretty-printed text written to the `.avsc` file (ends with a newline).
    pub fn to_file_text(&self) -> String {
        let mut text = serde_json::to_string_pretty(&self.schema).unwrap_or_default();
        text.push('\n');
        text
    }
}

/// Why the compact schema could not be turned into Avro schemas.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    /// The compact schema is not the expected shape.
    #[error("compact OCSF schema: {0}")]
    Shape(String),
    /// An attribute uses a type this generator does not know.
    #[error("compact OCSF schema: attribute {attribute} has unknown type {type_name}")]
    UnknownType {
        /// `object.attribute`
        attribute: String,
        /// The unknown type.
        type_name: String,
    },
    /// Two OCSF names map to the same Avro record name.
    #[error("Avro record name {0} would be defined twice")]
    NameCollision(String),
}

/// One attribute of a class or object, as the compact schema describes it.
#[derive(Debug, Clone)]
struct Attribute {
    type_name: String,
    object_type: Option<String>,
    is_array: bool,
    required: bool,
}

/// The parts of the compact schema the generator uses.
struct CompactSchema {
    /// class_uid -> (name, attributes)
    classes: BTreeMap<u32, (String, BTreeMap<String, Attribute>)>,
    objects: BTreeMap<String, BTreeMap<String, Attribute>>,
    /// type name -> base type name (absent when the type is a root type)
    type_bases: HashMap<String, Option<String>>,
}

/// The Avro type a scalar OCSF type maps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ScalarKind {
    Boolean,
    Int,
    Long,
    Double,
    String,
    Json,
}

fn parse_attributes(
    owner: &str,
    value: &Value,
) -> Result<BTreeMap<String, Attribute>, GenerateError> {
    let attributes = value
        .get("attributes")
        .and_then(Value::as_object)
        .ok_or_else(|| GenerateError::Shape(format!("{owner} has no attributes object")))?;
    let mut parsed = BTreeMap::new();
    for (name, detail) in attributes {
        let type_name = detail
            .get("type")
            .and_then(Value::as_str)
            .ok_or_else(|| GenerateError::Shape(format!("{owner}.{name} has no type")))?;
        let requirement = detail.get("requirement").and_then(Value::as_str);
        let profile_gated = detail
            .get("profiles")
            .and_then(Value::as_array)
            .is_some_and(|profiles| !profiles.is_empty());
        parsed.insert(
            name.clone(),
            Attribute {
                type_name: type_name.to_owned(),
                object_type: detail
                    .get("object_type")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                is_array: detail
                    .get("is_array")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
                required: requirement == Some("required") && !profile_gated,
            },
        );
    }
    Ok(parsed)
}

impl CompactSchema {
    fn parse(compact: &Value) -> Result<Self, GenerateError> {
        let mut classes = BTreeMap::new();
        let class_values = compact
            .get("classes")
            .and_then(Value::as_object)
            .ok_or_else(|| GenerateError::Shape("no classes".into()))?;
        for (uid_text, class) in class_values {
            let uid: u32 = uid_text
                .parse()
                .map_err(|_| GenerateError::Shape(format!("class key {uid_text} is not a uid")))?;
            let name = class
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| GenerateError::Shape(format!("class {uid} has no name")))?;
            classes.insert(uid, (name.to_owned(), parse_attributes(name, class)?));
        }
        let mut objects = BTreeMap::new();
        let object_values = compact
            .get("objects")
            .and_then(Value::as_object)
            .ok_or_else(|| GenerateError::Shape("no objects".into()))?;
        for (name, object) in object_values {
            objects.insert(name.clone(), parse_attributes(name, object)?);
        }
        let type_values = compact
            .get("types")
            .and_then(Value::as_object)
            .ok_or_else(|| GenerateError::Shape("no types".into()))?;
        let type_bases = type_values
            .iter()
            .map(|(name, detail)| {
                let base = detail
                    .get("base")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                (name.clone(), base)
            })
            .collect();
        Ok(Self {
            classes,
            objects,
            type_bases,
        })
    }

    fn scalar_kind(
        &self,
        owner: &str,
        attribute: &str,
        type_name: &str,
    ) -> Result<ScalarKind, GenerateError> {
        let mut current = type_name.to_owned();
        // Base chains are short; the bound guards against a cyclic `base`.
        for _ in 0..8 {
            match current.as_str() {
                "boolean_t" => return Ok(ScalarKind::Boolean),
                "integer_t" | "port_t" => return Ok(ScalarKind::Int),
                "long_t" | "timestamp_t" => return Ok(ScalarKind::Long),
                "float_t" => return Ok(ScalarKind::Double),
                "string_t" | "datetime_t" => return Ok(ScalarKind::String),
                "json_t" => return Ok(ScalarKind::Json),
                _ => {}
            }
            match self.type_bases.get(&current) {
                Some(Some(base)) => current = base.clone(),
                _ => break,
            }
        }
        Err(GenerateError::UnknownType {
            attribute: format!("{owner}.{attribute}"),
            type_name: type_name.to_owned(),
        })
    }

    /// The object an attribute refers to, unless it is the free-form `object`.
    fn object_target(attribute: &Attribute) -> Option<&str> {
        if attribute.type_name != "object_t" {
            return None;
        }
        attribute
            .object_type
            .as_deref()
            .filter(|target| *target != "object")
    }

    /// Edges `(object, attribute)` that close a cycle, found once for the whole schema.
    fn recursion_cuts(&self) -> BTreeSet<(String, String)> {
        #[derive(Clone, Copy, PartialEq)]
        enum Visit {
            OnStack,
            Done,
        }
        let mut state: HashMap<String, Visit> = HashMap::new();
        let mut cuts = BTreeSet::new();
        // Iterative DFS: stack of (object name, remaining attribute names).
        for (_, class_attributes) in self.classes.values() {
            for attribute in class_attributes.values() {
                let Some(root) = Self::object_target(attribute) else {
                    continue;
                };
                if state.contains_key(root) {
                    continue;
                }
                let mut stack: Vec<(String, Vec<(String, String)>)> = Vec::new();
                state.insert(root.to_owned(), Visit::OnStack);
                stack.push((root.to_owned(), self.edges_of(root)));
                while let Some((object, edges)) = stack.last_mut() {
                    if edges.is_empty() {
                        state.insert(object.clone(), Visit::Done);
                        stack.pop();
                        continue;
                    }
                    let (attribute_name, target) = edges.remove(0);
                    let owner = object.clone();
                    match state.get(&target) {
                        Some(Visit::OnStack) => {
                            cuts.insert((owner, attribute_name));
                        }
                        Some(Visit::Done) => {}
                        None => {
                            state.insert(target.clone(), Visit::OnStack);
                            let target_edges = self.edges_of(&target);
                            stack.push((target, target_edges));
                        }
                    }
                }
            }
        }
        cuts
    }

    fn edges_of(&self, object: &str) -> Vec<(String, String)> {
        self.objects
            .get(object)
            .map(|attributes| {
                attributes
                    .iter()
                    .filter_map(|(name, attribute)| {
                        Self::object_target(attribute)
                            .map(|target| (name.clone(), target.to_owned()))
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// `base_event` -> `BaseEvent`.
pub fn camel_case(snake: &str) -> String {
    snake
        .split('_')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

/// The Avro full name of a class or object record.
pub fn record_full_name(ocsf_name: &str) -> String {
    format!("{AVRO_NAMESPACE}.{}", camel_case(ocsf_name))
}

struct ClassSchemaBuilder<'a> {
    compact: &'a CompactSchema,
    cuts: &'a BTreeSet<(String, String)>,
    defined: BTreeSet<String>,
    /// Avro full name -> OCSF name, to catch collisions.
    owners: &'a mut HashMap<String, String>,
}

impl ClassSchemaBuilder<'_> {
    fn record(
        &mut self,
        ocsf_name: &str,
        owner_kind: &str,
        attributes: &BTreeMap<String, Attribute>,
    ) -> Result<Value, GenerateError> {
        let full_name = record_full_name(ocsf_name);
        let owner_key = format!("{owner_kind}:{ocsf_name}");
        match self.owners.get(&full_name) {
            Some(existing) if *existing != owner_key => {
                return Err(GenerateError::NameCollision(full_name));
            }
            Some(_) => {}
            None => {
                self.owners.insert(full_name.clone(), owner_key);
            }
        }
        self.defined.insert(full_name.clone());
        let mut fields = Vec::with_capacity(attributes.len());
        for (name, attribute) in attributes {
            fields.push(self.field(ocsf_name, owner_kind, name, attribute)?);
        }
        Ok(json!({"type": "record", "name": full_name, "fields": fields}))
    }

    fn field(
        &mut self,
        owner: &str,
        owner_kind: &str,
        name: &str,
        attribute: &Attribute,
    ) -> Result<Value, GenerateError> {
        let cut =
            owner_kind == "object" && self.cuts.contains(&(owner.to_owned(), name.to_owned()));
        let json_encoded = cut
            || (attribute.type_name == "object_t"
                && attribute
                    .object_type
                    .as_deref()
                    .is_none_or(|t| t == "object"))
            || (attribute.type_name != "object_t"
                && self
                    .compact
                    .scalar_kind(owner, name, &attribute.type_name)?
                    == ScalarKind::Json);
        let value_type = if json_encoded {
            // The whole value (an array too) is one JSON document.
            json!("string")
        } else {
            let item = match CompactSchema::object_target(attribute) {
                Some(target) => self.object_type(target)?,
                None => {
                    let kind = self
                        .compact
                        .scalar_kind(owner, name, &attribute.type_name)?;
                    json!(match kind {
                        ScalarKind::Boolean => "boolean",
                        ScalarKind::Int => "int",
                        ScalarKind::Long => "long",
                        ScalarKind::Double => "double",
                        ScalarKind::String | ScalarKind::Json => "string",
                    })
                }
            };
            if attribute.is_array {
                json!({"type": "array", "items": item})
            } else {
                item
            }
        };
        let mut field = Map::new();
        field.insert("name".into(), json!(name));
        if attribute.required {
            field.insert("type".into(), value_type);
        } else {
            field.insert("type".into(), json!(["null", value_type]));
            field.insert("default".into(), Value::Null);
        }
        if json_encoded {
            field.insert(JSON_ENCODING_ATTRIBUTE.into(), json!(JSON_ENCODING_VALUE));
        }
        Ok(Value::Object(field))
    }

    fn object_type(&mut self, object: &str) -> Result<Value, GenerateError> {
        let full_name = record_full_name(object);
        if self.defined.contains(&full_name) {
            return Ok(json!(full_name));
        }
        let attributes = self.compact.objects.get(object).ok_or_else(|| {
            GenerateError::Shape(format!("object {object} is referenced but not defined"))
        })?;
        self.record(object, "object", attributes)
    }
}

/// Generate one Avro record schema per OCSF class from the compact schema JSON
/// (`ocsf_schema::COMPACT_SCHEMA_JSON`), in class_uid order.
pub fn generate_avro_schemas(compact: &Value) -> Result<Vec<GeneratedSchema>, GenerateError> {
    let compact = CompactSchema::parse(compact)?;
    let cuts = compact.recursion_cuts();
    let mut owners = HashMap::new();
    let mut generated = Vec::new();
    for (uid, (class_name, attributes)) in &compact.classes {
        let mut builder = ClassSchemaBuilder {
            compact: &compact,
            cuts: &cuts,
            defined: BTreeSet::new(),
            owners: &mut owners,
        };
        let schema = builder.record(class_name, "class", attributes)?;
        generated.push(GeneratedSchema {
            class_uid: *uid,
            class_name: class_name.clone(),
            record_name: record_full_name(class_name),
            file_name: format!("{class_name}.avsc"),
            schema,
        });
    }
    Ok(generated)
}
