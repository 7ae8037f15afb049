//! The writer: the model as one compact OCSF JSON object, in one pass, with the source fields no
//! OCSF attribute took under `unmapped.jumpcloud`.

use std::borrow::Cow;

use super::model::*;
use crate::json_writer::JsonWriter;
use crate::ocsf::{
    Attribute, OCSF_VERSION, OcsfClass, auth_protocol_caption, factor_type_caption,
    severity_caption,
};
use crate::source::{FieldUse, RawObject, wide_numbers_as_strings};

/// OCSF product name and vendor for every event.
const PRODUCT_NAME: &str = "Directory Insights";
const VENDOR_NAME: &str = "JumpCloud";

pub(super) fn managed_entity_type(kind: Option<&str>) -> (i32, &str) {
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
        let placed = self.placed.as_slice();
        if let Some(finding) = &self.finding {
            finding.write(w, under(placed, &["finding_info"]));
        }
        if let Some(actor) = &self.actor {
            w.key("actor");
            w.begin_object();
            w.key("user");
            write_person(w, actor, under(placed, &["actor", "user"]), 2);
            write_placed(w, under(placed, &["actor"]), 1, &["user"]);
            w.end_object();
        }
        if let Some(user) = &self.user {
            w.key("user");
            write_person(w, user, under(placed, &["user"]), 1);
        }
        if let Some(group) = &self.group {
            w.key("group");
            w.begin_object();
            w.field_opt_cow("uid", &group.uid);
            w.field_opt_cow("name", &group.name);
            w.field_opt_cow("type", &group.kind);
            write_placed(w, under(placed, &["group"]), 1, &[]);
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
            write_placed(w, under(placed, &["entity"]), 1, &[]);
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
            for (index, resource) in self.resources.iter().enumerate() {
                w.element();
                w.begin_object();
                w.field_opt_cow("uid", &resource.uid);
                w.field_opt_cow("name", &resource.name);
                w.field_opt_cow("type", &resource.kind);
                if index == 0 {
                    write_placed(w, under(placed, &["resources"]), 1, &[]);
                }
                w.end_object();
            }
            w.end_array();
        }
        if let Some(service) = &self.service_object {
            w.key("service");
            w.begin_object();
            w.field_opt_cow("uid", &service.uid);
            w.field_opt_cow("name", &service.name);
            write_placed(w, under(placed, &["service"]), 1, &[]);
            w.end_object();
        }
        if let Some(endpoint) = &self.src_endpoint {
            w.key("src_endpoint");
            write_endpoint(w, endpoint, under(placed, &["src_endpoint"]));
        }
        if let Some(device) = &self.device {
            w.key("device");
            write_device(w, device, under(placed, &["device"]));
        }
        if class != OcsfClass::BaseEvent
            && let Some(user_agent) = &self.user_agent
        {
            w.key("http_request");
            w.begin_object();
            w.field_cow("user_agent", user_agent);
            write_placed(w, under(placed, &["http_request"]), 1, &[]);
            w.end_object();
        }
        write_placed(w, placed, 0, TYPED_TOP_LEVEL);
        self.write_observables(w);
        self.write_unmapped(w, source, source_text);
        if raw_data {
            w.key("raw_data");
            w.json_text_as_string(source_text);
        }
        w.end_object();
    }

    pub(super) fn write_metadata(&self, w: &mut JsonWriter<'_>, uid: &str) {
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
        // Profile host where the class has `device` or `actor` only with it (`device` on the
        // IAM classes, `actor` on a Base Event or a Detection Finding), and the profiles of the
        // placed values.
        let class = self.class;
        let host = (self.device.is_some() && class.needs_host(Attribute::Device))
            || (self.actor.is_some() && class.needs_host(Attribute::Actor));
        if host {
            w.element();
            w.cow(&Cow::Borrowed("host"));
        }
        for profile in &self.extra_profiles {
            if !(host && *profile == "host") {
                w.element();
                w.cow(&Cow::Borrowed(profile));
            }
        }
        w.end_array();
        w.end_object();
    }

    /// `unmapped.jumpcloud`: the source fields no OCSF attribute took (all of them for a Base
    /// Event), nested as in the source.
    pub(super) fn write_unmapped(
        &self,
        w: &mut JsonWriter<'_>,
        source: &RawObject<'_>,
        source_text: &str,
    ) {
        if self.keep_all_source
            && !source.had_duplicate_keys
            && !source.has_wide_number
            && !source.had_lone_surrogates
        {
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
        write_residual(w, source, source.has_wide_number);
        w.end_object();
    }
}

/// Whether `object` has a field no OCSF attribute took (see [`super::consumed::Consumed::apply`]).
pub(super) fn has_residual(object: &RawObject<'_>) -> bool {
    object.fields.iter().any(|field| match field.used.get() {
        FieldUse::Unused => true,
        FieldUse::Taken => false,
        FieldUse::Partly => field.object().is_none_or(has_residual),
    })
}

/// Writes `object` without the fields OCSF attributes took; `wide`: the source has numbers wider
/// than a double, written as strings (see [`crate::source::wide_numbers_as_strings`]).
pub(super) fn write_residual(w: &mut JsonWriter<'_>, object: &RawObject<'_>, wide: bool) {
    w.begin_object();
    for field in &object.fields {
        match field.used.get() {
            FieldUse::Taken => continue,
            FieldUse::Partly => {
                if let Some(inner) = field.object() {
                    if has_residual(inner) {
                        w.key_from_input(&field.key);
                        write_residual(w, inner, wide);
                    }
                    continue;
                }
            }
            FieldUse::Unused => {}
        }
        w.key_from_input(&field.key);
        if wide {
            w.raw(&wide_numbers_as_strings(field.value));
        } else {
            w.raw(field.value);
        }
    }
    w.end_object();
}

/// The top-level objects the typed code writes (with the placed values below them).
const TYPED_TOP_LEVEL: &[&str] = &[
    "actor",
    "user",
    "group",
    "entity",
    "resources",
    "service",
    "src_endpoint",
    "device",
    "http_request",
    "finding_info",
];

/// The placed values below `prefix` (a run of the sorted list).
pub(super) fn under<'p, 'a>(placed: &'p [Placed<'a>], prefix: &[&str]) -> &'p [Placed<'a>] {
    let below = |p: &Placed<'_>| {
        p.segments().len() > prefix.len() && p.segments()[..prefix.len()] == *prefix
    };
    match placed.iter().position(below) {
        Some(start) => {
            let len = placed[start..].iter().take_while(|p| below(p)).count();
            &placed[start..start + len]
        }
        None => &[],
    }
}

/// Writes placed values as members of the open object at `depth` (all of `placed` lie below
/// it), grouping deeper paths into objects; an array attribute gets one element. Keys in
/// `skip` are written by the typed code.
pub(super) fn write_placed(
    w: &mut JsonWriter<'_>,
    placed: &[Placed<'_>],
    depth: usize,
    skip: &[&str],
) {
    let mut index = 0;
    while index < placed.len() {
        let key = placed[index].segments()[depth];
        let len = placed[index..]
            .iter()
            .take_while(|p| p.segments()[depth] == key)
            .count();
        let group = &placed[index..index + len];
        index += len;
        if skip.contains(&key) {
            continue;
        }
        let is_array = group[0].target.arrays & (1 << depth) != 0;
        w.key(key);
        if is_array {
            w.begin_array();
            w.element();
        }
        if group[0].segments().len() == depth + 1 {
            w.raw(&group[0].json);
        } else {
            w.begin_object();
            write_placed(w, group, depth + 1, &[]);
            w.end_object();
        }
        if is_array {
            w.end_array();
        }
    }
}

pub(super) fn write_endpoint(
    w: &mut JsonWriter<'_>,
    endpoint: &Endpoint<'_>,
    placed: &[Placed<'_>],
) {
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
    write_placed(w, placed, 1, &["location", "autonomous_system"]);
    w.end_object();
}

pub(super) fn write_location(w: &mut JsonWriter<'_>, location: &Location<'_>) {
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

pub(super) fn write_device(w: &mut JsonWriter<'_>, device: &Device<'_>, placed: &[Placed<'_>]) {
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
    write_placed(w, placed, 1, &["location"]);
    w.end_object();
}

/// A user; `placed`: the placed values below it, whose path to it is `depth` long.
pub(super) fn write_person(
    w: &mut JsonWriter<'_>,
    person: &Person<'_>,
    placed: &[Placed<'_>],
    depth: usize,
) {
    w.begin_object();
    w.field_opt_cow("uid", &person.uid);
    w.field_opt_cow("name", &person.name);
    w.field_opt_cow("email_addr", &person.email);
    if let Some((type_id, caption)) = &person.kind {
        w.field_int("type_id", i64::from(*type_id));
        w.field_str("type", caption);
    }
    write_placed(w, placed, depth, &[]);
    w.end_object();
}

impl Finding<'_> {
    /// Writes `is_alert`, `finding_info` and `evidences`.
    pub(super) fn write(&self, w: &mut JsonWriter<'_>, placed: &[Placed<'_>]) {
        w.field_bool("is_alert", true);
        w.key("finding_info");
        w.begin_object();
        w.field_opt_cow("uid", &self.uid);
        w.field_opt_cow("title", &self.title);
        w.field_opt_cow("desc", &self.desc);
        if let Some(analytic) = &self.analytic {
            w.key("analytic");
            w.begin_object();
            w.field_opt_cow("uid", &analytic.uid);
            w.field_opt_cow("name", &analytic.name);
            w.field_int("type_id", 1);
            w.field_static("type", "Rule");
            w.end_object();
        }
        if let Some(time) = self.created_time {
            w.field_int("created_time", time);
        }
        if let Some(time) = self.modified_time {
            w.field_int("modified_time", time);
        }
        if let Some(related) = &self.related {
            w.key("related_events");
            w.begin_array();
            w.element();
            w.begin_object();
            w.field_str("uid", &related.uid);
            w.field_int("type_uid", related.type_uid);
            w.field_str("type_name", &related.type_name);
            w.field_int("created_time", related.time_ms);
            w.end_object();
            w.end_array();
        }
        write_placed(w, placed, 1, &["analytic"]);
        w.end_object();
        if let Some(evidence) = &self.evidence {
            w.key("evidences");
            w.begin_array();
            w.element();
            w.begin_object();
            w.field_opt_cow("uid", &evidence.uid);
            w.field_opt_cow("name", &evidence.name);
            if let Some(actor) = &evidence.actor {
                w.key("actor");
                w.begin_object();
                w.key("user");
                write_person(w, actor, &[], 0);
                w.end_object();
            }
            if let Some(user) = &evidence.user {
                w.key("user");
                write_person(w, user, &[], 0);
            }
            if let Some(endpoint) = &evidence.src_endpoint {
                w.key("src_endpoint");
                write_endpoint(w, endpoint, &[]);
            }
            if let Some(device) = &evidence.device {
                w.key("device");
                write_device(w, device, &[]);
            }
            w.end_object();
            w.end_array();
        }
    }
}
