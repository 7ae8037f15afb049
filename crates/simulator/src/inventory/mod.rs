//! The console inventory of one organisation: users, systems, user groups, SSO applications,
//! Apple MDM servers and devices, and its administrators. Generated deterministically from the
//! seed; users and group memberships change through the response actions.

use std::collections::HashSet;

use rand::Rng;
use rand::seq::IndexedRandom;
use serde_json::{Value, json};

use crate::ids::{self, object_id, rfc3339_millis};

mod entities;
mod names;
#[cfg(test)]
mod tests;

pub use entities::{SimAdmin, SimApplication, SimGroup, SimSystem, SimUser, UserState};
use names::{APPLICATIONS, DEPARTMENTS, FIRST_NAMES, GROUP_NAMES, LAST_NAMES, capitalise};

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
