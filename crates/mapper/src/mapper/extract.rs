//! Extractors: one source field or object read into the model's terms (users, endpoints,
//! locations, outcomes, factors, ...), marking what they took.

use std::borrow::Cow;
use std::net::IpAddr;

use super::consumed::Consumed;
use super::model::*;
use crate::ocsf::{
    finding_status_caption, logon_type_caption, logon_type_id_of_name, status_caption,
};
use crate::source::{RawObject, raw_str};

/// A user from a DI object with `id`/`object_id`, `username`/`name`, `email`, `type`.
pub(super) fn person<'a>(
    object: &RawObject<'a>,
    top: &'static str,
    consumed: &mut Consumed,
) -> Option<Person<'a>> {
    let uid = object.non_empty_str("id");
    let username = object.non_empty_str("username");
    let display_name = object.non_empty_str("name");
    // Only an e-mail address is one (OCSF checks `email_addr`); anything else stays unmapped.
    let email = object
        .non_empty_str("email")
        .filter(|email| is_email(email));
    // Admins sign in with their e-mail address: it is their user name when there is no other.
    let name = username
        .clone()
        .or_else(|| display_name.clone())
        .or_else(|| email.clone());
    let person = Person {
        uid,
        name,
        email,
        kind: object.non_empty_str("type").map(|kind| user_type(kind)),
    };
    if !person.is_usable() {
        return None;
    }
    for key in ["id", "username", "type"] {
        if object.get(key).is_some() {
            consumed.take2(top, key);
        }
    }
    if person.email.is_some() {
        consumed.take2(top, "email");
    }
    if username.is_none() && display_name.is_some() {
        consumed.take2(top, "name");
    }
    Some(person)
}

pub(super) fn user_type(kind: Cow<'_, str>) -> (i32, Cow<'_, str>) {
    match &*kind {
        "user" | "systemuser" => (1, Cow::Borrowed("User")),
        "admin" => (2, Cow::Borrowed("Admin")),
        "system" => (3, Cow::Borrowed("System")),
        "service" => (4, Cow::Borrowed("Service")),
        _ => (99, kind),
    }
}

pub(super) fn is_person_type(kind: Option<&str>) -> bool {
    matches!(kind, None | Some("user" | "systemuser" | "admin"))
}

/// Whether a text is an e-mail address as OCSF's `email_t` defines it (its regex
/// `^[a-zA-Z0-9!#$%&'*+-/=?^_`{|}~.]+@[a-zA-Z0-9-]+\.[a-zA-Z0-9-.]+$`, checked without one).
pub(crate) fn is_email(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else {
        return false;
    };
    let local_ok = !local.is_empty()
        && local
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+,-./=?^_`{|}~".contains(&b));
    let Some((label, rest)) = domain.split_once('.') else {
        return false;
    };
    local_ok
        && !label.is_empty()
        && label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !rest.is_empty()
        && rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

/// A valid IP address string, else `None`.
pub(super) fn ip_address<'a>(text: Option<Cow<'a, str>>) -> Option<Cow<'a, str>> {
    // OCSF's `ip_t` is at most 40 characters.
    text.filter(|text| text.len() <= 40 && text.parse::<IpAddr>().is_ok())
}

/// One end of an association connection: `{name, type, object_id}` (or `id`).
pub(super) fn association_end<'a>(connection: &RawObject<'a>, key: &str) -> Option<Named<'a>> {
    let end = connection.object(key)?;
    let named = Named {
        uid: end
            .non_empty_str("object_id")
            .or_else(|| end.non_empty_str("id")),
        name: end.non_empty_str("name"),
        kind: end.non_empty_str("type"),
    };
    named.is_usable().then_some(named)
}

/// The target object of a directory event (`resource`) as an entity or group.
pub(super) fn resource_named<'a>(
    source: &RawObject<'a>,
    consumed: &mut Consumed,
) -> Option<Named<'a>> {
    let resource = source.object("resource")?;
    let name_key = ["name", "username", "email", "hostname", "displayName"]
        .into_iter()
        .find(|key| resource.non_empty_str(key).is_some());
    let named = Named {
        uid: resource.non_empty_str("id"),
        name: name_key.and_then(|key| resource.non_empty_str(key)),
        kind: resource.non_empty_str("type"),
    };
    if !named.is_usable() {
        return None;
    }
    // `type` stays in `unmapped`: entity.type_id/type keep only OCSF's coarser kinds.
    for key in ["id"].into_iter().chain(name_key) {
        if resource.get(key).is_some() {
            consumed.take2("resource", key);
        }
    }
    Some(named)
}

/// The privileges of a rule, with `{type}` replaced by the other end's type.
pub(super) fn privileges<'a>(templates: &[String], other_type: Option<&str>) -> Vec<Cow<'a, str>> {
    templates
        .iter()
        .map(|template| match other_type {
            Some(kind) if template.contains("{type}") => Cow::Owned(
                template.replace("{type}", if kind.is_empty() { "object" } else { kind }),
            ),
            _ => Cow::Owned(template.clone()),
        })
        .collect()
}

/// Outcome: `success` (or `sso_token_success` for SSO) -> 1/2; SSO `false` without an error
/// message is an MFA step (99). `error_message` -> `status_detail`, `error_code` -> `status_code`.
pub(super) fn status<'a>(
    source: &RawObject<'a>,
    sso: bool,
    consumed: &mut Consumed,
) -> Option<Status<'a>> {
    let key = if sso { "sso_token_success" } else { "success" };
    let success = source.bool(key);
    let detail = source.non_empty_str("error_message");
    let code = source.get("error_code").and_then(|raw| {
        raw_str(raw).filter(|text| !text.is_empty()).or_else(|| {
            raw.starts_with(|c: char| c.is_ascii_digit() || c == '-')
                .then_some(Cow::Borrowed(raw))
        })
    });
    let (id, caption) = match success {
        Some(true) => (1, status_caption(1)),
        Some(false) if sso && detail.is_none() => (99, "MFA challenge"),
        Some(false) => (2, status_caption(2)),
        None => {
            if detail.is_none() && code.is_none() {
                return None;
            }
            (0, status_caption(0))
        }
    };
    if success.is_some() {
        consumed.take(key);
    }
    if detail.is_some() {
        consumed.take("error_message");
    }
    if code.is_some() {
        consumed.take("error_code");
    }
    Some(Status {
        id,
        caption: Cow::Borrowed(caption),
        detail,
        code,
    })
}

/// `geoip` -> location; `None` when it has none of country, region, city, postal code (the
/// OCSF constraint). Coordinates only when they are finite doubles in range: anything else
/// stays in `unmapped`.
pub(super) fn location<'a>(geoip: &RawObject<'a>, consumed: &mut Consumed) -> Option<Location<'a>> {
    let first_of = |keys: &[&'static str]| {
        keys.iter()
            .copied()
            .find(|key| geoip.non_empty_str(key).is_some())
    };
    let country_key = first_of(&["country_code", "country_code2"]);
    let city_key = first_of(&["city", "city_name"]);
    let location = Location {
        country: country_key.and_then(|key| geoip.non_empty_str(key)),
        region: geoip.non_empty_str("region_code"),
        city: city_key.and_then(|key| geoip.non_empty_str(key)),
        postal_code: geoip.non_empty_str("postal_code"),
        continent: geoip
            .non_empty_str("continent_code")
            .and_then(|code| continent_name(&code)),
        lat: coordinate(geoip, "latitude", 90.0),
        long: coordinate(geoip, "longitude", 180.0),
    };
    if location.country.is_none()
        && location.region.is_none()
        && location.city.is_none()
        && location.postal_code.is_none()
    {
        return None;
    }
    // `continent_code` stays in `unmapped`: `continent` holds the name, not the code.
    for (key, present) in [
        (country_key, true),
        (Some("region_code"), location.region.is_some()),
        (city_key, true),
        (Some("postal_code"), location.postal_code.is_some()),
        (Some("latitude"), location.lat.is_some()),
        (Some("longitude"), location.long.is_some()),
    ] {
        if let (Some(key), true) = (key, present) {
            consumed.take2("geoip", key);
        }
    }
    Some(location)
}

/// A coordinate: the source's number text when it is a finite double within `±limit`.
pub(super) fn coordinate<'a>(geoip: &RawObject<'a>, key: &str, limit: f64) -> Option<Cow<'a, str>> {
    let text = geoip.number_text(key)?;
    let value: f64 = text.parse().ok()?;
    (value.is_finite() && value.abs() <= limit).then_some(Cow::Borrowed(text))
}

/// The continent of a two-letter continent code (as GeoIP databases give it).
pub(super) fn continent_name(code: &str) -> Option<&'static str> {
    Some(match code {
        "AF" => "Africa",
        "AN" => "Antarctica",
        "AS" => "Asia",
        "EU" => "Europe",
        "NA" => "North America",
        "OC" => "Oceania",
        "SA" => "South America",
        _ => return None,
    })
}

/// `geoip` -> autonomous system, when the GeoIP lookup had an ASN database: `asn` / `as_org`
/// (Logstash) or `autonomous_system_number` / `autonomous_system_organization` (MaxMind). The
/// number as an integer or `"AS15169"`; one that does not fit OCSF's 32-bit integer stays in
/// `unmapped`.
pub(super) fn autonomous_system<'a>(
    geoip: &RawObject<'a>,
    consumed: &mut Consumed,
) -> Option<AutonomousSystem<'a>> {
    let number_key = ["asn", "autonomous_system_number", "as_number"]
        .into_iter()
        .find(|key| geoip.get(key).is_some());
    let number = number_key.and_then(|key| {
        let raw = geoip.get(key)?;
        let text = raw_str(raw).unwrap_or(Cow::Borrowed(raw));
        let digits = text
            .trim()
            .strip_prefix("AS")
            .or_else(|| text.trim().strip_prefix("as"))
            .unwrap_or(text.trim());
        digits
            .parse::<i64>()
            .ok()
            .filter(|number| (0..=i64::from(i32::MAX)).contains(number))
    });
    let name_key = ["as_org", "autonomous_system_organization", "asn_org"]
        .into_iter()
        .find(|key| geoip.non_empty_str(key).is_some());
    let name = name_key.and_then(|key| geoip.non_empty_str(key));
    if number.is_none() && name.is_none() {
        return None;
    }
    if let (Some(key), Some(_)) = (number_key, number) {
        consumed.take2("geoip", key);
    }
    if let Some(key) = name_key {
        consumed.take2("geoip", key);
    }
    Some(AutonomousSystem { number, name })
}

/// The system an event names (`system {id, hostname, displayName}`) as its `device`.
pub(super) fn system_device<'a>(
    source: &RawObject<'a>,
    consumed: &mut Consumed,
) -> Option<Device<'a>> {
    let system = source.object("system")?;
    let device = Device {
        uid: system.non_empty_str("id"),
        hostname: system.non_empty_str("hostname"),
        name: system.non_empty_str("displayName"),
        ip: None,
        location: None,
    };
    if device.uid.is_none() && device.hostname.is_none() && device.name.is_none() {
        return None;
    }
    for (key, present) in [
        ("id", device.uid.is_some()),
        ("hostname", device.hostname.is_some()),
        ("displayName", device.name.is_some()),
    ] {
        if present {
            consumed.take2("system", key);
        }
    }
    Some(device)
}

/// An MFA method as DI names it (`mfa_meta.type`, the keys of `auth_context.auth_methods`).
pub(super) fn auth_factor_named(name: &str) -> Option<AuthFactor> {
    let (factor_type_id, provider) = match name {
        "password" => (11, None),
        "totp" => (7, None),
        "sms" => (1, None),
        "push" => (5, None),
        "duo" => (5, Some("Duo")),
        "jumpcloud_protect" => (5, Some("JumpCloud Protect")),
        "webauthn" => (10, None),
        // JumpCloud Go: a FIDO2 platform authenticator with user verification.
        "jumpcloud_go_uv" | "jumpcloud_go" => (10, Some("JumpCloud Go")),
        "u2f" => (9, None),
        _ => return None,
    };
    Some(AuthFactor {
        factor_type_id,
        provider,
        is_totp: factor_type_id == 7,
    })
}

/// The logon type of a systems login: `windows_meta.logon_type` (or a top-level `logon_type`),
/// Windows' number (2 Interactive, 3 Network, 10 RemoteInteractive, ...) or name. A number
/// OCSF does not define, or an unknown name: 99 with the source's value as the caption.
pub(super) fn logon_type<'a>(
    source: &RawObject<'a>,
    consumed: &mut Consumed,
) -> Option<(i32, Cow<'a, str>)> {
    let (raw, take): (&'a str, [&'static str; 2]) = match source
        .object("windows_meta")
        .and_then(|meta| meta.get("logon_type"))
    {
        Some(raw) => (raw, ["windows_meta", "logon_type"]),
        None => (source.get("logon_type")?, ["logon_type", ""]),
    };
    let text = raw_str(raw);
    let number = match &text {
        Some(text) => text.trim().parse::<i32>().ok(),
        None => raw.parse::<i32>().ok(),
    };
    let result = match (number, &text) {
        (Some(id), _) => match logon_type_caption(id) {
            Some(caption) if id != 99 => (id, Cow::Borrowed(caption)),
            _ => (99, Cow::Owned(id.to_string())),
        },
        (None, Some(name)) if !name.trim().is_empty() => match logon_type_id_of_name(name) {
            Some(id) => (
                id,
                Cow::Borrowed(logon_type_caption(id).unwrap_or("Unknown")),
            ),
            None => (99, name.clone()),
        },
        _ => return None,
    };
    match take {
        [top, ""] => consumed.take(top),
        [top, key] => consumed.take2(top, key),
    }
    Some(result)
}

/// The user agent: `user_agent`/`useragent` when the source has it as a string, or the parsed
/// `useragent` object's `raw` string; else a summary of the parsed `useragent` object ("Chrome 114.0.0.0 (Mac OS X 10.15.7)"), which is
/// then also kept whole in `unmapped` (the summary is lossy).
pub(super) fn user_agent<'a>(source: &RawObject<'a>) -> Option<Cow<'a, str>> {
    if let Some(text) = source
        .non_empty_str("user_agent")
        .or_else(|| source.non_empty_str("useragent"))
    {
        return Some(text);
    }
    let parsed = source.object("useragent")?;
    if let Some(raw) = parsed.non_empty_str("raw") {
        return Some(raw);
    }
    let name = parsed.non_empty_str("name").filter(|name| name != "Other");
    let os = parsed
        .non_empty_str("os_full")
        .or_else(|| parsed.non_empty_str("os_name"))
        .or_else(|| parsed.non_empty_str("os"))
        .filter(|os| os != "Other");
    let version = parsed.non_empty_str("version").or_else(|| {
        parsed.non_empty_str("major").map(|major| {
            let mut version = major.into_owned();
            for key in ["minor", "patch"] {
                match parsed.non_empty_str(key) {
                    Some(part) => {
                        version.push('.');
                        version.push_str(&part);
                    }
                    None => break,
                }
            }
            Cow::Owned(version)
        })
    });
    let mut text = String::with_capacity(64);
    if let Some(name) = &name {
        text.push_str(name);
        if let Some(version) = &version {
            text.push(' ');
            text.push_str(version);
        }
    }
    if let Some(os) = &os {
        if text.is_empty() {
            text.push_str(os);
        } else {
            text.push_str(" (");
            text.push_str(os);
            text.push(')');
        }
    }
    (!text.is_empty()).then_some(Cow::Owned(text))
}

pub(super) fn finding_status<'a>(id: i32, source_text: Option<Cow<'a, str>>) -> Status<'a> {
    Status {
        id,
        caption: source_text.unwrap_or(Cow::Borrowed(
            finding_status_caption(id).unwrap_or("Unknown"),
        )),
        detail: None,
        code: None,
    }
}

/// The `to` of a `changes` entry whose `field` is `status` (the entry stays in `unmapped`).
pub(super) fn changed_status<'a>(source: &RawObject<'a>) -> Option<Cow<'a, str>> {
    let changes: Vec<&'a serde_json::value::RawValue> =
        serde_json::from_str(source.get("changes")?).ok()?;
    changes.into_iter().find_map(|change| {
        let change = RawObject::parse(change.get())?;
        (change.str("field").as_deref() == Some("status"))
            .then(|| change.non_empty_str("to"))
            .flatten()
    })
}

/// An RFC 3339 time in epoch milliseconds, when it is a plausible event time.
pub(super) fn parse_time_ms(text: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|time| time.timestamp_millis())
        .filter(|ms| super::PLAUSIBLE_TIME_MS.contains(ms))
}
