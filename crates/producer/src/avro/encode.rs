//! OCSF JSON -> Avro binary, guided by a class schema, in the Confluent wire format.
//!
//! The schema is parsed with `apache_avro` (so it is valid Avro) and compiled once into a small
//! tree; encoding walks the JSON event and that tree together and writes the Avro binary
//! encoding directly. Anything that does not fit the schema (an attribute the schema does not
//! have, a wrong type, an integer out of range, a missing required attribute) is an
//! [`EncodeError`] naming the path, never a silently dropped value.

use std::collections::HashMap;
use std::sync::Arc;

use apache_avro::Schema;
use serde_json::Value;

use super::generate::{JSON_ENCODING_ATTRIBUTE, JSON_ENCODING_VALUE};

/// The first byte of every Confluent wire-format message.
pub const CONFLUENT_MAGIC_BYTE: u8 = 0;

/// Why an OCSF event could not be encoded with its Avro schema.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// The record's JSON could not be parsed.
    #[error("OCSF record is not valid JSON: {0}")]
    InvalidJson(String),
    /// No Avro schema exists for the record's class.
    #[error("no Avro schema for class_uid {0}")]
    UnknownClass(u32),
    /// The event has an attribute the schema does not have.
    #[error("{path}: attribute not in the Avro schema")]
    UnknownField {
        /// JSON path of the attribute.
        path: String,
    },
    /// A required attribute is absent or null.
    #[error("{path}: required attribute is missing")]
    MissingRequired {
        /// JSON path of the attribute.
        path: String,
    },
    /// A value has the wrong JSON type for its Avro type.
    #[error("{path}: expected {expected}, found {found}")]
    WrongType {
        /// JSON path of the value.
        path: String,
        /// The Avro type expected.
        expected: &'static str,
        /// The JSON type found.
        found: &'static str,
    },
    /// An integer does not fit its Avro type.
    #[error("{path}: {value} does not fit Avro {avro_type}")]
    OutOfRange {
        /// JSON path of the value.
        path: String,
        /// The value, as text.
        value: String,
        /// `int` or `long`.
        avro_type: &'static str,
    },
}

/// Why a schema could not be compiled for encoding.
#[derive(Debug, thiserror::Error)]
pub enum SchemaCompileError {
    /// Not valid Avro.
    #[error("invalid Avro schema: {0}")]
    Avro(String),
    /// Valid Avro, but outside what OCSF schemas use (e.g. a union other than `["null", T]`).
    #[error("unsupported Avro schema construct: {0}")]
    Unsupported(String),
}

#[derive(Debug)]
enum Node {
    Boolean,
    Int,
    Long,
    Double,
    String,
    /// A `string` holding the JSON encoding of the value.
    JsonString,
    Array(Box<Node>),
    /// `["null", T]`
    Nullable(Box<Node>),
    Record(Arc<RecordNode>),
}

#[derive(Debug)]
struct FieldNode {
    name: String,
    node: Node,
}

#[derive(Debug)]
struct RecordNode {
    fields: Vec<FieldNode>,
    index: HashMap<String, usize>,
}

/// An Avro record schema compiled for encoding OCSF JSON events.
#[derive(Debug, Clone)]
pub struct AvroEncoder {
    root: Arc<RecordNode>,
    /// Compact schema JSON; the parsed `apache_avro` schema is not kept (memory).
    schema_text: Arc<str>,
}

struct Compiler<'a> {
    named: HashMap<String, &'a Schema>,
    compiled: HashMap<String, Arc<RecordNode>>,
    in_progress: Vec<String>,
}

fn collect_named<'a>(schema: &'a Schema, named: &mut HashMap<String, &'a Schema>) {
    match schema {
        Schema::Record(record) => {
            named.insert(record.name.fullname(None), schema);
            for field in &record.fields {
                collect_named(&field.schema, named);
            }
        }
        Schema::Array(array) => collect_named(&array.items, named),
        Schema::Union(union) => {
            for variant in union.variants() {
                collect_named(variant, named);
            }
        }
        _ => {}
    }
}

impl Compiler<'_> {
    fn node(&mut self, schema: &Schema, json_encoded: bool) -> Result<Node, SchemaCompileError> {
        Ok(match schema {
            Schema::Boolean => Node::Boolean,
            Schema::Int => Node::Int,
            Schema::Long => Node::Long,
            Schema::Double => Node::Double,
            Schema::String if json_encoded => Node::JsonString,
            Schema::String => Node::String,
            Schema::Array(array) => Node::Array(Box::new(self.node(&array.items, false)?)),
            Schema::Union(union) => match union.variants() {
                [Schema::Null, inner] => Node::Nullable(Box::new(self.node(inner, json_encoded)?)),
                _ => {
                    return Err(SchemaCompileError::Unsupported(
                        "unions other than [\"null\", T]".into(),
                    ));
                }
            },
            Schema::Record(_) | Schema::Ref { .. } => {
                let name = match schema {
                    Schema::Record(record) => record.name.fullname(None),
                    Schema::Ref { name } => name.fullname(None),
                    _ => unreachable!("matched above"),
                };
                Node::Record(self.record(&name)?)
            }
            other => {
                return Err(SchemaCompileError::Unsupported(format!("{other:?}")));
            }
        })
    }

    fn record(&mut self, name: &str) -> Result<Arc<RecordNode>, SchemaCompileError> {
        if let Some(done) = self.compiled.get(name) {
            return Ok(done.clone());
        }
        if self.in_progress.iter().any(|n| n == name) {
            return Err(SchemaCompileError::Unsupported(format!(
                "recursive record {name}"
            )));
        }
        let Some(Schema::Record(record)) = self.named.get(name).copied() else {
            return Err(SchemaCompileError::Unsupported(format!(
                "unknown record {name}"
            )));
        };
        self.in_progress.push(name.to_owned());
        let mut fields = Vec::with_capacity(record.fields.len());
        let mut index = HashMap::with_capacity(record.fields.len());
        for field in &record.fields {
            let json_encoded = field
                .custom_attributes
                .get(JSON_ENCODING_ATTRIBUTE)
                .and_then(Value::as_str)
                == Some(JSON_ENCODING_VALUE);
            index.insert(field.name.clone(), fields.len());
            fields.push(FieldNode {
                name: field.name.clone(),
                node: self.node(&field.schema, json_encoded)?,
            });
        }
        self.in_progress.pop();
        let node = Arc::new(RecordNode { fields, index });
        self.compiled.insert(name.to_owned(), node.clone());
        Ok(node)
    }
}

fn json_type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn write_long(value: i64, out: &mut Vec<u8>) {
    // Avro zig-zag varint.
    let mut zigzag = ((value << 1) ^ (value >> 63)) as u64;
    loop {
        if zigzag & !0x7f == 0 {
            out.push(zigzag as u8);
            break;
        }
        out.push(((zigzag & 0x7f) | 0x80) as u8);
        zigzag >>= 7;
    }
}

fn write_bytes(bytes: &[u8], out: &mut Vec<u8>) {
    write_long(bytes.len() as i64, out);
    out.extend_from_slice(bytes);
}

/// Where in the event the encoder is: built on the stack as it descends, rendered to text
/// only for an error message.
#[derive(Clone, Copy)]
enum JsonPath<'a> {
    Root,
    Field(&'a JsonPath<'a>, &'a str),
    Index(&'a JsonPath<'a>, usize),
}

impl JsonPath<'_> {
    fn render(&self) -> String {
        match self {
            Self::Root => String::new(),
            Self::Field(parent, name) => match parent {
                Self::Root => (*name).to_owned(),
                _ => format!("{}.{name}", parent.render()),
            },
            Self::Index(parent, position) => format!("{}[{position}]", parent.render()),
        }
    }
}

fn encode_node(
    node: &Node,
    value: Option<&Value>,
    path: &JsonPath<'_>,
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    let value = value.filter(|v| !v.is_null());
    let Some(value) = value else {
        return match node {
            Node::Nullable(_) => {
                write_long(0, out);
                Ok(())
            }
            _ => Err(EncodeError::MissingRequired {
                path: path.render(),
            }),
        };
    };
    let wrong_type = |expected: &'static str| EncodeError::WrongType {
        path: path.render(),
        expected,
        found: json_type_name(value),
    };
    match node {
        Node::Nullable(inner) => {
            write_long(1, out);
            encode_node(inner, Some(value), path, out)
        }
        Node::Boolean => {
            let flag = value.as_bool().ok_or_else(|| wrong_type("boolean"))?;
            out.push(u8::from(flag));
            Ok(())
        }
        Node::Int => {
            let Value::Number(number) = value else {
                return Err(wrong_type("int"));
            };
            let int = number
                .as_i64()
                .and_then(|n| i32::try_from(n).ok())
                .ok_or_else(|| EncodeError::OutOfRange {
                    path: path.render(),
                    value: number.to_string(),
                    avro_type: "int",
                })?;
            write_long(i64::from(int), out);
            Ok(())
        }
        Node::Long => {
            let Value::Number(number) = value else {
                return Err(wrong_type("long"));
            };
            let long = number.as_i64().ok_or_else(|| EncodeError::OutOfRange {
                path: path.render(),
                value: number.to_string(),
                avro_type: "long",
            })?;
            write_long(long, out);
            Ok(())
        }
        Node::Double => {
            let double = value.as_f64().ok_or_else(|| wrong_type("double"))?;
            out.extend_from_slice(&double.to_le_bytes());
            Ok(())
        }
        Node::String => {
            let text = value.as_str().ok_or_else(|| wrong_type("string"))?;
            write_bytes(text.as_bytes(), out);
            Ok(())
        }
        Node::JsonString => {
            let text = value.to_string();
            write_bytes(text.as_bytes(), out);
            Ok(())
        }
        Node::Array(items) => {
            let array = value.as_array().ok_or_else(|| wrong_type("array"))?;
            if !array.is_empty() {
                write_long(array.len() as i64, out);
                for (position, item) in array.iter().enumerate() {
                    encode_node(items, Some(item), &JsonPath::Index(path, position), out)?;
                }
            }
            write_long(0, out);
            Ok(())
        }
        Node::Record(record) => {
            let object = value.as_object().ok_or_else(|| wrong_type("record"))?;
            if let Some((unknown, _)) = object
                .iter()
                .find(|(key, v)| !v.is_null() && !record.index.contains_key(key.as_str()))
            {
                return Err(EncodeError::UnknownField {
                    path: JsonPath::Field(path, unknown).render(),
                });
            }
            for field in &record.fields {
                encode_node(
                    &field.node,
                    object.get(&field.name),
                    &JsonPath::Field(path, &field.name),
                    out,
                )?;
            }
            Ok(())
        }
    }
}

impl AvroEncoder {
    /// Parse and compile an Avro record schema.
    pub fn new(schema_text: &str) -> Result<Self, SchemaCompileError> {
        let schema_json: Value = serde_json::from_str(schema_text)
            .map_err(|e| SchemaCompileError::Avro(e.to_string()))?;
        let schema =
            Schema::parse(&schema_json).map_err(|e| SchemaCompileError::Avro(e.to_string()))?;
        // Registered without the file's indentation.
        let schema_text = schema_json.to_string();
        let root_name = match &schema {
            Schema::Record(record) => record.name.fullname(None),
            _ => {
                return Err(SchemaCompileError::Unsupported(
                    "top-level schema is not a record".into(),
                ));
            }
        };
        let mut named = HashMap::new();
        collect_named(&schema, &mut named);
        let mut compiler = Compiler {
            named,
            compiled: HashMap::new(),
            in_progress: Vec::new(),
        };
        let root = compiler.record(&root_name)?;
        drop(compiler);
        Ok(Self {
            root,
            schema_text: Arc::from(schema_text.as_str()),
        })
    }

    /// Parse the schema with `apache_avro` (e.g. to decode with it).
    pub fn parse_schema(&self) -> Result<Schema, SchemaCompileError> {
        Schema::parse_str(&self.schema_text).map_err(|e| SchemaCompileError::Avro(e.to_string()))
    }

    /// The schema as compact JSON text (what is registered with the schema registry).
    pub fn schema_text(&self) -> &str {
        &self.schema_text
    }

    /// Encode one OCSF event (a JSON object) to the Avro binary encoding (no framing).
    pub fn encode_datum(&self, event: &Value, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        encode_node(
            &Node::Record(self.root.clone()),
            Some(event),
            &JsonPath::Root,
            out,
        )
    }

    /// Encode one OCSF event in the Confluent wire format: magic byte 0, the 4-byte big-endian
    /// schema id, then the Avro binary encoding.
    pub fn encode_confluent(&self, schema_id: u32, event: &Value) -> Result<Vec<u8>, EncodeError> {
        let mut out = Vec::with_capacity(512);
        out.push(CONFLUENT_MAGIC_BYTE);
        out.extend_from_slice(&schema_id.to_be_bytes());
        self.encode_datum(event, &mut out)?;
        Ok(out)
    }
}
