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

mod alert;
mod context;
mod fields;
mod malform;
#[cfg(test)]
mod tests;

use context::{client_ip, fallback_user, geoip, provider, useragent};
use malform::failed;
pub use malform::malform;

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
                if kind.event_type.ends_with("_provision") {
                    // Provisioning to an application (SCIM): the application it went to.
                    if let Some(app) = self.inventory.applications.choose(rng) {
                        event.insert(
                            "application".into(),
                            json!({"id": app.id, "name": app.name, "type": "scim"}),
                        );
                    }
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
                let association = self.association(rng);
                event.insert("association".into(), association);
            }
            Shape::Alert => self.alert(rng, kind, event),
            Shape::Fields => self.fill_fields(rng, kind, event),
            Shape::Generic => {
                self.console_common(rng, event);
                let object_type = object_type_of(kind.event_type);
                let created = 0x6500_0000 + rng.random_range(0..0x0800_0000);
                let id = object_id(rng, created);
                let mut resource = json!({"id": id, "type": object_type, "name": format!("{object_type}-{}", &id[18..])});
                if kind.service == "saas_app_management" {
                    // SaaS management: the discovered application, its tenant and the account.
                    let user = self.user(rng);
                    let app = ["Notion", "Slack", "Zoom", "Figma"]
                        .choose(rng)
                        .copied()
                        .unwrap_or("Notion");
                    resource["application_id"] = json!(object_id(rng, created));
                    resource["application_name"] = json!(app);
                    resource["tenant_id"] = json!(format!("{}-tenant", app.to_lowercase()));
                    resource["tenant_display_name"] = json!(format!("{app} workspace"));
                    resource["tenant_application_name"] = json!(app);
                    resource["account_id"] = json!(object_id(rng, created));
                    resource["account_email"] = json!(user.email);
                    resource["account_username"] = json!(user.username);
                }
                event.insert("resource".into(), resource);
            }
        }
    }
}

impl EventBuilder<'_> {
    /// An association of a user with a group or a system, added or removed.
    fn association(&self, rng: &mut impl Rng) -> Value {
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
        json!({
            "op": if rng.random_bool(0.7) { "add" } else { "remove" },
            "action_source": "manual",
            "connection": {
                "from": {"name": from_name, "type": from_type, "object_id": from_id},
                "to": {"name": user.username, "type": "user", "object_id": user.id},
            },
            "attributes": Value::Null,
        })
    }
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
