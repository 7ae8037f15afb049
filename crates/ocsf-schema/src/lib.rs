//! The OCSF 1.8.0 schema, compiled in, and a validator for OCSF events.
//!
//! One job: say whether one OCSF event (a JSON object) is valid OCSF 1.8.0, and if not, every
//! place where it is not. The rules are those of the reference validator the project was
//! built against (`validate.py`, see the crate README): class and category, required and
//! unknown attributes, profiles (`metadata.profiles`), types (recursively through objects and
//! arrays), ranges, enums and their caption siblings, constraints, `type_uid`,
//! `metadata.version`, observables; `strict` turns its warnings into errors.
//!
//! The schema is data compiled into the crate (`schema/ocsf-1.8.0.json`) and parsed once; the
//! crate does no I/O.
//!
//! ```
//! use ocsf_schema::Validator;
//!
//! let validator = Validator::ocsf_1_8_0().strict(true);
//! let event = serde_json::json!({
//!     "class_uid": 3002, "category_uid": 3, "activity_id": 1, "type_uid": 300201,
//!     "severity_id": 1, "time": 1_774_001_730_123_i64,
//!     "metadata": {"version": "1.8.0", "product": {"name": "jumpcloud-ocsf"}},
//!     "user": {"name": "jane.doe"}, "service": {"name": "JumpCloud"},
//! });
//! assert_eq!(validator.validate(&event), []);
//!
//! let mut wrong = event.clone();
//! wrong["type_uid"] = 300202.into();
//! let findings = validator.validate(&wrong);
//! assert_eq!(findings[0].code, "type_uid_mismatch");
//! assert_eq!(
//!     findings[0].to_string(),
//!     "type_uid: type_uid 300202 should be class_uid*100 + activity_id = 3002*100 + 1 = 300201. \
//!      [type_uid_mismatch]"
//! );
//! ```

mod difflib;
mod event;
mod finding;
mod json;
pub mod lookup;
mod primitive;
mod pyregex;
mod schema;
mod text;
mod validator;

pub use finding::{Finding, Severity};
pub use json::parse_event;
pub use schema::COMPACT_SCHEMA_JSON;
pub use validator::{Options, Validator};

/// The OCSF version of the compiled-in schema.
pub const OCSF_VERSION: &str = "1.8.0";

#[cfg(test)]
mod tests;
