//! The event-level checks: resolving the class, `metadata.profiles`, category and type_uid,
//! `metadata.version`, and `observables[]` (names that resolve, values and type_ids that
//! agree with the event and the schema).

use std::collections::HashSet;

use serde_json::{Map, Value};

use crate::schema::{Attr, Item, Version};
use crate::text::{as_int, json_type, observable_string, short, short_to};
use crate::validator::Run;

impl Run {
    /// All checks of one event.
    pub(crate) fn event(&mut self, event: &Value) {
        let Some(object) = event.as_object() else {
            let message = format!("Event must be a JSON object, got {}.", json_type(event));
            self.error("event_not_object", "", message);
            return;
        };
        let Some(class) = self.find_class(object) else {
            return;
        };
        if let Some(deprecated) = &class.deprecated {
            let message = format!(
                "Class {} ({}) is deprecated: {deprecated}",
                class.name,
                class.uid.unwrap_or_default()
            );
            self.warning("class_deprecated", "", message);
        }
        self.profiles = self.event_profiles(object);
        self.item(object, class, "", true);
        self.classification(object, class);
        self.version(object);
        self.observables(object, class);
    }

    fn find_class(&mut self, event: &Map<String, Value>) -> Option<&'static Item> {
        let schema = self.schema;
        let Some(uid) = event.get("class_uid").filter(|v| !v.is_null()) else {
            let message =
                "Required attribute \"class_uid\" is missing; cannot resolve the event class."
                    .to_owned();
            self.error("attribute_required_missing", "class_uid", message);
            return None;
        };
        let Some(number) = as_int(uid) else {
            let message = format!(
                "Attribute \"class_uid\" must be an integer, got {} {}.",
                json_type(uid),
                short(uid)
            );
            self.error("attribute_wrong_type", "class_uid", message);
            return None;
        };
        if let Some(class) = i64::try_from(number).ok().and_then(|n| schema.class(n)) {
            return Some(class);
        }
        let version = &schema.ocsf_version;
        if let Some(other) = schema.other_classes.get(&number.to_string()) {
            let message = format!(
                "class_uid {number} ({other}) is an OCSF {version} class that this compact \
                 schema does not include (regenerate it with build_schema.py --classes ...)."
            );
            self.error("class_uid_not_covered", "class_uid", message);
        } else {
            let mut known: Vec<(i64, &str)> = schema
                .all_classes()
                .map(|c| (c.uid.unwrap_or_default(), c.caption.as_str()))
                .collect();
            known.sort();
            let known: Vec<String> = known.iter().map(|(u, c)| format!("{u} {c}")).collect();
            let message = format!(
                "Unknown class_uid {number}; no OCSF {version} class has it (this validator \
                 covers: {}).",
                known.join(", ")
            );
            self.error("class_uid_unknown", "class_uid", message);
        }
        None
    }

    fn event_profiles(&mut self, event: &Map<String, Value>) -> HashSet<String> {
        let mut profiles = HashSet::new();
        let listed = event
            .get("metadata")
            .and_then(Value::as_object)
            .and_then(|m| m.get("profiles"))
            .and_then(Value::as_array);
        for (i, profile) in listed.into_iter().flatten().enumerate() {
            let Some(name) = profile.as_str() else {
                continue;
            };
            if !self.schema.profiles.contains_key(name) {
                let known: Vec<&str> = self.schema.profiles.keys().collect();
                let message = format!(
                    "Unknown profile \"{name}\"; OCSF {} profiles are: {}.",
                    self.schema.ocsf_version,
                    known.join(", ")
                );
                self.error(
                    "profile_unknown",
                    format!("metadata.profiles[{i}]"),
                    message,
                );
            }
            profiles.insert(name.to_owned());
        }
        profiles
    }

    fn classification(&mut self, event: &Map<String, Value>, class: &Item) {
        let int = |name: &str| event.get(name).and_then(as_int);
        let expected_category = i128::from(class.category_uid.unwrap_or_default());
        if let Some(category) = int("category_uid")
            && category != expected_category
        {
            let caption = self
                .schema
                .categories
                .get(&expected_category.to_string())
                .map_or("?", String::as_str);
            let message = format!(
                "category_uid {category} does not match class {} ({}), whose category is \
                 {expected_category} ({caption}).",
                class.name,
                class.uid.unwrap_or_default()
            );
            self.error("category_uid_mismatch", "category_uid", message);
        }
        if let (Some(class_uid), Some(activity), Some(type_uid)) =
            (int("class_uid"), int("activity_id"), int("type_uid"))
        {
            let expected = class_uid * 100 + activity;
            if type_uid != expected {
                let message = format!(
                    "type_uid {type_uid} should be class_uid*100 + activity_id = \
                     {class_uid}*100 + {activity} = {expected}."
                );
                self.error("type_uid_mismatch", "type_uid", message);
            }
        }
    }

    fn version(&mut self, event: &Map<String, Value>) {
        let Some(text) = event
            .get("metadata")
            .and_then(Value::as_object)
            .and_then(|m| m.get("version"))
            .and_then(Value::as_str)
        else {
            return;
        };
        let pinned = &self.schema.ocsf_version;
        let Some(version) = Version::parse(text) else {
            let message =
                format!("metadata.version \"{text}\" is not a semantic version like \"{pinned}\".");
            self.error("version_invalid", "metadata.version", message);
            return;
        };
        let Some(schema_version) = Version::parse(pinned) else {
            return;
        };
        if version == schema_version {
            return;
        }
        if version.cmp_key(&schema_version).is_gt() {
            let message = format!(
                "metadata.version \"{text}\" is later than the schema this validator pins \
                 ({pinned})."
            );
            self.error("version_incompatible_later", "metadata.version", message);
        } else if version.major_is_zero() || version.pre.is_some() {
            let message = format!(
                "metadata.version \"{text}\" is a pre-release/initial-development version; \
                 incompatible with {pinned}."
            );
            self.error(
                "version_incompatible_prerelease",
                "metadata.version",
                message,
            );
        } else {
            let message = format!(
                "metadata.version \"{text}\" is earlier than the pinned schema {pinned}; results \
                 may include deprecations that do not apply."
            );
            self.warning("version_earlier", "metadata.version", message);
        }
    }

    fn observables(&mut self, event: &Map<String, Value>, class: &'static Item) {
        let Some(observables) = event.get("observables").and_then(Value::as_array) else {
            return;
        };
        let schema = self.schema;
        let type_enum = schema
            .objects
            .get("observable")
            .and_then(|o| o.attributes.get("type_id"))
            .and_then(|a| a.enum_values.as_ref());
        let whole = Value::Object(event.clone());
        for (i, observable) in observables.iter().enumerate() {
            let Some(observable) = observable.as_object() else {
                continue;
            };
            let Some(name) = observable.get("name").and_then(Value::as_str) else {
                continue;
            };
            let path = format!("observables[{i}]");
            let Some(attr) = self.resolve_path(class, name) else {
                let message = format!(
                    "observables[{i}].name \"{name}\" does not refer to an attribute of class {} \
                     ({}) (with the listed profiles).",
                    class.name,
                    class.uid.unwrap_or_default()
                );
                self.error(
                    "observable_name_invalid_reference",
                    format!("{path}.name"),
                    message,
                );
                continue;
            };
            let found = event_values(&whole, name);
            if found.is_empty() {
                let message = format!(
                    "observables[{i}].name \"{name}\" refers to an attribute this event does not \
                     carry."
                );
                self.warning(
                    "observable_name_not_in_event",
                    format!("{path}.name"),
                    message,
                );
            } else if let Some(value) = observable.get("value").and_then(Value::as_str)
                && attr.type_name != "object_t"
            {
                let strings: Vec<Option<String>> =
                    found.iter().copied().map(observable_string).collect();
                if !strings.iter().any(|s| s.as_deref() == Some(value)) {
                    let mut shown: Vec<String> = strings
                        .into_iter()
                        .flatten()
                        .filter(|s| !s.is_empty())
                        .collect();
                    shown.sort_by(|a, b| crate::schema::python_str_cmp(a, b));
                    shown.dedup();
                    shown.truncate(3);
                    let message = format!(
                        "observables[{i}].value {} differs from the event value at {name} ({}).",
                        short(&Value::String(value.to_owned())),
                        short_to(&Value::from(shown), 60)
                    );
                    self.warning(
                        "observable_value_mismatch",
                        format!("{path}.value"),
                        message,
                    );
                }
            }
            let Some(type_id) = observable.get("type_id").and_then(as_int) else {
                continue;
            };
            let type_key = type_id.to_string();
            let Some(type_caption) = type_enum.and_then(|e| e.get(&type_key)) else {
                continue;
            };
            if type_id == 0 || type_id == 99 {
                continue;
            }
            let expected = self.expected_observable_types(class, name, attr);
            if expected.is_empty() {
                let message = format!(
                    "observables[{i}]: {name} has no observable type in OCSF {}; type_id \
                     {type_id} ({type_caption}) is suspicious (99 Other is the usual choice).",
                    schema.ocsf_version
                );
                self.warning(
                    "observable_type_id_unexpected",
                    format!("{path}.type_id"),
                    message,
                );
            } else if !expected.contains(&type_id) {
                let want: Vec<String> = expected
                    .iter()
                    .map(|t| {
                        let caption = type_enum.and_then(|e| e.get(&t.to_string()));
                        format!("{t} ({})", caption.map_or("?", String::as_str))
                    })
                    .collect();
                let message = format!(
                    "observables[{i}] for {name} has type_id {type_id} ({type_caption}); the \
                     schema defines {}.",
                    want.join(", ")
                );
                self.warning(
                    "observable_type_id_mismatch",
                    format!("{path}.type_id"),
                    message,
                );
            }
        }
    }

    /// The attribute an observable's dotted `name` refers to (with `[]`/`[n]` on arrays),
    /// counting only visible attributes.
    fn resolve_path(&self, class: &'static Item, name: &str) -> Option<&'static Attr> {
        let schema = self.schema;
        let segments = split_path(name);
        let mut item = class;
        let mut found = None;
        for (i, segment) in segments.iter().enumerate() {
            let (base, index) = strip_index(segment);
            let attr = item.attributes.get(base).filter(|a| self.visible(a))?;
            if index.is_some() && !attr.is_array {
                return None;
            }
            if i + 1 < segments.len() {
                if attr.type_name != "object_t" {
                    return None;
                }
                item = schema.objects.get(attr.object_type.as_deref()?)?;
            }
            found = Some(attr);
        }
        found
    }

    /// Observable type_ids the schema defines for the attribute, most general first.
    fn expected_observable_types(&self, class: &Item, name: &str, attr: &Attr) -> Vec<i128> {
        let mut out: Vec<i128> = Vec::new();
        let mut add = |x: Option<i64>| {
            if let Some(x) = x.map(i128::from)
                && !out.contains(&x)
            {
                out.push(x);
            }
        };
        let schema = self.schema;
        add(schema.types.get(&attr.type_name).and_then(|t| t.observable));
        add(attr.observable);
        if attr.type_name == "object_t" {
            let object = attr
                .object_type
                .as_deref()
                .and_then(|o| schema.objects.get(o));
            add(object.and_then(|o| o.observable));
        }
        let plain: Vec<&str> = split_path(name).iter().map(|s| strip_index(s).0).collect();
        let plain = plain.join(".");
        add(class
            .observables
            .as_ref()
            .and_then(|o| o.get(&plain))
            .copied());
        out
    }
}

/// Splits `a.b[x.y].c` at the dots that are not inside brackets (Python's
/// `re.split(r"\.(?![^\[]*\])", name)`: a dot is kept when a `]` follows before any `[`).
fn split_path(name: &str) -> Vec<&str> {
    let mut segments = Vec::new();
    let mut start = 0;
    for (at, c) in name.char_indices() {
        if c != '.' {
            continue;
        }
        let rest = &name[at + 1..];
        let until_open = rest.find('[').map_or(rest, |open| &rest[..open]);
        if !until_open.contains(']') {
            segments.push(&name[start..at]);
            start = at + 1;
        }
    }
    segments.push(&name[start..]);
    segments
}

/// `name[index]` -> (`name`, Some(`index`)); anything else -> (segment, None). Like Python's
/// `re.fullmatch(r"([^\[]+)\[(.*)\]", segment)`, the index holds no line break.
fn strip_index(segment: &str) -> (&str, Option<&str>) {
    if let Some(open) = segment.find('[')
        && open > 0
        && segment.len() > open + 1
        && segment.ends_with(']')
    {
        let index = &segment[open + 1..segment.len() - 1];
        if !index.contains('\n') {
            return (&segment[..open], Some(index));
        }
    }
    (segment, None)
}

/// Every value in the event at an observable's `name` (`[]` or no index: every element;
/// `[n]`: that element).
fn event_values<'v>(event: &'v Value, name: &str) -> Vec<&'v Value> {
    let mut current = vec![event];
    for segment in split_path(name) {
        let (base, index) = strip_index(segment);
        let mut next = Vec::new();
        for node in current {
            let Some(value) = node
                .as_object()
                .and_then(|m| m.get(base))
                .filter(|v| !v.is_null())
            else {
                continue;
            };
            match value.as_array() {
                Some(items) => match index.filter(|i| is_python_digits(i)) {
                    Some(i) => next.extend(python_index(i).and_then(|i| items.get(i))),
                    None => next.extend(items.iter()),
                },
                None => next.push(value),
            }
        }
        current = next;
    }
    current
}

/// Python's `index.isdigit()` then `int(index)`, for indexes of decimal digits (any script).
fn is_python_digits(text: &str) -> bool {
    !text.is_empty() && text.chars().all(crate::schema::is_decimal_digit)
}

/// The index as a number; one too large to be an index reads past the end, as a slice does.
fn python_index(text: &str) -> Option<usize> {
    Some(
        crate::schema::decimal_digits(text)
            .parse()
            .unwrap_or(usize::MAX),
    )
}

#[cfg(test)]
mod tests {
    use super::{split_path, strip_index};

    #[test]
    fn observable_names_split_like_python() {
        assert_eq!(split_path("actor.user.name"), ["actor", "user", "name"]);
        assert_eq!(split_path("a[x.y].b"), ["a[x.y]", "b"]);
        assert_eq!(split_path("a.b]"), ["a.b]"]);
        assert_eq!(split_path("a.[b].c"), ["a", "[b]", "c"]);
        assert_eq!(split_path(""), [""]);
        assert_eq!(strip_index("users[0]"), ("users", Some("0")));
        assert_eq!(strip_index("users[]"), ("users", Some("")));
        assert_eq!(strip_index("[0]"), ("[0]", None));
        assert_eq!(strip_index("a[0]b"), ("a[0]b", None));
        assert_eq!(strip_index("a[\n]"), ("a[\n]", None));
    }
}
