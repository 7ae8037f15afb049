//! The console inventory of one organisation: users, systems, user groups, SSO applications,
//! Apple MDM servers and devices, and its administrators. Generated deterministically from the
//! seed; users and group memberships change through the response actions.

use std::collections::HashSet;

use rand::Rng;
use rand::seq::IndexedRandom;
use serde_json::{Value, json};

use crate::ids::{self, object_id, rfc3339_millis};

#[cfg(test)]
mod tests;

const FIRST_NAMES: &[&str] = &[
    "john", "jane", "maurice", "roy", "jen", "douglas", "richmond", "alice", "bob", "carol",
    "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory", "niaj", "olivia",
    "peggy", "rupert", "sybil", "trent", "victor", "walter", "yasmin", "zoe", "amir", "chen",
];
const LAST_NAMES: &[&str] = &[
    "doe",
    "moss",
    "trenneman",
    "barbour",
    "reynholm",
    "avenal",
    "smith",
    "jones",
    "garcia",
    "martin",
    "dubois",
    "muller",
    "rossi",
    "tanaka",
    "kim",
    "nguyen",
    "silva",
    "kowalski",
    "novak",
    "ivanova",
    "oconnor",
    "schmidt",
    "fischer",
    "lopez",
    "khan",
];
const DEPARTMENTS: &[&str] = &[
    "Engineering",
    "Sales",
    "Marketing",
    "Finance",
    "IT",
    "Support",
];
/// (name, displayLabel) of SSO connectors.
const APPLICATIONS: &[(&str, &str)] = &[
    ("google", "Google Workspace"),
    ("salesforce", "Salesforce"),
    ("zoom", "Zoom"),
    ("aws-sso", "AWS SSO"),
    ("slack", "Slack"),
    ("github", "GitHub"),
    ("atlassian", "Atlassian Cloud"),
    ("okta", "Okta"),
    ("box", "Box"),
    ("dropbox", "Dropbox Business"),
];
const GROUP_NAMES: &[&str] = &[
    "Engineering",
    "Sales",
    "Marketing",
    "Finance",
    "IT Admins",
    "Contractors",
    "VPN Users",
    "Wi-Fi Corp",
    "Executives",
    "Support",
    "Interns",
    "Security",
];

/// User `state` values of the console API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserState {
    /// Created, not yet activated.
    Staged,
    /// Active.
    Activated,
    /// Suspended.
    Suspended,
}

impl UserState {
    /// The API's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            UserState::Staged => "STAGED",
            UserState::Activated => "ACTIVATED",
            UserState::Suspended => "SUSPENDED",
        }
    }
}

/// A JumpCloud user (`systemuser`).
#[derive(Debug, Clone)]
pub struct SimUser {
    /// 24-hex id.
    pub id: String,
    /// Login name.
    pub username: String,
    /// Email address.
    pub email: String,
    /// Given name.
    pub firstname: String,
    /// Family name.
    pub lastname: String,
    /// Department.
    pub department: String,
    /// Creation time, epoch ns.
    pub created_ns: i64,
    /// STAGED / ACTIVATED / SUSPENDED.
    pub state: UserState,
    /// Locked after too many bad logins.
    pub account_locked: bool,
    /// When it was locked.
    pub account_locked_date: Option<String>,
    /// Password expired.
    pub password_expired: bool,
    /// When the password was last set, epoch ns.
    pub password_date_ns: i64,
    /// MFA (TOTP) enrolled.
    pub totp_enabled: bool,
    /// MFA required for the user portal.
    pub mfa_configured: bool,
    /// Also a JumpCloud administrator.
    pub admin: bool,
    /// Bad login attempts since the last success.
    pub bad_login_attempts: u32,
    /// Unix uid/gid.
    pub unix_uid: u32,
}

impl SimUser {
    /// `suspended` as the API reports it.
    pub fn suspended(&self) -> bool {
        self.state == UserState::Suspended
    }

    /// The record as `GET /api/systemusers` returns it.
    pub fn to_json(&self) -> Value {
        let enrolled = if self.totp_enabled {
            "ENROLLED"
        } else {
            "NOT_ENROLLED"
        };
        let password_expiration_ns = self.password_date_ns + 90 * 86_400 * 1_000_000_000;
        json!({
            "_id": self.id,
            "id": self.id,
            "username": self.username,
            "email": self.email,
            "firstname": self.firstname,
            "lastname": self.lastname,
            "middlename": "",
            "displayname": format!("{} {}", capitalise(&self.firstname), capitalise(&self.lastname)),
            "state": self.state.as_str(),
            "activated": self.state != UserState::Staged,
            "suspended": self.suspended(),
            "account_locked": self.account_locked,
            "account_locked_date": self.account_locked_date,
            "password_expired": self.password_expired,
            "password_date": rfc3339_millis(self.password_date_ns),
            "password_expiration_date": rfc3339_millis(password_expiration_ns),
            "password_never_expires": false,
            "mfa": {"configured": self.mfa_configured, "exclusion": false},
            "mfaEnrollment": {
                "overallStatus": enrolled,
                "totpStatus": enrolled,
                "webAuthnStatus": "NOT_ENROLLED",
                "pushStatus": "NOT_ENROLLED",
                "jcGoStatus": "NOT_ENROLLED",
            },
            "totp_enabled": self.totp_enabled,
            "enable_user_portal_multifactor": self.mfa_configured,
            "badLoginAttempts": self.bad_login_attempts,
            "created": rfc3339_millis(self.created_ns),
            "creationSource": "jumpcloud:manual",
            "externally_managed": false,
            "external_source_type": "",
            "external_dn": "",
            "sudo": self.admin,
            "passwordless_sudo": false,
            "admin": if self.admin { json!({"id": self.id, "roleName": "Administrator"}) } else { Value::Null },
            "department": self.department,
            "employeeType": "full-time",
            "jobTitle": "",
            "company": "",
            "costCenter": "",
            "description": "",
            "location": "",
            "manager": Value::Null,
            "employeeIdentifier": Value::Null,
            "addresses": [],
            "phoneNumbers": [],
            "attributes": [],
            "ssh_keys": [],
            "allow_public_key": true,
            "ldap_binding_user": false,
            "samba_service_user": false,
            "enable_managed_uid": false,
            "disableDeviceMaxLoginAttempts": false,
            "systemUsername": "",
            "unix_uid": self.unix_uid,
            "unix_guid": self.unix_uid,
        })
    }
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// A managed device.
#[derive(Debug, Clone)]
pub struct SimSystem {
    /// 24-hex id.
    pub id: String,
    /// Host name.
    pub hostname: String,
    /// OS name (`Mac OS X`, `Windows`, `Ubuntu`).
    pub os: String,
    /// OS family (`darwin`, `windows`, `linux`).
    pub os_family: String,
    /// OS version.
    pub version: String,
    /// Serial number.
    pub serial_number: String,
    /// The user bound to it (its main user), if any.
    pub owner_id: Option<String>,
    /// Full record as `GET /api/systems` returns it.
    pub record: Value,
}

/// A user group and its direct members (user ids, in insertion order).
#[derive(Debug, Clone)]
pub struct SimGroup {
    /// 24-hex id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Member user ids.
    pub members: Vec<String>,
}

impl SimGroup {
    /// The record as `GET /api/v2/usergroups` returns it.
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "name": self.name,
            "type": "user_group",
            "description": self.description,
            "email": "",
            "attributes": Value::Null,
            "membershipMethod": "STATIC",
            "memberQuery": Value::Null,
        })
    }
}

/// An SSO application and the groups bound to it.
#[derive(Debug, Clone)]
pub struct SimApplication {
    /// 24-hex id.
    pub id: String,
    /// Connector name (`salesforce`).
    pub name: String,
    /// Display label (`Salesforce`).
    pub display_label: String,
    /// SSO URL.
    pub sso_url: String,
    /// Bound user group ids.
    pub group_ids: Vec<String>,
    /// Full record as `GET /api/applications` returns it.
    pub record: Value,
}

/// An administrator (actor of console events).
#[derive(Debug, Clone)]
pub struct SimAdmin {
    /// 24-hex id.
    pub id: String,
    /// Email address.
    pub email: String,
}

/// Everything of one organisation's console.
#[derive(Debug, Clone)]
pub struct Inventory {
    /// Organisation id.
    pub org_id: String,
    /// Organisation record (`GET /api/organizations`).
    pub org_record: Value,
    /// Administrators; the first is the API key's owner.
    pub admins: Vec<SimAdmin>,
    /// Users.
    pub users: Vec<SimUser>,
    /// Systems.
    pub systems: Vec<SimSystem>,
    /// User groups; the first is "All Users".
    pub groups: Vec<SimGroup>,
    /// SSO applications.
    pub applications: Vec<SimApplication>,
    /// Apple MDM servers (`GET /api/v2/applemdms`).
    pub apple_mdms: Vec<Value>,
    /// Apple MDM devices per server id.
    pub apple_mdm_devices: Vec<(String, Vec<Value>)>,
}

/// Sizes of a generated inventory.
#[derive(Debug, Clone, Copy)]
pub struct InventorySizes {
    /// Users.
    pub users: usize,
    /// Systems.
    pub systems: usize,
    /// Groups besides "All Users".
    pub groups: usize,
    /// SSO applications.
    pub applications: usize,
}

impl Inventory {
    /// Generates an organisation's inventory. `now_ns` anchors creation dates in the past.
    pub fn generate(
        rng: &mut impl Rng,
        org_id: &str,
        org_index: usize,
        sizes: InventorySizes,
        now_ns: i64,
    ) -> Self {
        let day_ns = 86_400 * 1_000_000_000_i64;
        let org_created = now_ns - 900 * day_ns;
        let secs = |ns: i64| ns / 1_000_000_000;
        let org_name = format!("Sim Org {org_index}");
        let org_record = json!({
            "_id": org_id,
            "id": org_id,
            "displayName": org_name,
            "logoUrl": Value::Null,
            "created": rfc3339_millis(org_created),
        });
        let domain = format!("org{org_index}.example.com");
        let admins = (0..3)
            .map(|i| SimAdmin {
                id: object_id(rng, secs(org_created) + i),
                email: format!("admin{}@{domain}", i + 1),
            })
            .collect();

        let mut usernames = HashSet::new();
        let mut users = Vec::with_capacity(sizes.users);
        for i in 0..sizes.users {
            let first = FIRST_NAMES.choose(rng).copied().unwrap_or("user");
            let last = LAST_NAMES.choose(rng).copied().unwrap_or("sim");
            let mut username = format!("{first}.{last}");
            let mut n = 2;
            while !usernames.insert(username.clone()) {
                username = format!("{first}.{last}{n}");
                n += 1;
            }
            let created_ns = org_created + rng.random_range(0..800) * day_ns;
            let roll: f64 = rng.random();
            let state = if roll < 0.05 {
                UserState::Staged
            } else if roll < 0.10 {
                UserState::Suspended
            } else {
                UserState::Activated
            };
            let locked = rng.random_bool(0.05);
            let totp = rng.random_bool(0.7);
            users.push(SimUser {
                id: object_id(rng, secs(created_ns)),
                email: format!("{username}@{domain}"),
                username,
                firstname: capitalise(first),
                lastname: capitalise(last),
                department: DEPARTMENTS.choose(rng).copied().unwrap_or("IT").to_owned(),
                created_ns,
                state,
                account_locked: locked,
                account_locked_date: locked
                    .then(|| rfc3339_millis(now_ns - rng.random_range(1..72) * 3_600_000_000_000)),
                password_expired: rng.random_bool(0.05),
                password_date_ns: now_ns - rng.random_range(1..80) * day_ns,
                totp_enabled: totp,
                mfa_configured: totp,
                admin: i == 0,
                bad_login_attempts: if locked { 10 } else { rng.random_range(0..3) },
                unix_uid: 5001 + u32::try_from(i).unwrap_or(0),
            });
        }

        let mut systems = Vec::with_capacity(sizes.systems);
        for i in 0..sizes.systems {
            let owner_user = users.get(i % users.len().max(1));
            let owner = owner_user
                .map(|u| u.lastname.to_uppercase())
                .unwrap_or_else(|| "HOST".to_owned());
            let owner_id = owner_user.map(|u| u.id.clone());
            let (os, family, version, arch, suffix) = match rng.random_range(0..10) {
                0..=4 => (
                    "Mac OS X",
                    "darwin",
                    ["13.4", "14.5", "15.1"]
                        .choose(rng)
                        .copied()
                        .unwrap_or("14.5"),
                    "arm64",
                    "MAC",
                ),
                5..=8 => (
                    "Windows",
                    "windows",
                    ["10 Pro", "11 Pro", "11 Enterprise"]
                        .choose(rng)
                        .copied()
                        .unwrap_or("11 Pro"),
                    "x86_64",
                    "LAPTOP",
                ),
                _ => ("Ubuntu", "linux", "22.04", "x86_64", "WS"),
            };
            let hostname = format!("{owner}-{suffix}-{i:02}");
            let created_ns = org_created + rng.random_range(0..800) * day_ns;
            let id = object_id(rng, secs(created_ns));
            let serial_number = format!("C02{:09X}", rng.random_range(0..0xF_FFFF_FFFF_u64));
            let last_contact = now_ns - rng.random_range(0..7 * 24 * 60) * 60_000_000_000;
            let remote_ip = format!(
                "{}.{}.{}.{}",
                rng.random_range(20..220),
                rng.random_range(0..255),
                rng.random_range(0..255),
                rng.random_range(1..255)
            );
            let fde = family != "linux" && rng.random_bool(0.8);
            let record = json!({
                "_id": id,
                "id": id,
                "hostname": hostname,
                "displayName": hostname,
                "os": os,
                "osFamily": family,
                "version": version,
                "arch": arch,
                "agentVersion": format!("1.{}.{}", rng.random_range(150..190), rng.random_range(0..5)),
                "lastContact": rfc3339_millis(last_contact),
                "active": now_ns - last_contact < 600_000_000_000,
                "serialNumber": serial_number,
                "remoteIP": remote_ip,
                "fde": {"active": fde, "keyPresent": fde},
                "mdm": if family == "darwin" { json!({"vendor": "internal", "dep": false}) } else { Value::Null },
                "created": rfc3339_millis(created_ns),
                "organization": org_id,
                "systemInsights": {"state": "enabled"},
                "osVersionDetail": {"osName": os, "version": version},
                "secureLogin": Value::Null,
                "allowMultiFactorAuthentication": false,
                "allowSshPasswordAuthentication": false,
                "allowSshRootLogin": false,
                "tags": [],
            });
            systems.push(SimSystem {
                id,
                hostname,
                os: os.to_owned(),
                os_family: family.to_owned(),
                version: version.to_owned(),
                serial_number,
                owner_id,
                record,
            });
        }

        let all_users = SimGroup {
            id: object_id(rng, secs(org_created)),
            name: "All Users".to_owned(),
            description: String::new(),
            members: users.iter().map(|u| u.id.clone()).collect(),
        };
        let mut groups = vec![all_users];
        for i in 0..sizes.groups {
            let base = GROUP_NAMES
                .get(i % GROUP_NAMES.len())
                .copied()
                .unwrap_or("Group");
            let name = if i < GROUP_NAMES.len() {
                base.to_owned()
            } else {
                format!("{base} {}", i / GROUP_NAMES.len() + 1)
            };
            let members = users
                .iter()
                .filter(|_| rng.random_bool(0.3))
                .map(|u| u.id.clone())
                .collect();
            groups.push(SimGroup {
                id: object_id(rng, secs(org_created) + 100 + i64::try_from(i).unwrap_or(0)),
                description: format!("{name} team"),
                name,
                members,
            });
        }

        let mut applications = Vec::with_capacity(sizes.applications);
        for i in 0..sizes.applications {
            let (name, label) = APPLICATIONS
                .get(i % APPLICATIONS.len())
                .copied()
                .unwrap_or(("custom", "Custom App"));
            let created_ns = org_created + rng.random_range(0..800) * day_ns;
            let id = object_id(rng, secs(created_ns));
            let sso_url = format!("https://sso.jumpcloud.com/saml2/{name}");
            let group_ids: Vec<String> = groups
                .iter()
                .skip(1)
                .filter(|_| rng.random_bool(0.4))
                .map(|g| g.id.clone())
                .collect();
            let record = json!({
                "_id": id,
                "id": id,
                "active": true,
                "name": name,
                "displayName": label,
                "displayLabel": label,
                "beta": false,
                "color": Value::Null,
                "organization": org_id,
                "logo": {"url": format!("https://s3.amazonaws.com/static.jumpcloud.com/applications/logos/application-icon-{name}.png")},
                "ssoUrl": sso_url,
                "learnMore": "",
                "description": "",
                "config": {},
                "databaseAttributes": [],
                "created": rfc3339_millis(created_ns),
                "sso": {"jit": false, "beta": false, "type": "saml", "idpCertExpirationAt": rfc3339_millis(now_ns + 365 * day_ns)},
            });
            applications.push(SimApplication {
                id,
                name: name.to_owned(),
                display_label: label.to_owned(),
                sso_url,
                group_ids,
                record,
            });
        }

        let mdm_id = object_id(rng, secs(org_created) + 200);
        let apple_mdms = vec![json!({
            "id": mdm_id,
            "name": "",
            "apnsPushTopic": format!("com.apple.mgmt.External.{}", ids::lower_uuid(rng)),
            "depServerTokenState": "missing",
            "apnsCertExpiry": rfc3339_millis(now_ns + 300 * day_ns),
            "defaultIosUserEnrollmentDeviceGroupID": "",
            "allowMobileUserEnrollment": false,
            "organization": org_id,
            "appleCertCreatorAppleID": format!("admin1@{domain}"),
            "appleCertSerialNumber": format!("{:016x}", rng.random::<u64>()),
        })];
        let devices = systems
            .iter()
            .filter(|s| s.os_family == "darwin")
            .map(|s| {
                let created_ns = now_ns - rng.random_range(1..400) * day_ns;
                json!({
                    "id": object_id(rng, secs(created_ns)),
                    "appleMdmId": mdm_id,
                    "serialNumber": s.serial_number,
                    "udid": ids::upper_uuid(rng),
                    "osVersion": s.version,
                    "depRegistered": false,
                    "enrolled": true,
                    "createdAt": rfc3339_millis(created_ns),
                    "hasActivationLockBypassCodes": true,
                    "securityInfo": {},
                    "deviceInformation": {
                        "isSupervised": true,
                        "deviceName": s.hostname,
                        "modelName": "MacBook Pro",
                        "wifiMac": format!("88:66:5a:{:02x}:{:02x}:{:02x}", rng.random::<u8>(), rng.random::<u8>(), rng.random::<u8>()),
                        "deviceCapacity": 1000,
                        "availableDeviceCapacity": rng.random_range(100..900),
                    },
                })
            })
            .collect();

        Self {
            org_id: org_id.to_owned(),
            org_record,
            admins,
            users,
            systems,
            groups,
            applications,
            apple_mdms,
            apple_mdm_devices: vec![(mdm_id, devices)],
        }
    }

    /// The user with this id.
    pub fn user(&self, id: &str) -> Option<&SimUser> {
        self.users.iter().find(|u| u.id == id)
    }

    /// The user with this id, mutable.
    pub fn user_mut(&mut self, id: &str) -> Option<&mut SimUser> {
        self.users.iter_mut().find(|u| u.id == id)
    }

    /// The group with this id.
    pub fn group(&self, id: &str) -> Option<&SimGroup> {
        self.groups.iter().find(|g| g.id == id)
    }
}
