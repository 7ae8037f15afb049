//! Per-class filling: what each OCSF class takes from the source (one file per class), and what
//! every class takes (`fill_common`).

mod account_change;
mod association;
mod authentication;
mod detection_finding;
mod entity_management;
mod group_management;
mod required;
mod user_access;

pub(in crate::mapper) use detection_finding::fill as fill_detection_finding;

use std::borrow::Cow;

use super::consumed::Consumed;
use super::extract::*;
use super::model::*;
use crate::ocsf::{Attribute, OcsfClass};
use crate::source::RawObject;

impl<'a> OcsfEvent<'a> {
    /// Base Event: metadata, actor and status; the whole source stays in `unmapped`.
    pub(in crate::mapper) fn fill_base(&mut self, source: &RawObject<'a>) {
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

    /// Fields every class takes, where the class has them: actor, source endpoint, user agent,
    /// status, message, the device an event names.
    pub(in crate::mapper) fn fill_common(&mut self, source: &RawObject<'a>) {
        for key in ["id", "timestamp", "event_type", "organization", "service"] {
            if source.get(key).is_some() {
                self.consumed.take(key);
            }
        }
        let class = self.class;
        if self.actor.is_none() && class.has(Attribute::Actor) {
            self.actor = source
                .object("initiated_by")
                .and_then(|initiated_by| person(initiated_by, "initiated_by", &mut self.consumed));
        }
        if let Some(message) = source.non_empty_str("message") {
            self.consumed.take("message");
            self.message = Some(message);
        }
        // The system an event names (systems events, software on a device, ...).
        if self.device.is_none() && class.has(Attribute::Device) {
            self.device = system_device(source, &mut self.consumed);
        }
        if class == OcsfClass::DetectionFinding {
            // A finding's status is its workflow state (set from the alert); it has no source
            // endpoint or HTTP request: `success`, `client_ip`, `geoip` and the user agent of
            // whoever changed the alert stay in `unmapped`.
            return;
        }
        if self.status.is_none() {
            self.status = status(source, false, &mut self.consumed);
        }
        if class.has(Attribute::SrcEndpoint) {
            self.fill_src_endpoint(source);
        } else if let (Some(device), Some(ip)) =
            (self.device.as_mut(), ip_address(source.str("client_ip")))
        {
            // No source endpoint in the class: the address an agent reports from is its device's.
            if source.object("system").is_some() && device.ip.is_none() {
                self.consumed.take("client_ip");
                device.ip = Some(ip);
            }
        }
        if class.has(Attribute::HttpRequest) {
            self.user_agent = user_agent(source);
            // A user agent given as a string is taken whole; the parsed `useragent` object stays
            // in `unmapped` (the summary made from it is lossy).
            let as_text = ["user_agent", "useragent"]
                .into_iter()
                .find(|key| source.str(key).is_some());
            match as_text {
                Some(key) if self.user_agent.is_some() => self.consumed.take(key),
                None if source
                    .object("useragent")
                    .is_some_and(|parsed| parsed.non_empty_str("raw").is_some()) =>
                {
                    self.consumed.take2("useragent", "raw");
                }
                _ => {}
            }
        }
    }

    /// `src_endpoint` from `src_ip` (systems logins) or `client_ip`, with the location and
    /// autonomous system of `geoip` where it locates that address.
    fn fill_src_endpoint(&mut self, source: &RawObject<'a>) {
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
    }

    /// Adds an `auth_factors[]` entry, once per factor type.
    pub(in crate::mapper) fn add_auth_factor(&mut self, factor: AuthFactor) {
        if !self
            .auth_factors
            .iter()
            .any(|known| known.factor_type_id == factor.factor_type_id)
        {
            self.auth_factors.push(factor);
        }
    }
}
