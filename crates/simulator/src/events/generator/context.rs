//! Where and how an event came: geolocation, user agent, client address, provider, and the
//! user of an organisation without any.

use rand::Rng;
use rand::seq::IndexedRandom;
use serde_json::{Map, Value, json};

use crate::inventory::SimUser;

struct Geo {
    country: &'static str,
    continent: &'static str,
    region_code: &'static str,
    region_name: &'static str,
    timezone: &'static str,
    city: &'static str,
    lat: f64,
    lon: f64,
}

const GEOS: &[Geo] = &[
    Geo {
        country: "US",
        continent: "NA",
        region_code: "MA",
        region_name: "Massachusetts",
        timezone: "America/New_York",
        city: "Boston",
        lat: 42.3364,
        lon: -71.0326,
    },
    Geo {
        country: "US",
        continent: "NA",
        region_code: "CO",
        region_name: "Colorado",
        timezone: "America/Denver",
        city: "Boulder",
        lat: 40.015,
        lon: -105.2705,
    },
    Geo {
        country: "FR",
        continent: "EU",
        region_code: "75",
        region_name: "Paris",
        timezone: "Europe/Paris",
        city: "Paris",
        lat: 48.8323,
        lon: 2.4075,
    },
    Geo {
        country: "IE",
        continent: "EU",
        region_code: "L",
        region_name: "Leinster",
        timezone: "Europe/Dublin",
        city: "Dublin",
        lat: 53.3379,
        lon: -6.2591,
    },
    Geo {
        country: "AU",
        continent: "OC",
        region_code: "QLD",
        region_name: "Queensland",
        timezone: "Australia/Brisbane",
        city: "Brisbane",
        lat: -27.658,
        lon: 152.8915,
    },
    Geo {
        country: "DE",
        continent: "EU",
        region_code: "BE",
        region_name: "Berlin",
        timezone: "Europe/Berlin",
        city: "Berlin",
        lat: 52.5244,
        lon: 13.4105,
    },
    Geo {
        country: "IN",
        continent: "AS",
        region_code: "KA",
        region_name: "Karnataka",
        timezone: "Asia/Kolkata",
        city: "Bengaluru",
        lat: 12.9719,
        lon: 77.5937,
    },
    Geo {
        country: "BR",
        continent: "SA",
        region_code: "SP",
        region_name: "Sao Paulo",
        timezone: "America/Sao_Paulo",
        city: "Sao Paulo",
        lat: -23.5475,
        lon: -46.6361,
    },
];

pub(super) fn geoip(rng: &mut impl Rng) -> Value {
    let geo = GEOS.choose(rng).unwrap_or(&GEOS[0]);
    let mut map = Map::new();
    // Older events carry `country_code2` instead of `country_code`.
    let key = if rng.random_bool(0.1) {
        "country_code2"
    } else {
        "country_code"
    };
    map.insert(key.into(), json!(geo.country));
    map.insert("continent_code".into(), json!(geo.continent));
    map.insert("region_code".into(), json!(geo.region_code));
    map.insert("region_name".into(), json!(geo.region_name));
    map.insert("timezone".into(), json!(geo.timezone));
    if rng.random_bool(0.9) {
        map.insert("latitude".into(), json!(geo.lat));
        map.insert("longitude".into(), json!(geo.lon));
    }
    if rng.random_bool(0.3) {
        map.insert("city".into(), json!(geo.city));
    }
    Value::Object(map)
}

pub(super) fn useragent(rng: &mut impl Rng) -> Value {
    match rng.random_range(0..5) {
        0 => {
            json!({"name":"Chrome","major":"114","minor":"0","patch":"0","version":"114.0.0.0","os":"Mac OS X","os_name":"Mac OS X","os_full":"Mac OS X 10.15.7","os_version":"10.15.7","os_major":"10","os_minor":"15","os_patch":"7","device":"Mac"})
        }
        1 => {
            json!({"name":"Chrome","major":"120","minor":"0","patch":"0","version":"120.0.0.0","os":"Windows","os_name":"Windows","os_full":"Windows 10","os_version":"10","os_major":"10","device":"Other"})
        }
        2 => {
            json!({"name":"Firefox","major":"114","minor":"0","version":"114.0","os":"Mac OS X","os_name":"Mac OS X","os_full":"Mac OS X 10.15","os_version":"10.15","os_major":"10","os_minor":"15","device":"Mac"})
        }
        3 => {
            json!({"name":"Safari","major":"17","minor":"1","patch":"","version":"17.1","os":"iOS","os_name":"iOS","os_full":"iOS 17.1","os_version":"17.1","os_major":"17","os_minor":"1","device":"iPhone","build":""})
        }
        _ => {
            json!({"name":"curl","major":"7","minor":"68","patch":"0","version":"7.68.0","os":"Other","os_name":"Other","os_full":"Other","device":"Other"})
        }
    }
}

pub(super) fn client_ip(rng: &mut impl Rng) -> String {
    if rng.random_bool(0.05) {
        let a: u16 = rng.random();
        let b: u16 = rng.random();
        return format!("2001:db8:{a:x}:{b:x}::1");
    }
    format!(
        "{}.{}.{}.{}",
        rng.random_range(1..224),
        rng.random_range(0..256),
        rng.random_range(0..256),
        rng.random_range(1..255)
    )
}

pub(super) fn provider(rng: &mut impl Rng) -> Value {
    if rng.random_bool(0.5) {
        Value::Null
    } else {
        json!("")
    }
}

pub(super) fn fallback_user() -> SimUser {
    SimUser {
        id: "000000000000000000000000".into(),
        username: "unknown".into(),
        email: "unknown@example.com".into(),
        firstname: String::new(),
        lastname: String::new(),
        department: String::new(),
        created_ns: 0,
        state: crate::inventory::UserState::Activated,
        account_locked: false,
        account_locked_date: None,
        password_expired: false,
        password_date_ns: 0,
        totp_enabled: false,
        mfa_configured: false,
        admin: false,
        bad_login_attempts: 0,
        unix_uid: 0,
    }
}
