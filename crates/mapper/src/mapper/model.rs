//! The model of one event being mapped: the facts taken from the source (borrowed where
//! possible), before they are written as OCSF JSON.

use std::borrow::Cow;

use super::consumed::Consumed;
use crate::ocsf::OcsfClass;
use crate::tables::{PathTarget, Slot, SourceRef};

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
    pub(super) fn is_usable(&self) -> bool {
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
    pub(super) country: Option<Cow<'a, str>>,
    pub(super) region: Option<Cow<'a, str>>,
    pub(super) city: Option<Cow<'a, str>>,
    pub(super) postal_code: Option<Cow<'a, str>>,
    pub(super) continent: Option<&'static str>,
    /// Latitude and longitude as the source's JSON number text, only when in range (a
    /// finite double, ±90 / ±180).
    pub(super) lat: Option<Cow<'a, str>>,
    pub(super) long: Option<Cow<'a, str>>,
}

impl Location<'_> {
    pub(super) fn to_owned_static(&self) -> Location<'static> {
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
    pub(super) number: Option<i64>,
    pub(super) name: Option<Cow<'a, str>>,
}

#[derive(Debug, Default)]
pub(super) struct Endpoint<'a> {
    pub ip: Option<Cow<'a, str>>,
    pub uid: Option<Cow<'a, str>>,
    pub hostname: Option<Cow<'a, str>>,
    pub(super) location: Option<Location<'a>>,
    pub(super) autonomous_system: Option<AutonomousSystem<'a>>,
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
    pub(super) location: Option<Location<'a>>,
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
pub(super) struct AuthFactor {
    pub(super) factor_type_id: i32,
    pub(super) provider: Option<&'static str>,
    pub(super) is_totp: bool,
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
    pub(super) activity_name: Cow<'a, str>,
    pub event_type: Option<Cow<'a, str>>,
    pub(super) time_ms: i64,
    pub(super) original_time: Cow<'a, str>,
    pub(super) organization: Option<Cow<'a, str>>,
    pub(super) id: Option<Cow<'a, str>>,
    pub(super) service: Option<Cow<'a, str>>,
    pub(super) status: Option<Status<'a>>,
    /// `severity_id` and caption when the event says it (a Detection Finding's priority); else
    /// 1 Informational, 2 Low for a failure.
    pub(super) severity: Option<(i32, Cow<'a, str>)>,
    pub(super) message: Option<Cow<'a, str>>,
    pub(super) actor: Option<Person<'a>>,
    pub user: Option<Person<'a>>,
    pub(super) src_endpoint: Option<Endpoint<'a>>,
    pub(super) device: Option<Device<'a>>,
    pub(super) service_object: Option<Named<'a>>,
    pub(super) entity: Option<Named<'a>>,
    pub(super) group: Option<Named<'a>>,
    pub(super) privileges: Vec<Cow<'a, str>>,
    pub(super) resources: Vec<Named<'a>>,
    pub(super) auth_protocol_id: Option<i32>,
    pub(super) is_mfa: Option<bool>,
    pub(super) auth_factors: Vec<AuthFactor>,
    /// Authentication `logon_type_id` and caption (the source's own value for 99).
    pub(super) logon_type: Option<(i32, Cow<'a, str>)>,
    pub(super) user_agent: Option<Cow<'a, str>>,
    /// Detection Finding: `finding_info`, `evidences`.
    pub(super) finding: Option<Box<Finding<'a>>>,
    /// Values at the vendor's paths the writer places as they are (`job.name`, ...), sorted by
    /// path once complete.
    pub(super) placed: Vec<Placed<'a>>,
    /// Slots a vendor row filled, with the raw field it took (consumed if the slot survives).
    pub(super) filled: Vec<(Slot, SourceRef)>,
    /// Profiles the placed values need (`host`, `security_control`, `incident`).
    pub(super) extra_profiles: Vec<&'static str>,
    pub(super) consumed: Consumed,
    /// Base Event: the whole source goes to `unmapped.jumpcloud`.
    pub(super) keep_all_source: bool,
    /// Mapped as an alert's triggering event, inside another event: its own trigger (if any)
    /// is not followed.
    pub(super) nested: bool,
}

/// A value placed at a vendor path: its target and its JSON text, ready to write.
#[derive(Debug, Clone)]
pub(super) struct Placed<'a> {
    pub(super) target: &'static PathTarget,
    pub(super) json: Cow<'a, str>,
    /// The raw field it came from (none for a value the mapper supplies, e.g. a required
    /// `job.name`).
    pub(super) source: Option<SourceRef>,
}

impl Placed<'_> {
    pub(super) fn segments(&self) -> &'static [&'static str] {
        &self.target.segments
    }
}

/// `finding_info` and `evidences` of one alert.
#[derive(Debug, Default)]
pub(super) struct Finding<'a> {
    pub(super) uid: Option<Cow<'a, str>>,
    pub(super) title: Option<Cow<'a, str>>,
    pub(super) desc: Option<Cow<'a, str>>,
    pub(super) analytic: Option<Named<'a>>,
    pub(super) created_time: Option<i64>,
    pub(super) modified_time: Option<i64>,
    pub(super) related: Option<RelatedEvent>,
    pub(super) evidence: Option<Evidence>,
}

/// `finding_info.related_events[]`: the triggering event as this mapper maps it.
#[derive(Debug)]
pub(super) struct RelatedEvent {
    /// Its `metadata.uid`.
    pub(super) uid: String,
    pub(super) type_uid: i64,
    pub(super) type_name: String,
    pub(super) time_ms: i64,
}

/// `evidences[]`: who and what the triggering event names.
#[derive(Debug)]
pub(super) struct Evidence {
    /// The triggering event's Directory Insights `id`.
    pub(super) uid: Option<Cow<'static, str>>,
    /// Its `event_type`.
    pub(super) name: Option<Cow<'static, str>>,
    pub(super) actor: Option<Person<'static>>,
    pub(super) user: Option<Person<'static>>,
    pub(super) src_endpoint: Option<Endpoint<'static>>,
    pub(super) device: Option<Device<'static>>,
}

impl Evidence {
    /// OCSF requires at least one of these (among others) in an evidence.
    pub(super) fn is_usable(&self) -> bool {
        self.actor.is_some()
            || self.user.is_some()
            || self.src_endpoint.is_some()
            || self.device.is_some()
    }
}
