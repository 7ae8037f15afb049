//! A value of a dictionary type: its JSON kind, 64/32-bit ranges, the type's `range`,
//! `max_len`, `values` and `regex`, and epoch-millisecond timestamps.

use std::cmp::Ordering;

use serde_json::{Number, Value};

use crate::text::{as_int, json_type, short};
use crate::validator::Run;

/// A `timestamp_t` in [1e8, 1e11) is almost surely epoch seconds (1973..5138 read as seconds,
/// 1970-01-02..1973-03-03 as milliseconds); >= 1e14 is after the year 5000: micro/nanoseconds.
const TS_SECONDS: (i128, i128) = (100_000_000, 100_000_000_000);
const TS_TOO_LARGE: i128 = 100_000_000_000_000;

pub(crate) fn check(run: &mut Run, v: &Value, type_name: &str, path: &str) {
    let types = &run.schema.types;
    let Some(type_def) = types.get(type_name) else {
        let message = format!("Schema has no type {type_name:?}.");
        run.error("schema_type_unknown", path, message);
        return;
    };
    let base = type_def.base.as_deref().unwrap_or(type_name);
    let label = if base == type_name {
        type_name.to_owned()
    } else {
        format!("{type_name} ({base})")
    };
    let ok = match base {
        "boolean_t" => v.is_boolean(),
        "integer_t" | "long_t" => as_int(v).is_some(),
        "float_t" => v.is_number(),
        "string_t" => v.is_string(),
        "json_t" => true,
        _ => {
            let message = format!("Schema type {type_name:?} has unknown base {base:?}.");
            run.error("schema_type_unknown", path, message);
            return;
        }
    };
    if !ok {
        let message = format!(
            "Attribute \"{path}\" must be {label}, got {} {}.",
            json_type(v),
            short(v)
        );
        run.error("attribute_wrong_type", path, message);
        return;
    }
    if let (true, Some(n)) = (matches!(base, "integer_t" | "long_t"), as_int(v)) {
        if n < i128::from(i64::MIN) || n > i128::from(i64::MAX) {
            let message =
                format!("Attribute \"{path}\" value {n} does not fit a signed 64-bit integer.");
            run.error("attribute_value_out_of_range", path, message);
            return;
        }
        if base == "integer_t" && (n < i128::from(i32::MIN) || n > i128::from(i32::MAX)) {
            let message = format!(
                "Attribute \"{path}\" ({type_name}) value {n} does not fit a 32-bit int (OCSF \
                 integer_t is commonly stored as int32 in Avro/Parquet)."
            );
            run.warning("integer_exceeds_int32", path, message);
        }
    }
    let keys: &[&str] = if base == type_name {
        &[type_name]
    } else {
        &[type_name, base]
    };
    for key in keys {
        let Some(d) = types.get(*key) else {
            continue;
        };
        if let (Some((low, high)), Value::Number(n)) = (&d.range, v) {
            let inside = compare(low, n).is_some_and(Ordering::is_le)
                && compare(n, high).is_some_and(Ordering::is_le);
            if !inside {
                let message = format!(
                    "Attribute \"{path}\" value {n} is outside the {key} range {low}..{high}."
                );
                run.error("attribute_value_out_of_range", path, message);
            }
        }
        if let (Some(max_len), Value::String(s)) = (d.max_len, v) {
            let length = s.chars().count();
            if length as u64 > max_len {
                let message = format!(
                    "Attribute \"{path}\" is {length} characters long; {key} allows {max_len}."
                );
                run.error("attribute_value_too_long", path, message);
            }
        }
        if let Some(values) = &d.values
            && !values.iter().any(|allowed| python_eq(allowed, v))
        {
            let listed: Vec<String> = values.iter().map(Value::to_string).collect();
            let message = format!(
                "Attribute \"{path}\" value {} is not one of [{}] ({key}).",
                short(v),
                listed.join(", ")
            );
            run.error("attribute_value_not_allowed", path, message);
        }
        if let (Some(regex), Value::String(s)) = (&d.compiled, v)
            && !regex.is_match(s)
        {
            let caption = d.caption.as_deref().unwrap_or(key);
            let message = format!(
                "Attribute \"{path}\" value {} does not look like a valid {caption} ({key} regex).",
                short(v)
            );
            run.warning("attribute_value_regex_not_matched", path, message);
        }
    }
    if type_name == "timestamp_t"
        && run.options.check_timestamps
        && let Some(n) = as_int(v)
    {
        let magnitude = n.abs();
        if (TS_SECONDS.0..TS_SECONDS.1).contains(&magnitude) {
            let message = format!(
                "Attribute \"{path}\" value {n} looks like epoch seconds; OCSF timestamp_t is \
                 epoch milliseconds."
            );
            run.error("timestamp_not_milliseconds", path, message);
        } else if magnitude >= TS_TOO_LARGE {
            let message = format!(
                "Attribute \"{path}\" value {n} looks like epoch micro- or nanoseconds; OCSF \
                 timestamp_t is epoch milliseconds."
            );
            run.error("timestamp_not_milliseconds", path, message);
        }
    }
}

/// Numeric order of two JSON numbers, exact for integers.
fn compare(a: &Number, b: &Number) -> Option<Ordering> {
    let int = |n: &Number| {
        n.as_i64()
            .map(i128::from)
            .or_else(|| n.as_u64().map(i128::from))
    };
    match (int(a), int(b)) {
        (Some(x), Some(y)) => Some(x.cmp(&y)),
        _ => a.as_f64()?.partial_cmp(&b.as_f64()?),
    }
}

/// Python's `==` between JSON scalars: `True == 1`, `1 == 1.0`.
fn python_eq(a: &Value, b: &Value) -> bool {
    let numeric = |v: &Value| match v {
        Value::Bool(b) => Some(Number::from(u8::from(*b))),
        Value::Number(n) => Some(n.clone()),
        _ => None,
    };
    match (numeric(a), numeric(b)) {
        (Some(x), Some(y)) => compare(&x, &y) == Some(Ordering::Equal),
        _ => a == b,
    }
}
