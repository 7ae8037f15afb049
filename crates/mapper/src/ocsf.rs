//! OCSF 1.8.0 constants the mapper writes: classes, their activities and enum captions.
//!
//! Only what the mapped classes use. The captions must agree with the ids (the validator checks
//! the siblings), so they live here, next to the ids, and nowhere else.

/// The OCSF version of every event the mapper writes (`metadata.version`).
pub const OCSF_VERSION: &str = "1.8.0";

/// One OCSF event class the mapper can emit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OcsfClass {
    /// Base Event (0): everything without a better class.
    BaseEvent,
    /// Authentication (3002).
    Authentication,
    /// Account Change (3001).
    AccountChange,
    /// Entity Management (3004).
    EntityManagement,
    /// User Access Management (3005).
    UserAccess,
    /// Group Management (3006).
    GroupManagement,
    /// Detection Finding (2004): JumpCloud alerts.
    DetectionFinding,
}

impl OcsfClass {
    /// Every class, for lookups by name.
    pub const ALL: [OcsfClass; 7] = [
        OcsfClass::BaseEvent,
        OcsfClass::DetectionFinding,
        OcsfClass::Authentication,
        OcsfClass::AccountChange,
        OcsfClass::EntityManagement,
        OcsfClass::UserAccess,
        OcsfClass::GroupManagement,
    ];

    /// `class_uid`.
    pub fn uid(self) -> u32 {
        match self {
            OcsfClass::BaseEvent => 0,
            OcsfClass::Authentication => 3002,
            OcsfClass::AccountChange => 3001,
            OcsfClass::EntityManagement => 3004,
            OcsfClass::UserAccess => 3005,
            OcsfClass::GroupManagement => 3006,
            OcsfClass::DetectionFinding => 2004,
        }
    }

    /// `class_name` caption.
    pub fn caption(self) -> &'static str {
        match self {
            OcsfClass::BaseEvent => "Base Event",
            OcsfClass::Authentication => "Authentication",
            OcsfClass::AccountChange => "Account Change",
            OcsfClass::EntityManagement => "Entity Management",
            OcsfClass::UserAccess => "User Access Management",
            OcsfClass::GroupManagement => "Group Management",
            OcsfClass::DetectionFinding => "Detection Finding",
        }
    }

    /// The schema's snake-case class name (used in mapping files and topic names).
    pub fn schema_name(self) -> &'static str {
        match self {
            OcsfClass::BaseEvent => "base_event",
            OcsfClass::Authentication => "authentication",
            OcsfClass::AccountChange => "account_change",
            OcsfClass::EntityManagement => "entity_management",
            OcsfClass::UserAccess => "user_access",
            OcsfClass::GroupManagement => "group_management",
            OcsfClass::DetectionFinding => "detection_finding",
        }
    }

    /// The class with this snake-case schema name.
    pub fn from_schema_name(name: &str) -> Option<OcsfClass> {
        OcsfClass::ALL
            .into_iter()
            .find(|class| class.schema_name() == name)
    }

    /// `category_uid`.
    pub fn category_uid(self) -> u32 {
        match self {
            OcsfClass::BaseEvent => 0,
            OcsfClass::DetectionFinding => 2,
            _ => 3,
        }
    }

    /// `category_name` caption.
    pub fn category_caption(self) -> &'static str {
        match self {
            OcsfClass::BaseEvent => "Uncategorized",
            OcsfClass::DetectionFinding => "Findings",
            _ => "Identity & Access Management",
        }
    }

    /// Caption of `activity_id` in this class; `None` when the id is not defined for it.
    pub fn activity_caption(self, activity_id: i32) -> Option<&'static str> {
        match activity_id {
            0 => return Some("Unknown"),
            99 => return Some("Other"),
            _ => {}
        }
        let captions: &[&str] = match self {
            OcsfClass::BaseEvent => &[],
            OcsfClass::Authentication => &[
                "Logon",
                "Logoff",
                "Authentication Ticket",
                "Service Ticket Request",
                "Service Ticket Renew",
                "Preauth",
                "Account Switch",
            ],
            OcsfClass::AccountChange => &[
                "Create",
                "Enable",
                "Password Change",
                "Password Reset",
                "Disable",
                "Delete",
                "Attach Policy",
                "Detach Policy",
                "Lock",
                "MFA Factor Enable",
                "MFA Factor Disable",
                "Unlock",
            ],
            OcsfClass::EntityManagement => &[
                "Create",
                "Read",
                "Update",
                "Delete",
                "Move",
                "Enroll",
                "Unenroll",
                "Enable",
                "Disable",
                "Activate",
                "Deactivate",
                "Suspend",
                "Resume",
            ],
            OcsfClass::UserAccess => &["Assign Privileges", "Revoke Privileges"],
            OcsfClass::GroupManagement => &[
                "Assign Privileges",
                "Revoke Privileges",
                "Add User",
                "Remove User",
                "Delete",
                "Create",
                "Add Subgroup",
                "Remove Subgroup",
            ],
            OcsfClass::DetectionFinding => &["Create", "Update", "Close"],
        };
        let index = usize::try_from(activity_id).ok()?.checked_sub(1)?;
        captions.get(index).copied()
    }
}

/// `status_id` caption.
pub fn status_caption(status_id: i32) -> &'static str {
    match status_id {
        1 => "Success",
        2 => "Failure",
        99 => "Other",
        _ => "Unknown",
    }
}

/// `status_id` caption of a Detection Finding (the finding's workflow state).
pub fn finding_status_caption(status_id: i32) -> Option<&'static str> {
    Some(match status_id {
        0 => "Unknown",
        1 => "New",
        2 => "In Progress",
        3 => "Suppressed",
        4 => "Resolved",
        5 => "Archived",
        6 => "Deleted",
        99 => "Other",
        _ => return None,
    })
}

/// `severity_id` caption; `None` for ids OCSF 1.8.0 does not define.
pub fn severity_caption(severity_id: i32) -> Option<&'static str> {
    Some(match severity_id {
        0 => "Unknown",
        1 => "Informational",
        2 => "Low",
        3 => "Medium",
        4 => "High",
        5 => "Critical",
        6 => "Fatal",
        99 => "Other",
        _ => return None,
    })
}

/// `logon_type_id` caption (Authentication); `None` for ids OCSF 1.8.0 does not define (there
/// is no 6). The ids are Windows' logon types.
pub fn logon_type_caption(logon_type_id: i32) -> Option<&'static str> {
    Some(match logon_type_id {
        0 => "Unknown",
        1 => "System",
        2 => "Interactive",
        3 => "Network",
        4 => "Batch",
        5 => "OS Service",
        7 => "Unlock",
        8 => "Network Cleartext",
        9 => "New Credentials",
        10 => "Remote Interactive",
        11 => "Cached Interactive",
        12 => "Cached Remote Interactive",
        13 => "Cached Unlock",
        99 => "Other",
        _ => return None,
    })
}

/// The `logon_type_id` of a Windows logon type name as Windows spells it
/// (`RemoteInteractive`, `CachedInteractive`, ...), or as OCSF captions it; case, spaces and
/// underscores do not matter.
pub fn logon_type_id_of_name(name: &str) -> Option<i32> {
    let mut key = [0_u8; 32];
    let mut len = 0;
    for byte in name.bytes().filter(|b| !matches!(b, b' ' | b'_' | b'-')) {
        *key.get_mut(len)? = byte.to_ascii_lowercase();
        len += 1;
    }
    Some(match &key[..len] {
        b"system" => 1,
        b"interactive" => 2,
        b"network" => 3,
        b"batch" => 4,
        b"service" | b"osservice" => 5,
        b"unlock" => 7,
        b"networkcleartext" => 8,
        b"newcredentials" => 9,
        b"remoteinteractive" => 10,
        b"cachedinteractive" => 11,
        b"cachedremoteinteractive" => 12,
        b"cachedunlock" => 13,
        _ => return None,
    })
}

/// `auth_factors[].factor_type_id` caption; `None` for ids OCSF 1.8.0 does not define.
pub fn factor_type_caption(factor_type_id: i32) -> Option<&'static str> {
    Some(match factor_type_id {
        0 => "Unknown",
        1 => "SMS",
        2 => "Security Question",
        3 => "Phone Call",
        4 => "Biometric",
        5 => "Push Notification",
        6 => "Hardware Token",
        7 => "OTP",
        8 => "Email",
        9 => "U2F",
        10 => "WebAuthn",
        11 => "Password",
        99 => "Other",
        _ => return None,
    })
}

/// `auth_protocol_id` caption; `None` for ids OCSF 1.8.0 does not define.
pub fn auth_protocol_caption(auth_protocol_id: i32) -> Option<&'static str> {
    Some(match auth_protocol_id {
        0 => "Unknown",
        1 => "NTLM",
        2 => "Kerberos",
        3 => "Digest",
        4 => "OpenID",
        5 => "SAML",
        6 => "OAUTH 2.0",
        7 => "PAP",
        8 => "CHAP",
        9 => "EAP",
        10 => "RADIUS",
        11 => "Basic Authentication",
        12 => "LDAP",
        99 => "Other",
        _ => return None,
    })
}
