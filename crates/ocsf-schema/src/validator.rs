//! The checks on classes, objects and values: required and unknown attributes, profiles,
//! types, ranges, enums and their caption siblings, constraints. The event-level checks
//! (class, classification, version, observables) are in `event.rs`.

use std::collections::HashSet;

use serde_json::{Map, Value};

use crate::difflib::close_match;
use crate::finding::{Finding, Severity};
use crate::schema::{Attr, Item, OCSF_1_8_0, Schema};
use crate::text::{as_int, join, json_type, short};

/// Top-level attributes whose enum is checked by the classification checks instead.
const TOP_LEVEL_EXPLICIT: [&str; 3] = ["class_uid", "category_uid", "type_uid"];
/// How many enum values a message lists.
const MAX_ENUM_LIST: usize = 20;

/// What the validator checks beyond the rules that always apply (as `validate.py`'s flags).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Warnings are errors (`--strict`).
    pub strict: bool,
    /// Warn when a `recommended` attribute is missing (`--warn-recommended`).
    pub warn_recommended: bool,
    /// Flag `timestamp_t` values that look like seconds, micro- or nanoseconds (on unless
    /// `--no-timestamp-check`).
    pub check_timestamps: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            strict: false,
            warn_recommended: false,
            check_timestamps: true,
        }
    }
}

/// Checks OCSF events against the compiled-in OCSF 1.8.0 schema, with the rules of the
/// reference validator (`validate.py`).
///
/// ```
/// let validator = ocsf_schema::Validator::ocsf_1_8_0();
/// let event = serde_json::json!({"class_uid": 3002, "activity_id": 1});
/// let errors = validator.validate(&event);
/// assert!(errors.iter().any(|f| f.path == "user" && f.code == "attribute_required_missing"));
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Validator {
    schema: &'static Schema,
    options: Options,
}

impl Validator {
    /// The validator for OCSF 1.8.0 with default options (not strict).
    pub fn ocsf_1_8_0() -> Validator {
        Validator {
            schema: &OCSF_1_8_0,
            options: Options::default(),
        }
    }

    /// The same validator with other options.
    pub fn with_options(self, options: Options) -> Validator {
        Validator { options, ..self }
    }

    /// The same validator, strict or not: strict counts warnings as errors.
    pub fn strict(self, strict: bool) -> Validator {
        let options = Options {
            strict,
            ..self.options
        };
        self.with_options(options)
    }

    pub fn options(&self) -> Options {
        self.options
    }

    /// Every finding for one event, errors and warnings (with `strict`, warnings come back as
    /// errors).
    pub fn check(&self, event: &Value) -> Vec<Finding> {
        let mut run = Run {
            schema: self.schema,
            options: self.options,
            profiles: HashSet::new(),
            findings: Vec::new(),
        };
        run.event(event);
        let mut findings = run.findings;
        if self.options.strict {
            for finding in &mut findings {
                finding.severity = Severity::Error;
            }
        }
        findings
    }

    /// The findings that make the event invalid: its errors (and warnings when strict). Empty
    /// means valid.
    pub fn validate(&self, event: &Value) -> Vec<Finding> {
        let mut findings = self.check(event);
        findings.retain(Finding::is_error);
        findings
    }

    /// [`check`](Self::check) on JSON text: text that is not one JSON value (or has a
    /// duplicate key) is one `json_invalid` error.
    pub fn check_json(&self, bytes: &[u8]) -> Vec<Finding> {
        match crate::json::parse_event(bytes) {
            Ok(event) => self.check(&event),
            Err(message) => vec![Finding {
                severity: Severity::Error,
                code: "json_invalid",
                path: String::new(),
                message,
            }],
        }
    }

    /// [`validate`](Self::validate) on JSON text.
    pub fn validate_json(&self, bytes: &[u8]) -> Vec<Finding> {
        let mut findings = self.check_json(bytes);
        findings.retain(Finding::is_error);
        findings
    }
}

/// The state of checking one event.
pub(crate) struct Run {
    pub schema: &'static Schema,
    pub options: Options,
    /// The profiles listed in `metadata.profiles`.
    pub profiles: HashSet<String>,
    pub findings: Vec<Finding>,
}

impl Run {
    pub(crate) fn error(&mut self, code: &'static str, path: impl Into<String>, message: String) {
        self.push(Severity::Error, code, path.into(), message);
    }

    pub(crate) fn warning(&mut self, code: &'static str, path: impl Into<String>, message: String) {
        self.push(Severity::Warning, code, path.into(), message);
    }

    fn push(&mut self, severity: Severity, code: &'static str, path: String, message: String) {
        self.findings.push(Finding {
            severity,
            code,
            path,
            message,
        });
    }

    /// An attribute counts when it belongs to no profile or to a listed one.
    pub(crate) fn visible(&self, attr: &Attr) -> bool {
        attr.profiles.is_empty() || attr.profiles.iter().any(|p| self.profiles.contains(p))
    }

    /// A class (`is_class`) or an object value at `path`.
    pub(crate) fn item(
        &mut self,
        value: &Map<String, Value>,
        item: &Item,
        path: &str,
        is_class: bool,
    ) {
        if item.attributes.is_empty() {
            return; // the generic `object` type (unmapped, xattributes): anything goes
        }
        let place = if is_class {
            format!("class {} ({})", item.name, item.uid.unwrap_or_default())
        } else {
            format!("object {}", item.name)
        };
        for (name, attr) in item.attributes.iter() {
            if !self.visible(attr) {
                continue;
            }
            let attr_path = join(path, name);
            let Some(v) = value.get(name).filter(|v| !v.is_null()) else {
                self.missing(attr, &attr_path);
                continue;
            };
            if let Some(deprecated) = &attr.deprecated {
                let message = format!("Attribute \"{attr_path}\" is deprecated: {deprecated}");
                self.warning("attribute_deprecated", attr_path.clone(), message);
            }
            if attr.is_array {
                let Some(elements) = v.as_array() else {
                    let message = format!(
                        "Attribute \"{attr_path}\" must be an array of {}, got {} {}.",
                        self.type_label(attr),
                        json_type(v),
                        short(v)
                    );
                    self.error("attribute_wrong_type", attr_path, message);
                    continue;
                };
                for (i, element) in elements.iter().enumerate() {
                    self.value(element, attr, &format!("{attr_path}[{i}]"));
                }
            } else {
                self.value(v, attr, &attr_path);
            }
            if attr.enum_values.is_some() {
                if is_class && TOP_LEVEL_EXPLICIT.contains(&name) {
                    self.sibling(value, name, attr, path, v, None);
                } else {
                    self.enumeration(value, name, attr, path);
                }
            }
        }
        for key in value.keys() {
            match item.attributes.get(key) {
                Some(attr) if self.visible(attr) => {}
                Some(attr) => {
                    let key_path = join(path, key);
                    let message = format!(
                        "Attribute \"{key_path}\" belongs to profile {} which is not listed in \
                         metadata.profiles (add it there, or drop the attribute).",
                        attr.profiles.join(" or ")
                    );
                    self.error("attribute_profile_not_listed", key_path, message);
                }
                None => {
                    let key_path = join(path, key);
                    let hint = close_match(key, item.attributes.keys())
                        .map(|name| format!(" Did you mean \"{name}\"?"))
                        .unwrap_or_default();
                    let message = format!(
                        "Unknown attribute \"{key_path}\": not defined in {place}.{hint} \
                         (Source fields that have no OCSF attribute belong under \"unmapped\".)"
                    );
                    self.error("attribute_unknown", key_path, message);
                }
            }
        }
        self.constraints(value, item, path, &place);
    }

    fn missing(&mut self, attr: &Attr, attr_path: &str) {
        match attr.requirement.as_deref() {
            Some("required") => {
                let extra = if attr.profiles.is_empty() {
                    String::new()
                } else {
                    format!(
                        " (required by profile {} listed in metadata.profiles)",
                        attr.profiles.join(", ")
                    )
                };
                let message = format!("Required attribute \"{attr_path}\" is missing{extra}.");
                self.error("attribute_required_missing", attr_path, message);
            }
            Some("recommended") if self.options.warn_recommended => {
                let message = format!("Recommended attribute \"{attr_path}\" is missing.");
                self.warning("attribute_recommended_missing", attr_path, message);
            }
            _ => {}
        }
    }

    fn constraints(&mut self, value: &Map<String, Value>, item: &Item, path: &str, place: &str) {
        for (kind, names) in item.constraints.iter() {
            let present = names
                .iter()
                .filter(|n| value.get(n.as_str()).is_some_and(|v| !v.is_null()))
                .count();
            let at = if path.is_empty() { "(event)" } else { path };
            let names_text = names.join(", ");
            match kind {
                "at_least_one" if present == 0 => {
                    let message = format!(
                        "Constraint at_least_one of {place} failed at {at}: expected at least \
                         one of {names_text}."
                    );
                    self.error("constraint_failed", at, message);
                }
                "just_one" if present != 1 => {
                    let message = format!(
                        "Constraint just_one of {place} failed at {at}: expected exactly one of \
                         {names_text}, got {present}."
                    );
                    self.error("constraint_failed", at, message);
                }
                "at_least_one" | "just_one" => {}
                other => {
                    let message = format!("Unknown constraint kind {other:?} in {place}.");
                    self.warning("constraint_unknown", at, message);
                }
            }
        }
    }

    fn type_label(&self, attr: &Attr) -> String {
        if attr.type_name == "object_t" {
            return format!("object {}", attr.object_type.as_deref().unwrap_or("?"));
        }
        match self
            .schema
            .types
            .get(&attr.type_name)
            .and_then(|t| t.base.as_deref())
        {
            Some(base) => format!("{} ({base})", attr.type_name),
            None => attr.type_name.clone(),
        }
    }

    fn value(&mut self, v: &Value, attr: &Attr, path: &str) {
        if attr.type_name != "object_t" {
            crate::primitive::check(self, v, &attr.type_name, path);
            return;
        }
        let object_type = attr.object_type.as_deref().unwrap_or("");
        let Some(map) = v.as_object() else {
            let message = format!(
                "Attribute \"{path}\" must be an object ({object_type}), got {} {}.",
                json_type(v),
                short(v)
            );
            self.error("attribute_wrong_type", path, message);
            return;
        };
        let schema = self.schema;
        let Some(object) = schema.objects.get(object_type) else {
            let message = format!("Schema has no object {object_type:?}.");
            self.error("schema_object_unknown", path, message);
            return;
        };
        if let Some(deprecated) = &object.deprecated {
            let message = format!(
                "Object {} at \"{path}\" is deprecated: {deprecated}",
                object.name
            );
            self.warning("object_deprecated", path, message);
        }
        self.item(map, object, path, false);
    }

    /// The key of `v` in an enum, or `None` when `v` has the wrong type (reported elsewhere).
    fn enum_key(v: &Value, attr: &Attr) -> Option<String> {
        if matches!(attr.type_name.as_str(), "integer_t" | "long_t") {
            as_int(v).map(|i| i.to_string())
        } else {
            v.as_str().map(str::to_owned)
        }
    }

    fn enumeration(
        &mut self,
        container: &Map<String, Value>,
        name: &str,
        attr: &Attr,
        parent: &str,
    ) {
        let Some(v) = container.get(name) else {
            return;
        };
        let Some(allowed) = attr.enum_values.as_ref() else {
            return;
        };
        let path = join(parent, name);
        let elements: Vec<(Option<usize>, &Value)> = match v.as_array() {
            Some(items) if attr.is_array => items
                .iter()
                .enumerate()
                .map(|(i, e)| (Some(i), e))
                .collect(),
            _ => vec![(None, v)],
        };
        for (index, element) in elements {
            let Some(key) = Self::enum_key(element, attr) else {
                continue;
            };
            let element_path = match index {
                Some(i) => format!("{path}[{i}]"),
                None => path.clone(),
            };
            let Some(caption) = allowed.get(&key) else {
                let listed: Vec<String> = allowed
                    .iter()
                    .take(MAX_ENUM_LIST)
                    .map(|(k, c)| format!("{k} {c}"))
                    .collect();
                let more = if allowed.len() > MAX_ENUM_LIST {
                    ", ..."
                } else {
                    ""
                };
                let message = format!(
                    "Attribute \"{element_path}\" value {} is not defined for this enum; \
                     allowed: {}{more}.",
                    short(element),
                    listed.join(", ")
                );
                self.error("attribute_enum_value_unknown", element_path, message);
                continue;
            };
            if let Some(deprecated) = attr.enum_deprecated.get(&key) {
                let message = format!(
                    "Attribute \"{element_path}\" value {} ({caption}) is deprecated: {deprecated}",
                    short(element)
                );
                self.warning("attribute_enum_value_deprecated", element_path, message);
            }
            self.sibling(container, name, attr, parent, element, index);
        }
    }

    /// The caption sibling (`activity_name`, `type`, `status`, ...) must agree with the id;
    /// for 99 (Other) it should carry the source's own value rather than "Other".
    fn sibling(
        &mut self,
        container: &Map<String, Value>,
        name: &str,
        attr: &Attr,
        parent: &str,
        value: &Value,
        index: Option<usize>,
    ) {
        let Some(sibling) = attr.sibling.as_deref() else {
            return;
        };
        let Some(key) = Self::enum_key(value, attr) else {
            return;
        };
        let Some(caption) = attr.enum_values.as_ref().and_then(|e| e.get(&key)) else {
            return;
        };
        let mut sib = container.get(sibling);
        if let Some(i) = index {
            sib = sib.and_then(Value::as_array).and_then(|items| items.get(i));
        }
        let Some(sib) = sib.and_then(Value::as_str) else {
            return; // absent (fine) or not a string (reported by the type check)
        };
        let suffix = index.map(|i| format!("[{i}]")).unwrap_or_default();
        let sib_path = format!("{}{suffix}", join(parent, sibling));
        let enum_path = format!("{}{suffix}", join(parent, name));
        if key == "99" {
            if sib == caption {
                let message = format!(
                    "\"{sib_path}\" is \"{sib}\" for {enum_path} 99 (Other); for Other the \
                     sibling should carry the source's own value."
                );
                self.warning("attribute_enum_sibling_suspicious_other", sib_path, message);
            }
        } else if sib != caption {
            let message = format!(
                "\"{sib_path}\" is {} but {enum_path} {key} means \"{caption}\".",
                short(&Value::String(sib.to_owned()))
            );
            self.warning("attribute_enum_sibling_incorrect", sib_path, message);
        }
    }
}
