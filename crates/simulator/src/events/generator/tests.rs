use super::*;
use crate::inventory::InventorySizes;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn inventory() -> Inventory {
    let sizes = InventorySizes {
        users: 10,
        systems: 6,
        groups: 3,
        applications: 3,
    };
    Inventory::generate(
        &mut ChaCha8Rng::seed_from_u64(3),
        "641b3db57090821c0b2f8183",
        0,
        sizes,
        1_700_000_000_000_000_000,
    )
}

#[test]
fn every_catalogue_type_builds_a_well_formed_event() {
    let inv = inventory();
    let builder = EventBuilder::new(&inv);
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    for kind in catalogue() {
        let event = builder.build(&mut rng, kind, 1_686_838_870_343_344_450);
        let value: Value = serde_json::from_str(&event.json).unwrap();
        assert_eq!(value["event_type"], json!(kind.event_type));
        assert_eq!(value["service"], json!(kind.service));
        assert_eq!(value["organization"], json!("641b3db57090821c0b2f8183"));
        assert_eq!(value["id"], json!(event.id));
        let ts = value["timestamp"].as_str().unwrap();
        assert_eq!(ids::parse_rfc3339_ns(ts), Some(event.timestamp_ns));
        if kind.shape == Shape::Radius {
            assert_eq!(event.id.len(), 36);
            assert_eq!(event.id, event.id.to_uppercase());
            assert!(!ts.contains('.'));
        } else {
            assert_eq!(event.id.len(), 24, "{}", kind.event_type);
        }
        if kind.shape == Shape::SsoAuth {
            assert!(value.get("success").is_none());
            assert!(value["sso_token_success"].is_boolean());
        }
    }
}

#[test]
fn association_events_have_connection_ends() {
    let inv = inventory();
    let builder = EventBuilder::new(&inv);
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let kind = super::super::catalogue::find("directory", "association_change").unwrap();
    let value: Value = serde_json::from_str(
        &builder
            .build(&mut rng, kind, 1_700_000_000_000_000_000)
            .json,
    )
    .unwrap();
    assert_eq!(
        value["association"]["connection"]["to"]["type"],
        json!("user")
    );
    assert!(
        value["association"]["connection"]["from"]["object_id"]
            .as_str()
            .unwrap()
            .len()
            == 24
    );
}

#[test]
fn malformed_events_stay_json_objects_but_break_the_schema() {
    let inv = inventory();
    let builder = EventBuilder::new(&inv);
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let kind = super::super::catalogue::find("sso", "sso_auth").unwrap();
    let mut broken = 0;
    for _ in 0..60 {
        let mut event = builder.build(&mut rng, kind, 1_700_000_000_000_000_000);
        let before = event.json.clone();
        malform(&mut rng, &mut event);
        let value: Value = serde_json::from_str(&event.json).unwrap();
        assert!(value.is_object());
        assert_ne!(event.json, before);
        let ts_ok = value["timestamp"]
            .as_str()
            .and_then(ids::parse_rfc3339_ns)
            .is_some();
        if !ts_ok
            || value.get("id").is_none()
            || value.get("event_type").is_none()
            || value["geoip"].is_string()
            || value["success"].is_string()
        {
            broken += 1;
        }
    }
    assert_eq!(broken, 60);
}

#[test]
fn alert_events_carry_the_alert_its_rule_and_the_triggering_event() {
    let inv = inventory();
    let builder = EventBuilder::new(&inv);
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    for name in ["alert_created", "alert_updated", "alert_status_updated"] {
        let kind = super::super::catalogue::find("alerts", name).unwrap();
        for _ in 0..20 {
            let event = builder.build(&mut rng, kind, 1_700_000_000_000_000_000);
            let value: Value = serde_json::from_str(&event.json).unwrap();
            // The layout of JumpCloud's own OCSF mapping: the alert is the resource.
            let alert = &value["resource"];
            assert_eq!(alert["alert_object_id"].as_str().unwrap().len(), 24);
            let context = &alert["context"];
            assert!(context["rule_object_id"].is_string() && context["rule_name"].is_string());
            assert_eq!(alert["source_name"], context["rule_name"]);
            assert!(
                ["low", "medium", "high", "critical"]
                    .contains(&value["severity"].as_str().unwrap())
            );
            let trigger: Value =
                serde_json::from_str(context["di_event"].as_str().unwrap()).unwrap();
            let trigger_ns = ids::parse_rfc3339_ns(trigger["timestamp"].as_str().unwrap()).unwrap();
            assert!(
                trigger_ns < 1_700_000_000_000_000_000,
                "{name}: trigger after alert"
            );
            assert!(trigger["event_type"].is_string());
            if trigger["event_type"] != json!("user_admin_granted") {
                let outcome = trigger
                    .get("sso_token_success")
                    .unwrap_or(&trigger["success"]);
                assert_eq!(outcome, &json!(false), "{trigger}");
            }
            if name == "alert_created" {
                assert_eq!(value["status"], json!("new"));
                assert!(value.get("initiated_by").is_none());
            } else {
                assert_eq!(value["initiated_by"]["type"], json!("admin"));
                assert!(value["changes"].is_array());
            }
            if name == "alert_status_updated" {
                assert_eq!(value["changes"][0]["to"], value["status"]);
            }
        }
    }
}

#[test]
fn types_built_from_their_field_lists_carry_those_fields() {
    let inv = inventory();
    let builder = EventBuilder::new(&inv);
    let mut rng = ChaCha8Rng::seed_from_u64(6);
    let by_fields: Vec<_> = catalogue()
        .iter()
        .filter(|kind| kind.shape == Shape::Fields)
        .collect();
    assert!(by_fields.len() > 250, "{}", by_fields.len());
    for kind in by_fields {
        let event = builder.build(&mut rng, kind, 1_700_000_000_000_000_000);
        let value: Value = serde_json::from_str(&event.json).unwrap();
        for field in kind.fields {
            if super::fields::LOOKUPS.contains(&field.split('.').next().unwrap_or("")) {
                continue;
            }
            let mut node = Some(&value);
            for key in field.split('.') {
                node = node.and_then(|node| match node {
                    Value::Array(items) => items.first().and_then(|item| item.get(key)),
                    other => other.get(key),
                });
            }
            assert!(node.is_some(), "{}: {field} in {value}", kind.event_type);
        }
        if let Some(ip) = value.get("client_ip") {
            assert!(ip.as_str().unwrap().parse::<std::net::IpAddr>().is_ok());
        }
    }
    let kind = super::super::catalogue::find("mdm", "apple_policy_dispatch").unwrap();
    let value: Value = serde_json::from_str(
        &builder
            .build(&mut rng, kind, 1_700_000_000_000_000_000)
            .json,
    )
    .unwrap();
    assert!(
        value["policy_name"].is_string() && value["request_type"].is_string(),
        "{value}"
    );
}

#[test]
fn object_type_is_derived_from_the_name() {
    assert_eq!(object_type_of("radiusserver_create"), "radiusserver");
    assert_eq!(object_type_of("alert_status_updated"), "alert");
    assert_eq!(object_type_of("software_add_request"), "software_add");
}
