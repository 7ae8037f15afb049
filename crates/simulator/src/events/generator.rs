//! Builds Directory Insights events shaped like the real samples, from an organisation's
//! inventory. Deterministic given the random generator's state.

use rand::Rng;
use rand::distr::Distribution;
use rand::distr::weighted::WeightedIndex;
use rand::seq::IndexedRandom;
use serde_json::{Map, Value, json};

use super::catalogue::{EventKind, Shape, catalogue};
use crate::ids::{self, Precision, format_timestamp, object_id};
use crate::inventory::{Inventory, SimUser};

/// One generated event before it is indexed.
#[derive(Debug, Clone)]
pub struct GeneratedEvent {
    /// Its `id`.
    pub id: String,
    /// Its timestamp (as shown, truncated to its precision), epoch ns.
    pub timestamp_ns: i64,
    /// The catalogue entry.
    pub kind: &'static EventKind,
    /// The JSON object.
    pub json: String,
}

/// Picks event types with the catalogue's weights.
#[derive(Debug, Clone)]
pub struct KindPicker {
    index: WeightedIndex<f64>,
}

impl KindPicker {
    /// A picker over the whole catalogue.
    pub fn new() -> Option<Self> {
        WeightedIndex::new(catalogue().iter().map(|k| k.weight))
            .ok()
            .map(|index| Self { index })
    }

    /// The next event type.
    pub fn pick(&self, rng: &mut impl Rng) -> &'static EventKind {
        let i = self.index.sample(rng);
        // The index is built from the catalogue, so `i` is in range.
        &catalogue()[i.min(catalogue().len() - 1)]
    }
}

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

fn geoip(rng: &mut impl Rng) -> Value {
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

fn useragent(rng: &mut impl Rng) -> Value {
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

fn client_ip(rng: &mut impl Rng) -> String {
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

fn provider(rng: &mut impl Rng) -> Value {
    if rng.random_bool(0.5) {
        Value::Null
    } else {
        json!("")
    }
}

fn fallback_user() -> SimUser {
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

/// Builds events of one organisation.
pub struct EventBuilder<'a> {
    inventory: &'a Inventory,
    fallback: SimUser,
}

impl<'a> EventBuilder<'a> {
    /// A builder over this inventory.
    pub fn new(inventory: &'a Inventory) -> Self {
        Self {
            inventory,
            fallback: fallback_user(),
        }
    }

    fn user(&self, rng: &mut impl Rng) -> &SimUser {
        self.inventory.users.choose(rng).unwrap_or(&self.fallback)
    }

    fn admin_actor(&self, rng: &mut impl Rng) -> Value {
        let admin = self.inventory.admins.choose(rng);
        let (id, email) = admin
            .map(|a| (a.id.clone(), a.email.clone()))
            .unwrap_or_default();
        let mut actor = json!({"id": id, "type": "admin", "email": email});
        if rng.random_bool(0.1) {
            actor["source"] = json!(if rng.random_bool(0.5) {
                "scim"
            } else {
                "jumpcloud:scim"
            });
        }
        actor
    }

    fn precision(kind: &EventKind, rng: &mut impl Rng) -> Precision {
        match kind.service {
            "radius" => Precision::Seconds,
            "directory" => Precision::Millis,
            _ => match rng.random_range(0..4) {
                0 => Precision::Millis,
                1 => Precision::Trimmed(6),
                _ => Precision::Trimmed(9),
            },
        }
    }

    /// Builds one event of `kind` at `timestamp_ns`.
    pub fn build(
        &self,
        rng: &mut impl Rng,
        kind: &'static EventKind,
        timestamp_ns: i64,
    ) -> GeneratedEvent {
        let (ts, ts_text) = format_timestamp(timestamp_ns, Self::precision(kind, rng));
        let id = if kind.shape == Shape::Radius {
            ids::upper_uuid(rng)
        } else {
            object_id(rng, ts / 1_000_000_000)
        };
        let mut event = Map::new();
        event.insert("id".into(), json!(id));
        event.insert("timestamp".into(), json!(ts_text));
        event.insert("event_type".into(), json!(kind.event_type));
        event.insert("service".into(), json!(kind.service));
        event.insert("organization".into(), json!(self.inventory.org_id));
        event.insert("@version".into(), json!("1"));
        self.fill(rng, kind, &mut event);
        GeneratedEvent {
            id,
            timestamp_ns: ts,
            kind,
            json: Value::Object(event).to_string(),
        }
    }

    /// Adds an actor-driven action event's common fields (admin via console or API key).
    fn console_common(&self, rng: &mut impl Rng, event: &mut Map<String, Value>) {
        event.insert("initiated_by".into(), self.admin_actor(rng));
        event.insert("provider".into(), provider(rng));
        event.insert("client_ip".into(), json!(client_ip(rng)));
        event.insert("geoip".into(), geoip(rng));
        event.insert("useragent".into(), useragent(rng));
        event.insert(
            "auth_method".into(),
            json!(if rng.random_bool(0.6) {
                "session"
            } else {
                "api key"
            }),
        );
        event.insert("success".into(), json!(true));
    }

    fn fill(&self, rng: &mut impl Rng, kind: &EventKind, event: &mut Map<String, Value>) {
        match kind.shape {
            Shape::AdminLogin => {
                let admin = self.admin_actor(rng);
                let success = rng.random_bool(0.9);
                event.insert("initiated_by".into(), admin.clone());
                event.insert(
                    "resource".into(),
                    json!({"id": admin["id"], "type": "admin", "email": admin["email"]}),
                );
                event.insert("provider".into(), provider(rng));
                event.insert("success".into(), json!(success));
                event.insert("mfa".into(), json!(rng.random_bool(0.8)));
                event.insert("client_ip".into(), json!(client_ip(rng)));
                event.insert("geoip".into(), geoip(rng));
                event.insert("useragent".into(), useragent(rng));
                if !success {
                    event.insert("error_message".into(), json!("invalid credentials"));
                }
            }
            Shape::UserLogin => {
                let user = self.user(rng);
                let success = rng.random_bool(0.85);
                let mfa = user.totp_enabled;
                event.insert(
                    "initiated_by".into(),
                    json!({"id": user.id, "type": "user", "username": user.username}),
                );
                event.insert(
                    "resource".into(),
                    json!({"id": user.id, "type": "user", "username": user.username}),
                );
                event.insert("provider".into(), provider(rng));
                event.insert("success".into(), json!(success));
                event.insert(
                    "error_message".into(),
                    if success {
                        json!("")
                    } else {
                        json!(
                            ["invalid credentials", "user is locked out", "mfa failed"]
                                .choose(rng)
                                .copied()
                                .unwrap_or("invalid credentials")
                        )
                    },
                );
                event.insert("mfa".into(), json!(mfa));
                event.insert(
                    "mfa_meta".into(),
                    json!({"type": if mfa { "totp" } else { "none" }}),
                );
                let mut methods = json!({"password": {"success": success || rng.random_bool(0.5)}});
                if mfa {
                    methods["totp"] = json!({"success": success});
                }
                event.insert("auth_context".into(), json!({"auth_methods": methods, "policies_applied": [{"id": "", "name": "Global Policy", "metadata": {"action": if mfa { "ALLOW_WITH_MFA" } else { "ALLOW" }, "resource_type": "USER_PORTAL"}}]}));
                event.insert("client_ip".into(), json!(client_ip(rng)));
                event.insert("geoip".into(), geoip(rng));
                event.insert("useragent".into(), useragent(rng));
            }
            Shape::SsoAuth => {
                let user = self.user(rng);
                let success = rng.random_bool(0.88);
                event.insert(
                    "initiated_by".into(),
                    json!({"id": user.id, "type": "user", "username": user.username}),
                );
                event.insert("provider".into(), provider(rng));
                event.insert("sso_token_success".into(), json!(success));
                event.insert(
                    "error_message".into(),
                    json!(if success {
                        ""
                    } else {
                        [
                            "not authorized",
                            "application unreachable",
                            "user not assigned to application",
                        ]
                        .choose(rng)
                        .copied()
                        .unwrap_or("not authorized")
                    }),
                );
                event.insert("idp_initiated".into(), json!(rng.random_bool(0.3)));
                event.insert("mfa".into(), json!(rng.random_bool(0.4)));
                let application = match self.inventory.applications.choose(rng) {
                    Some(app) => {
                        json!({"id": app.id, "name": app.name, "display_label": app.display_label, "sso_url": app.sso_url, "sso_type": "saml"})
                    }
                    None => {
                        json!({"id": "", "name": "", "display_label": "", "sso_url": "", "sso_type": "saml"})
                    }
                };
                event.insert("application".into(), application);
                let mut context = json!({"auth_methods": {}});
                // `auth_context.system` is absent when there is no device certificate.
                if let Some(system) = self
                    .inventory
                    .systems
                    .choose(rng)
                    .filter(|_| rng.random_bool(0.7))
                {
                    context["system"] = json!({"id": system.id, "hostname": system.hostname, "displayName": system.hostname, "os": system.os, "version": system.version});
                }
                if rng.random_bool(0.6) {
                    context["policies_applied"] = json!([{"id": "", "name": "Global Policy", "metadata": {"action": "ALLOW", "resource_type": "APPLICATION"}}]);
                }
                event.insert("auth_context".into(), context);
                event.insert("client_ip".into(), json!(client_ip(rng)));
                event.insert("geoip".into(), geoip(rng));
                event.insert("useragent".into(), useragent(rng));
            }
            Shape::Radius => {
                let user = self.user(rng);
                let success = rng.random_bool(0.85);
                let inner_error = if success {
                    Value::Null
                } else {
                    json!("mschap: MS-CHAP2-Response is incorrect")
                };
                event.insert(
                    "initiated_by".into(),
                    json!({"type": "user", "username": user.username}),
                );
                event.insert("username".into(), json!(user.username));
                event.insert("success".into(), json!(success));
                event.insert("error_message".into(), inner_error.clone());
                event.insert(
                    "auth_type".into(),
                    json!(if rng.random_bool(0.5) { "eap" } else { "EAP" }),
                );
                event.insert("eap_type".into(), json!("MSCHAPv2"));
                event.insert(
                    "nas_mfa_state".into(),
                    json!(["DISABLED", ""].choose(rng).copied().unwrap_or("")),
                );
                event.insert("outer".into(), json!({"eap_type": "PEAP", "username": user.username, "error_message": if success { Value::Null } else { json!("eap_peap: The users session was previously rejected: returning reject (again.)") }}));
                event.insert("mfa".into(), json!(false));
                event.insert(
                    "mfa_meta".into(),
                    json!({"type": (["none", ""].choose(rng).copied().unwrap_or("none"))}),
                );
                event.insert("auth_meta".into(), json!({"auth_idp": "JUMPCLOUD", "userid_type": "USERNAME", "user_cert_enabled": false, "device_cert_enabled": false, "user_password_enabled": true}));
                event.insert("client_ip".into(), json!(client_ip(rng)));
                event.insert("geoip".into(), geoip(rng));
            }
            Shape::LdapBind | Shape::LdapSearch => {
                let user = self.user(rng);
                let success = rng.random_bool(0.9);
                let org = &self.inventory.org_id;
                event.insert(
                    "initiated_by".into(),
                    json!({"type": "user", "username": user.username}),
                );
                event.insert("username".into(), json!(user.username));
                event.insert(
                    "dn".into(),
                    json!(format!(
                        "uid={},ou=Users,o={org},dc=jumpcloud,dc=com",
                        user.username
                    )),
                );
                event.insert("mech".into(), json!("simple"));
                event.insert("start_tls".into(), json!(rng.random_bool(0.5)));
                event.insert("tls_established".into(), json!(true));
                event.insert("connection_id".into(), json!(rng.random_range(1000..99999)));
                event.insert("operation_number".into(), json!(rng.random_range(0..10)));
                event.insert("success".into(), json!(success));
                event.insert("error_code".into(), json!(if success { 0 } else { 49 }));
                event.insert(
                    "error_message".into(),
                    json!(if success { "" } else { "Invalid Credentials" }),
                );
                event.insert("auth_meta".into(), json!({"auth_idp": "JUMPCLOUD"}));
                event.insert("client_ip".into(), json!(client_ip(rng)));
                if kind.shape == Shape::LdapSearch {
                    event.insert(
                        "base".into(),
                        json!(format!("ou=Users,o={org},dc=jumpcloud,dc=com")),
                    );
                    event.insert("scope".into(), json!(2));
                    event.insert("filter".into(), json!(format!("(uid={})", user.username)));
                    event.insert("attr".into(), json!("uid cn mail memberOf"));
                    event.insert("number_of_results".into(), json!(u32::from(success)));
                }
            }
            Shape::SystemLogin | Shape::SystemEvent => {
                let user = self.user(rng);
                let success = rng.random_bool(0.85);
                if let Some(system) = self.inventory.systems.choose(rng) {
                    event.insert("system".into(), json!({"id": system.id, "hostname": system.hostname, "displayName": system.hostname}));
                    if system.os_family == "windows" {
                        event.insert("windows_meta".into(), json!({"elevated": rng.random_bool(0.2), "logon_type": ([2, 3, 10].choose(rng).copied().unwrap_or(2))}));
                    }
                    event.insert(
                        "process_name".into(),
                        json!(match system.os_family.as_str() {
                            "windows" => "winlogon.exe",
                            "darwin" => "loginwindow",
                            _ => "sshd",
                        }),
                    );
                }
                let local = event
                    .get("timestamp")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .trim_end_matches('Z')
                    .to_owned();
                event.insert("system_timestamp".into(), json!(local));
                event.insert(
                    "initiated_by".into(),
                    json!({"type": "systemuser", "username": user.username}),
                );
                event.insert(
                    "resource".into(),
                    json!({"id": user.id, "type": "user", "username": user.username}),
                );
                event.insert("username".into(), json!(user.username));
                event.insert("src_ip".into(), json!(client_ip(rng)));
                event.insert("success".into(), json!(success));
                event.insert(
                    "message".into(),
                    json!(if success {
                        format!("{} {}", kind.event_type, user.username)
                    } else {
                        "authentication failure".to_owned()
                    }),
                );
                if kind.shape == Shape::SystemLogin {
                    event.insert("auth_method".into(), json!("password"));
                    event.insert("mfa".into(), json!(rng.random_bool(0.2)));
                }
            }
            Shape::Mdm => {
                let request_type = [
                    "ProfileList",
                    "InstallProfile",
                    "DeviceInformation",
                    "DeviceLock",
                    "RestartDevice",
                ]
                .choose(rng)
                .copied()
                .unwrap_or("ProfileList");
                let device_id = self
                    .inventory
                    .apple_mdm_devices
                    .first()
                    .and_then(|(_, d)| d.choose(rng))
                    .and_then(|d| d["id"].as_str().map(str::to_owned))
                    .unwrap_or_else(|| object_id(rng, 0));
                let manager_id = self
                    .inventory
                    .apple_mdms
                    .first()
                    .and_then(|m| m["id"].as_str().map(str::to_owned))
                    .unwrap_or_default();
                let ok = rng.random_bool(0.9);
                event.insert("mdm_type".into(), json!("apple"));
                event.insert("request_type".into(), json!(request_type));
                event.insert("command".into(), json!({"request_type": request_type}));
                event.insert("command_uuid".into(), json!(ids::lower_uuid(rng)));
                event.insert(
                    "status".into(),
                    json!(if ok { "Acknowledged" } else { "Error" }),
                );
                event.insert("error_chain".into(), if ok { Value::Null } else { json!([{"error_code": 12021, "error_domain": "MCMDMErrorDomain", "localized_description": "The device is not supervised"}]) });
                event.insert("mdm_device_id".into(), json!(device_id));
                event.insert("device_object_id".into(), json!(device_id));
                event.insert("mdm_device_manager_id".into(), json!(manager_id));
            }
            Shape::UserChange => {
                let user = self.user(rng);
                self.console_common(rng, event);
                event.insert("resource".into(), json!({"id": user.id, "type": "user", "username": user.username, "email": user.email}));
                if kind.event_type == "user_update" {
                    event.insert("changes".into(), random_user_changes(rng, user));
                    event.insert("correlation".into(), json!({}));
                    event.insert("message_chain".into(), json!({}));
                }
                if kind.event_type.contains("email") {
                    event.insert("resource".into(), json!({"id": user.id, "type": "user", "username": user.username, "email": user.email, "recipient_email": user.email, "email_type": kind.event_type}));
                }
            }
            Shape::AdminChange => {
                self.console_common(rng, event);
                let target = self.admin_actor(rng);
                event.insert(
                    "resource".into(),
                    json!({"id": target["id"], "type": "admin", "email": target["email"]}),
                );
            }
            Shape::Association => {
                self.console_common(rng, event);
                let user = self.user(rng);
                let (from_name, from_type, from_id) = if rng.random_bool(0.5) {
                    self.inventory
                        .groups
                        .choose(rng)
                        .map(|g| (g.name.clone(), "user_group", g.id.clone()))
                        .unwrap_or_default()
                } else {
                    self.inventory
                        .systems
                        .choose(rng)
                        .map(|s| (s.hostname.clone(), "system", s.id.clone()))
                        .unwrap_or_default()
                };
                event.insert(
                    "association".into(),
                    json!({
                        "op": if rng.random_bool(0.7) { "add" } else { "remove" },
                        "action_source": "manual",
                        "connection": {
                            "from": {"name": from_name, "type": from_type, "object_id": from_id},
                            "to": {"name": user.username, "type": "user", "object_id": user.id},
                        },
                        "attributes": Value::Null,
                    }),
                );
            }
            Shape::Alert => self.alert(rng, kind, event),
            Shape::Generic => {
                self.console_common(rng, event);
                let object_type = object_type_of(kind.event_type);
                let created = 0x6500_0000 + rng.random_range(0..0x0800_0000);
                let id = object_id(rng, created);
                event.insert("resource".into(), json!({"id": id, "type": object_type, "name": format!("{object_type}-{}", &id[18..])}));
            }
        }
    }
}

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
    /// An alert event: `alert {id, title, description, priority, status, created_at,
    /// updated_at, rule {id, name}, trigger_event}` with the triggering event (built like any
    /// event of its type, seconds to minutes earlier) as a JSON document inside a string.
    /// Created by the rule engine (no actor); updates are an admin's, with a `status` change.
    fn alert(&self, rng: &mut impl Rng, kind: &EventKind, event: &mut Map<String, Value>) {
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
        let trigger = super::catalogue::catalogue()
            .iter()
            .find(|candidate| candidate.event_type == watched)
            .map(|trigger_kind| failed(&self.build(rng, trigger_kind, trigger_ns).json));
        let (_, created_at) = format_timestamp(created_ns, Precision::Seconds);
        let (_, updated_at) = format_timestamp(now_ns, Precision::Seconds);
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
                Some(json!([{"field": "priority", "from": "high", "to": priority}])),
            ),
        };
        let mut alert = json!({
            "id": object_id(rng, created_ns / 1_000_000_000),
            "title": rule_name,
            "description": format!("{rule_name}: rule {rule_id} matched a {watched} event"),
            "priority": priority,
            "status": status,
            "created_at": created_at,
            "updated_at": updated_at,
            "rule": {"id": rule_id, "name": rule_name},
        });
        if let Some(trigger) = trigger {
            alert["trigger_event"] = json!(trigger);
        }
        event.insert("alert".into(), alert);
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

/// A sign-in event made a failed one (what the failure rules watch); other events unchanged.
fn failed(event_json: &str) -> String {
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

/// `user_update` changes seen in the real data: profile fields, state/suspension, lock, password.
fn random_user_changes(rng: &mut impl Rng, user: &SimUser) -> Value {
    match rng.random_range(0..6) {
        0 => json!([{"field": "department", "from": user.department, "to": "Sales"}]),
        1 => {
            json!([{"field": "company", "from": "SEKOIA.IO", "to": "Sekoia.io"}, {"field": "location", "from": "Paris", "to": "France"}])
        }
        2 => {
            json!([{"field": "state", "from": "ACTIVATED", "to": "SUSPENDED"}, {"field": "suspended", "from": false, "to": true}])
        }
        3 => json!([{"field": "account_locked", "from": true, "to": false}]),
        4 => json!([{"field": "password"}]),
        _ => {
            json!([{"field": "attributes", "from": [{"name": "Division", "value": "Marketing"}], "to": [{"name": "Division", "value": "Sales"}]}])
        }
    }
}

/// The object type an event acts on, from its name (`radiusserver_create` -> `radiusserver`).
fn object_type_of(event_type: &str) -> String {
    // Longest first, so `_status_updated` wins over `_updated`.
    const SUFFIXES: &[&str] = &[
        "_status_updated",
        "_modified",
        "_created",
        "_updated",
        "_deleted",
        "_request",
        "_disable",
        "_create",
        "_update",
        "_delete",
        "_enable",
        "_change",
        "_remove",
        "_run",
        "_add",
    ];
    for suffix in SUFFIXES {
        if let Some(stem) = event_type.strip_suffix(suffix) {
            return stem.to_owned();
        }
    }
    event_type
        .rsplit_once('_')
        .map(|(stem, _)| stem.to_owned())
        .unwrap_or_else(|| event_type.to_owned())
}

#[cfg(test)]
mod tests {
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
                let alert = &value["alert"];
                assert_eq!(alert["id"].as_str().unwrap().len(), 24);
                assert!(alert["rule"]["id"].is_string() && alert["rule"]["name"].is_string());
                assert!(
                    ["low", "medium", "high", "critical"]
                        .contains(&alert["priority"].as_str().unwrap())
                );
                let trigger: Value =
                    serde_json::from_str(alert["trigger_event"].as_str().unwrap()).unwrap();
                let trigger_ns =
                    ids::parse_rfc3339_ns(trigger["timestamp"].as_str().unwrap()).unwrap();
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
                    assert_eq!(alert["status"], json!("new"));
                    assert!(value.get("initiated_by").is_none());
                } else {
                    assert_eq!(value["initiated_by"]["type"], json!("admin"));
                    assert!(value["changes"].is_array());
                }
                if name == "alert_status_updated" {
                    assert_eq!(value["changes"][0]["to"], alert["status"]);
                }
            }
        }
    }

    #[test]
    fn object_type_is_derived_from_the_name() {
        assert_eq!(object_type_of("radiusserver_create"), "radiusserver");
        assert_eq!(object_type_of("alert_status_updated"), "alert");
        assert_eq!(object_type_of("software_add_request"), "software_add");
    }
}
