//! The compact OCSF schema (`schema/ocsf-1.8.0.json`), parsed once into typed data.
//!
//! The file is the "compact schema" format of the reference validator: the selected classes
//! fully resolved (`extends`, profiles, platform extensions), every object they reach, the
//! dictionary types, profile names and category captions.

use std::collections::HashMap;
use std::fmt;
use std::marker::PhantomData;
use std::sync::LazyLock;

use regex::Regex;
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_json::{Number, Value};

use crate::pyregex;

/// The compact OCSF 1.8.0 schema, as compiled in.
pub const COMPACT_SCHEMA_JSON: &str = include_str!("../schema/ocsf-1.8.0.json");

/// The schema parsed once, on first use. The file is compiled in and checked by the tests, so
/// a parse failure is a build defect, not an input error.
pub(crate) static OCSF_1_8_0: LazyLock<Schema> = LazyLock::new(|| {
    Schema::parse(COMPACT_SCHEMA_JSON).unwrap_or_else(|error| {
        panic!("the compiled-in OCSF schema schema/ocsf-1.8.0.json is broken: {error}")
    })
});

/// A JSON object whose key order is kept (messages list attributes and enum values in schema
/// order, as the reference validator does) and whose keys can be looked up.
#[derive(Debug)]
pub(crate) struct OrderedMap<V> {
    entries: Vec<(String, V)>,
    index: HashMap<String, usize>,
}

impl<V> Default for OrderedMap<V> {
    fn default() -> Self {
        Self {
            entries: Vec::new(),
            index: HashMap::new(),
        }
    }
}

impl<V> OrderedMap<V> {
    pub(crate) fn get(&self, key: &str) -> Option<&V> {
        self.index.get(key).map(|&i| &self.entries[i].1)
    }

    pub(crate) fn contains_key(&self, key: &str) -> bool {
        self.index.contains_key(key)
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &V)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v))
    }

    pub(crate) fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(k, _)| k.as_str())
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for OrderedMap<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct OrderedVisitor<V>(PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for OrderedVisitor<V> {
            type Value = OrderedMap<V>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
                let mut map = OrderedMap::default();
                while let Some((key, value)) = access.next_entry::<String, V>()? {
                    if map.index.contains_key(&key) {
                        return Err(de::Error::custom(format!("duplicate key {key:?}")));
                    }
                    map.index.insert(key.clone(), map.entries.len());
                    map.entries.push((key, value));
                }
                Ok(map)
            }
        }
        deserializer.deserialize_map(OrderedVisitor(PhantomData))
    }
}

/// One dictionary type (`string_t`, `ip_t`, `timestamp_t`, ...).
#[derive(Debug, Deserialize)]
pub(crate) struct TypeDef {
    pub caption: Option<String>,
    pub base: Option<String>,
    pub regex: Option<String>,
    pub max_len: Option<u64>,
    pub range: Option<(Number, Number)>,
    pub values: Option<Vec<Value>>,
    pub observable: Option<i64>,
    /// `regex` compiled with Python's `re.search` semantics; `None` when there is none or it
    /// does not compile (the reference validator then skips the check too).
    #[serde(skip)]
    pub compiled: Option<Regex>,
}

/// One attribute of a class or object.
#[derive(Debug, Deserialize)]
pub(crate) struct Attr {
    #[serde(rename = "type")]
    pub type_name: String,
    pub object_type: Option<String>,
    pub requirement: Option<String>,
    #[serde(default)]
    pub is_array: bool,
    #[serde(rename = "enum")]
    pub enum_values: Option<OrderedMap<String>>,
    #[serde(default)]
    pub enum_deprecated: HashMap<String, String>,
    pub sibling: Option<String>,
    #[serde(default)]
    pub profiles: Vec<String>,
    pub observable: Option<i64>,
    pub deprecated: Option<String>,
}

/// A class or an object: named attributes plus constraints.
#[derive(Debug, Deserialize)]
pub(crate) struct Item {
    pub name: String,
    pub caption: String,
    pub uid: Option<i64>,
    pub category_uid: Option<i64>,
    pub deprecated: Option<String>,
    #[serde(default)]
    pub constraints: OrderedMap<Vec<String>>,
    #[serde(default)]
    pub attributes: OrderedMap<Attr>,
    pub observable: Option<i64>,
    pub observables: Option<HashMap<String, i64>>,
}

/// The whole compact schema.
#[derive(Debug, Deserialize)]
pub(crate) struct Schema {
    pub format: String,
    pub ocsf_version: String,
    #[serde(default)]
    pub categories: HashMap<String, String>,
    pub profiles: OrderedMap<String>,
    pub types: HashMap<String, TypeDef>,
    pub classes: OrderedMap<Item>,
    pub objects: HashMap<String, Item>,
    #[serde(default)]
    pub other_classes: HashMap<String, String>,
    #[serde(skip)]
    pub classes_by_uid: HashMap<i64, String>,
}

impl Schema {
    pub(crate) fn parse(text: &str) -> Result<Schema, String> {
        let mut schema: Schema = serde_json::from_str(text).map_err(|e| e.to_string())?;
        if !schema.format.starts_with("ocsf-compact-schema/") {
            return Err(format!(
                "format {:?} is not a compact OCSF schema",
                schema.format
            ));
        }
        for (key, class) in schema.classes.iter() {
            let uid: i64 = key
                .parse()
                .map_err(|_| format!("class key {key:?} is not an integer"))?;
            schema.classes_by_uid.insert(uid, key.to_owned());
            if class.uid != Some(uid) {
                return Err(format!("class {key} has uid {:?}", class.uid));
            }
        }
        for type_def in schema.types.values_mut() {
            type_def.compiled = type_def
                .regex
                .as_deref()
                .and_then(|pattern| Regex::new(&pyregex::translate(pattern)).ok());
        }
        Ok(schema)
    }

    pub(crate) fn class(&self, uid: i64) -> Option<&Item> {
        self.classes_by_uid
            .get(&uid)
            .and_then(|key| self.classes.get(key))
    }

    /// Every class, in the schema's order.
    pub(crate) fn all_classes(&self) -> impl Iterator<Item = &Item> {
        self.classes.iter().map(|(_, class)| class)
    }
}

/// A semantic version as the reference validator reads it: `v?MAJOR.MINOR.PATCH[-PRE][+BUILD]`,
/// numbers of any size (kept as digit strings without leading zeros).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Version {
    pub major: String,
    pub minor: String,
    pub patch: String,
    pub pre: Option<String>,
}

static VERSION_RE: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r"\A(?:v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?)\z").ok()
});

impl Version {
    pub(crate) fn parse(text: &str) -> Option<Version> {
        let captures = VERSION_RE.as_ref()?.captures(text)?;
        let number = |i: usize| captures.get(i).map(|m| decimal_digits(m.as_str()));
        Some(Version {
            major: number(1)?,
            minor: number(2)?,
            patch: number(3)?,
            pre: captures.get(4).map(|m| m.as_str().to_owned()),
        })
    }

    pub(crate) fn major_is_zero(&self) -> bool {
        self.major == "0"
    }

    /// Python's ordering of `(major, minor, patch, 0 if pre else 1, pre or "")`.
    pub(crate) fn cmp_key(&self, other: &Version) -> std::cmp::Ordering {
        let numeric = |a: &str, b: &str| a.len().cmp(&b.len()).then_with(|| a.cmp(b));
        numeric(&self.major, &other.major)
            .then_with(|| numeric(&self.minor, &other.minor))
            .then_with(|| numeric(&self.patch, &other.patch))
            .then_with(|| self.pre.is_none().cmp(&other.pre.is_none()))
            .then_with(|| {
                let a = self.pre.as_deref().unwrap_or("");
                let b = other.pre.as_deref().unwrap_or("");
                python_str_cmp(a, b)
            })
    }
}

/// Compares strings by code point, as Python does.
pub(crate) fn python_str_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    a.chars().cmp(b.chars())
}

/// The ASCII decimal value of a run of Unicode decimal digits (Python's `int()` accepts any
/// `Nd` digit), without leading zeros.
pub(crate) fn decimal_digits(text: &str) -> String {
    let ascii: String = text.chars().map(unicode_digit_value).collect();
    let trimmed = ascii.trim_start_matches('0');
    if trimmed.is_empty() {
        "0".to_owned()
    } else {
        trimmed.to_owned()
    }
}

/// A Unicode decimal digit (`Nd`), as Python's `\\d` and `int()` read them.
pub(crate) fn is_decimal_digit(c: char) -> bool {
    c.is_ascii_digit()
        || DIGIT
            .as_ref()
            .is_some_and(|re| re.is_match(c.encode_utf8(&mut [0; 4])))
}

static DIGIT: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(r"\A\d\z").ok());

/// Unicode decimal digits come in contiguous runs of ten starting at zero, so a digit's value
/// is its distance from the start of its run of `Nd` characters, modulo ten.
fn unicode_digit_value(c: char) -> char {
    if let Some(d) = c.to_digit(10) {
        return char::from(b'0' + d as u8);
    }
    let mut start = c as u32;
    while let Some(previous) = start.checked_sub(1).and_then(char::from_u32) {
        if !is_decimal_digit(previous) {
            break;
        }
        start -= 1;
    }
    char::from(b'0' + ((c as u32 - start) % 10) as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_compiled_in_schema_parses_and_has_the_selected_classes() {
        let schema = &*OCSF_1_8_0;
        assert_eq!(schema.ocsf_version, "1.8.0");
        let uids: Vec<i64> = schema.all_classes().filter_map(|c| c.uid).collect();
        assert_eq!(
            uids,
            [
                0, 3002, 3001, 3004, 3005, 3006, 5001, 5003, 2004, 1006, 1007, 4009, 5019, 5020,
                5023, 6002, 6003, 6005, 6008
            ]
        );
        assert_eq!(schema.objects.len(), 143);
        assert!(schema.profiles.contains_key("host"));
        let activity = schema
            .class(3002)
            .and_then(|c| c.attributes.get("activity_id"))
            .and_then(|a| a.enum_values.as_ref())
            .and_then(|e| e.get("1"));
        assert_eq!(activity.map(String::as_str), Some("Logon"));
    }

    #[test]
    fn every_type_regex_compiles() {
        for (name, type_def) in &OCSF_1_8_0.types {
            assert_eq!(
                type_def.regex.is_some(),
                type_def.compiled.is_some(),
                "{name}: {:?}",
                type_def.regex
            );
        }
    }

    #[test]
    fn every_object_type_is_defined() {
        let schema = &*OCSF_1_8_0;
        let items = schema.all_classes().chain(schema.objects.values());
        for item in items {
            for (name, attr) in item.attributes.iter() {
                if attr.type_name == "object_t" {
                    let object = attr.object_type.as_deref().unwrap_or("");
                    assert!(schema.objects.contains_key(object), "{}.{name}", item.name);
                } else {
                    assert!(schema.types.contains_key(&attr.type_name), "{name}");
                }
            }
        }
    }

    #[test]
    fn versions_compare_like_python_tuples() {
        let v = |s: &str| Version::parse(s).unwrap();
        assert_eq!(v("v1.8.0"), v("1.8.0+build.7"));
        assert_eq!(v("01.008.0"), v("1.8.0"));
        assert_eq!(v("1.9.0").cmp_key(&v("1.8.0")), std::cmp::Ordering::Greater);
        assert_eq!(
            v("1.8.0-rc.1").cmp_key(&v("1.8.0")),
            std::cmp::Ordering::Less
        );
        assert_eq!(
            v("10.0.0").cmp_key(&v("9.99.99")),
            std::cmp::Ordering::Greater
        );
        assert_eq!(
            v("99999999999999999999999.0.0").cmp_key(&v("1.8.0")),
            std::cmp::Ordering::Greater
        );
        assert_eq!(v("\u{0661}.8.0"), v("1.8.0"), "Arabic-Indic digit one");
        assert!(Version::parse("1.8").is_none());
        assert!(Version::parse("1.8.0 ").is_none());
    }
}
