//! The entities of a console: users, systems, groups, applications, administrators.

use serde_json::{Value, json};

use super::names::capitalise;
use crate::ids::rfc3339_millis;

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
