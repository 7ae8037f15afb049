//! Events damaged on purpose (dead-letter tests), and sign-ins made failed ones.

use rand::Rng;
use serde_json::{Value, json};

use super::GeneratedEvent;

/// A sign-in event made a failed one (what the failure rules watch); other events unchanged.
pub(super) fn failed(event_json: &str) -> String {
    let Ok(Value::Object(mut event)) = serde_json::from_str::<Value>(event_json) else {
        return event_json.to_owned();
    };
    let outcome = if event.contains_key("sso_token_success") {
        "sso_token_success"
    } else {
        "success"
    };
    if event.get(outcome).is_some_and(Value::is_boolean) {
        event.insert(outcome.into(), json!(false));
        event.insert("error_message".into(), json!("invalid credentials"));
    }
    Value::Object(event).to_string()
}

/// Damages an event the way a broken upstream might (opt-in, for dead-letter tests): no
/// `timestamp`, an unparsable one, no `id`, no `event_type`, `geoip` not an object, or `success`
/// not a boolean. The result is still a JSON object.
pub fn malform(rng: &mut impl Rng, event: &mut GeneratedEvent) {
    let Ok(Value::Object(mut map)) = serde_json::from_str::<Value>(&event.json) else {
        return;
    };
    match rng.random_range(0..6) {
        0 => {
            map.remove("timestamp");
        }
        1 => {
            map.insert("timestamp".into(), json!("2023-13-45T25:61:00Z"));
        }
        2 => {
            map.remove("id");
        }
        3 => {
            map.remove("event_type");
        }
        4 => {
            map.insert("geoip".into(), json!("unknown"));
        }
        _ => {
            map.insert("success".into(), json!("maybe"));
        }
    }
    event.json = Value::Object(map).to_string();
}
