//! Observables: every user, address, hostname, uid and country the event carries, under the
//! attribute path it has in the event.

use std::borrow::Cow;

use super::model::*;
use crate::json_writer::JsonWriter;
use crate::ocsf::OcsfClass;

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
    /// Calls `emit` with each observable, in output order: every user name, e-mail and uid,
    /// IP address, hostname, device and endpoint uid, country and user agent the event carries,
    /// under the attribute path it has in the event.
    pub(super) fn for_each_observable<'s>(&'s self, mut emit: impl FnMut(Observable<'s, 'a>)) {
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

    pub(super) fn write_observables(&self, w: &mut JsonWriter<'_>) {
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
}

impl Finding<'_> {
    /// The evidence's observables, under `evidences.*`.
    pub(super) fn for_each_observable<'s, 'a: 's>(
        &'s self,
        emit: &mut impl FnMut(Observable<'s, 'a>),
    ) {
        let Some(evidence) = &self.evidence else {
            return;
        };
        if let Some(actor) = &evidence.actor {
            person_observables(
                actor,
                [
                    "evidences.actor.user.name",
                    "evidences.actor.user.email_addr",
                    "evidences.actor.user.uid",
                ],
                emit,
            );
        }
        if let Some(user) = &evidence.user {
            person_observables(
                user,
                [
                    "evidences.user.name",
                    "evidences.user.email_addr",
                    "evidences.user.uid",
                ],
                emit,
            );
        }
        if let Some(endpoint) = &evidence.src_endpoint {
            endpoint_observables(
                endpoint,
                [
                    "evidences.src_endpoint.ip",
                    "evidences.src_endpoint.hostname",
                    "evidences.src_endpoint.uid",
                    "evidences.src_endpoint.location.country",
                ],
                emit,
            );
        }
        if let Some(device) = &evidence.device {
            device_observables(
                device,
                [
                    "evidences.device.hostname",
                    "evidences.device.ip",
                    "evidences.device.uid",
                    "evidences.device.location.country",
                ],
                emit,
            );
        }
    }
}
