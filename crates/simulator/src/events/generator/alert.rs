//! Alert events: an alert of a rule, with the event that triggered it inside.

use rand::Rng;
use rand::seq::IndexedRandom;
use serde_json::{Map, Value, json};

use super::context::provider;
use super::{EventBuilder, failed};
use crate::events::catalogue::{self, EventKind};
use crate::ids::{self, object_id};

/// Alert rules (id, name, the event type they watch and the priority of their alerts), as
/// JumpCloud's alert templates name them.
const ALERT_RULES: &[(&str, &str, &str, &str)] = &[
    (
        "66e0a1b2c3d4e5f601234567",
        "Admin console: repeated failed logins",
        "admin_login_attempt",
        "high",
    ),
    (
        "66e0a1b2c3d4e5f601234568",
        "User portal: repeated failed logins",
        "user_login_attempt",
        "medium",
    ),
    (
        "66e0a1b2c3d4e5f601234569",
        "Systems: failed remote logons",
        "login_attempt",
        "medium",
    ),
    (
        "66e0a1b2c3d4e5f60123456a",
        "SSO: access denied to an application",
        "sso_auth",
        "low",
    ),
    (
        "66e0a1b2c3d4e5f60123456b",
        "Administrator rights granted",
        "user_admin_granted",
        "critical",
    ),
];

impl EventBuilder<'_> {
    /// An alert event in the layout JumpCloud's OCSF mapping documents: `resource
    /// {alert_object_id, source_name, source_type, source_id, context {rule_name,
    /// rule_object_id, event_description, source_url, di_event}}`, `severity`, `status`,
    /// `category`, with the triggering event (built like any event of its type, seconds to
    /// minutes earlier) as a JSON document inside a string in `di_event`. Created by the rule
    /// engine (no actor); updates are an admin's, with a `status` change.
    pub(super) fn alert(
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
        let &(rule_id, rule_name, watched, priority) =
            ALERT_RULES.choose(rng).unwrap_or(&ALERT_RULES[0]);
        let created_ns = if kind.event_type == "alert_created" {
            now_ns
        } else {
            now_ns - rng.random_range(60..86_400) * 1_000_000_000
        };
        let trigger_ns = created_ns - rng.random_range(2..300) * 1_000_000_000;
        let trigger = catalogue::catalogue()
            .iter()
            .find(|candidate| candidate.event_type == watched)
            .map(|trigger_kind| failed(&self.build(rng, trigger_kind, trigger_ns).json));
        let alert_id = object_id(rng, created_ns / 1_000_000_000);
        let priority = if kind.event_type != "alert_created" && rng.random_bool(0.2) {
            "critical"
        } else {
            priority
        };
        let (status, changes) = match kind.event_type {
            "alert_created" => ("new", None),
            "alert_status_updated" => {
                let (from, to) = [
                    ("new", "in_progress"),
                    ("in_progress", "resolved"),
                    ("new", "dismissed"),
                    ("resolved", "in_progress"),
                ]
                .choose(rng)
                .copied()
                .unwrap_or(("new", "in_progress"));
                (
                    to,
                    Some(json!([{"field": "status", "from": from, "to": to}])),
                )
            }
            _ => (
                ["new", "in_progress"].choose(rng).copied().unwrap_or("new"),
                Some(json!([{"field": "severity", "from": "high", "to": priority}])),
            ),
        };
        let mut context = json!({
            "rule_name": rule_name,
            "rule_object_id": rule_id,
            "event_description": format!("{rule_name}: rule {rule_id} matched a {watched} event"),
            "source_url": format!("https://console.jumpcloud.com/#/insights/alerts/{alert_id}"),
        });
        if let Some(trigger) = trigger {
            context["di_event"] = json!(trigger);
        }
        event.insert(
            "resource".into(),
            json!({
                "alert_object_id": alert_id,
                "source_name": rule_name,
                "source_type": "rule",
                "source_id": rule_id,
                "context": context,
            }),
        );
        event.insert("severity".into(), json!(priority));
        event.insert("status".into(), json!(status));
        event.insert("category".into(), json!("security"));
        if kind.event_type == "alert_created" {
            event.insert("provider".into(), provider(rng));
        } else {
            self.console_common(rng, event);
        }
        if let Some(changes) = changes {
            event.insert("changes".into(), changes);
        }
    }
}
