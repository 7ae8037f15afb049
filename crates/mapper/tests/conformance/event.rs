//! One Directory Insights event per vendor event type, built from the vendor's field rows: every
//! raw field any row of the type names, with a value of the kind the field holds (an address
//! for `client_ip`, a number for `geoip.latitude`, an e-mail where the vendor types an e-mail,
//! a distinct text elsewhere), and the expected OCSF value of each typed row.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::vendor::{FieldRow, VendorEvent};

/// The OCSF schema the project validates with, to know what type a target attribute has.
pub struct Schema(Value);

impl Schema {
    pub fn load() -> Schema {
        Schema(serde_json::from_str(ocsf_schema::COMPACT_SCHEMA_JSON).expect("schema"))
    }

    /// The dictionary type of `path` in a class (`string_t`, `integer_t`, ...), `None` when the
    /// class does not have it.
    pub fn type_of(&self, class_uid: u32, path: &str) -> Option<String> {
        let mut attributes = self.0["classes"][class_uid.to_string()].get("attributes")?;
        let parts: Vec<&str> = path.split('.').collect();
        for (index, part) in parts.iter().enumerate() {
            let attribute = attributes.get(*part)?;
            let kind = attribute["type"].as_str()?;
            if index + 1 == parts.len() {
                return Some(kind.to_owned());
            }
            if kind == "json_t" {
                return Some(kind.to_owned());
            }
            let object = attribute["object_type"].as_str()?;
            attributes = self.0["objects"][object].get("attributes")?;
        }
        None
    }
}

/// The DI `service` of a vendor section.
pub fn di_service(section: &str) -> &str {
    if section.starts_with("directory_") {
        return "directory";
    }
    match section {
        "alert" => "alerts",
        "saas_management" => "saas_app_management",
        "workflow" => "workflows",
        other => other,
    }
}

/// The object type an event type acts on (`application_create` -> `application`; a user for
/// the users' events of every service: `passwordmanager_user_enable`).
fn object_of(event_type: &str) -> String {
    for prefix in ["user_", "admin_", "totp_"] {
        if event_type.starts_with(prefix) {
            return "user".to_owned();
        }
    }
    if event_type.contains("_user_") {
        return "user".to_owned();
    }
    match event_type.rsplit_once('_') {
        Some((stem, _)) => stem.to_owned(),
        None => event_type.to_owned(),
    }
}

/// A value for a raw field, chosen by what the field is and what the vendor types it as.
fn value_for(source: &str, target_type: Option<&str>, event: &VendorEvent, n: usize) -> Value {
    let leaf = source.rsplit('.').next().unwrap_or(source);
    let text = || json!(format!("{}-{n}", leaf.replace('_', "-")));
    match source {
        "initiated_by.type" => return json!("admin"),
        "resource.type" => return json!(object_of(&event.event_type)),
        "association.op" => return json!("add"),
        "association.connection.from.type" => return json!("user_group"),
        "association.connection.to.type" => return json!("user"),
        "success" | "sso_token_success" | "mfa" => return json!(true),
        "geoip.latitude" => return json!(48.8323),
        "geoip.longitude" => return json!(2.4075),
        "geoip.country_code" | "location.Country.IsoCode" => return json!("FR"),
        "geoip.continent_code" => return json!("EU"),
        "geoip.region_code" | "location.Subdivisions.IsoCode" => return json!("IDF"),
        "geoip.city" | "location.City.Name" => return json!("Paris"),
        "asn.number" => return json!(15169),
        "asn.organization" => return json!("Google LLC"),
        "timestamp" | "server_timestamp" => return json!("2026-03-01T10:00:00.123Z"),
        _ => {}
    }
    match target_type {
        Some("integer_t" | "long_t" | "port_t") => return json!(200 + n),
        Some("float_t") => return json!(n as f64 + 0.5),
        Some("boolean_t") => return json!(true),
        Some("timestamp_t") => return json!(1_772_000_000_000_i64 + n as i64),
        Some("email_t") => return json!(format!("person{n}@example.com")),
        Some("ip_t") => return json!(format!("198.51.100.{}", n % 250 + 1)),
        _ => {}
    }
    if leaf.ends_with("_ip") || leaf == "ip" || leaf == "ipAddress" {
        return json!(format!("203.0.113.{}", n % 250 + 1));
    }
    if leaf.contains("email") {
        return json!(format!("person{n}@example.com"));
    }
    text()
}

/// A raw event under construction: dotted paths set into nested objects (`changes` is an
/// array of one object, as in Directory Insights).
#[derive(Default)]
struct Tree(Map<String, Value>);

impl Tree {
    fn set(&mut self, path: &str, value: Value) {
        let parts: Vec<&str> = path.split('.').collect();
        let mut object = &mut self.0;
        for (index, part) in parts.iter().enumerate() {
            if index + 1 == parts.len() {
                // A field that is also an object keeps the object (a row naming the whole object
                // and rows naming its fields).
                if !object.get(*part).is_some_and(Value::is_object) {
                    object.insert((*part).to_owned(), value);
                }
                return;
            }
            let slot = object
                .entry((*part).to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            if !slot.is_object() && !slot.is_array() {
                *slot = Value::Object(Map::new());
            }
            if *part == "changes" && index == 0 {
                if slot.is_object() {
                    *slot = Value::Array(vec![Value::Object(Map::new())]);
                }
                object = slot[0].as_object_mut().expect("changes[0]");
            } else {
                object = slot.as_object_mut().expect("object");
            }
        }
    }

    /// Replaces the value of an existing field.
    fn set_leaf(&mut self, path: &str, value: Value) {
        let mut parts: Vec<&str> = path.split('.').collect();
        let Some(last) = parts.pop() else { return };
        let mut object = &mut self.0;
        for part in parts {
            match object.get_mut(part).and_then(Value::as_object_mut) {
                Some(inner) => object = inner,
                None => return,
            }
        }
        object.insert(last.to_owned(), value);
    }

    fn get(&self, path: &str) -> Option<&Value> {
        let mut value: &Value = self.0.get(path.split('.').next()?)?;
        for part in path.split('.').skip(1) {
            value = match value {
                Value::Array(items) => items.first()?.get(part)?,
                other => other.get(part)?,
            };
        }
        Some(value)
    }
}

/// The test event of one type, and for each typed row the raw values it may arrive with.
pub struct TestEvent {
    pub json: Value,
    /// (row, the values of its sources present in the event).
    pub typed: Vec<(FieldRow, Vec<Value>)>,
}

pub fn build(event: &VendorEvent, rows: &[&FieldRow], schema: &Schema) -> TestEvent {
    let mut tree = Tree::default();
    let mut n = 0;
    let mut chosen: BTreeMap<String, Value> = BTreeMap::new();
    // Typed rows first, so a field gets the kind of value its typed target needs.
    let mut ordered: Vec<&&FieldRow> = rows.iter().filter(|row| row.is_typed()).collect();
    ordered.extend(
        rows.iter()
            .filter(|row| !row.is_typed() && row.has_source()),
    );
    for row in ordered {
        let target_type = schema.type_of(event.class_uid, &row.ocsf_field);
        for source in &row.sources {
            if chosen.contains_key(source) {
                continue;
            }
            n += 1;
            let value = value_for(source, target_type.as_deref(), event, n);
            chosen.insert(source.clone(), value.clone());
            tree.set(source, value);
        }
    }
    // Directory Insights repeats the signing-in user's name in `username` and
    // `initiated_by.username` (every public sample): one value, as in the source.
    if let Some(name) = tree.get("username").cloned()
        && tree.get("initiated_by.username").is_some()
    {
        tree.set_leaf("initiated_by.username", name);
    }
    let service = di_service(&event.section);
    tree.0
        .insert("id".into(), json!("66f1a2b3c4d5e6f7a8b9c0d1"));
    tree.0
        .insert("timestamp".into(), json!("2026-03-01T10:00:00.123Z"));
    tree.0.insert("event_type".into(), json!(event.event_type));
    tree.0.insert("service".into(), json!(service));
    tree.0
        .insert("organization".into(), json!("641b3db57090821c0b2f8183"));
    let typed = rows
        .iter()
        .filter(|row| row.is_typed())
        .map(|row| {
            let values = row
                .sources
                .iter()
                .filter_map(|source| tree.get(source).cloned())
                .filter(|value| !value.is_object())
                .collect();
            ((*row).clone(), values)
        })
        .collect();
    TestEvent {
        json: Value::Object(tree.0),
        typed,
    }
}

/// The values at `path` in an OCSF record (every element where a step is an array).
pub fn values_at<'v>(record: &'v Value, path: &str) -> Vec<&'v Value> {
    let mut current = vec![record];
    for part in path.split('.') {
        let mut next = Vec::new();
        for value in current {
            match value.get(part) {
                Some(Value::Array(items)) => next.extend(items.iter()),
                Some(found) => next.push(found),
                None => {
                    if let Value::Array(items) = value {
                        next.extend(items.iter().filter_map(|item| item.get(part)));
                    }
                }
            }
        }
        current = next;
    }
    current
}

/// Whether an OCSF value is the raw value as the vendor places it (a number written as a
/// string where the target is a string, an RFC 3339 time as epoch milliseconds).
pub fn same_value(ocsf: &Value, raw: &Value) -> bool {
    if ocsf == raw {
        return true;
    }
    match (ocsf, raw) {
        (Value::String(text), Value::Number(number)) => *text == number.to_string(),
        (Value::Number(number), Value::String(text)) => {
            text.parse::<f64>().ok() == number.as_f64()
                || chrono::DateTime::parse_from_rfc3339(text)
                    .ok()
                    .map(|time| time.timestamp_millis())
                    == number.as_i64()
        }
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        _ => false,
    }
}
