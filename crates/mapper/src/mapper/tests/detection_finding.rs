//! Alerts as Detection Findings.

use serde_json::{Value, json};

use super::map_value;

fn alert_event(event_type: &str, alert: Value) -> Value {
    json!({
        "id": "66a1e7b2c3d4e50000000001",
        "timestamp": "2026-03-11T16:40:40.123Z",
        "event_type": event_type,
        "service": "alerts",
        "organization": "641b3db57090821c0b2f8183",
        "alert": alert,
        "@version": "1"
    })
}

fn trigger_login() -> Value {
    json!({
        "id": "66f1c0ffee0000000000a001",
        "event_type": "admin_login_attempt",
        "service": "directory",
        "organization": "641b3db57090821c0b2f8183",
        "timestamp": "2026-03-11T16:40:31.512Z",
        "initiated_by": {"id": "5ce434e77128503e528e747c", "type": "admin", "email": "jane.admin@example.com"},
        "client_ip": "198.51.100.23",
        "geoip": {"country_code": "RO", "region_code": "B", "latitude": 44.4354, "longitude": 26.1033},
        "success": false,
        "error_message": "invalid credentials"
    })
}

#[test]
fn alert_created_is_a_detection_finding_with_rule_times_and_trigger() {
    let trigger = trigger_login();
    let event = alert_event(
        "alert_created",
        json!({
            "id": "66f1d2e3a4b5c6d7e8f90001",
            "title": "Repeated failed admin logins",
            "description": "5 failed logins",
            "priority": "High",
            "status": "new",
            "created_at": "2026-03-11T16:40:38Z",
            "rule": {"id": "66e0a1b2c3d4e5f601234567", "name": "Admin brute force"},
            "trigger_event": trigger.to_string()
        }),
    );
    let (facts, out) = map_value(&event);
    assert_eq!(
        (facts.class_uid, facts.class_name, facts.activity_id),
        (2004, "detection_finding", 1)
    );
    assert_eq!(out["type_uid"], 200401);
    assert_eq!(out["category_uid"], 2);
    assert_eq!(out["type_name"], "Detection Finding: Create");
    assert_eq!(
        (&out["severity_id"], &out["severity"]),
        (&json!(4), &json!("High"))
    );
    assert_eq!(
        (&out["status_id"], &out["status"]),
        (&json!(1), &json!("New"))
    );
    assert_eq!(out["is_alert"], true);
    let info = &out["finding_info"];
    assert_eq!(info["uid"], "66f1d2e3a4b5c6d7e8f90001");
    assert_eq!(info["title"], "Repeated failed admin logins");
    assert_eq!(info["desc"], "5 failed logins");
    assert_eq!(
        info["analytic"],
        json!({"uid": "66e0a1b2c3d4e5f601234567", "name": "Admin brute force", "type_id": 1, "type": "Rule"})
    );
    assert_eq!(info["created_time"], 1_773_247_238_000_i64);
    // The related event is the trigger as this mapper maps it: same metadata.uid and type.
    let (trigger_facts, trigger_out) = map_value(&trigger);
    let related = &info["related_events"][0];
    assert_eq!(related["uid"], trigger_facts.uid.as_str());
    assert_eq!(related["type_uid"], trigger_out["type_uid"]);
    assert_eq!(related["type_name"], "Authentication: Logon");
    assert_eq!(related["created_time"], trigger_out["time"]);
    // The evidence: who and where, typed.
    let evidence = &out["evidences"][0];
    assert_eq!(evidence["uid"], "66f1c0ffee0000000000a001");
    assert_eq!(evidence["name"], "admin_login_attempt");
    assert_eq!(evidence["user"]["email_addr"], "jane.admin@example.com");
    assert_eq!(evidence["src_endpoint"]["ip"], "198.51.100.23");
    assert_eq!(evidence["src_endpoint"]["location"]["country"], "RO");
    let observables: Vec<(&str, i64)> = out["observables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o["name"].as_str().unwrap(), o["type_id"].as_i64().unwrap()))
        .collect();
    assert!(
        observables.contains(&("evidences.user.email_addr", 5)),
        "{observables:?}"
    );
    assert!(
        observables.contains(&("evidences.src_endpoint.ip", 2)),
        "{observables:?}"
    );
    // Mapped alert fields leave `unmapped`; the trigger stays there whole.
    let unmapped = &out["unmapped"]["jumpcloud"]["alert"];
    assert!(unmapped.get("id").is_none() && unmapped.get("rule").is_none());
    assert!(unmapped.get("title").is_none() && unmapped.get("created_at").is_none());
    assert_eq!(
        (&unmapped["priority"], &unmapped["status"]),
        (&json!("High"), &json!("new"))
    );
    assert_eq!(unmapped["trigger_event"], trigger.to_string());
    assert!(out["metadata"]["profiles"].as_array().unwrap().is_empty());
}

#[test]
fn alert_status_decides_update_or_close_and_the_finding_status() {
    let cases = [
        (
            "alert_updated",
            json!({"id": "a1", "status": "in_progress"}),
            2,
            Some((2, "In Progress")),
        ),
        (
            "alert_status_updated",
            json!({"id": "a1", "status": "Resolved"}),
            3,
            Some((4, "Resolved")),
        ),
        (
            "alert_status_updated",
            json!({"id": "a1", "status": "dismissed"}),
            3,
            Some((3, "Suppressed")),
        ),
        (
            "alert_status_updated",
            json!({"id": "a1", "status": "escalated"}),
            2,
            Some((99, "escalated")),
        ),
        (
            "alert_updated",
            json!({"id": "a1", "priority": "low"}),
            2,
            None,
        ),
        ("alert_created", json!({"id": "a1"}), 1, Some((1, "New"))),
    ];
    for (event_type, alert, activity, status) in cases {
        let (facts, out) = map_value(&alert_event(event_type, alert.clone()));
        assert_eq!(facts.class_uid, 2004, "{alert}");
        assert_eq!(facts.activity_id, activity, "{event_type} {alert}");
        match status {
            Some((id, caption)) => {
                assert_eq!(out["status_id"], id, "{alert}");
                assert_eq!(out["status"], caption, "{alert}");
            }
            None => assert!(out.get("status_id").is_none(), "{out}"),
        }
    }
    // The status of an update can come from its `changes` only.
    let mut event = alert_event("alert_status_updated", json!({"id": "a1"}));
    event["changes"] = json!([{"field": "status", "from": "in_progress", "to": "closed"}]);
    let (facts, out) = map_value(&event);
    assert_eq!((facts.activity_id, &out["status_id"]), (3, &json!(4)));
    assert_eq!(out["unmapped"]["jumpcloud"]["changes"][0]["to"], "closed");
}

#[test]
fn alert_priority_gives_the_severity() {
    for (priority, id, caption) in [
        (json!("low"), 2, "Low"),
        (json!("MEDIUM"), 3, "Medium"),
        (json!("critical"), 5, "Critical"),
        (json!("P1"), 99, "P1"),
    ] {
        let (_, out) = map_value(&alert_event(
            "alert_created",
            json!({"id": "a1", "priority": priority}),
        ));
        assert_eq!(
            (&out["severity_id"], &out["severity"]),
            (&json!(id), &json!(caption))
        );
    }
    let (_, out) = map_value(&alert_event("alert_created", json!({"id": "a1"})));
    assert_eq!(
        (&out["severity_id"], &out["severity"]),
        (&json!(0), &json!("Unknown"))
    );
}

#[test]
fn an_alert_event_naming_no_alert_is_a_base_event_and_rules_are_entities() {
    let mut event = alert_event("alert_updated", json!({"title": "no id"}));
    let (facts, out) = map_value(&event);
    assert_eq!((facts.class_uid, facts.activity_id), (0, 99));
    assert_eq!(out["unmapped"]["jumpcloud"]["alert"]["title"], "no id");
    event["event_type"] = json!("rule_modified");
    event["resource"] = json!({"id": "r1", "type": "rule", "name": "Admin brute force"});
    let (facts, out) = map_value(&event);
    assert_eq!((facts.class_uid, facts.activity_id), (3004, 3));
    assert_eq!(out["entity"]["name"], "Admin brute force");
}

#[test]
fn a_triggering_alert_inside_a_trigger_is_not_followed() {
    let inner = alert_event(
        "alert_created",
        json!({"id": "inner", "trigger_event": trigger_login()}),
    );
    let outer = alert_event(
        "alert_created",
        json!({"id": "outer", "trigger_event": inner.to_string()}),
    );
    let (_, out) = map_value(&outer);
    assert_eq!(
        out["finding_info"]["related_events"][0]["type_name"],
        "Detection Finding: Create"
    );
    // The inner alert names no user, endpoint or device itself: no evidence.
    assert!(out.get("evidences").is_none(), "{out}");
    // A trigger that is not JSON is kept, nothing else.
    let odd = alert_event(
        "alert_created",
        json!({"id": "a", "trigger_event": "not json {"}),
    );
    let (_, out) = map_value(&odd);
    assert!(out["finding_info"].get("related_events").is_none());
    assert_eq!(
        out["unmapped"]["jumpcloud"]["alert"]["trigger_event"],
        "not json {"
    );
}
