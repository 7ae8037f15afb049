//! Avro for OCSF: the schema generator, the committed class schemas, and the JSON -> Avro
//! encoder in the Confluent wire format.

mod encode;
mod generate;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

pub use encode::{AvroEncoder, CONFLUENT_MAGIC_BYTE, EncodeError, SchemaCompileError};
pub use generate::{
    AVRO_NAMESPACE, GenerateError, GeneratedSchema, JSON_ENCODING_ATTRIBUTE, JSON_ENCODING_VALUE,
    camel_case, generate_avro_schemas, record_full_name,
};

/// The OCSF version the schemas are generated from: the schema `ocsf-schema` compiles in.
pub use ocsf_schema::OCSF_VERSION;

/// One committed class schema (`schemas/avro/<class_name>.avsc`), compiled into the binary.
#[derive(Debug, Clone, Copy)]
pub struct ClassSchemaFile {
    /// OCSF `class_uid`.
    pub class_uid: u32,
    /// OCSF class name in snake case.
    pub class_name: &'static str,
    /// The `.avsc` text.
    pub text: &'static str,
}

macro_rules! class_schema {
    ($uid:expr, $name:literal) => {
        ClassSchemaFile {
            class_uid: $uid,
            class_name: $name,
            text: include_str!(concat!("../../../../schemas/avro/", $name, ".avsc")),
        }
    };
}

/// The committed class schemas, in class_uid order (regenerate with
/// `cargo run -p producer --bin generate-avro-schemas`).
pub const CLASS_SCHEMA_FILES: [ClassSchemaFile; 19] = [
    class_schema!(0, "base_event"),
    class_schema!(1006, "scheduled_job_activity"),
    class_schema!(1007, "process_activity"),
    class_schema!(2004, "detection_finding"),
    class_schema!(3001, "account_change"),
    class_schema!(3002, "authentication"),
    class_schema!(3004, "entity_management"),
    class_schema!(3005, "user_access"),
    class_schema!(3006, "group_management"),
    class_schema!(4009, "email_activity"),
    class_schema!(5001, "inventory_info"),
    class_schema!(5003, "user_inventory"),
    class_schema!(5019, "device_config_state_change"),
    class_schema!(5020, "software_info"),
    class_schema!(5023, "cloud_resources_inventory_info"),
    class_schema!(6002, "application_lifecycle"),
    class_schema!(6003, "api_activity"),
    class_schema!(6005, "datastore_activity"),
    class_schema!(6008, "application_error"),
];

/// Compiled encoders for every committed class schema, by class_uid.
#[derive(Debug, Clone)]
pub struct ClassEncoders {
    by_class: BTreeMap<u32, (&'static str, AvroEncoder)>,
}

impl ClassEncoders {
    /// Compile every committed class schema.
    pub fn from_committed_schemas() -> Result<Self, SchemaCompileError> {
        let mut by_class = BTreeMap::new();
        for file in CLASS_SCHEMA_FILES {
            by_class.insert(
                file.class_uid,
                (file.class_name, AvroEncoder::new(file.text)?),
            );
        }
        Ok(Self { by_class })
    }

    /// The encoder of one class.
    pub fn get(&self, class_uid: u32) -> Option<&AvroEncoder> {
        self.by_class.get(&class_uid).map(|(_, encoder)| encoder)
    }

    /// `(class_uid, class_name, encoder)` for every class.
    pub fn iter(&self) -> impl Iterator<Item = (u32, &'static str, &AvroEncoder)> {
        self.by_class
            .iter()
            .map(|(uid, (name, encoder))| (*uid, *name, encoder))
    }
}
