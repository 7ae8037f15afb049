//! Questions about the schema itself, for code that builds OCSF events (the mapper resolves the
//! vendor's field paths with these when it loads its tables): what an attribute path of a class
//! is, what an object requires, and whether a scalar is a valid value of a dictionary type.

use serde_json::Value;

use crate::schema::{Attr, Item, OCSF_1_8_0};
use crate::text::as_int;

/// One step of an attribute path (`device.os.type` has three).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The attribute's name.
    pub name: String,
    /// Its dictionary type (`string_t`, `email_t`, `object_t`, ...).
    pub type_name: String,
    /// The primitive the type is built on (`string_t`, `integer_t`, `long_t`, `float_t`,
    /// `boolean_t`, `json_t`, or `object_t`).
    pub base: String,
    /// The object type of an `object_t` attribute.
    pub object_type: Option<String>,
    /// An array of values.
    pub is_array: bool,
    /// The profiles that bring the attribute in (empty: always there).
    pub profiles: Vec<String>,
    /// `required`, `recommended` or `optional`.
    pub requirement: String,
    /// When this attribute is the caption of an enum in the same object: the enum's name
    /// (`type` of `type_id`).
    pub caption_of: Option<String>,
    /// The schema's deprecation note, when the attribute is deprecated.
    pub deprecated: Option<String>,
}

/// What an object requires of its attributes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectRules {
    /// Attributes that must be present (profile attributes excluded).
    pub required: Vec<String>,
    /// Each constraint group of which at least one attribute must be present.
    pub at_least_one: Vec<Vec<String>>,
}

fn step(name: &str, attribute: &Attr, container: &Item) -> Step {
    let schema = &*OCSF_1_8_0;
    let base = if attribute.type_name == "object_t" {
        "object_t".to_owned()
    } else {
        schema
            .types
            .get(&attribute.type_name)
            .and_then(|t| t.base.clone())
            .unwrap_or_else(|| attribute.type_name.clone())
    };
    let caption_of = container
        .attributes
        .iter()
        .find(|(_, other)| other.sibling.as_deref() == Some(name))
        .map(|(id, _)| id.to_owned());
    Step {
        name: name.to_owned(),
        type_name: attribute.type_name.clone(),
        base,
        object_type: attribute.object_type.clone(),
        is_array: attribute.is_array,
        profiles: attribute.profiles.clone(),
        requirement: attribute
            .requirement
            .clone()
            .unwrap_or_else(|| "optional".to_owned()),
        caption_of,
        deprecated: attribute.deprecated.clone(),
    }
}

/// The steps of a dotted attribute path in a class (`None` when the class has no such path;
/// a path may not go below a `json_t` or a scalar).
pub fn attribute_path(class_uid: u32, path: &str) -> Option<Vec<Step>> {
    let schema = &*OCSF_1_8_0;
    let mut container = schema.class(i64::from(class_uid))?;
    let mut steps = Vec::new();
    let parts: Vec<&str> = path.split('.').collect();
    for (index, part) in parts.iter().enumerate() {
        let attribute = container.attributes.get(part)?;
        steps.push(step(part, attribute, container));
        if index + 1 < parts.len() {
            let object = attribute.object_type.as_deref()?;
            container = schema.objects.get(object)?;
        }
    }
    Some(steps)
}

/// The attributes a class requires (profile attributes excluded), in schema order.
pub fn class_required(class_uid: u32) -> Vec<String> {
    let schema = &*OCSF_1_8_0;
    schema
        .class(i64::from(class_uid))
        .map(required_of)
        .unwrap_or_default()
}

fn required_of(item: &Item) -> Vec<String> {
    item.attributes
        .iter()
        .filter(|(_, a)| a.requirement.as_deref() == Some("required") && a.profiles.is_empty())
        .map(|(name, _)| name.to_owned())
        .collect()
}

/// The rules of an object type (`None` when the schema has no such object).
pub fn object_rules(object_type: &str) -> Option<ObjectRules> {
    let object = OCSF_1_8_0.objects.get(object_type)?;
    Some(ObjectRules {
        required: required_of(object),
        at_least_one: object
            .constraints
            .iter()
            .filter(|(kind, _)| *kind == "at_least_one" || *kind == "just_one")
            .map(|(_, names)| names.clone())
            .collect(),
    })
}

/// The caption of an enum value of an attribute path in a class (`type_id` 3 of `entity`: "Group").
pub fn enum_caption(class_uid: u32, path: &str, value: i64) -> Option<String> {
    let schema = &*OCSF_1_8_0;
    let mut container = schema.class(i64::from(class_uid))?;
    let parts: Vec<&str> = path.split('.').collect();
    for (index, part) in parts.iter().enumerate() {
        let attribute = container.attributes.get(part)?;
        if index + 1 == parts.len() {
            return attribute
                .enum_values
                .as_ref()?
                .get(&value.to_string())
                .cloned();
        }
        container = schema.objects.get(attribute.object_type.as_deref()?)?;
    }
    None
}

/// Whether a scalar is a valid value of a dictionary type: the right JSON kind, inside the
/// type's range, length and listed values, matching its regex, an `integer_t` within 32 bits,
/// a `timestamp_t` in epoch milliseconds. What the validator reports nothing about, strict.
pub fn accepts(type_name: &str, value: &Value) -> bool {
    let schema = &*OCSF_1_8_0;
    let Some(definition) = schema.types.get(type_name) else {
        return false;
    };
    let base = definition.base.as_deref().unwrap_or(type_name);
    let kind_ok = match base {
        "boolean_t" => value.is_boolean(),
        "integer_t" => as_int(value)
            .is_some_and(|n| (i128::from(i32::MIN)..=i128::from(i32::MAX)).contains(&n)),
        "long_t" => as_int(value)
            .is_some_and(|n| (i128::from(i64::MIN)..=i128::from(i64::MAX)).contains(&n)),
        "float_t" => value.is_number(),
        "string_t" => value.is_string(),
        _ => false,
    };
    if !kind_ok {
        return false;
    }
    if type_name == "timestamp_t"
        && !as_int(value).is_some_and(|n| (100_000_000_000..100_000_000_000_000).contains(&n.abs()))
    {
        return false;
    }
    let keys: &[&str] = if base == type_name {
        &[type_name]
    } else {
        &[type_name, base]
    };
    keys.iter()
        .filter_map(|key| schema.types.get(*key))
        .all(|d| {
            let in_range = match (&d.range, value) {
                (Some((low, high)), Value::Number(n)) => n
                    .as_f64()
                    .zip(low.as_f64())
                    .zip(high.as_f64())
                    .is_some_and(|((n, low), high)| low <= n && n <= high),
                _ => true,
            };
            let short_enough = match (d.max_len, value) {
                (Some(max), Value::String(s)) => s.chars().count() as u64 <= max,
                _ => true,
            };
            let listed = d
                .values
                .as_ref()
                .is_none_or(|values| values.contains(value));
            let matches = match (&d.compiled, value) {
                (Some(regex), Value::String(s)) => regex.is_match(s),
                _ => true,
            };
            in_range && short_enough && listed && matches
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_resolve_through_objects_with_their_types_and_profiles() {
        let steps = attribute_path(3002, "device.os.type").unwrap();
        let names: Vec<&str> = steps.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["device", "os", "type"]);
        assert_eq!(steps[0].profiles, ["host"]);
        assert_eq!(steps[2].caption_of.as_deref(), Some("type_id"));
        assert_eq!(steps[2].base, "string_t");
        let to = attribute_path(4009, "email.to").unwrap();
        assert!(to[1].is_array);
        assert_eq!(to[1].type_name, "email_t");
        assert!(attribute_path(1006, "src_endpoint.ip").is_none());
        assert!(attribute_path(3004, "entity.data.x").is_none());
        assert_eq!(
            class_required(1006),
            [
                "activity_id",
                "category_uid",
                "class_uid",
                "device",
                "job",
                "metadata",
                "severity_id",
                "time",
                "type_uid"
            ]
        );
        assert_eq!(object_rules("job").unwrap().required, ["name"]);
        assert_eq!(
            enum_caption(3004, "entity.type_id", 3).as_deref(),
            Some("Group")
        );
    }

    #[test]
    fn values_are_accepted_as_the_validator_would() {
        assert!(accepts("email_t", &json!("jane@example.com")));
        assert!(!accepts("email_t", &json!("jane")));
        assert!(accepts("ip_t", &json!("203.0.113.7")));
        assert!(!accepts("integer_t", &json!(4_000_000_000_i64)));
        assert!(accepts("long_t", &json!(4_000_000_000_i64)));
        assert!(accepts("timestamp_t", &json!(1_772_000_000_000_i64)));
        assert!(!accepts("timestamp_t", &json!(1_772_000_000)));
        assert!(!accepts("string_t", &json!(5)));
        assert!(accepts("port_t", &json!(443)));
        assert!(!accepts("port_t", &json!(70_000)));
    }
}
