//! Events built from a list of raw fields (the catalogue's data file, `data/event_types.tsv`):
//! every field the type carries gets a value of the kind its name says, from the
//! organisation's inventory where it names one of its objects. The rules are a table
//! (`VALUE_RULES`), not code per event type.

use rand::Rng;
use rand::seq::IndexedRandom;
use serde_json::{Map, Value, json};

use super::EventBuilder;
use super::context::{client_ip, geoip, useragent};
use crate::events::catalogue::EventKind;
use crate::ids::{self, Precision, format_timestamp, object_id};

/// What a field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FieldKind {
    Ip,
    Email,
    Id,
    Bool,
    Time,
    Count,
    Name,
    Url,
    Version,
    Status,
    Text,
}

/// The value of a field by its last key: the first rule whose test the key passes. `=key`
/// is the whole key, `key*` a prefix, `*key` a suffix, `~key` a part.
const VALUE_RULES: &[(&str, FieldKind)] = &[
    ("=ip", FieldKind::Ip),
    ("*_ip", FieldKind::Ip),
    ("=ipaddress", FieldKind::Ip),
    ("*ip_address", FieldKind::Ip),
    ("~email", FieldKind::Email),
    ("=id", FieldKind::Id),
    ("*_id", FieldKind::Id),
    ("*objectid", FieldKind::Id),
    ("=userid", FieldKind::Id),
    ("*_ids", FieldKind::Id),
    ("=success", FieldKind::Bool),
    ("=mfa", FieldKind::Bool),
    ("=enabled", FieldKind::Bool),
    ("is_*", FieldKind::Bool),
    ("has_*", FieldKind::Bool),
    ("*_enabled", FieldKind::Bool),
    ("notify_*", FieldKind::Bool),
    ("*_at", FieldKind::Time),
    ("~timestamp", FieldKind::Time),
    ("*_time", FieldKind::Time),
    ("*_date", FieldKind::Time),
    ("*_ts", FieldKind::Time),
    ("~count", FieldKind::Count),
    ("*_ms", FieldKind::Count),
    ("~duration", FieldKind::Count),
    ("*_code", FieldKind::Count),
    ("*_size", FieldKind::Count),
    ("~score", FieldKind::Count),
    ("number_of_*", FieldKind::Count),
    ("~url", FieldKind::Url),
    ("=href", FieldKind::Url),
    ("~version", FieldKind::Version),
    ("=status", FieldKind::Status),
    ("=result", FieldKind::Status),
    ("*state", FieldKind::Status),
    ("~name", FieldKind::Name),
    ("=title", FieldKind::Name),
    ("=label", FieldKind::Name),
];

fn rule_of(key: &str) -> FieldKind {
    let key = key.to_ascii_lowercase();
    for (pattern, value) in VALUE_RULES {
        let hit = if let Some(whole) = pattern.strip_prefix('=') {
            key == whole
        } else if let Some(suffix) = pattern.strip_prefix('*') {
            key.ends_with(suffix)
        } else if let Some(part) = pattern.strip_prefix('~') {
            key.contains(part)
        } else if let Some(prefix) = pattern.strip_suffix('*') {
            key.starts_with(prefix)
        } else {
            false
        };
        if hit {
            return *value;
        }
    }
    FieldKind::Text
}

/// Objects that come from a lookup whole, with the fields the lookup found.
pub(super) const LOOKUPS: [&str; 3] = ["geoip", "useragent", "asn"];

/// Sets `path` in `object` (dotted; `changes` is an array of one object), keeping what is there.
fn set_path(object: &mut Map<String, Value>, path: &[&str], value: Value) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    if rest.is_empty() {
        object.entry((*first).to_owned()).or_insert(value);
        return;
    }
    let slot = object
        .entry((*first).to_owned())
        .or_insert_with(|| Value::Object(Map::new()));
    // A field listed with fields of its own below it is an object.
    if !slot.is_object() && !slot.is_array() {
        *slot = Value::Object(Map::new());
    }
    let inner = match slot {
        Value::Array(items) => items.first_mut().and_then(Value::as_object_mut),
        Value::Object(map) => Some(map),
        _ => None,
    };
    if let Some(inner) = inner {
        set_path(inner, rest, value);
    }
}

impl EventBuilder<'_> {
    fn value_of(&self, rng: &mut impl Rng, key: &str, now_ns: i64) -> Value {
        let hex = |rng: &mut dyn rand::RngCore| format!("{:06x}", rng.random_range(0..0x100_0000));
        match rule_of(key) {
            FieldKind::Ip => json!(client_ip(rng)),
            FieldKind::Email => {
                let user = self.user(rng);
                json!(user.email)
            }
            FieldKind::Id => json!(object_id(rng, now_ns / 1_000_000_000)),
            FieldKind::Bool => json!(rng.random_bool(0.8)),
            FieldKind::Time => {
                let earlier = now_ns - rng.random_range(0..86_400) * 1_000_000_000;
                json!(format_timestamp(earlier, Precision::Millis).1)
            }
            FieldKind::Count => json!(rng.random_range(0..500)),
            FieldKind::Name => {
                let user = self.user(rng);
                json!(user.username)
            }
            FieldKind::Url => json!(format!("https://console.jumpcloud.com/#/{}", hex(rng))),
            FieldKind::Version => json!(format!(
                "{}.{}.{}",
                rng.random_range(1..20),
                rng.random_range(0..10),
                rng.random_range(0..30)
            )),
            FieldKind::Status => {
                let status = ["success", "completed", "pending", "failed"]
                    .choose(rng)
                    .copied()
                    .unwrap_or("success");
                json!(status)
            }
            FieldKind::Text => json!(format!("{}-{}", key.replace('_', "-"), hex(rng))),
        }
    }

    /// The object a top-level key of a field list names, made whole from the inventory (the
    /// listed fields it lacks are added after).
    fn object_for(&self, rng: &mut impl Rng, key: &str, kind: &EventKind) -> Option<Value> {
        Some(match key {
            "geoip" => geoip(rng),
            "useragent" => useragent(rng),
            "initiated_by" => self.admin_actor(rng),
            "asn" => {
                let (number, organization) = [
                    (15169, "Google LLC"),
                    (7922, "Comcast Cable Communications, LLC"),
                    (3320, "Deutsche Telekom AG"),
                    (16509, "Amazon.com, Inc."),
                ]
                .choose(rng)
                .copied()
                .unwrap_or((15169, "Google LLC"));
                json!({"number": number, "organization": organization, "network": "203.0.113.0/24"})
            }
            "system" => {
                let system = self.inventory.systems.choose(rng)?;
                json!({"id": system.id, "hostname": system.hostname, "displayName": system.hostname,
                       "osFamily": system.os_family, "serialno": system.serial_number})
            }
            "application" => {
                let app = self.inventory.applications.choose(rng)?;
                json!({"id": app.id, "name": app.name, "display_name": app.display_label})
            }
            "resource" => {
                let object_type = super::object_type_of(kind.event_type);
                if object_type.starts_with("admin") {
                    // An administrator's access or role: the administrator.
                    let mut admin = self.admin_actor(rng);
                    if let Some(admin) = admin.as_object_mut() {
                        admin.remove("source");
                    }
                    admin
                } else if object_type.contains("user") {
                    let user = self.user(rng);
                    json!({"id": user.id, "type": "user", "username": user.username, "email": user.email})
                } else {
                    let created = 0x6500_0000 + rng.random_range(0..0x0800_0000);
                    let id = object_id(rng, created);
                    json!({"id": id, "type": object_type, "name": format!("{object_type}-{}", &id[18..])})
                }
            }
            "association" => self.association(rng),
            "changes" => json!([{}]),
            _ => return None,
        })
    }

    /// An event of a type built from its field list.
    pub(super) fn fill_fields(
        &self,
        rng: &mut impl Rng,
        kind: &EventKind,
        event: &mut Map<String, Value>,
    ) {
        let now_ns = event
            .get("timestamp")
            .and_then(Value::as_str)
            .and_then(ids::parse_rfc3339_ns)
            .unwrap_or(0);
        for path in kind.fields {
            let parts: Vec<&str> = path.split('.').collect();
            let top = parts[0];
            if !event.contains_key(top)
                && let Some(object) = self.object_for(rng, top, kind)
            {
                event.insert(top.to_owned(), object);
            }
            let leaf = parts.last().copied().unwrap_or(top);
            let value = match *path {
                "user_agent" => json!(
                    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
                ),
                "success" => json!(rng.random_bool(0.9)),
                _ => self.value_of(rng, leaf, now_ns),
            };
            // A field of an object made whole is already there (or its value is the object); the
            // lookups (geoip, useragent, asn) give what they give (a geoip without coordinates).
            if (parts.len() == 1 && event.get(top).is_some_and(Value::is_object))
                || LOOKUPS.contains(&top)
            {
                continue;
            }
            set_path(event, &parts, value);
        }
        if let Some(Value::Array(changes)) = event.get_mut("changes")
            && let Some(Value::Object(change)) = changes.first_mut()
        {
            change.entry("field").or_insert_with(|| json!("settings"));
            change.entry("to").or_insert_with(|| json!(true));
        }
        if !event.contains_key("success") {
            event.insert("success".into(), json!(true));
        }
    }
}
