//! Context every class carries: device, logon type, location, autonomous system, factors,
//! observables.

use serde_json::json;

use super::{login, map_value};

#[test]
fn systems_logins_carry_the_logon_type() {
    let mut event = json!({
        "id": "65a1b2c3d4e5f600000000fd",
        "timestamp": "2026-03-11T13:13:31.123Z",
        "event_type": "login_attempt",
        "service": "systems",
        "system": {"id": "6447f8a7caa17d71c56b2dcb", "hostname": "FIN-LAPTOP-07"},
        "username": "jane.doe",
        "src_ip": "203.0.113.77",
        "windows_meta": {"elevated": false, "logon_type": 10},
        "success": true
    });
    for (logon_type, id, caption) in [
        (json!(10), 10, "Remote Interactive"),
        (json!(2), 2, "Interactive"),
        (json!(3), 3, "Network"),
        (json!(11), 11, "Cached Interactive"),
        (json!("3"), 3, "Network"),
        (json!("RemoteInteractive"), 10, "Remote Interactive"),
        (json!(6), 99, "6"),
        (json!("Proxy"), 99, "Proxy"),
    ] {
        event["windows_meta"]["logon_type"] = logon_type.clone();
        let (_, out) = map_value(&event);
        assert_eq!(out["logon_type_id"], id, "{logon_type}");
        assert_eq!(out["logon_type"], caption, "{logon_type}");
        assert!(
            out["unmapped"]["jumpcloud"]["windows_meta"]
                .get("logon_type")
                .is_none()
        );
        assert_eq!(
            out["unmapped"]["jumpcloud"]["windows_meta"]["elevated"],
            false
        );
    }
    event.as_object_mut().unwrap().remove("windows_meta");
    let (_, out) = map_value(&event);
    assert!(out.get("logon_type_id").is_none());
}

#[test]
fn every_event_naming_a_system_has_the_device() {
    for (event_type, class_uid) in [
        ("user_lockout", 3001),
        ("system_fde_key_update", 3004),
        ("os_minor_upgrade", 3004),
        ("remote_session_start", 3004),
        ("login_attempt", 3002),
    ] {
        let event = json!({
            "id": "65a1b2c3d4e5f600000000fd",
            "timestamp": "2026-03-11T13:13:31.123Z",
            "event_type": event_type,
            "service": "systems",
            "system": {"id": "6447f8a7caa17d71c56b2dca", "hostname": "JDOE-DESKTOP", "displayName": "JDOE-DESKTOP"},
            "username": "john.doe",
            "success": true
        });
        let (facts, out) = map_value(&event);
        assert_eq!(facts.class_uid, class_uid, "{event_type}");
        assert_eq!(
            out["device"]["uid"], "6447f8a7caa17d71c56b2dca",
            "{event_type}"
        );
        assert_eq!(out["device"]["hostname"], "JDOE-DESKTOP", "{event_type}");
        assert_eq!(out["metadata"]["profiles"], json!(["host"]), "{event_type}");
        let observables = out["observables"].as_array().unwrap();
        assert!(
            observables
                .iter()
                .any(|o| o["name"] == "device.uid" && o["type_id"] == 47),
            "{event_type}: {observables:?}"
        );
    }
}

#[test]
fn geoip_fills_location_and_autonomous_system() {
    let mut event = login();
    event["geoip"] = json!({
        "country_code2": "US", "continent_code": "NA", "region_code": "MA", "city_name": "Boston",
        "postal_code": "02110", "latitude": 42.3564, "longitude": -71.0546,
        "asn": 7922, "as_org": "Comcast Cable Communications, LLC", "timezone": "America/New_York"
    });
    let (_, out) = map_value(&event);
    let endpoint = &out["src_endpoint"];
    assert_eq!(
        endpoint["location"],
        json!({"country": "US", "region": "MA", "city": "Boston", "postal_code": "02110",
               "continent": "North America", "lat": 42.3564, "long": -71.0546})
    );
    assert_eq!(
        endpoint["autonomous_system"],
        json!({"number": 7922, "name": "Comcast Cable Communications, LLC"})
    );
    let geoip = &out["unmapped"]["jumpcloud"]["geoip"];
    assert_eq!(
        geoip,
        &json!({"continent_code": "NA", "timezone": "America/New_York"})
    );
    // MaxMind names, and an "AS" prefix.
    event["geoip"] = json!({"country_code": "DE", "autonomous_system_number": "AS3320",
                            "autonomous_system_organization": "Deutsche Telekom AG"});
    let (_, out) = map_value(&event);
    assert_eq!(
        out["src_endpoint"]["autonomous_system"],
        json!({"number": 3320, "name": "Deutsche Telekom AG"})
    );
    // Coordinates out of range or not numbers stay in `unmapped`.
    event["geoip"] = json!({"country_code": "DE", "latitude": 91.5, "longitude": "13.4"});
    let (_, out) = map_value(&event);
    assert!(out["src_endpoint"]["location"].get("lat").is_none());
    assert!(out["src_endpoint"]["location"].get("long").is_none());
    assert_eq!(out["unmapped"]["jumpcloud"]["geoip"]["latitude"], 91.5);
}

#[test]
fn mfa_factors_come_from_the_methods_used_and_the_event_type() {
    let mut event = login();
    event["mfa_meta"] = json!({"type": "totp"});
    event["auth_context"] = json!({"auth_methods": {
        "password": {"success": true}, "totp": {"success": true}, "jumpcloud_protect": {"success": false}
    }});
    let (_, out) = map_value(&event);
    // `mfa_meta` first, then the methods in source order (`json!` sorts keys), once per type.
    assert_eq!(
        out["auth_factors"],
        json!([
            {"factor_type_id": 7, "factor_type": "OTP", "is_totp": true},
            {"factor_type_id": 5, "factor_type": "Push Notification", "provider": "JumpCloud Protect"},
            {"factor_type_id": 11, "factor_type": "Password"}
        ])
    );
    // The per-method outcomes stay in `unmapped`.
    assert_eq!(
        out["unmapped"]["jumpcloud"]["auth_context"]["auth_methods"]["jumpcloud_protect"]["success"],
        false
    );
    let enrollment = json!({
        "id": "65a1b2c3d4e5f60000000011",
        "timestamp": "2026-03-11T13:13:31.123Z",
        "event_type": "totp_finish_enrollment",
        "service": "directory",
        "resource": {"id": "628cf9c0d6f4831f8192fa8d", "type": "user", "username": "jane.doe"},
        "success": true
    });
    let (facts, out) = map_value(&enrollment);
    assert_eq!((facts.class_uid, facts.activity_id), (3001, 10));
    assert_eq!(
        out["auth_factors"],
        json!([{"factor_type_id": 7, "factor_type": "OTP", "is_totp": true}])
    );
}

#[test]
fn observables_name_every_user_of_the_event_even_when_actor_and_user_agree() {
    let (_, out) = map_value(&login());
    let names: Vec<&str> = out["observables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    for name in [
        "actor.user.email_addr",
        "actor.user.uid",
        "user.email_addr",
        "user.uid",
        "src_endpoint.ip",
        "src_endpoint.location.country",
    ] {
        assert!(names.contains(&name), "{name} missing from {names:?}");
    }
}

/// A number wider than a double (`96.80e5555555323`) is valid JSON that serde_json (and so most
/// consumers) refuse: it never reaches a typed OCSF field, and `unmapped` keeps it as a string.
#[test]
fn a_number_wider_than_a_double_is_kept_as_a_string() {
    let wide = "96.80e5555555323";
    let mut event = login().to_string();
    event = event.replacen(
        "\"geoip\":{",
        &format!("\"geoip\":{{\"latitude\":{wide},\"longitude\":2.35,"),
        1,
    );
    let record = crate::Mapper::default().map(event.as_bytes()).unwrap();
    let out: serde_json::Value = serde_json::from_slice(&record.json)
        .unwrap_or_else(|error| panic!("{error}: {}", String::from_utf8_lossy(&record.json)));
    let location = &out["src_endpoint"]["location"];
    assert_eq!(location["country"], "FR");
    assert!(location.get("lat").is_none(), "{location}");
    assert_eq!(location["long"], 2.35);
    assert_eq!(out["unmapped"]["jumpcloud"]["geoip"]["latitude"], wide);
    // Anywhere in the source, a Base Event's copy of it too; raw_data keeps the text as it came.
    let base = format!(
        r#"{{"id":"1","timestamp":"2026-01-01T00:00:00Z","event_type":"mdm_thing","n":-1E+400,"deep":{{"list":[1,{wide},2.5e3,"{wide}"]}},"big":{digits}}}"#,
        digits = "9".repeat(400)
    );
    let record = crate::Mapper::default().map(base.as_bytes()).unwrap();
    let out: serde_json::Value = serde_json::from_slice(&record.json)
        .unwrap_or_else(|error| panic!("{error}: {}", String::from_utf8_lossy(&record.json)));
    let unmapped = &out["unmapped"]["jumpcloud"];
    assert_eq!(unmapped["n"], "-1E+400");
    assert_eq!(unmapped["deep"]["list"], json!([1, wide, 2500.0, wide]));
    assert_eq!(unmapped["big"], "9".repeat(400));
    assert_eq!(out["raw_data"], base);
}
