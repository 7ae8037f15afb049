//! What each class requires, and the values the mapper supplies where the event lacks one that
//! OCSF requires and the vendor leaves empty (each is a `[[fills]]` entry of
//! `mappings/deviations.toml`, with the reason). A classified event still missing what its
//! class requires becomes a Base Event.

use std::borrow::Cow;

use crate::mapper::model::*;
use crate::mapper::place::{json_for, raw_at};
use crate::ocsf::OcsfClass;
use crate::source::RawObject;
use crate::tables::{Base, SourceRef, path_target};

/// A raw field named by literal keys.
const fn at(keys: [&'static str; 4], depth: u8) -> SourceRef {
    SourceRef { keys, depth }
}

/// Where a job's name is, when the vendor's rows gave none: the object the job is about (else
/// the event type names it).
const JOB_NAMES: [SourceRef; 5] = [
    at(["resource", "name", "", ""], 2),
    at(["display_name", "", "", ""], 1),
    at(["policy_name", "", "", ""], 1),
    at(["resource", "command_name", "", ""], 2),
    at(["application", "name", "", ""], 2),
];

/// Where an e-mail's recipient is.
const RECIPIENTS: [SourceRef; 2] = [
    at(["resource", "recipient_email", "", ""], 2),
    at(["resource", "email", "", ""], 2),
];

/// Where a managed device's id is, when the event names no system.
const DEVICE_IDS: [SourceRef; 3] = [
    at(["mdm_device_id", "", "", ""], 1),
    at(["resource", "device_object_id", "", ""], 2),
    at(["device_object_id", "", "", ""], 1),
];

/// A JSON string of a text the mapper writes itself.
fn json_text(text: &str) -> Cow<'static, str> {
    Cow::Owned(serde_json::Value::String(text.to_owned()).to_string())
}

impl<'a> OcsfEvent<'a> {
    /// Places the first of `sources` that is a valid value at `path`, unless it has one.
    fn supply_from(&mut self, path: &str, sources: &[SourceRef], source: &RawObject<'a>) -> bool {
        if self.has_placed(path) {
            return true;
        }
        let Some(target) = path_target(self.class, path) else {
            return false;
        };
        for candidate in sources {
            if let Some(json) = raw_at(source, candidate)
                .and_then(|raw| json_for(raw, target.base, target.type_name))
            {
                self.placed.push(Placed {
                    target,
                    json,
                    source: Some(*candidate),
                });
                return true;
            }
        }
        false
    }

    /// Supplies what the class requires and the event lacks, where it is implied.
    pub(in crate::mapper) fn supply_required(&mut self, source: &RawObject<'a>, event_type: &str) {
        match self.class {
            OcsfClass::ScheduledJobActivity => {
                if !self.supply_from("job.name", &JOB_NAMES, source) {
                    let name = json_text(event_type);
                    self.supply(path_target(self.class, "job.name"), name);
                }
                self.supply_device(source, true);
            }
            OcsfClass::ProcessActivity => {
                let has_id = ["process.uid", "process.pid", "process.cpid"]
                    .iter()
                    .any(|path| self.has_placed(path));
                if !has_id && let Some(id) = &self.id {
                    let uid = json_text(id);
                    self.supply(path_target(self.class, "process.uid"), uid);
                }
                self.supply_device(source, false);
            }
            OcsfClass::EmailActivity => {
                // JumpCloud sends these messages: outbound.
                self.supply(path_target(self.class, "direction_id"), Cow::Borrowed("2"));
                if !self.has_placed("email.from") {
                    self.supply_from("email.to", &RECIPIENTS, source);
                }
            }
            OcsfClass::DeviceConfigStateChange => self.supply_device(source, false),
            OcsfClass::SoftwareInventory => self.supply_device(source, true),
            OcsfClass::ApiActivity if !self.has_placed("api.operation") => {
                let operation = json_text(event_type);
                self.supply(path_target(self.class, "api.operation"), operation);
            }
            OcsfClass::DatastoreActivity if self.has_placed("database") => {
                self.supply(
                    path_target(self.class, "database.type_id"),
                    Cow::Borrowed("0"),
                );
            }
            OcsfClass::EntityManagement => {
                // An organization-wide setting or feature, or alerts changed in bulk: the event
                // names no object but the organization.
                if self.entity.as_ref().is_none_or(|e| !e.is_usable())
                    && !self.has_placed("entity")
                    && let Some(organization) = self.organization.clone()
                {
                    self.entity = Some(Named {
                        uid: Some(organization),
                        name: None,
                        kind: Some(Cow::Borrowed("organization")),
                    });
                }
            }
            OcsfClass::CloudResourcesInventory if self.has_placed("cloud") => {
                let sources = [at(["resource", "tenant_application_name", "", ""], 2)];
                self.supply_from("cloud.provider", &sources, source);
            }
            _ => {}
        }
    }

    /// The device a class requires: the managed device's id when the event names no system;
    /// with `cloud`, JumpCloud's cloud, where the event is about a job JumpCloud runs itself.
    fn supply_device(&mut self, source: &RawObject<'a>, cloud: bool) {
        if self.device.is_some() {
            return;
        }
        for candidate in DEVICE_IDS {
            if let Some(raw) = raw_at(source, &candidate)
                && json_for(raw, Base::String, "string_t").is_some()
                && let Some(uid) = crate::source::raw_str(raw)
            {
                self.consumed.take_path(&candidate);
                self.device = Some(Device {
                    uid: Some(uid),
                    ..Device::default()
                });
                return;
            }
        }
        if cloud {
            self.device = Some(Device {
                name: Some(Cow::Borrowed("JumpCloud")),
                ..Device::default()
            });
        }
    }

    /// Whether the event has what its class requires (after the placed values were pruned).
    pub(in crate::mapper) fn has_required(&self) -> bool {
        let entity =
            self.entity.as_ref().is_some_and(Named::is_usable) || self.has_placed("entity");
        match self.class {
            OcsfClass::Authentication => self.user.is_some() && self.service_object.is_some(),
            OcsfClass::AccountChange | OcsfClass::UserInventory => self.user.is_some(),
            OcsfClass::UserAccess => self.user.is_some() && !self.privileges.is_empty(),
            OcsfClass::EntityManagement => entity,
            OcsfClass::GroupManagement => self.group.is_some(),
            OcsfClass::DetectionFinding => self.finding.is_some(),
            OcsfClass::ScheduledJobActivity => self.has_placed("job") && self.device.is_some(),
            OcsfClass::ProcessActivity => {
                self.actor.is_some() && self.device.is_some() && self.has_placed("process")
            }
            OcsfClass::EmailActivity => self.has_placed("email") && self.has_placed("direction_id"),
            OcsfClass::DeviceConfigStateChange | OcsfClass::SoftwareInventory => {
                self.device.is_some()
            }
            OcsfClass::CloudResourcesInventory => {
                [
                    "cloud",
                    "container",
                    "database",
                    "databucket",
                    "idp",
                    "table",
                ]
                .iter()
                .any(|path| self.has_placed(path))
                    || !self.resources.is_empty()
            }
            OcsfClass::ApplicationLifecycle => self.has_placed("app"),
            OcsfClass::ApiActivity => {
                self.actor.is_some() && self.has_placed("api") && self.src_endpoint.is_some()
            }
            OcsfClass::DatastoreActivity => {
                self.actor.is_some()
                    && self.src_endpoint.is_some()
                    && ["database", "databucket", "table"]
                        .iter()
                        .any(|path| self.has_placed(path))
            }
            OcsfClass::ApplicationError | OcsfClass::BaseEvent | OcsfClass::DeviceInventory => true,
        }
    }
}
