//! OCSF 1.8.0 constants the mapper writes: classes, their activities and enum captions.
//!
//! Only what the mapped classes use. The captions must agree with the ids (the validator checks
//! the siblings), so they live here, next to the ids, and nowhere else.

/// The OCSF version of every event the mapper writes (`metadata.version`).
pub const OCSF_VERSION: &str = "1.8.0";

/// One OCSF event class the mapper can emit: every class of JumpCloud's own mapping of Directory
/// Insights (`mappings/vendor/events.tsv`), Base Event, and the two inventory classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OcsfClass {
    /// Base Event (0): event types nobody classifies.
    BaseEvent,
    /// Scheduled Job Activity (1006).
    ScheduledJobActivity,
    /// Process Activity (1007).
    ProcessActivity,
    /// Detection Finding (2004): JumpCloud alerts and risk events.
    DetectionFinding,
    /// Account Change (3001).
    AccountChange,
    /// Authentication (3002).
    Authentication,
    /// Entity Management (3004).
    EntityManagement,
    /// User Access Management (3005).
    UserAccess,
    /// Group Management (3006).
    GroupManagement,
    /// Email Activity (4009).
    EmailActivity,
    /// Device Inventory Info (5001).
    DeviceInventory,
    /// User Inventory Info (5003).
    UserInventory,
    /// Device Config State Change (5019).
    DeviceConfigStateChange,
    /// Software Inventory Info (5020).
    SoftwareInventory,
    /// Cloud Resources Inventory Info (5023).
    CloudResourcesInventory,
    /// Application Lifecycle (6002).
    ApplicationLifecycle,
    /// API Activity (6003).
    ApiActivity,
    /// Datastore Activity (6005).
    DatastoreActivity,
    /// Application Error (6008).
    ApplicationError,
}

/// What OCSF 1.8.0 says of one class.
struct ClassInfo {
    uid: u32,
    caption: &'static str,
    name: &'static str,
    category_uid: u32,
    /// Captions of activity_id 1, 2, ... (0 Unknown and 99 Other are in every class).
    activities: &'static [&'static str],
}

const ENTITY_ACTIVITIES: &[&str] = &[
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
];
const INVENTORY_ACTIVITIES: &[&str] = &["Log", "Collect"];

impl OcsfClass {
    /// Every class, in class_uid order.
    pub const ALL: [OcsfClass; 19] = [
        OcsfClass::BaseEvent,
        OcsfClass::ScheduledJobActivity,
        OcsfClass::ProcessActivity,
        OcsfClass::DetectionFinding,
        OcsfClass::AccountChange,
        OcsfClass::Authentication,
        OcsfClass::EntityManagement,
        OcsfClass::UserAccess,
        OcsfClass::GroupManagement,
        OcsfClass::EmailActivity,
        OcsfClass::DeviceInventory,
        OcsfClass::UserInventory,
        OcsfClass::DeviceConfigStateChange,
        OcsfClass::SoftwareInventory,
        OcsfClass::CloudResourcesInventory,
        OcsfClass::ApplicationLifecycle,
        OcsfClass::ApiActivity,
        OcsfClass::DatastoreActivity,
        OcsfClass::ApplicationError,
    ];

    fn info(self) -> &'static ClassInfo {
        const fn class(
            uid: u32,
            caption: &'static str,
            name: &'static str,
            category_uid: u32,
            activities: &'static [&'static str],
        ) -> ClassInfo {
            ClassInfo {
                uid,
                caption,
                name,
                category_uid,
                activities,
            }
        }
        match self {
            OcsfClass::BaseEvent => &const { class(0, "Base Event", "base_event", 0, &[]) },
            OcsfClass::ScheduledJobActivity => {
                &const {
                    class(
                        1006,
                        "Scheduled Job Activity",
                        "scheduled_job_activity",
                        1,
                        &["Create", "Update", "Delete", "Enable", "Disable", "Start"],
                    )
                }
            }
            OcsfClass::ProcessActivity => {
                &const {
                    class(
                        1007,
                        "Process Activity",
                        "process_activity",
                        1,
                        &["Launch", "Terminate", "Open", "Inject", "Set User ID"],
                    )
                }
            }
            OcsfClass::DetectionFinding => {
                &const {
                    class(
                        2004,
                        "Detection Finding",
                        "detection_finding",
                        2,
                        &["Create", "Update", "Close"],
                    )
                }
            }
            OcsfClass::AccountChange => {
                &const {
                    class(
                        3001,
                        "Account Change",
                        "account_change",
                        3,
                        &[
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
                    )
                }
            }
            OcsfClass::Authentication => {
                &const {
                    class(
                        3002,
                        "Authentication",
                        "authentication",
                        3,
                        &[
                            "Logon",
                            "Logoff",
                            "Authentication Ticket",
                            "Service Ticket Request",
                            "Service Ticket Renew",
                            "Preauth",
                            "Account Switch",
                        ],
                    )
                }
            }
            OcsfClass::EntityManagement => {
                &const {
                    class(
                        3004,
                        "Entity Management",
                        "entity_management",
                        3,
                        ENTITY_ACTIVITIES,
                    )
                }
            }
            OcsfClass::UserAccess => {
                &const {
                    class(
                        3005,
                        "User Access Management",
                        "user_access",
                        3,
                        &["Assign Privileges", "Revoke Privileges"],
                    )
                }
            }
            OcsfClass::GroupManagement => {
                &const {
                    class(
                        3006,
                        "Group Management",
                        "group_management",
                        3,
                        &[
                            "Assign Privileges",
                            "Revoke Privileges",
                            "Add User",
                            "Remove User",
                            "Delete",
                            "Create",
                            "Add Subgroup",
                            "Remove Subgroup",
                        ],
                    )
                }
            }
            OcsfClass::EmailActivity => {
                &const {
                    class(
                        4009,
                        "Email Activity",
                        "email_activity",
                        4,
                        &["Send", "Receive", "Scan", "Trace", "MTA Relay"],
                    )
                }
            }
            OcsfClass::DeviceInventory => {
                &const {
                    class(
                        5001,
                        "Device Inventory Info",
                        "inventory_info",
                        5,
                        INVENTORY_ACTIVITIES,
                    )
                }
            }
            OcsfClass::UserInventory => {
                &const {
                    class(
                        5003,
                        "User Inventory Info",
                        "user_inventory",
                        5,
                        INVENTORY_ACTIVITIES,
                    )
                }
            }
            OcsfClass::DeviceConfigStateChange => {
                &const {
                    class(
                        5019,
                        "Device Config State Change",
                        "device_config_state_change",
                        5,
                        INVENTORY_ACTIVITIES,
                    )
                }
            }
            OcsfClass::SoftwareInventory => {
                &const {
                    class(
                        5020,
                        "Software Inventory Info",
                        "software_info",
                        5,
                        INVENTORY_ACTIVITIES,
                    )
                }
            }
            OcsfClass::CloudResourcesInventory => {
                &const {
                    class(
                        5023,
                        "Cloud Resources Inventory Info",
                        "cloud_resources_inventory_info",
                        5,
                        INVENTORY_ACTIVITIES,
                    )
                }
            }
            OcsfClass::ApplicationLifecycle => {
                &const {
                    class(
                        6002,
                        "Application Lifecycle",
                        "application_lifecycle",
                        6,
                        &[
                            "Install", "Remove", "Start", "Stop", "Restart", "Enable", "Disable",
                            "Update",
                        ],
                    )
                }
            }
            OcsfClass::ApiActivity => {
                &const {
                    class(
                        6003,
                        "API Activity",
                        "api_activity",
                        6,
                        &["Create", "Read", "Update", "Delete"],
                    )
                }
            }
            OcsfClass::DatastoreActivity => {
                &const {
                    class(
                        6005,
                        "Datastore Activity",
                        "datastore_activity",
                        6,
                        &[
                            "Read", "Update", "Connect", "Query", "Write", "Create", "Delete",
                            "List", "Encrypt", "Decrypt",
                        ],
                    )
                }
            }
            OcsfClass::ApplicationError => {
                &const {
                    class(
                        6008,
                        "Application Error",
                        "application_error",
                        6,
                        &["General Error", "Translation Error"],
                    )
                }
            }
        }
    }

    /// `class_uid`.
    pub fn uid(self) -> u32 {
        self.info().uid
    }

    /// `class_name` caption.
    pub fn caption(self) -> &'static str {
        self.info().caption
    }

    /// The schema's snake-case class name (used in mapping files and topic names).
    pub fn schema_name(self) -> &'static str {
        self.info().name
    }

    /// The class with this snake-case schema name.
    pub fn from_schema_name(name: &str) -> Option<OcsfClass> {
        OcsfClass::ALL
            .into_iter()
            .find(|class| class.schema_name() == name)
    }

    /// The class with this `class_uid`.
    pub fn from_uid(uid: u32) -> Option<OcsfClass> {
        OcsfClass::ALL.into_iter().find(|class| class.uid() == uid)
    }

    /// `category_uid`.
    pub fn category_uid(self) -> u32 {
        self.info().category_uid
    }

    /// `category_name` caption.
    pub fn category_caption(self) -> &'static str {
        match self.category_uid() {
            1 => "System Activity",
            2 => "Findings",
            3 => "Identity & Access Management",
            4 => "Network Activity",
            5 => "Discovery",
            6 => "Application Activity",
            _ => "Uncategorized",
        }
    }

    /// Caption of `activity_id` in this class; `None` when the id is not defined for it.
    pub fn activity_caption(self, activity_id: i32) -> Option<&'static str> {
        match activity_id {
            0 => return Some("Unknown"),
            99 => return Some("Other"),
            _ => {}
        }
        let index = usize::try_from(activity_id).ok()?.checked_sub(1)?;
        self.info().activities.get(index).copied()
    }

    /// The `activity_id` of an activity caption in this class (as the vendor's table names it).
    pub fn activity_of_caption(self, caption: &str) -> Option<i32> {
        match caption {
            "Unknown" => return Some(0),
            "Other" => return Some(99),
            _ => {}
        }
        let index = self.info().activities.iter().position(|c| *c == caption)?;
        i32::try_from(index + 1).ok()
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

/// Top-level attributes the mapper's typed code writes, which not every class has (Scheduled
/// Job Activity has no `src_endpoint`, Entity Management no `user`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Attribute {
    Actor,
    User,
    SrcEndpoint,
    Device,
    HttpRequest,
    Service,
    Entity,
    Group,
    Resources,
    Privileges,
    IsMfa,
    AuthProtocol,
    LogonType,
    AuthFactors,
    FindingInfo,
}

impl Attribute {
    const ALL: [Attribute; 15] = [
        Attribute::Actor,
        Attribute::User,
        Attribute::SrcEndpoint,
        Attribute::Device,
        Attribute::HttpRequest,
        Attribute::Service,
        Attribute::Entity,
        Attribute::Group,
        Attribute::Resources,
        Attribute::Privileges,
        Attribute::IsMfa,
        Attribute::AuthProtocol,
        Attribute::LogonType,
        Attribute::AuthFactors,
        Attribute::FindingInfo,
    ];

    fn name(self) -> &'static str {
        match self {
            Attribute::Actor => "actor",
            Attribute::User => "user",
            Attribute::SrcEndpoint => "src_endpoint",
            Attribute::Device => "device",
            Attribute::HttpRequest => "http_request",
            Attribute::Service => "service",
            Attribute::Entity => "entity",
            Attribute::Group => "group",
            Attribute::Resources => "resources",
            Attribute::Privileges => "privileges",
            Attribute::IsMfa => "is_mfa",
            Attribute::AuthProtocol => "auth_protocol_id",
            Attribute::LogonType => "logon_type_id",
            Attribute::AuthFactors => "auth_factors",
            Attribute::FindingInfo => "finding_info",
        }
    }

    fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

/// Per class (in [`OcsfClass::ALL`] order): which [`Attribute`]s it has, and which of them
/// only with profile `host` (`actor` of a Detection Finding, `device` of Authentication).
static CLASS_ATTRIBUTES: std::sync::LazyLock<[(u32, u32); 19]> = std::sync::LazyLock::new(|| {
    let mut masks = [(0, 0); 19];
    for (slot, class) in masks.iter_mut().zip(OcsfClass::ALL) {
        for attribute in Attribute::ALL {
            if let Some(steps) = ocsf_schema::lookup::attribute_path(class.uid(), attribute.name())
                && let Some(step) = steps.first()
            {
                slot.0 |= attribute.bit();
                if step.profiles.iter().any(|profile| profile == "host") {
                    slot.1 |= attribute.bit();
                }
            }
        }
    }
    masks
});

impl OcsfClass {
    fn index(self) -> usize {
        OcsfClass::ALL
            .iter()
            .position(|class| *class == self)
            .unwrap_or(0)
    }

    /// Whether the class has the attribute (OCSF 1.8.0).
    pub(crate) fn has(self, attribute: Attribute) -> bool {
        CLASS_ATTRIBUTES[self.index()].0 & attribute.bit() != 0
    }

    /// Whether the attribute needs profile `host` in this class.
    pub(crate) fn needs_host(self, attribute: Attribute) -> bool {
        CLASS_ATTRIBUTES[self.index()].1 & attribute.bit() != 0
    }
}
