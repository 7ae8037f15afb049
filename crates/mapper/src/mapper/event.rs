//! One event being mapped: the facts taken from the source (borrowed where possible), then
//! written as OCSF JSON in one pass, with the source fields no OCSF attribute took under
//! `unmapped.jumpcloud`.

use std::borrow::Cow;
use std::net::IpAddr;

use serde_json::value::RawValue;

use super::finding::{self, Finding};
use crate::json_writer::JsonWriter;
use crate::ocsf::{
    OcsfClass, auth_protocol_caption, factor_type_caption, logon_type_caption,
    logon_type_id_of_name, severity_caption, status_caption,
};
use crate::source::{FieldUse, RawObject, raw_str};
use crate::tables::{ActivityRule, AssociationRule, MappingTables};
use crate::tables::{Classification, EventTypeMatch};

/// OCSF product name and vendor for every event.
const PRODUCT_NAME: &str = "Directory Insights";
const VENDOR_NAME: &str = "JumpCloud";
const OCSF_VERSION: &str = "1.8.0";

/// A source path the OCSF output took (up to three keys deep). A field is left out of
/// `unmapped` only when its exact path was taken; an object with some keys taken is written
/// with the rest.
type SourcePath = [&'static str; 3];

/// How many taken paths are kept without allocating (an event takes about 10 to 30).
const INLINE_PATHS: usize = 48;

/// The source paths the OCSF output took: the first [`INLINE_PATHS`] in place, any more in
/// `spilled` (no allocation per event in practice).
#[derive(Debug)]
pub(super) struct Consumed {
    inline: [SourcePath; INLINE_PATHS],
    len: usize,
    spilled: Vec<SourcePath>,
}

impl Default for Consumed {
    fn default() -> Consumed {
        Consumed {
            inline: [["", "", ""]; INLINE_PATHS],
            len: 0,
            spilled: Vec::new(),
        }
    }
}

impl Consumed {
    fn push(&mut self, path: SourcePath) {
        match self.inline.get_mut(self.len) {
            Some(slot) => {
                *slot = path;
                self.len += 1;
            }
            None => self.spilled.push(path),
        }
    }

    fn clear(&mut self) {
        self.len = 0;
        self.spilled.clear();
    }

    fn paths(&self) -> impl Iterator<Item = &SourcePath> {
        self.inline[..self.len].iter().chain(&self.spilled)
    }

    pub(super) fn take(&mut self, top: &'static str) {
        self.push([top, "", ""]);
    }

    pub(super) fn take2(&mut self, top: &'static str, key: &'static str) {
        self.push([top, key, ""]);
    }

    pub(super) fn take3(&mut self, top: &'static str, middle: &'static str, key: &'static str) {
        self.push([top, middle, key]);
    }

    /// Marks the source fields the OCSF output took, for [`write_residual`].
    fn apply(&self, source: &RawObject<'_>) {
        for path in self.paths() {
            let mut object = Some(source);
            let depth = path.iter().take_while(|key| !key.is_empty()).count();
            for (level, key) in path[..depth].iter().enumerate() {
                let Some(field) = object.and_then(|object| object.field(key)) else {
                    break;
                };
                if level + 1 == depth {
                    field.used.set(FieldUse::Taken);
                } else {
                    if field.used.get() == FieldUse::Unused {
                        field.used.set(FieldUse::Partly);
                    }
                    object = field.object();
                }
            }
        }
    }
}

/// A borrowed text made owned (for facts taken from a document parsed inside the event).
pub(super) fn owned(text: &Option<Cow<'_, str>>) -> Option<Cow<'static, str>> {
    text.as_ref()
        .map(|text| Cow::Owned(text.clone().into_owned()))
}

/// A user (`user`, `actor.user`).
#[derive(Debug, Clone, Default)]
pub(super) struct Person<'a> {
    pub uid: Option<Cow<'a, str>>,
    pub name: Option<Cow<'a, str>>,
    pub email: Option<Cow<'a, str>>,
    /// (type_id, type caption or the source's own type for 99).
    pub kind: Option<(i32, Cow<'a, str>)>,
}

impl Person<'_> {
    fn is_usable(&self) -> bool {
        self.uid.is_some() || self.name.is_some()
    }

    pub(super) fn to_owned_static(&self) -> Person<'static> {
        Person {
            uid: owned(&self.uid),
            name: owned(&self.name),
            email: owned(&self.email),
            kind: self
                .kind
                .as_ref()
                .map(|(id, caption)| (*id, Cow::Owned(caption.clone().into_owned()))),
        }
    }

    /// Same person (same uid, name and e-mail).
    pub(super) fn same_as(&self, other: &Person<'_>) -> bool {
        self.uid == other.uid && self.name == other.name && self.email == other.email
    }
}

/// Something with a name and/or uid: `service`, `group`, `entity`, `resources[]`.
#[derive(Debug, Clone, Default)]
pub(super) struct Named<'a> {
    pub uid: Option<Cow<'a, str>>,
    pub name: Option<Cow<'a, str>>,
    /// The source's own type (e.g. `system`, `user_group`).
    pub kind: Option<Cow<'a, str>>,
}

impl Named<'_> {
    pub(super) fn is_usable(&self) -> bool {
        self.uid.is_some() || self.name.is_some()
    }
}

#[derive(Debug, Default)]
pub(super) struct Location<'a> {
    country: Option<Cow<'a, str>>,
    region: Option<Cow<'a, str>>,
    city: Option<Cow<'a, str>>,
    postal_code: Option<Cow<'a, str>>,
    continent: Option<&'static str>,
    /// Latitude and longitude as the source's JSON number text, only when in range (a
    /// finite double, ±90 / ±180).
    lat: Option<Cow<'a, str>>,
    long: Option<Cow<'a, str>>,
}

impl Location<'_> {
    fn to_owned_static(&self) -> Location<'static> {
        Location {
            country: owned(&self.country),
            region: owned(&self.region),
            city: owned(&self.city),
            postal_code: owned(&self.postal_code),
            continent: self.continent,
            lat: owned(&self.lat),
            long: owned(&self.long),
        }
    }
}

/// `src_endpoint.autonomous_system`: number and/or organisation name.
#[derive(Debug, Default)]
pub(super) struct AutonomousSystem<'a> {
    number: Option<i64>,
    name: Option<Cow<'a, str>>,
}

#[derive(Debug, Default)]
pub(super) struct Endpoint<'a> {
    pub ip: Option<Cow<'a, str>>,
    pub uid: Option<Cow<'a, str>>,
    pub hostname: Option<Cow<'a, str>>,
    location: Option<Location<'a>>,
    autonomous_system: Option<AutonomousSystem<'a>>,
}

impl Endpoint<'_> {
    pub(super) fn to_owned_static(&self) -> Endpoint<'static> {
        Endpoint {
            ip: owned(&self.ip),
            uid: owned(&self.uid),
            hostname: owned(&self.hostname),
            location: self.location.as_ref().map(Location::to_owned_static),
            autonomous_system: self
                .autonomous_system
                .as_ref()
                .map(|system| AutonomousSystem {
                    number: system.number,
                    name: owned(&system.name),
                }),
        }
    }
}

#[derive(Debug, Default)]
pub(super) struct Device<'a> {
    pub uid: Option<Cow<'a, str>>,
    pub hostname: Option<Cow<'a, str>>,
    pub name: Option<Cow<'a, str>>,
    pub ip: Option<Cow<'a, str>>,
    /// Where `ip` is (the event's `geoip`, when `ip` is the `client_ip` it locates).
    location: Option<Location<'a>>,
}

impl Device<'_> {
    pub(super) fn to_owned_static(&self) -> Device<'static> {
        Device {
            uid: owned(&self.uid),
            hostname: owned(&self.hostname),
            name: owned(&self.name),
            ip: owned(&self.ip),
            location: self.location.as_ref().map(Location::to_owned_static),
        }
    }
}

/// One `auth_factors[]` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct AuthFactor {
    factor_type_id: i32,
    provider: Option<&'static str>,
    is_totp: bool,
}

#[derive(Debug)]
pub(super) struct Status<'a> {
    pub id: i32,
    /// The caption of `id`, or the source's own value for 99 on a Detection Finding.
    pub caption: Cow<'a, str>,
    pub detail: Option<Cow<'a, str>>,
    pub code: Option<Cow<'a, str>>,
}

/// One event, ready to write.
#[derive(Debug)]
pub(super) struct OcsfEvent<'a> {
    pub class: OcsfClass,
    pub activity_id: i32,
    activity_name: Cow<'a, str>,
    pub event_type: Option<Cow<'a, str>>,
    time_ms: i64,
    original_time: Cow<'a, str>,
    organization: Option<Cow<'a, str>>,
    id: Option<Cow<'a, str>>,
    service: Option<Cow<'a, str>>,
    pub(super) status: Option<Status<'a>>,
    /// `severity_id` and caption when the event says it (a Detection Finding's priority); else
    /// 1 Informational, 2 Low for a failure.
    pub(super) severity: Option<(i32, Cow<'a, str>)>,
    message: Option<Cow<'a, str>>,
    pub(super) actor: Option<Person<'a>>,
    pub user: Option<Person<'a>>,
    pub(super) src_endpoint: Option<Endpoint<'a>>,
    pub(super) device: Option<Device<'a>>,
    service_object: Option<Named<'a>>,
    entity: Option<Named<'a>>,
    group: Option<Named<'a>>,
    privileges: Vec<Cow<'a, str>>,
    resources: Vec<Named<'a>>,
    auth_protocol_id: Option<i32>,
    is_mfa: Option<bool>,
    auth_factors: Vec<AuthFactor>,
    /// Authentication `logon_type_id` and caption (the source's own value for 99).
    logon_type: Option<(i32, Cow<'a, str>)>,
    user_agent: Option<Cow<'a, str>>,
    /// Detection Finding: `finding_info`, `evidences`.
    pub(super) finding: Option<Box<Finding<'a>>>,
    pub(super) consumed: Consumed,
    /// Base Event: the whole source goes to `unmapped.jumpcloud`.
    keep_all_source: bool,
    /// Mapped as an alert's triggering event, inside another event: its own trigger (if any)
    /// is not followed.
    pub(super) nested: bool,
}

/// The activity decided for a classified event.
struct Activity<'a> {
    class: OcsfClass,
    id: i32,
    /// The caption for 99 (the source's own value).
    other_name: Option<Cow<'a, str>>,
}

pub(super) fn build<'a>(
    tables: &MappingTables,
    source: &RawObject<'a>,
    time_ms: i64,
    original_time: Cow<'a, str>,
) -> OcsfEvent<'a> {
    build_event(tables, source, time_ms, original_time, false)
}

/// [`build`]; `nested`: the event is an alert's triggering event (its own trigger is not
/// followed).
pub(super) fn build_event<'a>(
    tables: &MappingTables,
    source: &RawObject<'a>,
    time_ms: i64,
    original_time: Cow<'a, str>,
    nested: bool,
) -> OcsfEvent<'a> {
    let event_type = source.non_empty_str("event_type");
    let mut event = OcsfEvent {
        class: OcsfClass::BaseEvent,
        activity_id: 0,
        activity_name: Cow::Borrowed("Unknown"),
        event_type: event_type.clone(),
        time_ms,
        original_time,
        organization: source.non_empty_str("organization"),
        id: source.non_empty_str("id"),
        service: source.non_empty_str("service"),
        status: None,
        severity: None,
        message: None,
        actor: None,
        user: None,
        src_endpoint: None,
        device: None,
        service_object: None,
        entity: None,
        group: None,
        privileges: Vec::new(),
        resources: Vec::new(),
        auth_protocol_id: None,
        is_mfa: None,
        auth_factors: Vec::new(),
        logon_type: None,
        user_agent: None,
        finding: None,
        consumed: Consumed::default(),
        keep_all_source: true,
        nested,
    };
    if let Some(event_type) = &event_type {
        event.activity_id = 99;
        event.activity_name = event_type.clone();
        if let Some(found) = tables.lookup(event_type)
            && let Some(activity) = classify(tables, source, event_type, &found)
            && event.fill_class(tables, source, event_type, found.classification, activity)
        {
            event.keep_all_source = false;
            return event;
        }
    }
    event.fill_base(source);
    event
}

/// The class and activity of a known event type; `None` for a Base Event.
fn classify<'a>(
    tables: &MappingTables,
    source: &RawObject<'a>,
    event_type: &str,
    found: &EventTypeMatch<'_, '_>,
) -> Option<Activity<'a>> {
    let classification = found.classification;
    let fixed = |class, id: i32| Activity {
        class,
        id,
        other_name: (id == 99).then(|| {
            Cow::Owned(
                classification
                    .activity_name
                    .clone()
                    .unwrap_or_else(|| event_type.to_owned()),
            )
        }),
    };
    Some(match classification.activity {
        ActivityRule::Fixed(id) => fixed(classification.class, id),
        ActivityRule::FromChanges => {
            fixed(classification.class, activity_from_changes(tables, source))
        }
        ActivityRule::FromVerb => match tables.verb_activity(found.verb) {
            Some(id) => fixed(classification.class, id),
            None => Activity {
                class: classification.class,
                id: 99,
                other_name: Some(Cow::Owned(
                    classification
                        .activity_name
                        .clone()
                        .unwrap_or_else(|| found.verb.to_owned()),
                )),
            },
        },
        // Decided while filling (needs the association's ends).
        ActivityRule::FromAssociation => Activity {
            class: OcsfClass::EntityManagement,
            id: 3,
            other_name: None,
        },
        // Decided while filling (needs the alert's status): Update until then.
        ActivityRule::FromAlertStatus => Activity {
            class: classification.class,
            id: 2,
            other_name: None,
        },
    })
}

/// `user_update`-like events: the most security-relevant activity the `changes` rules propose.
fn activity_from_changes(tables: &MappingTables, source: &RawObject<'_>) -> i32 {
    let rules = &tables.account_changes;
    let Some(changes) = source
        .get("changes")
        .and_then(|raw| serde_json::from_str::<Vec<&RawValue>>(raw).ok())
    else {
        return rules.otherwise;
    };
    let mut best: Option<usize> = None;
    for change in changes {
        let Some(change) = RawObject::parse(change.get()) else {
            continue;
        };
        let Some(field) = change.str("field") else {
            continue;
        };
        let from = change.get("from");
        let to = change.get("to");
        for rule in &rules.rules {
            if rule.field != *field {
                continue;
            }
            let from_ok = match (&rule.from, &rule.from_not) {
                (Some(expected), _) => from.is_some_and(|value| expected.matches(value)),
                (None, Some(unexpected)) => !from.is_some_and(|value| unexpected.matches(value)),
                (None, None) => true,
            };
            let to_ok = match &rule.to {
                Some(expected) => to.is_some_and(|value| expected.matches(value)),
                None => true,
            };
            if from_ok && to_ok {
                let rank = rules
                    .priority
                    .iter()
                    .position(|id| *id == rule.activity_id)
                    .unwrap_or(usize::MAX);
                best = Some(best.map_or(rank, |current| current.min(rank)));
            }
        }
    }
    best.and_then(|rank| rules.priority.get(rank).copied())
        .unwrap_or(rules.otherwise)
}

/// A user from a DI object with `id`/`object_id`, `username`/`name`, `email`, `type`.
fn person<'a>(
    object: &RawObject<'a>,
    top: &'static str,
    consumed: &mut Consumed,
) -> Option<Person<'a>> {
    let uid = object.non_empty_str("id");
    let username = object.non_empty_str("username");
    let email = object.non_empty_str("email");
    // Admins sign in with their e-mail address: it is their user name when there is no other.
    let name = username.clone().or_else(|| email.clone());
    let person = Person {
        uid,
        name,
        email,
        kind: object.non_empty_str("type").map(|kind| user_type(kind)),
    };
    if !person.is_usable() {
        return None;
    }
    for key in ["id", "username", "email", "type"] {
        if object.get(key).is_some() {
            consumed.take2(top, key);
        }
    }
    Some(person)
}

fn user_type(kind: Cow<'_, str>) -> (i32, Cow<'_, str>) {
    match &*kind {
        "user" | "systemuser" => (1, Cow::Borrowed("User")),
        "admin" => (2, Cow::Borrowed("Admin")),
        "system" => (3, Cow::Borrowed("System")),
        _ => (99, kind),
    }
}

fn is_person_type(kind: Option<&str>) -> bool {
    matches!(kind, None | Some("user" | "systemuser" | "admin"))
}

/// A valid IP address string, else `None`.
fn ip_address<'a>(text: Option<Cow<'a, str>>) -> Option<Cow<'a, str>> {
    text.filter(|text| text.trim().parse::<IpAddr>().is_ok())
}

/// One end of an association connection: `{name, type, object_id}` (or `id`).
fn association_end<'a>(connection: &RawObject<'a>, key: &str) -> Option<Named<'a>> {
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
fn resource_named<'a>(source: &RawObject<'a>, consumed: &mut Consumed) -> Option<Named<'a>> {
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

impl<'a> OcsfEvent<'a> {
    /// Fills a classified event. `false` when the class's required data is missing (the caller
    /// then makes it a Base Event).
    fn fill_class(
        &mut self,
        tables: &MappingTables,
        source: &RawObject<'a>,
        event_type: &str,
        classification: &Classification,
        activity: Activity<'a>,
    ) -> bool {
        self.class = activity.class;
        self.activity_id = activity.id;
        let filled = match classification.activity {
            ActivityRule::FromAssociation => self.fill_association(tables, source),
            _ => match activity.class {
                OcsfClass::Authentication => self.fill_authentication(
                    tables,
                    source,
                    classification.auth_protocol_id,
                    classification.service_name.as_deref(),
                ),
                OcsfClass::AccountChange => {
                    if let Some(factor) = classification.auth_factor {
                        self.add_auth_factor(AuthFactor {
                            factor_type_id: factor,
                            provider: None,
                            is_totp: factor == 7,
                        });
                    }
                    self.fill_account_change(source)
                }
                OcsfClass::EntityManagement => self.fill_entity_management(source),
                OcsfClass::UserAccess => {
                    self.privileges = privileges(&classification.privileges, None);
                    self.fill_user_access(source)
                }
                OcsfClass::GroupManagement => {
                    self.privileges = privileges(&classification.privileges, None);
                    self.fill_group_management(source)
                }
                OcsfClass::DetectionFinding => {
                    finding::fill(self, tables, source, &classification.activity)
                }
                OcsfClass::BaseEvent => false,
            },
        };
        if !filled {
            self.reset_to_base();
            return false;
        }
        self.activity_name = match activity.other_name {
            Some(name) if self.activity_id == 99 => name,
            _ => Cow::Borrowed(
                self.class
                    .activity_caption(self.activity_id)
                    .unwrap_or("Unknown"),
            ),
        };
        if self.activity_id == 99 && self.activity_name == "Other" {
            self.activity_name = Cow::Owned(event_type.to_owned());
        }
        self.fill_common(source);
        true
    }

    fn reset_to_base(&mut self) {
        self.class = OcsfClass::BaseEvent;
        self.activity_id = 99;
        self.actor = None;
        self.user = None;
        self.src_endpoint = None;
        self.device = None;
        self.service_object = None;
        self.entity = None;
        self.group = None;
        self.privileges.clear();
        self.resources.clear();
        self.auth_protocol_id = None;
        self.is_mfa = None;
        self.auth_factors.clear();
        self.logon_type = None;
        self.status = None;
        self.severity = None;
        self.finding = None;
        self.consumed.clear();
        if let Some(event_type) = &self.event_type {
            self.activity_name = event_type.clone();
        }
    }

    /// Base Event: metadata, actor and status; the whole source stays in `unmapped`.
    fn fill_base(&mut self, source: &RawObject<'a>) {
        if self.event_type.is_none() {
            self.activity_id = 0;
            self.activity_name = Cow::Borrowed("Unknown");
        }
        let mut ignored = Consumed::default();
        self.actor = source
            .object("initiated_by")
            .and_then(|initiated_by| person(initiated_by, "initiated_by", &mut ignored));
        self.status = status(source, false, &mut ignored);
        self.message = source.non_empty_str("message");
        self.device = system_device(source, &mut ignored);
        self.keep_all_source = true;
    }

    /// Fields every IAM class takes: actor, source endpoint, user agent, status, message.
    fn fill_common(&mut self, source: &RawObject<'a>) {
        for key in ["id", "timestamp", "event_type", "organization", "service"] {
            if source.get(key).is_some() {
                self.consumed.take(key);
            }
        }
        if self.actor.is_none() {
            self.actor = source
                .object("initiated_by")
                .and_then(|initiated_by| person(initiated_by, "initiated_by", &mut self.consumed));
        }
        if let Some(message) = source.non_empty_str("message") {
            self.consumed.take("message");
            self.message = Some(message);
        }
        // The system an event names (systems events, software on a device, ...).
        if self.device.is_none() {
            self.device = system_device(source, &mut self.consumed);
        }
        if self.class == OcsfClass::DetectionFinding {
            // A finding's status is its workflow state (set from the alert); it has no source
            // endpoint or HTTP request: `success`, `client_ip`, `geoip` and the user agent of
            // whoever changed the alert stay in `unmapped`.
            return;
        }
        if self.status.is_none() {
            self.status = status(source, false, &mut self.consumed);
        }
        // Systems events: `src_ip` is where the login came from, `client_ip` the agent's address
        // (the device's). `geoip` locates `client_ip`, so it goes where `client_ip` went.
        let src_ip = ip_address(source.str("src_ip"));
        let client_ip = ip_address(source.str("client_ip"));
        let mut endpoint = Endpoint::default();
        let mut geoip_of_endpoint = false;
        if let Some(ip) = src_ip {
            self.consumed.take("src_ip");
            endpoint.ip = Some(ip);
            if let (Some(device), Some(client_ip)) = (self.device.as_mut(), client_ip) {
                self.consumed.take("client_ip");
                device.ip = Some(client_ip);
                device.location = source
                    .object("geoip")
                    .and_then(|geoip| location(geoip, &mut self.consumed));
            }
        } else if let Some(ip) = client_ip {
            self.consumed.take("client_ip");
            endpoint.ip = Some(ip);
            geoip_of_endpoint = true;
        }
        if let Some(existing) = self.src_endpoint.take() {
            endpoint.uid = existing.uid;
            endpoint.hostname = existing.hostname;
        }
        if endpoint.ip.is_some() || endpoint.uid.is_some() || endpoint.hostname.is_some() {
            if geoip_of_endpoint && let Some(geoip) = source.object("geoip") {
                endpoint.location = location(geoip, &mut self.consumed);
                endpoint.autonomous_system = autonomous_system(geoip, &mut self.consumed);
            }
            self.src_endpoint = Some(endpoint);
        }
        self.user_agent = user_agent(source);
        // A user agent given as a string is taken whole; the parsed `useragent` object stays in
        // `unmapped` (the summary made from it is lossy).
        for key in ["user_agent", "useragent"] {
            if self.user_agent.is_some() && source.str(key).is_some() {
                self.consumed.take(key);
                break;
            }
        }
    }

    fn fill_authentication(
        &mut self,
        tables: &MappingTables,
        source: &RawObject<'a>,
        auth_protocol_id: Option<i32>,
        service_name: Option<&str>,
    ) -> bool {
        let consumed = &mut self.consumed;
        let initiated_by = source
            .object("initiated_by")
            .and_then(|object| person(object, "initiated_by", consumed));
        let user = initiated_by
            .clone()
            .or_else(|| {
                source
                    .object("resource")
                    .and_then(|object| person(object, "resource", consumed))
            })
            .or_else(|| {
                source.non_empty_str("username").map(|name| {
                    consumed.take("username");
                    Person {
                        name: Some(name),
                        ..Person::default()
                    }
                })
            });
        let Some(user) = user else {
            return false;
        };
        if source.non_empty_str("username").as_deref() == user.name.as_deref() {
            self.consumed.take("username");
        }
        self.user = Some(user);
        self.actor = initiated_by;

        let is_sso = self.event_type.as_deref() == Some("sso_auth");
        if is_sso {
            self.status = status(source, true, &mut self.consumed);
        }
        let mut protocol = auth_protocol_id;
        if let Some(application) = source.object("application") {
            let name_key = ["display_label", "name"]
                .into_iter()
                .find(|key| application.non_empty_str(key).is_some());
            let service = Named {
                uid: application.non_empty_str("id"),
                name: name_key.and_then(|key| application.non_empty_str(key)),
                kind: None,
            };
            if service.is_usable() {
                for key in ["id"].into_iter().chain(name_key) {
                    if application.get(key).is_some() {
                        self.consumed.take2("application", key);
                    }
                }
                self.service_object = Some(service);
            }
            let sso_protocol = match application.non_empty_str("sso_type").as_deref() {
                Some(kind) if kind.eq_ignore_ascii_case("saml") => Some(5),
                Some(kind)
                    if kind.eq_ignore_ascii_case("oidc") || kind.eq_ignore_ascii_case("openid") =>
                {
                    Some(4)
                }
                _ => None,
            };
            // `sso_type` stays in `unmapped` too (auth_protocol is coarser: oidc/openid -> 4).
            if sso_protocol.is_some() {
                protocol = sso_protocol;
            }
        }
        self.auth_protocol_id = Some(protocol.unwrap_or(0));
        if self.service_object.is_none() {
            let name = service_name
                .or_else(|| self.service.as_deref().and_then(|s| tables.service_name(s)))
                .unwrap_or("JumpCloud");
            self.service_object = Some(Named {
                name: Some(Cow::Owned(name.to_owned())),
                ..Named::default()
            });
        }
        if let Some(mfa) = source.bool("mfa") {
            self.consumed.take("mfa");
            self.is_mfa = Some(mfa);
        }
        if let Some(mfa_meta) = source.object("mfa_meta")
            && let Some(kind) = mfa_meta.non_empty_str("type")
            && let Some(factor) = auth_factor_named(&kind)
        {
            self.consumed.take2("mfa_meta", "type");
            self.add_auth_factor(factor);
        }
        // The methods the sign-in used (each with its own `success`, which stays in `unmapped`
        // with them: the factors are a typed view).
        if let Some(methods) = source
            .object("auth_context")
            .and_then(|context| context.object("auth_methods"))
        {
            for field in &methods.fields {
                if let Some(factor) = auth_factor_named(&field.key) {
                    self.add_auth_factor(factor);
                }
            }
        }
        self.logon_type = logon_type(source, &mut self.consumed);
        // SSO: the device the user signs in from (device certificate), when known.
        if let Some(system) = source
            .object("auth_context")
            .and_then(|context| context.object("system"))
        {
            let uid = system.non_empty_str("id");
            let hostname = system.non_empty_str("hostname");
            if uid.is_some() || hostname.is_some() {
                if uid.is_some() {
                    self.consumed.take3("auth_context", "system", "id");
                }
                if hostname.is_some() {
                    self.consumed.take3("auth_context", "system", "hostname");
                }
                self.src_endpoint = Some(Endpoint {
                    uid,
                    hostname,
                    ..Endpoint::default()
                });
            }
        }
        true
    }

    /// Adds an `auth_factors[]` entry, once per factor type.
    fn add_auth_factor(&mut self, factor: AuthFactor) {
        if !self
            .auth_factors
            .iter()
            .any(|known| known.factor_type_id == factor.factor_type_id)
        {
            self.auth_factors.push(factor);
        }
    }

    fn fill_account_change(&mut self, source: &RawObject<'a>) -> bool {
        let consumed = &mut self.consumed;
        let target = source
            .object("resource")
            .filter(|resource| is_person_type(resource.str("type").as_deref()))
            .and_then(|resource| person(resource, "resource", consumed));
        let user = target
            .or_else(|| {
                source.non_empty_str("username").map(|name| {
                    consumed.take("username");
                    Person {
                        name: Some(name),
                        ..Person::default()
                    }
                })
            })
            .or_else(|| {
                // Self-service changes (e.g. a user enrolling TOTP) name only the actor.
                source
                    .object("initiated_by")
                    .and_then(|object| person(object, "initiated_by", consumed))
            });
        let Some(user) = user else {
            return false;
        };
        self.user = Some(user);
        true
    }

    fn fill_entity_management(&mut self, source: &RawObject<'a>) -> bool {
        if let Some(entity) = resource_named(source, &mut self.consumed) {
            self.entity = Some(entity);
            return true;
        }
        if let Some(system) = source.object("system") {
            let entity = Named {
                uid: system.non_empty_str("id"),
                name: system
                    .non_empty_str("hostname")
                    .or_else(|| system.non_empty_str("displayName")),
                kind: Some(Cow::Borrowed("system")),
            };
            if entity.is_usable() {
                for key in ["id", "hostname"] {
                    if system.get(key).is_some() {
                        self.consumed.take2("system", key);
                    }
                }
                self.entity = Some(entity);
                return true;
            }
        }
        false
    }

    fn fill_user_access(&mut self, source: &RawObject<'a>) -> bool {
        let consumed = &mut self.consumed;
        let user = source
            .object("resource")
            .filter(|resource| is_person_type(resource.str("type").as_deref()))
            .and_then(|resource| person(resource, "resource", consumed))
            .or_else(|| {
                source.non_empty_str("username").map(|name| {
                    consumed.take("username");
                    Person {
                        name: Some(name),
                        ..Person::default()
                    }
                })
            });
        match user {
            Some(user) if !self.privileges.is_empty() => {
                self.user = Some(user);
                true
            }
            _ => false,
        }
    }

    fn fill_group_management(&mut self, source: &RawObject<'a>) -> bool {
        let Some(group) = resource_named(source, &mut self.consumed) else {
            return false;
        };
        self.group = Some(group);
        true
    }

    /// `association_change`: Group Management, User Access or Entity Management by its ends.
    fn fill_association(&mut self, tables: &MappingTables, source: &RawObject<'a>) -> bool {
        let Some(association) = source.object("association") else {
            return false;
        };
        let Some(connection) = association.object("connection") else {
            return false;
        };
        let op = association.non_empty_str("op");
        let from = association_end(connection, "from");
        let to = association_end(connection, "to");
        let is_user = |end: &Option<Named<'_>>| {
            end.as_ref()
                .is_some_and(|end| end.kind.as_deref() == Some("user"))
        };
        let (user_end, other_end) = if is_user(&from) {
            (from.clone(), to.clone())
        } else if is_user(&to) {
            (to.clone(), from.clone())
        } else {
            // Between two objects: the `from` object was updated.
            let Some(entity) = from.or(to) else {
                return false;
            };
            self.class = OcsfClass::EntityManagement;
            self.activity_id = 3;
            self.entity = Some(entity);
            return true;
        };
        let (Some(user_end), Some(other_end)) = (user_end, other_end) else {
            return false;
        };
        let other_type = other_end.kind.as_deref().unwrap_or("");
        let Some(rule) = tables.associations.iter().find(|rule: &&AssociationRule| {
            rule.other_type
                .as_deref()
                .is_none_or(|expected| expected == other_type)
        }) else {
            return false;
        };
        self.class = rule.class;
        self.activity_id = match op.as_deref() {
            Some("add") => rule.add_activity,
            Some("remove") => rule.remove_activity,
            _ => 0,
        };
        self.user = Some(Person {
            uid: user_end.uid,
            name: user_end.name,
            email: None,
            kind: Some((1, Cow::Borrowed("User"))),
        });
        match rule.class {
            OcsfClass::GroupManagement => {
                self.group = Some(other_end);
            }
            _ => {
                self.privileges = privileges(&rule.privileges, Some(other_type));
                self.resources.push(other_end);
            }
        }
        true
    }
}

/// The privileges of a rule, with `{type}` replaced by the other end's type.
fn privileges<'a>(templates: &[String], other_type: Option<&str>) -> Vec<Cow<'a, str>> {
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
fn status<'a>(source: &RawObject<'a>, sso: bool, consumed: &mut Consumed) -> Option<Status<'a>> {
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
fn location<'a>(geoip: &RawObject<'a>, consumed: &mut Consumed) -> Option<Location<'a>> {
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
fn coordinate<'a>(geoip: &RawObject<'a>, key: &str, limit: f64) -> Option<Cow<'a, str>> {
    let text = geoip.number_text(key)?;
    let value: f64 = text.parse().ok()?;
    (value.is_finite() && value.abs() <= limit).then_some(Cow::Borrowed(text))
}

/// The continent of a two-letter continent code (as GeoIP databases give it).
fn continent_name(code: &str) -> Option<&'static str> {
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
fn autonomous_system<'a>(
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
fn system_device<'a>(source: &RawObject<'a>, consumed: &mut Consumed) -> Option<Device<'a>> {
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
fn auth_factor_named(name: &str) -> Option<AuthFactor> {
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
fn logon_type<'a>(source: &RawObject<'a>, consumed: &mut Consumed) -> Option<(i32, Cow<'a, str>)> {
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

/// The user agent: `user_agent`/`useragent` when the source has it as a string; else a
/// summary of the parsed `useragent` object ("Chrome 114.0.0.0 (Mac OS X 10.15.7)"), which is
/// then also kept whole in `unmapped` (the summary is lossy).
fn user_agent<'a>(source: &RawObject<'a>) -> Option<Cow<'a, str>> {
    if let Some(text) = source
        .non_empty_str("user_agent")
        .or_else(|| source.non_empty_str("useragent"))
    {
        return Some(text);
    }
    let parsed = source.object("useragent")?;
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
    let mut text = String::new();
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

fn managed_entity_type(kind: Option<&str>) -> (i32, &str) {
    match kind {
        Some("system") => (1, "Device"),
        Some("user" | "systemuser" | "admin") => (2, "User"),
        Some("user_group" | "system_group" | "group") => (3, "Group"),
        Some("organization") => (4, "Organization"),
        Some("policy" | "authnpolicy") => (5, "Policy"),
        Some(other) => (99, other),
        None => (0, "Unknown"),
    }
}

/// Observables, in event order: (path, type_id, caption, value).
pub(super) type Observable<'v, 'a> = (&'static str, i64, &'static str, &'v Cow<'a, str>);

/// A user's name (4 User Name), e-mail (5 Email Address) and uid (31 User Object: uid), at
/// `paths` (name, email_addr, uid).
pub(super) fn person_observables<'v, 'a>(
    person: &'v Person<'a>,
    paths: [&'static str; 3],
    emit: &mut impl FnMut(Observable<'v, 'a>),
) {
    if let Some(name) = person.name.as_ref() {
        emit((paths[0], 4, "User Name", name));
    }
    if let Some(email) = person.email.as_ref() {
        emit((paths[1], 5, "Email Address", email));
    }
    if let Some(uid) = person.uid.as_ref() {
        emit((paths[2], 31, "User Object: uid", uid));
    }
}

/// An endpoint's IP (2), hostname (1), uid (48 Network Endpoint Object: uid) and country (14),
/// at `paths` (ip, hostname, uid, location.country).
pub(super) fn endpoint_observables<'v, 'a>(
    endpoint: &'v Endpoint<'a>,
    paths: [&'static str; 4],
    emit: &mut impl FnMut(Observable<'v, 'a>),
) {
    if let Some(ip) = endpoint.ip.as_ref() {
        emit((paths[0], 2, "IP Address", ip));
    }
    if let Some(hostname) = endpoint.hostname.as_ref() {
        emit((paths[1], 1, "Hostname", hostname));
    }
    if let Some(uid) = endpoint.uid.as_ref() {
        emit((paths[2], 48, "Network Endpoint Object: uid", uid));
    }
    if let Some(country) = endpoint
        .location
        .as_ref()
        .and_then(|location| location.country.as_ref())
    {
        emit((paths[3], 14, "Country", country));
    }
}

/// A device's hostname (1), IP (2), uid (47 Device Object: uid) and country (14), at `paths`
/// (hostname, ip, uid, location.country).
pub(super) fn device_observables<'v, 'a>(
    device: &'v Device<'a>,
    paths: [&'static str; 4],
    emit: &mut impl FnMut(Observable<'v, 'a>),
) {
    if let Some(hostname) = device.hostname.as_ref() {
        emit((paths[0], 1, "Hostname", hostname));
    }
    if let Some(ip) = device.ip.as_ref() {
        emit((paths[1], 2, "IP Address", ip));
    }
    if let Some(uid) = device.uid.as_ref() {
        emit((paths[2], 47, "Device Object: uid", uid));
    }
    if let Some(country) = device
        .location
        .as_ref()
        .and_then(|location| location.country.as_ref())
    {
        emit((paths[3], 14, "Country", country));
    }
}

impl<'a> OcsfEvent<'a> {
    /// The activity part of `type_name`. For Base Event, type_uid 99 *is* the enum value 99
    /// (Other): its caption carries the source's own value, like activity_name. Elsewhere
    /// type_uid 300199 means "<Class>: Other".
    pub(super) fn type_caption(&self) -> Cow<'_, str> {
        if self.class == OcsfClass::BaseEvent && self.activity_id == 99 {
            // Keep the variant: a borrowed text is written unescaped (see `JsonWriter::cow`).
            match &self.activity_name {
                Cow::Borrowed(text) => Cow::Borrowed(text),
                Cow::Owned(text) => Cow::Owned(text.clone()),
            }
        } else {
            Cow::Borrowed(
                self.class
                    .activity_caption(self.activity_id)
                    .unwrap_or("Unknown"),
            )
        }
    }

    /// Writes the event as one compact JSON object; `uid` is `metadata.uid`.
    pub(super) fn write(
        &self,
        w: &mut JsonWriter<'_>,
        source: &RawObject<'_>,
        source_text: &str,
        uid: &str,
        raw_data: bool,
    ) {
        let class = self.class;
        let default_severity;
        let (severity_id, severity) = match &self.severity {
            Some((id, caption)) => (*id, caption),
            None => {
                let id = match self.status.as_ref().map(|status| status.id) {
                    Some(2) => 2,
                    _ => 1,
                };
                default_severity = Cow::Borrowed(severity_caption(id).unwrap_or("Unknown"));
                (id, &default_severity)
            }
        };
        w.begin_object();
        w.field_int("class_uid", i64::from(class.uid()));
        w.field_static("class_name", class.caption());
        w.field_int("category_uid", i64::from(class.category_uid()));
        w.field_static("category_name", class.category_caption());
        w.field_int("activity_id", i64::from(self.activity_id));
        w.field_cow("activity_name", &self.activity_name);
        w.field_int(
            "type_uid",
            i64::from(class.uid()) * 100 + i64::from(self.activity_id),
        );
        w.key("type_name");
        w.string_with_prefix(class.caption(), ": ", &self.type_caption());
        w.field_int("severity_id", i64::from(severity_id));
        w.field_cow("severity", severity);
        w.field_int("time", self.time_ms);
        if let Some(status) = &self.status {
            w.field_int("status_id", i64::from(status.id));
            w.field_cow("status", &status.caption);
            w.field_opt_cow("status_detail", &status.detail);
            w.field_opt_cow("status_code", &status.code);
        }
        w.field_opt_cow("message", &self.message);
        self.write_metadata(w, uid);
        if class == OcsfClass::Authentication {
            if let Some(id) = self.auth_protocol_id {
                w.field_int("auth_protocol_id", i64::from(id));
                w.field_static(
                    "auth_protocol",
                    auth_protocol_caption(id).unwrap_or("Unknown"),
                );
            }
            if let Some(is_mfa) = self.is_mfa {
                w.field_bool("is_mfa", is_mfa);
            }
            if let Some((id, caption)) = &self.logon_type {
                w.field_int("logon_type_id", i64::from(*id));
                w.field_cow("logon_type", caption);
            }
        }
        if matches!(class, OcsfClass::Authentication | OcsfClass::AccountChange)
            && !self.auth_factors.is_empty()
        {
            w.key("auth_factors");
            w.begin_array();
            for factor in &self.auth_factors {
                w.element();
                w.begin_object();
                w.field_int("factor_type_id", i64::from(factor.factor_type_id));
                w.field_static(
                    "factor_type",
                    factor_type_caption(factor.factor_type_id).unwrap_or("Unknown"),
                );
                if let Some(provider) = factor.provider {
                    w.field_static("provider", provider);
                }
                if factor.is_totp {
                    w.field_bool("is_totp", true);
                }
                w.end_object();
            }
            w.end_array();
        }
        if let Some(finding) = &self.finding {
            finding.write(w);
        }
        if let Some(actor) = &self.actor {
            w.key("actor");
            w.begin_object();
            w.key("user");
            write_person(w, actor);
            w.end_object();
        }
        if let Some(user) = &self.user {
            w.key("user");
            write_person(w, user);
        }
        if let Some(group) = &self.group {
            w.key("group");
            w.begin_object();
            w.field_opt_cow("uid", &group.uid);
            w.field_opt_cow("name", &group.name);
            w.field_opt_cow("type", &group.kind);
            w.end_object();
        }
        if let Some(entity) = &self.entity {
            w.key("entity");
            w.begin_object();
            w.field_opt_cow("uid", &entity.uid);
            w.field_opt_cow("name", &entity.name);
            let (type_id, caption) = managed_entity_type(entity.kind.as_deref());
            w.field_int("type_id", i64::from(type_id));
            w.field_str("type", caption);
            w.end_object();
        }
        if matches!(class, OcsfClass::UserAccess | OcsfClass::GroupManagement)
            && !self.privileges.is_empty()
        {
            w.key("privileges");
            w.begin_array();
            for privilege in &self.privileges {
                w.element();
                w.string(privilege);
            }
            w.end_array();
        }
        if !self.resources.is_empty() {
            w.key("resources");
            w.begin_array();
            for resource in &self.resources {
                w.element();
                w.begin_object();
                w.field_opt_cow("uid", &resource.uid);
                w.field_opt_cow("name", &resource.name);
                w.field_opt_cow("type", &resource.kind);
                w.end_object();
            }
            w.end_array();
        }
        if let Some(service) = &self.service_object {
            w.key("service");
            w.begin_object();
            w.field_opt_cow("uid", &service.uid);
            w.field_opt_cow("name", &service.name);
            w.end_object();
        }
        if let Some(endpoint) = &self.src_endpoint {
            w.key("src_endpoint");
            write_endpoint(w, endpoint);
        }
        if let Some(device) = &self.device {
            w.key("device");
            write_device(w, device);
        }
        if class != OcsfClass::BaseEvent
            && let Some(user_agent) = &self.user_agent
        {
            w.key("http_request");
            w.begin_object();
            w.field_cow("user_agent", user_agent);
            w.end_object();
        }
        self.write_observables(w);
        self.write_unmapped(w, source, source_text);
        if raw_data {
            w.key("raw_data");
            w.json_text_as_string(source_text);
        }
        w.end_object();
    }

    fn write_metadata(&self, w: &mut JsonWriter<'_>, uid: &str) {
        w.key("metadata");
        w.begin_object();
        w.field_static("version", OCSF_VERSION);
        w.key("product");
        w.begin_object();
        w.field_static("name", PRODUCT_NAME);
        w.field_static("vendor_name", VENDOR_NAME);
        if let Some(service) = &self.service {
            w.key("feature");
            w.begin_object();
            w.field_cow("name", service);
            w.end_object();
        }
        w.end_object();
        // UUID text: hex digits and hyphens, nothing to escape.
        w.field_cow("uid", &Cow::Borrowed(uid));
        w.field_opt_cow("original_event_uid", &self.id);
        w.field_opt_cow("event_code", &self.event_type);
        w.field_cow("original_time", &self.original_time);
        w.field_opt_cow("tenant_uid", &self.organization);
        w.field_opt_cow("log_name", &self.service);
        w.field_static("log_provider", "JumpCloud Directory Insights API");
        w.key("profiles");
        w.begin_array();
        // `device` needs profile host; so does `actor` on a Base Event and a Detection Finding
        // (not on the IAM classes).
        if self.device.is_some()
            || (matches!(
                self.class,
                OcsfClass::BaseEvent | OcsfClass::DetectionFinding
            ) && self.actor.is_some())
        {
            w.element();
            w.cow(&Cow::Borrowed("host"));
        }
        w.end_array();
        w.end_object();
    }

    /// Calls `emit` with each observable, in output order: every user name, e-mail and uid,
    /// IP address, hostname, device and endpoint uid, country and user agent the event carries,
    /// under the attribute path it has in the event.
    fn for_each_observable<'s>(&'s self, mut emit: impl FnMut(Observable<'s, 'a>)) {
        if let Some(user) = self.actor.as_ref() {
            person_observables(
                user,
                ["actor.user.name", "actor.user.email_addr", "actor.user.uid"],
                &mut emit,
            );
        }
        if let Some(user) = self.user.as_ref() {
            person_observables(
                user,
                ["user.name", "user.email_addr", "user.uid"],
                &mut emit,
            );
        }
        if let Some(group) = self.group.as_ref() {
            if let Some(name) = group.name.as_ref() {
                emit(("group.name", 32, "Group Object: name", name));
            }
            if let Some(uid) = group.uid.as_ref() {
                emit(("group.uid", 33, "Group Object: uid", uid));
            }
        }
        for resource in &self.resources {
            if let Some(uid) = resource.uid.as_ref() {
                emit(("resources.uid", 10, "Resource UID", uid));
            }
        }
        if let Some(endpoint) = self.src_endpoint.as_ref() {
            endpoint_observables(
                endpoint,
                [
                    "src_endpoint.ip",
                    "src_endpoint.hostname",
                    "src_endpoint.uid",
                    "src_endpoint.location.country",
                ],
                &mut emit,
            );
        }
        if let Some(device) = self.device.as_ref() {
            device_observables(
                device,
                [
                    "device.hostname",
                    "device.ip",
                    "device.uid",
                    "device.location.country",
                ],
                &mut emit,
            );
        }
        if let Some(finding) = self.finding.as_ref() {
            finding.for_each_observable(&mut emit);
        }
        if self.class != OcsfClass::BaseEvent
            && let Some(user_agent) = self.user_agent.as_ref()
        {
            emit(("http_request.user_agent", 16, "HTTP User-Agent", user_agent));
        }
    }

    fn write_observables(&self, w: &mut JsonWriter<'_>) {
        let mut started = false;
        self.for_each_observable(|(name, type_id, caption, value)| {
            if !started {
                w.key("observables");
                w.begin_array();
                started = true;
            }
            w.element();
            w.begin_object();
            w.field_static("name", name);
            w.field_int("type_id", type_id);
            w.field_static("type", caption);
            w.field_cow("value", value);
            w.end_object();
        });
        if started {
            w.end_array();
        }
    }

    /// `unmapped.jumpcloud`: the source fields no OCSF attribute took (all of them for a Base
    /// Event), nested as in the source.
    fn write_unmapped(&self, w: &mut JsonWriter<'_>, source: &RawObject<'_>, source_text: &str) {
        if self.keep_all_source && !source.had_duplicate_keys {
            // The whole source, as it came (one memcpy; line breaks dropped).
            w.key("unmapped");
            w.begin_object();
            w.key("jumpcloud");
            w.raw(source_text);
            w.end_object();
            return;
        }
        if !self.keep_all_source {
            self.consumed.apply(source);
        }
        if !has_residual(source) {
            return;
        }
        w.key("unmapped");
        w.begin_object();
        w.key("jumpcloud");
        write_residual(w, source);
        w.end_object();
    }
}

/// Whether `object` has a field no OCSF attribute took (see [`Consumed::apply`]).
fn has_residual(object: &RawObject<'_>) -> bool {
    object.fields.iter().any(|field| match field.used.get() {
        FieldUse::Unused => true,
        FieldUse::Taken => false,
        FieldUse::Partly => field.object().is_none_or(has_residual),
    })
}

/// Writes `object` without the fields OCSF attributes took.
fn write_residual(w: &mut JsonWriter<'_>, object: &RawObject<'_>) {
    w.begin_object();
    for field in &object.fields {
        match field.used.get() {
            FieldUse::Taken => continue,
            FieldUse::Partly => {
                if let Some(inner) = field.object() {
                    if has_residual(inner) {
                        w.key_from_input(&field.key);
                        write_residual(w, inner);
                    }
                    continue;
                }
            }
            FieldUse::Unused => {}
        }
        w.key_from_input(&field.key);
        w.raw(field.value);
    }
    w.end_object();
}

pub(super) fn write_endpoint(w: &mut JsonWriter<'_>, endpoint: &Endpoint<'_>) {
    w.begin_object();
    w.field_opt_cow("ip", &endpoint.ip);
    w.field_opt_cow("uid", &endpoint.uid);
    w.field_opt_cow("hostname", &endpoint.hostname);
    if let Some(location) = &endpoint.location {
        w.key("location");
        write_location(w, location);
    }
    if let Some(system) = &endpoint.autonomous_system {
        w.key("autonomous_system");
        w.begin_object();
        if let Some(number) = system.number {
            w.field_int("number", number);
        }
        w.field_opt_cow("name", &system.name);
        w.end_object();
    }
    w.end_object();
}

fn write_location(w: &mut JsonWriter<'_>, location: &Location<'_>) {
    w.begin_object();
    w.field_opt_cow("country", &location.country);
    w.field_opt_cow("region", &location.region);
    w.field_opt_cow("city", &location.city);
    w.field_opt_cow("postal_code", &location.postal_code);
    if let Some(continent) = location.continent {
        w.field_static("continent", continent);
    }
    if let Some(lat) = &location.lat {
        w.key("lat");
        w.raw(lat);
    }
    if let Some(long) = &location.long {
        w.key("long");
        w.raw(long);
    }
    w.end_object();
}

pub(super) fn write_device(w: &mut JsonWriter<'_>, device: &Device<'_>) {
    w.begin_object();
    w.field_opt_cow("uid", &device.uid);
    w.field_opt_cow("hostname", &device.hostname);
    w.field_opt_cow("name", &device.name);
    w.field_opt_cow("ip", &device.ip);
    if let Some(location) = &device.location {
        w.key("location");
        write_location(w, location);
    }
    w.field_int("type_id", 0);
    w.field_static("type", "Unknown");
    w.end_object();
}

pub(super) fn write_person(w: &mut JsonWriter<'_>, person: &Person<'_>) {
    w.begin_object();
    w.field_opt_cow("uid", &person.uid);
    w.field_opt_cow("name", &person.name);
    w.field_opt_cow("email_addr", &person.email);
    if let Some((type_id, caption)) = &person.kind {
        w.field_int("type_id", i64::from(*type_id));
        w.field_str("type", caption);
    }
    w.end_object();
}
