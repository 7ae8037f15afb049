//! Alerts as Detection Findings, in the layout JumpCloud's own OCSF mapping documents.

use serde_json::{Value, json};

use super::map_value;

/// An alert event: `resource` is the alert (`alert_object_id`, `source_name`, `context`),
/// `severity` and `status` at the top.
fn alert_event(event_type: &str, resource: Value, extra: Value) -> Value {
    let mut event = json!({
        "id": "66a1e7b2c3d4e50000000001",
        "timestamp": "2026-03-11T16:40:40.123Z",
        "event_type": event_type,
        "service": "alerts",
        "organization": "641b3db57090821c0b2f8183",
        "resource": resource,
        "@version": "1"
    });
    if let (Some(event), Some(extra)) = (event.as_object_mut(), extra.as_object()) {
        event.extend(extra.clone());
    }
    event
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

fn alert(id: &str, trigger: Option<String>) -> Value {
    let mut context = json!({
        "rule_name": "Admin brute force",
        "rule_object_id": "66e0a1b2c3d4e5f601234567",
        "event_description": "5 failed logins",
        "source_url": "https://console.jumpcloud.com/#/alerts/66f1d2e3a4b5c6d7e8f90001",
    });
    if let Some(trigger) = trigger {
        context["di_event"] = json!(trigger);
    }
    json!({
        "alert_object_id": id,
        "source_name": "Repeated failed admin logins",
        "source_type": "rule",
        "context": context,
    })
}

#[test]
fn alert_created_is_a_detection_finding_with_rule_and_trigger() {
    let trigger = trigger_login();
    let event = alert_event(
        "alert_created",
        alert("66f1d2e3a4b5c6d7e8f90001", Some(trigger.to_string())),
        json!({"severity": "High", "status": "new"}),
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
    // The vendor's rows: the rule as the policy, the alert's console page as src_url.
    assert_eq!(out["policy"]["uid"], "66e0a1b2c3d4e5f601234567");
    assert!(
        out["src_url"]
            .as_str()
            .unwrap()
            .ends_with("66f1d2e3a4b5c6d7e8f90001")
    );
    let profiles = out["metadata"]["profiles"].as_array().unwrap();
    assert!(profiles.contains(&json!("security_control")) && profiles.contains(&json!("incident")));
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
    // Mapped alert fields leave `unmapped`; the trigger, severity and status stay there.
    let unmapped = &out["unmapped"]["jumpcloud"];
    assert!(unmapped["resource"].get("alert_object_id").is_none());
    assert!(unmapped["resource"].get("source_name").is_none());
    assert!(unmapped["resource"]["context"].get("rule_name").is_none());
    assert_eq!(unmapped["resource"]["source_type"], "rule");
    assert_eq!(
        (&unmapped["severity"], &unmapped["status"]),
        (&json!("High"), &json!("new"))
    );
    assert_eq!(
        unmapped["resource"]["context"]["di_event"],
        trigger.to_string()
    );
}

#[test]
fn the_trigger_may_be_an_object() {
    let mut resource = alert("a1", None);
    resource["context"]["di_event"] = trigger_login();
    let (_, out) = map_value(&alert_event("alert_created", resource, json!({})));
    assert_eq!(
        out["finding_info"]["related_events"][0]["type_name"],
        "Authentication: Logon"
    );
}

#[test]
fn alert_status_decides_update_or_close_and_the_finding_status() {
    let cases = [
        (
            json!({"status": "in_progress"}),
            2,
            Some((2, "In Progress")),
        ),
        (json!({"status": "Resolved"}), 3, Some((4, "Resolved"))),
        (json!({"status": "dismissed"}), 3, Some((3, "Suppressed"))),
        (json!({"status": "escalated"}), 2, Some((99, "escalated"))),
        (json!({"severity": "low"}), 2, None),
    ];
    for (extra, activity, status) in cases {
        let (facts, out) = map_value(&alert_event(
            "alert_updated",
            alert("a1", None),
            extra.clone(),
        ));
        assert_eq!(facts.class_uid, 2004, "{extra}");
        assert_eq!(facts.activity_id, activity, "{extra}");
        match status {
            Some((id, caption)) => {
                assert_eq!(out["status_id"], id, "{extra}");
                assert_eq!(out["status"], caption, "{extra}");
            }
            None => assert!(out.get("status_id").is_none(), "{out}"),
        }
    }
    let (facts, out) = map_value(&alert_event("alert_created", alert("a1", None), json!({})));
    assert_eq!((facts.activity_id, &out["status_id"]), (1, &json!(1)));
    // The status of an update can come from its `changes` only.
    let event = alert_event(
        "alert_updated",
        alert("a1", None),
        json!({"changes": [{"field": "status", "from": "in_progress", "to": "closed"}]}),
    );
    let (facts, out) = map_value(&event);
    assert_eq!((facts.activity_id, &out["status_id"]), (3, &json!(4)));
    assert_eq!(out["unmapped"]["jumpcloud"]["changes"][0]["to"], "closed");
}

#[test]
fn alert_severity_gives_the_severity_id() {
    for (severity, id, caption) in [
        (json!("low"), 2, "Low"),
        (json!("MEDIUM"), 3, "Medium"),
        (json!("critical"), 5, "Critical"),
        (json!("P1"), 99, "P1"),
    ] {
        let (_, out) = map_value(&alert_event(
            "alert_created",
            alert("a1", None),
            json!({"severity": severity}),
        ));
        assert_eq!(
            (&out["severity_id"], &out["severity"]),
            (&json!(id), &json!(caption))
        );
    }
    let (_, out) = map_value(&alert_event("alert_created", alert("a1", None), json!({})));
    assert_eq!(
        (&out["severity_id"], &out["severity"]),
        (&json!(0), &json!("Unknown"))
    );
}

#[test]
fn status_changes_of_alerts_and_rules_are_entities() {
    // The vendor maps a status change of an alert to Entity Management (the alert).
    let (facts, out) = map_value(&alert_event(
        "alert_status_updated",
        alert("a1", None),
        json!({"status": "resolved"}),
    ));
    assert_eq!((facts.class_uid, facts.activity_id), (3004, 3));
    assert_eq!(out["entity"]["uid"], "a1");
    assert_eq!(out["entity"]["name"], "Repeated failed admin logins");
    // A finding without an alert id is a Base Event, every field kept.
    let (facts, out) = map_value(&alert_event(
        "alert_updated",
        json!({"source_name": "no id"}),
        json!({}),
    ));
    assert_eq!((facts.class_uid, facts.activity_id), (0, 99));
    assert_eq!(
        out["unmapped"]["jumpcloud"]["resource"]["source_name"],
        "no id"
    );
    let event = alert_event(
        "rule_config_updated",
        json!({}),
        json!({"rule_object_id": "r1", "rule_category": "directory"}),
    );
    let (facts, out) = map_value(&event);
    assert_eq!((facts.class_uid, facts.activity_id), (3004, 3));
    assert_eq!(out["entity"]["uid"], "r1");
}

#[test]
fn a_triggering_alert_inside_a_trigger_is_not_followed() {
    let inner = alert_event(
        "alert_created",
        alert("inner", Some(trigger_login().to_string())),
        json!({}),
    );
    let outer = alert_event(
        "alert_created",
        alert("outer", Some(inner.to_string())),
        json!({}),
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
        alert("a", Some("not json {".into())),
        json!({}),
    );
    let (_, out) = map_value(&odd);
    assert!(out["finding_info"].get("related_events").is_none());
    assert_eq!(
        out["unmapped"]["jumpcloud"]["resource"]["context"]["di_event"],
        "not json {"
    );
}
