//! The vendor's typed field rows, followed: a raw value goes to the vendor's OCSF path. A slot
//! of the model (`user.name`, `src_endpoint.ip`, ...) takes it only when the typed code left it
//! empty; any other path is placed as it is, written with the type the schema gives it. A value
//! of the wrong kind for its target (a text where an e-mail address, an IP address or a number
//! belongs) is not placed and stays in `unmapped`, like every field nothing took.

use std::borrow::Cow;

use super::extract::user_type;
use super::model::*;
use crate::source::{RawObject, raw_str};
use crate::tables::{Base, PathTarget, Placement, Slot, SourceRef, Target};

/// The raw JSON text at a source path.
pub(super) fn raw_at<'a>(source: &RawObject<'a>, path: &SourceRef) -> Option<&'a str> {
    let keys = path.keys();
    let (last, parents) = keys.split_last()?;
    let mut object = source;
    for key in parents {
        object = object.object(key)?;
    }
    object.get(last)
}

/// A JSON number's text when it is a finite double (not `1e400`).
fn finite_number(raw: &str) -> Option<&str> {
    raw.starts_with(|c: char| c == '-' || c.is_ascii_digit())
        .then_some(raw)
        .filter(|text| text.parse::<f64>().is_ok_and(f64::is_finite))
}

/// An integer's text when the raw value is a JSON integer (or a text holding one) in range.
fn integer<'a>(raw: &'a str, low: i64, high: i64) -> Option<Cow<'a, str>> {
    let text: Cow<'a, str> = raw_str(raw).unwrap_or(Cow::Borrowed(raw));
    let value: i64 = text.trim().parse().ok()?;
    (low..=high)
        .contains(&value)
        .then(|| Cow::Owned(value.to_string()))
}

/// Epoch milliseconds of a plausible time ([`super::PLAUSIBLE_TIME_MS`]): an integer in
/// milliseconds, or an RFC 3339 text.
pub(super) fn plausible_ms(raw: &str) -> Option<i64> {
    let ms = match raw_str(raw) {
        Some(text) => chrono::DateTime::parse_from_rfc3339(text.trim())
            .ok()?
            .timestamp_millis(),
        None => raw.parse::<i64>().ok()?,
    };
    super::PLAUSIBLE_TIME_MS.contains(&ms).then_some(ms)
}

/// The JSON text a raw value is written as at a target, `None` when it is not a valid value of
/// the target's type.
pub(super) fn json_for<'a>(raw: &'a str, base: Base, type_name: &str) -> Option<Cow<'a, str>> {
    match base {
        Base::String => {
            let (text, token): (Cow<'a, str>, Cow<'a, str>) = if raw.starts_with('"') {
                (raw_str(raw)?, Cow::Borrowed(raw))
            } else if let Some(number) = finite_number(raw) {
                (Cow::Borrowed(number), Cow::Owned(format!("\"{number}\"")))
            } else if raw == "true" || raw == "false" {
                (Cow::Borrowed(raw), Cow::Owned(format!("\"{raw}\"")))
            } else {
                return None;
            };
            if text.trim().is_empty() {
                return None;
            }
            let valid = match type_name {
                "string_t" => true,
                "email_t" => super::extract::is_email(&text),
                "ip_t" => super::extract::ip_address(Some(Cow::Borrowed(&*text))).is_some(),
                _ => ocsf_schema::lookup::accepts(
                    type_name,
                    &serde_json::Value::String(text.into_owned()),
                ),
            };
            valid.then_some(token)
        }
        Base::Integer => integer(raw, i64::from(i32::MIN), i64::from(i32::MAX)),
        Base::Long => integer(raw, i64::MIN, i64::MAX),
        Base::Float => match raw_str(raw) {
            Some(text) => finite_number(text.trim()).map(|n| Cow::Owned(n.to_owned())),
            None => finite_number(raw).map(Cow::Borrowed),
        },
        Base::Boolean => match raw_str(raw).as_deref().unwrap_or(raw) {
            "true" => Some(Cow::Borrowed("true")),
            "false" => Some(Cow::Borrowed("false")),
            _ => None,
        },
        Base::Timestamp => plausible_ms(raw).map(|ms| Cow::Owned(ms.to_string())),
    }
}

impl<'a> OcsfEvent<'a> {
    /// Follows vendor rows of this event type: those of the slots the vendor decides first
    /// (see [`Slot::vendor_first`]) before the typed code reads the event, the rest after.
    pub(super) fn place(&mut self, placements: &[Placement], source: &RawObject<'a>) {
        for placement in placements {
            match &placement.target {
                Target::Slot(slot, base) => {
                    if self.slot_is_set(*slot) {
                        continue;
                    }
                    for path in placement.sources.iter() {
                        if let Some(raw) = raw_at(source, path)
                            && self.set_slot(*slot, *base, raw)
                        {
                            self.filled.push((*slot, *path));
                            break;
                        }
                    }
                }
                Target::Path(target) => {
                    if self.placed.iter().any(|p| std::ptr::eq(p.target, *target)) {
                        continue;
                    }
                    if self.placed.capacity() == 0 {
                        self.placed.reserve(placements.len());
                    }
                    for path in placement.sources.iter() {
                        if let Some(json) = raw_at(source, path)
                            .and_then(|raw| json_for(raw, target.base, target.type_name))
                        {
                            self.placed.push(Placed {
                                target,
                                json,
                                source: Some(*path),
                            });
                            break;
                        }
                    }
                }
            }
        }
    }

    /// Places a value the mapper supplies (a required attribute the event lacks), unless the
    /// path already has one.
    pub(super) fn supply(&mut self, target: Option<&'static PathTarget>, json: Cow<'a, str>) {
        let Some(target) = target else {
            return;
        };
        if !self.placed.iter().any(|p| std::ptr::eq(p.target, target)) {
            self.placed.push(Placed {
                target,
                json,
                source: None,
            });
        }
    }

    /// Whether the typed code reads the user: the vendor's rows named no usable one (a partial
    /// one is forgotten, its fields stay in `unmapped` unless the typed code takes them).
    pub(super) fn user_open(&mut self) -> bool {
        if self.user.as_ref().is_some_and(Person::is_usable) {
            return false;
        }
        if self.user.take().is_some() {
            self.filled.retain(|(slot, _)| {
                !matches!(
                    slot,
                    Slot::UserUid | Slot::UserName | Slot::UserEmail | Slot::UserType
                )
            });
        }
        true
    }

    /// As [`Self::user_open`], for the entity (`group`: the group).
    pub(super) fn named_open(&mut self, group: bool) -> bool {
        let (named, slots): (&mut Option<Named<'a>>, [Slot; 3]) = if group {
            (
                &mut self.group,
                [Slot::GroupUid, Slot::GroupName, Slot::GroupType],
            )
        } else {
            (
                &mut self.entity,
                [Slot::EntityUid, Slot::EntityName, Slot::EntityType],
            )
        };
        if named.as_ref().is_some_and(Named::is_usable) {
            return false;
        }
        if named.take().is_some() {
            self.filled.retain(|(slot, _)| !slots.contains(slot));
        }
        true
    }

    /// Whether a placed value exists at `path` (dotted) or below it.
    pub(super) fn has_placed(&self, path: &str) -> bool {
        self.placed.iter().any(|placed| {
            let segments = placed.segments();
            path.split('.')
                .enumerate()
                .all(|(depth, part)| segments.get(depth) == Some(&part))
        })
    }

    fn slot_is_set(&self, slot: Slot) -> bool {
        let person = |p: &Option<Person<'_>>, f: fn(&Person<'_>) -> bool| p.as_ref().is_some_and(f);
        let endpoint = self.src_endpoint.as_ref();
        let location = endpoint.and_then(|e| e.location.as_ref());
        let system = endpoint.and_then(|e| e.autonomous_system.as_ref());
        let device = self.device.as_ref();
        let entity = self.entity.as_ref();
        let group = self.group.as_ref();
        let service = self.service_object.as_ref();
        let resource = self.resources.first();
        let finding = self.finding.as_deref();
        let analytic = finding.and_then(|f| f.analytic.as_ref());
        match slot {
            Slot::ActorUserUid => person(&self.actor, |p| p.uid.is_some()),
            Slot::ActorUserName => person(&self.actor, |p| p.name.is_some()),
            Slot::ActorUserEmail => person(&self.actor, |p| p.email.is_some()),
            Slot::ActorUserType => person(&self.actor, |p| p.kind.is_some()),
            Slot::UserType => person(&self.user, |p| p.kind.is_some()),
            Slot::UserUid => person(&self.user, |p| p.uid.is_some()),
            Slot::UserName => person(&self.user, |p| p.name.is_some()),
            Slot::UserEmail => person(&self.user, |p| p.email.is_some()),
            Slot::SrcIp => endpoint.is_some_and(|e| e.ip.is_some()),
            Slot::SrcCity => location.is_some_and(|l| l.city.is_some()),
            Slot::SrcCountry => location.is_some_and(|l| l.country.is_some()),
            Slot::SrcRegion => location.is_some_and(|l| l.region.is_some()),
            Slot::SrcLat => location.is_some_and(|l| l.lat.is_some()),
            Slot::SrcLong => location.is_some_and(|l| l.long.is_some()),
            Slot::SrcAsName => system.is_some_and(|s| s.name.is_some()),
            Slot::SrcAsNumber => system.is_some_and(|s| s.number.is_some()),
            Slot::UserAgent => self.user_agent.is_some(),
            Slot::DeviceUid => device.is_some_and(|d| d.uid.is_some()),
            Slot::DeviceHostname => device.is_some_and(|d| d.hostname.is_some()),
            Slot::DeviceName => device.is_some_and(|d| d.name.is_some()),
            Slot::DeviceIp => device.is_some_and(|d| d.ip.is_some()),
            Slot::EntityUid => entity.is_some_and(|e| e.uid.is_some()),
            Slot::EntityName => entity.is_some_and(|e| e.name.is_some()),
            Slot::EntityType => entity.is_some_and(|e| e.kind.is_some()),
            Slot::GroupUid => group.is_some_and(|g| g.uid.is_some()),
            Slot::GroupName => group.is_some_and(|g| g.name.is_some()),
            Slot::GroupType => group.is_some_and(|g| g.kind.is_some()),
            Slot::ServiceUid => service.is_some_and(|s| s.uid.is_some()),
            Slot::ServiceName => service.is_some_and(|s| s.name.is_some()),
            Slot::ResourceUid => resource.is_some_and(|r| r.uid.is_some()),
            Slot::ResourceName => resource.is_some_and(|r| r.name.is_some()),
            Slot::ResourceType => resource.is_some_and(|r| r.kind.is_some()),
            Slot::FindingUid => finding.is_some_and(|f| f.uid.is_some()),
            Slot::FindingTitle => finding.is_some_and(|f| f.title.is_some()),
            Slot::FindingDesc => finding.is_some_and(|f| f.desc.is_some()),
            Slot::AnalyticUid => analytic.is_some_and(|a| a.uid.is_some()),
            Slot::AnalyticName => analytic.is_some_and(|a| a.name.is_some()),
            Slot::StatusDetail => self.status.as_ref().is_some_and(|s| s.detail.is_some()),
            Slot::StatusCode => self.status.as_ref().is_some_and(|s| s.code.is_some()),
            Slot::Message => self.message.is_some(),
            Slot::IsMfa => self.is_mfa.is_some(),
        }
    }

    /// Fills a slot from a raw value; `false` when the value is not one the slot can hold.
    fn set_slot(&mut self, slot: Slot, base: Base, raw: &'a str) -> bool {
        match slot {
            Slot::SrcLat | Slot::SrcLong => {
                let limit = if slot == Slot::SrcLat { 90.0 } else { 180.0 };
                let Some(text) = finite_number(raw)
                    .filter(|text| text.parse::<f64>().is_ok_and(|v| v.abs() <= limit))
                else {
                    return false;
                };
                let location = self
                    .src_endpoint
                    .get_or_insert_with(Endpoint::default)
                    .location
                    .get_or_insert_with(Location::default);
                if slot == Slot::SrcLat {
                    location.lat = Some(Cow::Borrowed(text));
                } else {
                    location.long = Some(Cow::Borrowed(text));
                }
                return true;
            }
            Slot::SrcAsNumber => {
                let Some(number) =
                    integer(raw, 0, i64::from(i32::MAX)).and_then(|text| text.parse::<i64>().ok())
                else {
                    return false;
                };
                self.src_endpoint
                    .get_or_insert_with(Endpoint::default)
                    .autonomous_system
                    .get_or_insert_with(AutonomousSystem::default)
                    .number = Some(number);
                return true;
            }
            Slot::IsMfa => {
                let Some(value) = crate::source::raw_bool(raw) else {
                    return false;
                };
                self.is_mfa = Some(value);
                return true;
            }
            Slot::ActorUserType | Slot::UserType => {
                let Some(kind) = raw_str(raw).filter(|kind| !kind.trim().is_empty()) else {
                    return false;
                };
                let person = if slot == Slot::UserType {
                    &mut self.user
                } else {
                    &mut self.actor
                };
                person.get_or_insert_with(Person::default).kind = Some(user_type(kind));
                return true;
            }
            _ => {}
        }
        // Every other slot holds a text: the raw value checked for the slot's type.
        let type_name = match slot {
            Slot::ActorUserEmail | Slot::UserEmail => "email_t",
            Slot::SrcIp | Slot::DeviceIp => "ip_t",
            _ => "string_t",
        };
        if json_for(raw, base, type_name).is_none() {
            return false;
        }
        let Some(text) = raw_str(raw).or_else(|| finite_number(raw).map(Cow::Borrowed)) else {
            return false;
        };
        let text = Some(text);
        let endpoint = || Endpoint::default();
        match slot {
            Slot::ActorUserUid => self.actor.get_or_insert_with(Person::default).uid = text,
            Slot::ActorUserName => self.actor.get_or_insert_with(Person::default).name = text,
            Slot::ActorUserEmail => self.actor.get_or_insert_with(Person::default).email = text,
            Slot::UserUid => self.user.get_or_insert_with(Person::default).uid = text,
            Slot::UserName => self.user.get_or_insert_with(Person::default).name = text,
            Slot::UserEmail => self.user.get_or_insert_with(Person::default).email = text,
            Slot::SrcIp => self.src_endpoint.get_or_insert_with(endpoint).ip = text,
            Slot::SrcCity | Slot::SrcCountry | Slot::SrcRegion => {
                let location = self
                    .src_endpoint
                    .get_or_insert_with(endpoint)
                    .location
                    .get_or_insert_with(Location::default);
                match slot {
                    Slot::SrcCity => location.city = text,
                    Slot::SrcCountry => location.country = text,
                    _ => location.region = text,
                }
            }
            Slot::SrcAsName => {
                self.src_endpoint
                    .get_or_insert_with(endpoint)
                    .autonomous_system
                    .get_or_insert_with(AutonomousSystem::default)
                    .name = text;
            }
            Slot::UserAgent => self.user_agent = text,
            Slot::DeviceUid => self.device.get_or_insert_with(Device::default).uid = text,
            Slot::DeviceHostname => self.device.get_or_insert_with(Device::default).hostname = text,
            Slot::DeviceName => self.device.get_or_insert_with(Device::default).name = text,
            Slot::DeviceIp => self.device.get_or_insert_with(Device::default).ip = text,
            Slot::EntityUid => self.entity.get_or_insert_with(Named::default).uid = text,
            Slot::EntityName => self.entity.get_or_insert_with(Named::default).name = text,
            Slot::EntityType => self.entity.get_or_insert_with(Named::default).kind = text,
            Slot::GroupUid => self.group.get_or_insert_with(Named::default).uid = text,
            Slot::GroupName => self.group.get_or_insert_with(Named::default).name = text,
            Slot::GroupType => self.group.get_or_insert_with(Named::default).kind = text,
            Slot::ServiceUid => self.service_object.get_or_insert_with(Named::default).uid = text,
            Slot::ServiceName => {
                self.service_object.get_or_insert_with(Named::default).name = text;
            }
            Slot::ResourceUid | Slot::ResourceName | Slot::ResourceType => {
                if self.resources.is_empty() {
                    self.resources.push(Named::default());
                }
                let resource = &mut self.resources[0];
                match slot {
                    Slot::ResourceUid => resource.uid = text,
                    Slot::ResourceName => resource.name = text,
                    _ => resource.kind = text,
                }
            }
            Slot::FindingUid | Slot::FindingTitle | Slot::FindingDesc => {
                let finding = self
                    .finding
                    .get_or_insert_with(|| Box::new(Finding::default()));
                match slot {
                    Slot::FindingUid => finding.uid = text,
                    Slot::FindingTitle => finding.title = text,
                    _ => finding.desc = text,
                }
            }
            Slot::AnalyticUid | Slot::AnalyticName => {
                let analytic = self
                    .finding
                    .get_or_insert_with(|| Box::new(Finding::default()))
                    .analytic
                    .get_or_insert_with(Named::default);
                if slot == Slot::AnalyticUid {
                    analytic.uid = text;
                } else {
                    analytic.name = text;
                }
            }
            Slot::StatusDetail | Slot::StatusCode => {
                let status = self.status.get_or_insert(Status {
                    id: 0,
                    caption: Cow::Borrowed("Unknown"),
                    detail: None,
                    code: None,
                });
                if slot == Slot::StatusDetail {
                    status.detail = text;
                } else {
                    status.code = text;
                }
            }
            Slot::Message => self.message = text,
            Slot::SrcLat
            | Slot::SrcLong
            | Slot::SrcAsNumber
            | Slot::IsMfa
            | Slot::ActorUserType
            | Slot::UserType => {}
        }
        true
    }

    /// Drops what OCSF would refuse after the placing (an object without what it requires) and
    /// orders the placed values by path.
    pub(super) fn prune_placed(&mut self) {
        // Objects the slots may have begun without their identifying fields.
        if self.actor.as_ref().is_some_and(|p| !p.is_usable()) {
            self.actor = None;
        }
        if self.user.as_ref().is_some_and(|p| !p.is_usable()) {
            self.user = None;
        }
        // An entity may be known by a placed object alone (`entity.device`, `entity.org`).
        let placed_entity = self.placed.iter().any(|p| p.segments()[0] == "entity");
        if placed_entity && self.entity.is_none() {
            self.entity = Some(Named::default());
        }
        if !placed_entity && self.entity.as_ref().is_some_and(|n| !n.is_usable()) {
            self.entity = None;
        }
        for named in [&mut self.group, &mut self.service_object] {
            if named.as_ref().is_some_and(|n| !n.is_usable()) {
                *named = None;
            }
        }
        self.resources.retain(Named::is_usable);
        if let Some(endpoint) = &mut self.src_endpoint {
            if endpoint.location.as_ref().is_some_and(|l| {
                l.country.is_none()
                    && l.region.is_none()
                    && l.city.is_none()
                    && l.postal_code.is_none()
            }) {
                endpoint.location = None;
            }
            if endpoint.ip.is_none() && endpoint.uid.is_none() && endpoint.hostname.is_none() {
                self.src_endpoint = None;
            }
        }
        if self.finding.as_ref().is_some_and(|f| f.uid.is_none()) {
            self.finding = None;
        }
        super::prune::prune(self);
        // An entity known only by placed values needs one that names it (OCSF: at least one of
        // name, uid, device, group, org, policy, user).
        if self
            .entity
            .as_ref()
            .is_some_and(|entity| !entity.is_usable())
        {
            let named = self.placed.iter().any(|placed| {
                let segments = placed.segments();
                segments[0] == "entity"
                    && segments.len() > 2
                    && ["device", "group", "org", "policy", "user"].contains(&segments[1])
            });
            if !named {
                self.entity = None;
                self.placed
                    .retain(|placed| placed.segments()[0] != "entity");
            }
        }
    }

    /// Marks the raw fields the vendor's rows brought into the record, and the profiles the
    /// placed values need.
    pub(super) fn consume_placed(&mut self) {
        let filled = std::mem::take(&mut self.filled);
        // An entity type OCSF names (a group: type_id 3 "Group") keeps JumpCloud's own word in
        // `unmapped` (several map to one id); one it does not is written as it is.
        let entity_type_kept = self.entity.as_ref().is_some_and(|entity| {
            super::write::managed_entity_type(entity.kind.as_deref()).0 == 99
        });
        for (slot, path) in &filled {
            if self.slot_is_set(*slot) && (*slot != Slot::EntityType || entity_type_kept) {
                self.consumed.take_path(path);
            }
        }
        self.filled = filled;
        for index in 0..self.placed.len() {
            if let Some(path) = self.placed[index].source {
                self.consumed.take_path(&path);
            }
            if let Some(profile) = self.placed[index].target.profile
                && !self.extra_profiles.contains(&profile)
            {
                self.extra_profiles.push(profile);
            }
        }
    }
}
