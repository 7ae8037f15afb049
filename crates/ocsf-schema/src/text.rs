//! Small helpers shared by the checks: JSON kinds, integers as Python sees them, and how a
//! value is quoted in a message.

use serde_json::Value;

/// The JSON kind of a value, as messages name it.
pub(crate) fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The value when it is a JSON integer (not a float like `1.0`, not a boolean). Integers
/// beyond 64 bits were read as floats by serde_json and are not integers here.
pub(crate) fn as_int(v: &Value) -> Option<i128> {
    let n = v.as_number()?;
    n.as_i64()
        .map(i128::from)
        .or_else(|| n.as_u64().map(i128::from))
}

/// `path.name`, or `name` at the top.
pub(crate) fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_owned()
    } else {
        format!("{path}.{name}")
    }
}

/// The value as JSON, cut to `limit` characters.
pub(crate) fn short(v: &Value) -> String {
    short_to(v, 60)
}

pub(crate) fn short_to(v: &Value, limit: usize) -> String {
    let text = v.to_string();
    if text.chars().count() <= limit {
        return text;
    }
    let cut: String = text.chars().take(limit.saturating_sub(3)).collect();
    format!("{cut}...")
}

/// How the reference validator turns a primitive into the string an observable's `value`
/// is compared with: strings as they are, `true`/`false`, integers in decimal, floats as
/// Python's `repr`.
pub(crate) fn observable_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(if *b { "true" } else { "false" }.to_owned()),
        Value::Number(n) => match as_int(v) {
            Some(i) => Some(i.to_string()),
            None => n.as_f64().map(python_float_repr),
        },
        _ => None,
    }
}

/// Python's `repr(float)`: the shortest round-tripping digits, positional for decimal
/// exponents -4..15, scientific (`1e+16`, `1.5e-05`) otherwise, always with a `.0` or an
/// exponent.
pub(crate) fn python_float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf" } else { "-inf" }.into();
    }
    let sci = format!("{:e}", f.abs());
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
    let sign = if f.is_sign_negative() { "-" } else { "" };
    if (-4..16).contains(&exponent) {
        let body = if exponent >= 0 {
            let point = exponent as usize + 1;
            let mut int_part = digits.clone();
            while int_part.len() < point {
                int_part.push('0');
            }
            let fraction = &int_part[point..];
            let fraction = if fraction.is_empty() { "0" } else { fraction };
            format!("{}.{fraction}", &int_part[..point])
        } else {
            format!("0.{}{digits}", "0".repeat((-exponent - 1) as usize))
        };
        format!("{sign}{body}")
    } else {
        let (first, rest) = digits.split_at(1.min(digits.len()));
        let rest = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let exp_sign = if exponent < 0 { '-' } else { '+' };
        format!("{sign}{first}{rest}e{exp_sign}{:02}", exponent.abs())
    }
}

#[cfg(test)]
mod tests {
    use super::python_float_repr;

    #[test]
    fn floats_print_like_python_repr() {
        for (f, python) in [
            (1.0, "1.0"),
            (-0.0, "-0.0"),
            (0.1, "0.1"),
            (48.8323, "48.8323"),
            (1e15, "1000000000000000.0"),
            (1e16, "1e+16"),
            (1.5e300, "1.5e+300"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (-2.5e-7, "-2.5e-07"),
            (123456.789, "123456.789"),
        ] {
            assert_eq!(python_float_repr(f), python, "{f}");
        }
    }
}
