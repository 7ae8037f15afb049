//! `search_term` filtering and `fields` projection of the events API.

use serde_json::{Map, Value};

/// Top-level fields an event may carry (docs §2.1/§2.2); a projection naming none is rejected.
pub const KNOWN_FIELDS: &[&str] = &[
    "id",
    "timestamp",
    "event_type",
    "service",
    "organization",
    "provider",
    "@version",
    "initiated_by",
    "resource",
    "association",
    "changes",
    "client_ip",
    "geoip",
    "useragent",
    "success",
    "error_message",
    "error_code",
    "mfa",
    "mfa_meta",
    "auth_method",
    "auth_context",
    "auth_meta",
    "idp_initiated",
    "sso_token_success",
    "application",
    "system",
    "system_timestamp",
    "message",
    "src_ip",
    "username",
    "process_name",
    "windows_meta",
    "auth_type",
    "eap_type",
    "nas_mfa_state",
    "outer",
    "dn",
    "mech",
    "start_tls",
    "tls_established",
    "connection_id",
    "operation_number",
    "base",
    "scope",
    "filter",
    "attr",
    "number_of_results",
    "mdm_type",
    "request_type",
    "command",
    "command_uuid",
    "status",
    "error_chain",
    "mdm_device_id",
    "device_object_id",
    "mdm_device_manager_id",
    "correlation",
    "message_chain",
    "system_group",
    "target_resource",
    "idm_client_id",
];

const NOT_SEARCHABLE: &[&str] = &["changes", "useragent", "system_timestamp"];

/// A parsed `search_term`.
#[derive(Debug, Clone, PartialEq)]
pub enum Term {
    /// Every sub-term holds.
    And(Vec<Term>),
    /// At least one holds.
    Or(Vec<Term>),
    /// None holds.
    Not(Vec<Term>),
    /// `field` equals one of `values` (lowercase).
    Equals {
        /// Dotted field path.
        field: String,
        /// Accepted values, lowercase.
        values: Vec<String>,
    },
    /// Operator form `{"field","operator","value"}`.
    Compare {
        /// Dotted field path.
        field: String,
        /// The comparison.
        operator: Operator,
        /// The operand (a list for `in`/`not_in`).
        value: Value,
    },
}

/// Operators of the 2026 operator form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    /// Equal.
    Eq,
    /// Not equal.
    Ne,
    /// Substring.
    Contains,
    /// Prefix.
    StartsWith,
    /// Suffix.
    EndsWith,
    /// In a list.
    In,
    /// Not in a list.
    NotIn,
    /// Less than (numbers or text; `before` for timestamps).
    Lt,
    /// Greater than (`after`).
    Gt,
    /// Less or equal.
    Lte,
    /// Greater or equal.
    Gte,
}

impl Operator {
    fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "eq" => Operator::Eq,
            "ne" => Operator::Ne,
            "contains" => Operator::Contains,
            "startsWith" => Operator::StartsWith,
            "endsWith" => Operator::EndsWith,
            "in" => Operator::In,
            "not_in" => Operator::NotIn,
            "lt" | "before" => Operator::Lt,
            "gt" | "after" => Operator::Gt,
            "lte" => Operator::Lte,
            "gte" => Operator::Gte,
            _ => return None,
        })
    }
}

fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.to_lowercase()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Null => Some("null".to_owned()),
        _ => None,
    }
}

fn check_field(field: &str) -> Result<(), String> {
    let top = field.split('.').next().unwrap_or(field);
    if NOT_SEARCHABLE.contains(&top) {
        return Err(format!("search_term: field {field} is not searchable"));
    }
    Ok(())
}

fn parse_list(value: &Value, operator: &str) -> Result<Vec<Term>, String> {
    let items = value
        .as_array()
        .ok_or_else(|| format!("search_term: \"{operator}\" must be a list"))?;
    let mut seen = Vec::new();
    let mut terms = Vec::with_capacity(items.len());
    for item in items {
        if let Some(object) = item.as_object() {
            for key in object.keys() {
                if !matches!(
                    key.as_str(),
                    "and" | "or" | "not" | "field" | "operator" | "value"
                ) {
                    if seen.contains(key) {
                        return Err(format!(
                            "search_term: field {key} repeats inside one \"{operator}\" list"
                        ));
                    }
                    seen.push(key.clone());
                }
            }
        }
        terms.push(parse(item)?);
    }
    Ok(terms)
}

/// Parses a `search_term` value; `Err` holds the 400 message.
pub fn parse(value: &Value) -> Result<Term, String> {
    let object = value
        .as_object()
        .ok_or_else(|| "search_term must be an object".to_owned())?;
    if object.is_empty() {
        return Err("search_term must not be empty".to_owned());
    }
    if let (Some(field), Some(operator)) = (object.get("field"), object.get("operator")) {
        let field = field
            .as_str()
            .ok_or("search_term: field must be a string")?
            .to_owned();
        let operator_text = operator.as_str().unwrap_or_default();
        let operator = Operator::parse(operator_text)
            .ok_or_else(|| format!("search_term: unknown operator {operator_text}"))?;
        check_field(&field)?;
        let value = object.get("value").cloned().unwrap_or(Value::Null);
        return Ok(Term::Compare {
            field,
            operator,
            value,
        });
    }
    let mut terms = Vec::new();
    for (key, inner) in object {
        let term = match key.as_str() {
            "and" => Term::And(parse_list(inner, "and")?),
            "or" => Term::Or(parse_list(inner, "or")?),
            "not" => Term::Not(parse_list(inner, "not")?),
            field => {
                check_field(field)?;
                let values = match inner {
                    Value::Array(items) => items.iter().filter_map(scalar_text).collect(),
                    other => scalar_text(other).into_iter().collect(),
                };
                Term::Equals {
                    field: field.to_owned(),
                    values,
                }
            }
        };
        terms.push(term);
    }
    Ok(if terms.len() == 1 {
        terms.remove(0)
    } else {
        Term::And(terms)
    })
}

/// The values at a dotted path (arrays fan out).
fn lookup<'a>(event: &'a Value, path: &str) -> Vec<&'a Value> {
    let mut current = vec![event];
    for segment in path.split('.') {
        let mut next = Vec::new();
        for value in current {
            match value {
                Value::Object(map) => {
                    if let Some(v) = map.get(segment) {
                        next.push(v);
                    }
                }
                Value::Array(items) => {
                    for item in items {
                        if let Some(v) = item.get(segment) {
                            next.push(v);
                        }
                    }
                }
                _ => {}
            }
        }
        current = next;
    }
    current
        .into_iter()
        .flat_map(|v| match v {
            Value::Array(items) => items.iter().collect::<Vec<_>>(),
            other => vec![other],
        })
        .collect()
}

fn compare(found: &Value, operator: Operator, wanted: &Value) -> bool {
    let found_text = scalar_text(found).unwrap_or_default();
    let wanted_list: Vec<String> = match wanted {
        Value::Array(items) => items.iter().filter_map(scalar_text).collect(),
        other => scalar_text(other).into_iter().collect(),
    };
    let wanted_text = wanted_list.first().cloned().unwrap_or_default();
    let ordering = match (found.as_f64(), wanted.as_f64()) {
        (Some(a), Some(b)) => a.partial_cmp(&b),
        _ => match (
            crate::ids::parse_rfc3339_ns(&found_text.to_uppercase()),
            crate::ids::parse_rfc3339_ns(&wanted_text.to_uppercase()),
        ) {
            (Some(a), Some(b)) => Some(a.cmp(&b)),
            _ => Some(found_text.cmp(&wanted_text)),
        },
    };
    use std::cmp::Ordering::{Greater, Less};
    match operator {
        Operator::Eq => found_text == wanted_text,
        Operator::Ne => found_text != wanted_text,
        Operator::Contains => found_text.contains(&wanted_text),
        Operator::StartsWith => found_text.starts_with(&wanted_text),
        Operator::EndsWith => found_text.ends_with(&wanted_text),
        Operator::In => wanted_list.contains(&found_text),
        Operator::NotIn => !wanted_list.contains(&found_text),
        Operator::Lt => ordering == Some(Less),
        Operator::Gt => ordering == Some(Greater),
        Operator::Lte => ordering.is_some_and(|o| o != Greater),
        Operator::Gte => ordering.is_some_and(|o| o != Less),
    }
}

impl Term {
    /// True when the event matches.
    pub fn matches(&self, event: &Value) -> bool {
        match self {
            Term::And(terms) => terms.iter().all(|t| t.matches(event)),
            Term::Or(terms) => terms.iter().any(|t| t.matches(event)),
            Term::Not(terms) => !terms.iter().any(|t| t.matches(event)),
            Term::Equals { field, values } => lookup(event, field)
                .into_iter()
                .filter_map(scalar_text)
                .any(|found| values.contains(&found)),
            Term::Compare {
                field,
                operator,
                value,
            } => {
                let found = lookup(event, field);
                match operator {
                    Operator::Ne | Operator::NotIn => {
                        found.iter().all(|f| compare(f, *operator, value))
                    }
                    _ => found.iter().any(|f| compare(f, *operator, value)),
                }
            }
        }
    }
}

/// Checks a `fields` list: `Err` (400 message) when empty or naming no known field.
pub fn check_fields(fields: &[String]) -> Result<(), String> {
    if fields.is_empty() {
        return Err("fields must not be empty".to_owned());
    }
    let known = fields
        .iter()
        .any(|f| KNOWN_FIELDS.contains(&f.split('.').next().unwrap_or_default()));
    if known {
        Ok(())
    } else {
        Err(format!("fields: no valid field in [{}]", fields.join(", ")))
    }
}

/// Keeps only the listed (dotted) fields of an event.
pub fn project(event: &Value, fields: &[String]) -> Value {
    let mut out = Map::new();
    for field in fields {
        let segments: Vec<&str> = field.split('.').collect();
        copy_path(event, &segments, &mut out);
    }
    Value::Object(out)
}

fn copy_path(source: &Value, segments: &[&str], target: &mut Map<String, Value>) {
    let Some((first, rest)) = segments.split_first() else {
        return;
    };
    let Some(value) = source.get(*first) else {
        return;
    };
    if rest.is_empty() {
        target.insert((*first).to_owned(), value.clone());
        return;
    }
    if !value.is_object() {
        return;
    }
    let entry = target
        .entry((*first).to_owned())
        .or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(inner) = entry {
        copy_path(value, rest, inner);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event() -> Value {
        json!({"event_type": "sso_auth", "success": false, "initiated_by": {"username": "John.Doe"}, "application": {"name": "zoom"}, "changes": [], "outer": {"eap_type": "PEAP"}})
    }

    #[test]
    fn and_or_not_equality_on_top_level_and_dotted_fields() {
        let e = event();
        let t = parse(
            &json!({"and": [{"event_type": "sso_auth"}, {"initiated_by.username": "john.doe"}]}),
        )
        .unwrap();
        assert!(t.matches(&e));
        let t = parse(
            &json!({"and": [{"event_type": "sso_auth"}, {"initiated_by.username": "jane.doe"}]}),
        )
        .unwrap();
        assert!(!t.matches(&e));
        let t =
            parse(&json!({"or": [{"event_type": ["radius_auth_attempt", "sso_auth"]}]})).unwrap();
        assert!(t.matches(&e));
        let t = parse(&json!({"not": [{"success": "false"}]})).unwrap();
        assert!(!t.matches(&e));
        let t = parse(&json!({"and": [{"or": [{"application.name": ["slack", "zoom"]}, {"event_type": "ldap_bind"}]}]})).unwrap();
        assert!(t.matches(&e));
        let t = parse(
            &json!({"field": "initiated_by.username", "operator": "startsWith", "value": "john"}),
        )
        .unwrap();
        assert!(t.matches(&e));
    }

    #[test]
    fn unsearchable_and_repeated_fields_are_rejected() {
        assert!(
            parse(&json!({"and": [{"changes": "x"}]}))
                .unwrap_err()
                .contains("not searchable")
        );
        assert!(
            parse(&json!({"and": [{"service": "sso"}, {"service": "ldap"}]}))
                .unwrap_err()
                .contains("repeats")
        );
        assert!(parse(&json!([])).is_err());
    }

    #[test]
    fn projection_keeps_listed_paths_only() {
        let projected = project(
            &event(),
            &["event_type".into(), "outer.eap_type".into(), "nope".into()],
        );
        assert_eq!(
            projected,
            json!({"event_type": "sso_auth", "outer": {"eap_type": "PEAP"}})
        );
        assert!(check_fields(&[]).is_err());
        assert!(check_fields(&["bogus".into()]).is_err());
        assert!(check_fields(&["bogus".into(), "id".into()]).is_ok());
    }
}
