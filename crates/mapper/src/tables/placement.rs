//! Where the vendor's typed field rows put a raw value: resolved once, when the tables load,
//! against the OCSF schema of the event type's class.
//!
//! A target is either a *slot* of the mapper's own model (`user.name`, `src_endpoint.ip`, ...:
//! the typed code fills those from its own reading first, and the vendor's source fills a slot
//! it left empty) or a *path* the writer places as it is (`job.name`, `entity.device.os.type`,
//! `api.request.uid`, ...), checked against the schema: the attribute exists in the class, its
//! type decides how a raw value is written, and its profile is one the record can list.

use std::collections::HashSet;
use std::sync::{LazyLock, Mutex};

use crate::ocsf::OcsfClass;

/// A text kept for the life of the process: the source and target names of the tables (a few
/// thousand distinct ones, interned once however often tables are loaded).
pub(crate) fn intern(text: &str) -> &'static str {
    static NAMES: LazyLock<Mutex<HashSet<&'static str>>> =
        LazyLock::new(|| Mutex::new(HashSet::new()));
    let mut names = match NAMES.lock() {
        Ok(names) => names,
        Err(poisoned) => poisoned.into_inner(),
    };
    if let Some(known) = names.get(text) {
        return known;
    }
    let leaked: &'static str = Box::leak(text.to_owned().into_boxed_str());
    names.insert(leaked);
    leaked
}

/// A value the mapper's model holds, which a vendor row may fill when the typed code did not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Slot {
    ActorUserUid,
    ActorUserName,
    ActorUserEmail,
    /// From a JumpCloud type (`admin`): the vendor's enum, the mapper's too.
    ActorUserType,
    UserUid,
    UserName,
    UserEmail,
    UserType,
    SrcIp,
    SrcCity,
    SrcCountry,
    SrcRegion,
    SrcLat,
    SrcLong,
    SrcAsName,
    SrcAsNumber,
    UserAgent,
    DeviceUid,
    DeviceHostname,
    DeviceName,
    DeviceIp,
    EntityUid,
    EntityName,
    EntityType,
    GroupUid,
    GroupName,
    GroupType,
    ServiceUid,
    ServiceName,
    ResourceUid,
    ResourceName,
    ResourceType,
    FindingUid,
    FindingTitle,
    FindingDesc,
    AnalyticUid,
    AnalyticName,
    StatusDetail,
    StatusCode,
    Message,
    IsMfa,
}

impl Slot {
    /// Slots the vendor's rows fill before the typed code reads the event: who the event is
    /// about (its user, entity, group, device). The typed code then reads the object only when
    /// the vendor's rows named none, so one record never mixes two objects' fields.
    pub fn vendor_first(self) -> bool {
        matches!(
            self,
            Slot::UserUid
                | Slot::UserName
                | Slot::UserEmail
                | Slot::UserType
                | Slot::EntityUid
                | Slot::EntityName
                | Slot::EntityType
                | Slot::GroupUid
                | Slot::GroupName
                | Slot::GroupType
                | Slot::DeviceUid
                | Slot::DeviceHostname
                | Slot::DeviceName
        )
    }
}

/// The OCSF paths of the slots.
const SLOTS: &[(&str, Slot)] = &[
    ("actor.user.uid", Slot::ActorUserUid),
    ("actor.user.name", Slot::ActorUserName),
    ("actor.user.email_addr", Slot::ActorUserEmail),
    ("actor.user.type_id", Slot::ActorUserType),
    ("user.uid", Slot::UserUid),
    ("user.name", Slot::UserName),
    ("user.email_addr", Slot::UserEmail),
    ("user.type_id", Slot::UserType),
    ("src_endpoint.ip", Slot::SrcIp),
    ("src_endpoint.location.city", Slot::SrcCity),
    ("src_endpoint.location.country", Slot::SrcCountry),
    ("src_endpoint.location.region", Slot::SrcRegion),
    ("src_endpoint.location.lat", Slot::SrcLat),
    ("src_endpoint.location.long", Slot::SrcLong),
    ("src_endpoint.autonomous_system.name", Slot::SrcAsName),
    ("src_endpoint.autonomous_system.number", Slot::SrcAsNumber),
    ("http_request.user_agent", Slot::UserAgent),
    ("device.uid", Slot::DeviceUid),
    ("device.hostname", Slot::DeviceHostname),
    ("device.name", Slot::DeviceName),
    ("device.ip", Slot::DeviceIp),
    ("entity.uid", Slot::EntityUid),
    ("entity.name", Slot::EntityName),
    ("entity.type", Slot::EntityType),
    ("group.uid", Slot::GroupUid),
    ("group.name", Slot::GroupName),
    ("group.type", Slot::GroupType),
    ("service.uid", Slot::ServiceUid),
    ("service.name", Slot::ServiceName),
    ("resources.uid", Slot::ResourceUid),
    ("resources.name", Slot::ResourceName),
    ("resources.type", Slot::ResourceType),
    ("finding_info.uid", Slot::FindingUid),
    ("finding_info.title", Slot::FindingTitle),
    ("finding_info.desc", Slot::FindingDesc),
    ("finding_info.analytic.uid", Slot::AnalyticUid),
    ("finding_info.analytic.name", Slot::AnalyticName),
    ("status_detail", Slot::StatusDetail),
    ("status_code", Slot::StatusCode),
    ("message", Slot::Message),
    ("is_mfa", Slot::IsMfa),
];

/// The objects the typed code writes, and the keys it writes in them: a vendor path onto one
/// of these keys that is not a slot is the typed code's alone (an enum and its caption, a
/// location the typed code checks, ...).
pub(crate) const TYPED_OBJECTS: &[(&str, &[&str])] = &[
    (
        "",
        &[
            "class_uid",
            "class_name",
            "category_uid",
            "category_name",
            "activity_id",
            "activity_name",
            "type_uid",
            "type_name",
            "severity_id",
            "severity",
            "time",
            "status_id",
            "status",
            "metadata",
            "auth_protocol_id",
            "auth_protocol",
            "logon_type_id",
            "logon_type",
            "auth_factors",
            "is_alert",
            "evidences",
            "privileges",
            "observables",
            "unmapped",
            "raw_data",
        ],
    ),
    ("actor", &[]),
    ("actor.user", &["type"]),
    ("user", &["type"]),
    ("group", &[]),
    ("entity", &["type_id"]),
    ("resources", &[]),
    ("service", &[]),
    (
        "src_endpoint",
        &["uid", "hostname", "location", "autonomous_system"],
    ),
    ("src_endpoint.location", &["postal_code", "continent"]),
    ("src_endpoint.autonomous_system", &[]),
    ("device", &["location", "type_id", "type"]),
    (
        "device.location",
        &[
            "country",
            "region",
            "city",
            "postal_code",
            "continent",
            "lat",
            "long",
        ],
    ),
    ("http_request", &[]),
    (
        "finding_info",
        &["created_time", "modified_time", "related_events"],
    ),
    ("finding_info.analytic", &["type_id", "type"]),
];

/// How a raw value is written for a target's dictionary type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Base {
    String,
    Integer,
    Long,
    Float,
    Boolean,
    /// Epoch milliseconds (`timestamp_t`), from a number or an RFC 3339 text.
    Timestamp,
}

/// A path the writer places as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PathTarget {
    /// `["job", "name"]`.
    pub segments: Box<[&'static str]>,
    /// Bit `i`: segment `i` is an array (written with one element).
    pub arrays: u32,
    /// The rules of the object at each object segment, `None` at the leaf.
    pub object_rules: Box<[Option<&'static ObjectRules>]>,
    /// The leaf's dictionary type (`email_t`, `string_t`, ...): values are checked against it.
    pub type_name: &'static str,
    pub base: Base,
    /// The profile the record must list for the path (`host`, `security_control`,
    /// `incident`), if any.
    pub profile: Option<&'static str>,
    /// The deepest object of the path the typed code writes (`entity` for
    /// `entity.device.os.type`): the value is placed only when that object is there.
    pub typed_parent: Option<&'static str>,
    /// The number of segments of `typed_parent` (0 without one): the objects below it are the
    /// placement's own.
    pub typed_depth: usize,
}

/// Where a vendor row puts its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    Slot(Slot, Base),
    Path(&'static PathTarget),
}

/// Why a vendor path cannot be followed as it is (the row must then be named in
/// `deviations.toml`).
pub(crate) fn base_of(type_name: &str, base: &str) -> Option<Base> {
    Some(match (type_name, base) {
        ("timestamp_t", _) => Base::Timestamp,
        (_, "string_t") => Base::String,
        (_, "integer_t") => Base::Integer,
        (_, "long_t") => Base::Long,
        (_, "float_t") => Base::Float,
        (_, "boolean_t") => Base::Boolean,
        _ => return None,
    })
}

/// Profiles a record can list for a placed value without taking on new requirements.
const LISTABLE_PROFILES: &[&str] = &["host", "security_control", "incident"];

/// Resolves a vendor path in a class: `Ok` target, or `Err` with why it cannot be followed.
/// Path targets are made once per class and path for the life of the process.
pub(crate) fn resolve(class: OcsfClass, path: &str) -> Result<Target, String> {
    type Resolved = std::collections::HashMap<(u32, String), Result<Target, String>>;
    static RESOLVED: LazyLock<Mutex<Resolved>> = LazyLock::new(|| Mutex::new(Resolved::new()));
    let key = (class.uid(), path.to_owned());
    if let Ok(resolved) = RESOLVED.lock()
        && let Some(known) = resolved.get(&key)
    {
        return known.clone();
    }
    let result = resolve_uncached(class, path);
    if let Ok(mut resolved) = RESOLVED.lock() {
        resolved.insert(key, result.clone());
    }
    result
}

/// A path target the mapper itself fills (a required attribute the event lacks), `None` when
/// the class has no such path.
pub(crate) fn path_target(class: OcsfClass, path: &str) -> Option<&'static PathTarget> {
    match resolve(class, path) {
        Ok(Target::Path(target)) => Some(target),
        _ => None,
    }
}

fn resolve_uncached(class: OcsfClass, path: &str) -> Result<Target, String> {
    let steps = ocsf_schema::lookup::attribute_path(class.uid(), path).ok_or_else(|| {
        format!(
            "{path} is not an attribute of {} in OCSF 1.8.0",
            class.caption()
        )
    })?;
    let leaf = steps.last().ok_or_else(|| format!("{path} is empty"))?;
    if let Some(step) = steps.iter().find(|step| step.deprecated.is_some()) {
        return Err(format!(
            "{path}: {} is deprecated in OCSF 1.8.0 ({})",
            step.name,
            step.deprecated.as_deref().unwrap_or("")
        ));
    }
    let base = base_of(&leaf.type_name, &leaf.base)
        .ok_or_else(|| format!("{path} is a {} (only scalars are placed)", leaf.type_name))?;
    if let Some((_, slot)) = SLOTS.iter().find(|(slot_path, _)| *slot_path == path) {
        return Ok(Target::Slot(*slot, base));
    }
    let (parent, key) = path.rsplit_once('.').unwrap_or(("", path));
    if let Some((_, keys)) = TYPED_OBJECTS.iter().find(|(object, _)| *object == parent)
        && (keys.contains(&key)
            || (parent.is_empty() && TYPED_OBJECTS.iter().any(|(o, _)| *o == key)))
    {
        return Err(format!(
            "{path} is written by the mapper's own code (an enum's caption, or a value it checks)"
        ));
    }
    let mut profile = None;
    for step in &steps {
        for needed in &step.profiles {
            if !LISTABLE_PROFILES.contains(&needed.as_str()) {
                return Err(format!(
                    "{path} belongs to OCSF profile {needed}, which would require more than the \
                     event has"
                ));
            }
            profile.get_or_insert(intern(needed));
        }
    }
    let segments: Vec<&'static str> = path.split('.').map(intern).collect();
    let mut arrays = 0_u32;
    for (index, step) in steps.iter().enumerate() {
        if step.is_array {
            arrays |= 1 << index;
        }
    }
    let typed_parent = (1..segments.len())
        .rev()
        .map(|end| segments[..end].join("."))
        .find(|prefix| TYPED_OBJECTS.iter().any(|(object, _)| object == prefix))
        .map(|prefix| intern(&prefix));
    let target: &'static PathTarget = Box::leak(Box::new(PathTarget {
        object_rules: steps
            .iter()
            .map(|step| step.object_type.as_deref().and_then(object_rules))
            .collect(),
        segments: segments.into_boxed_slice(),
        arrays,
        type_name: intern(&leaf.type_name),
        base,
        profile,
        typed_depth: typed_parent.map_or(0, |parent| parent.split('.').count()),
        typed_parent,
    }));
    Ok(Target::Path(target))
}

/// What an object requires, as names that live for the process.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ObjectRules {
    pub object_type: &'static str,
    pub required: Box<[&'static str]>,
    pub at_least_one: Box<[Box<[&'static str]>]>,
    /// It requires an enum id (`type_id`) or is an `os` (whose name its type gives): the
    /// placing may complete it.
    pub completes: bool,
}

/// The rules of an object type, made once per type.
fn object_rules(object_type: &str) -> Option<&'static ObjectRules> {
    type Known = std::collections::HashMap<String, Option<&'static ObjectRules>>;
    static KNOWN: LazyLock<Mutex<Known>> = LazyLock::new(|| Mutex::new(Known::new()));
    let mut known = match KNOWN.lock() {
        Ok(known) => known,
        Err(poisoned) => poisoned.into_inner(),
    };
    if let Some(rules) = known.get(object_type) {
        return *rules;
    }
    let rules = ocsf_schema::lookup::object_rules(object_type).map(|rules| {
        let rules: &'static ObjectRules = Box::leak(Box::new(ObjectRules {
            completes: object_type == "os"
                || rules.required.iter().any(|name| name.ends_with("_id")),
            object_type: intern(object_type),
            required: rules.required.iter().map(|name| intern(name)).collect(),
            at_least_one: rules
                .at_least_one
                .iter()
                .map(|group| group.iter().map(|name| intern(name)).collect())
                .collect(),
        }));
        rules
    });
    known.insert(object_type.to_owned(), rules);
    rules
}

/// A raw field, as keys from the event's top (at most four deep).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SourceRef {
    pub keys: [&'static str; 4],
    pub depth: u8,
}

impl SourceRef {
    /// `None` when the path is deeper than four keys.
    pub fn parse(path: &str) -> Option<SourceRef> {
        let mut keys = [""; 4];
        let mut depth = 0;
        for key in path.split('.') {
            *keys.get_mut(depth)? = intern(key);
            depth += 1;
        }
        Some(SourceRef {
            keys,
            depth: u8::try_from(depth).ok()?,
        })
    }

    pub fn keys(&self) -> &[&'static str] {
        &self.keys[..usize::from(self.depth)]
    }
}

/// One vendor row as the mapper follows it for one event type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Placement {
    pub target: Target,
    /// The raw fields, tried in order.
    pub sources: Box<[SourceRef]>,
    /// Line in `fields.tsv`.
    pub line: usize,
}

/// Whether a vendor target is kept untyped by the vendor itself (`unmapped.*`, observables, the
/// free-form `*.data` objects) or is metadata (the record's envelope, the typed code's).
fn is_untyped_or_metadata(path: &str) -> bool {
    path.starts_with("unmapped.")
        || path.starts_with("observables")
        || path.starts_with("metadata.")
        || path.contains(".data.")
        || path.ends_with(".data")
}

/// Vendor rows the typed code follows as the vendor does (`time` from `timestamp`).
const FOLLOWED_BY_TYPED_CODE: &[&str] = &["time"];

/// A user's `type_id` from a JumpCloud type, by the vendor's enum (user 1, admin 2, system 3,
/// service 4, else 99): the one enum transform a placement follows (into its slot).
fn is_user_type_enum(field: &super::vendor::VendorField) -> bool {
    field.ocsf_field.ends_with("user.type_id") && field.transform.contains("enum")
}

/// Where an OCSF path the vendor uses is deprecated, the path that replaced it.
const REPLACED: &[(&str, &str)] = &[
    ("resource.", "resources."),
    ("actor.invoked_by", "actor.app_name"),
];

/// The vendor's path, or its replacement where the vendor's is deprecated in the class.
fn current_path(class: OcsfClass, path: &str) -> std::borrow::Cow<'_, str> {
    for (old, new) in REPLACED {
        if let Some(rest) = path.strip_prefix(old)
            && ocsf_schema::lookup::attribute_path(class.uid(), path)
                .is_some_and(|steps| steps.iter().any(|step| step.deprecated.is_some()))
        {
            return std::borrow::Cow::Owned(format!("{new}{rest}"));
        }
    }
    std::borrow::Cow::Borrowed(path)
}

/// What the mapper does with one vendor row for one event type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Fate {
    /// Not a typed row (a literal, an enum or time transform, `unmapped`, observables, the
    /// free-form `*.data`, metadata): nothing to place.
    Untyped,
    /// The typed code follows it as the vendor does (`time` from `timestamp`).
    Typed,
    /// Placed at this target (a slot, or a path).
    Placed(Target),
    /// Named by the field deviation with this index in `deviations.toml`'s `[[fields]]`.
    Deviation(usize),
    /// Not an attribute of the class a deviation of the event type gives it.
    OtherClass(String),
    /// The class is decided from the event's content (`association_change`): the typed code
    /// reads it.
    ByContent,
    /// Cannot be followed and nothing states why: a load error.
    Refused(String),
}

/// Whether a row is one the mapper considers: a raw field onto a typed attribute.
fn is_typed_row(field: &super::vendor::VendorField) -> bool {
    !field.sources.is_empty()
        && field.literal.is_empty()
        && (field.is_plain_or_cast() || is_user_type_enum(field))
        && !is_untyped_or_metadata(&field.ocsf_field)
}

/// The fate of a vendor row for an event type of this classification.
pub(crate) fn fate(
    field: &super::vendor::VendorField,
    event_type: &str,
    classification: &super::Classification,
    deviations: &[super::FieldDeviation],
) -> Fate {
    if !is_typed_row(field) {
        return Fate::Untyped;
    }
    if FOLLOWED_BY_TYPED_CODE.contains(&field.ocsf_field.as_str()) {
        return Fate::Typed;
    }
    if classification.activity == super::ActivityRule::FromAssociation {
        return Fate::ByContent;
    }
    let class = classification.class;
    let named = deviations
        .iter()
        .position(|d| d.names(&field.ocsf_field, &field.sources, event_type, class));
    match (
        resolve(class, &current_path(class, &field.ocsf_field)),
        named,
    ) {
        // A deviation on a slot describes how the typed code's value differs (the caption of
        // an enum it sets from the row's value, ...): the row still feeds it.
        (Ok(target @ Target::Slot(..)), _) | (Ok(target), None) => Fate::Placed(target),
        (_, Some(index)) => Fate::Deviation(index),
        (Err(reason), None) if classification.origin == super::Origin::Deviation => {
            Fate::OtherClass(reason)
        }
        (Err(reason), None) => Fate::Refused(reason),
    }
}

/// Gives every classified event type the vendor's typed rows for it: resolved in the type's
/// class, minus the rows a field deviation names. A row that cannot be followed as it is and no
/// deviation names is an error (`fields.tsv:LINE`), so every difference is stated; for a type
/// whose class is itself a deviation, such rows are left out (the deviation says why).
pub(super) fn place_vendor_rows(
    exact: &mut super::Table<super::Classification>,
    vendor: &super::vendor::VendorTables,
    deviations: &[super::FieldDeviation],
    fields_path: &std::path::Path,
) -> Result<(), crate::error::MappingError> {
    use std::collections::HashMap;
    let mut per_type: HashMap<&str, Vec<Placement>> = HashMap::new();
    let mut refused: Vec<(usize, String)> = Vec::new();
    for field in &vendor.fields {
        if !is_typed_row(field) {
            continue;
        }
        let sources: Box<[SourceRef]> = field
            .sources
            .iter()
            .filter_map(|source| SourceRef::parse(source))
            .collect();
        if sources.is_empty() {
            continue;
        }
        for event_type in vendor.usage(field) {
            let Some(classification) = exact.get(event_type) else {
                continue;
            };
            match fate(field, event_type, classification, deviations) {
                Fate::Placed(target)
                    if !per_type
                        .get(event_type)
                        .is_some_and(|list: &Vec<Placement>| {
                            list.iter()
                                .any(|known| known.target == target && known.sources == sources)
                        }) =>
                {
                    per_type.entry(event_type).or_default().push(Placement {
                        target,
                        sources: sources.clone(),
                        line: field.line,
                    });
                }
                Fate::Refused(reason) if !refused.iter().any(|(_, known)| *known == reason) => {
                    refused.push((field.line, reason));
                }
                _ => {}
            }
        }
    }
    if let Some((line, first)) = refused.first() {
        let others: Vec<&str> = refused[1..].iter().map(|(_, r)| r.as_str()).collect();
        return Err(crate::error::MappingError::new(
            fields_path,
            *line,
            format!(
                "{first}; state how the product differs in {}{}",
                super::DEVIATIONS_FILE,
                if others.is_empty() {
                    String::new()
                } else {
                    format!(" (also: {})", others.join("; "))
                }
            ),
        ));
    }
    let aliases: Vec<(String, String)> = exact
        .iter()
        .filter_map(|(event_type, c)| c.same_as.clone().map(|alias| (event_type.clone(), alias)))
        .collect();
    let is_first = |p: &Placement| matches!(p.target, Target::Slot(slot, _) if slot.vendor_first());
    let mut shared: HashMap<&str, (std::sync::Arc<[Placement]>, usize)> = HashMap::new();
    for (event_type, mut placements) in per_type {
        // The slots the vendor decides first, in front (placed before the typed code reads).
        placements.sort_by_key(|p| !is_first(p));
        let first = placements.iter().take_while(|p| is_first(p)).count();
        let placements: std::sync::Arc<[Placement]> = placements.into();
        if let Some(classification) = exact.get_mut(event_type) {
            classification.placements = std::sync::Arc::clone(&placements);
            classification.first_placements = first;
        }
        shared.insert(event_type, (placements, first));
    }
    for (event_type, alias) in aliases {
        if let (Some((placements, first)), Some(classification)) =
            (shared.get(alias.as_str()), exact.get_mut(&event_type))
        {
            classification.placements = std::sync::Arc::clone(placements);
            classification.first_placements = *first;
        }
    }
    Ok(())
}
