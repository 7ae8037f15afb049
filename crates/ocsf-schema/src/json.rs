//! Reading one event from JSON text the way the reference validator does: a duplicate key in
//! any object makes the text invalid (serde_json would silently keep the last value).
//! NaN and Infinity are not JSON and serde_json refuses them already.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// Parses one JSON text; `Err` describes what is wrong with it.
pub fn parse_event(bytes: &[u8]) -> Result<Value, String> {
    match serde_json::from_slice::<Strict>(bytes) {
        Ok(Strict(value)) => Ok(value),
        Err(error) => {
            let text = error.to_string();
            Err(if text.starts_with("duplicate key ") {
                strip_position(&text)
            } else {
                format!("invalid JSON: {text}")
            })
        }
    }
}

/// serde_json appends " at line L column C" to custom errors too; keep it only for syntax.
fn strip_position(text: &str) -> String {
    match text.rfind(" at line ") {
        Some(at) => text[..at].to_owned(),
        None => text.to_owned(),
    }
}

struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        serde_json::Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("invalid JSON number"))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Strict(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            let Strict(value) = access.next_value()?;
            if map.contains_key(&key) {
                return Err(de::Error::custom(format!(
                    "duplicate key {key:?} in a JSON object"
                )));
            }
            map.insert(key, value);
        }
        Ok(Value::Object(map))
    }
}

#[cfg(test)]
mod tests {
    use super::parse_event;

    #[test]
    fn duplicate_keys_are_refused_at_any_depth() {
        assert_eq!(
            parse_event(br#"{"a":{"b":1,"b":2}}"#).unwrap_err(),
            "duplicate key \"b\" in a JSON object"
        );
        assert!(parse_event(br#"{"a":[{"b":1},{"b":2}]}"#).is_ok());
    }

    #[test]
    fn not_json_is_refused() {
        for text in ["", "{", "NaN", r#"{"a":Infinity}"#, "{} x", "\u{feff}{}"] {
            let error = parse_event(text.as_bytes()).unwrap_err();
            assert!(error.starts_with("invalid JSON: "), "{text:?}: {error}");
        }
        assert_eq!(parse_event(b" {\"a\": 1} \r\n").unwrap()["a"], 1);
    }
}
