//! Detection Finding (2004): a Directory Insights alert (`alert_created`, `alert_updated`,
//! service `alerts`) as an OCSF finding, read from the layout JumpCloud's own OCSF mapping
//! documents (`resource {alert_object_id, source_name, context {rule_name, rule_object_id,
//! event_description, di_event, ...}}`, `severity`, `status`).
//!
//! - `finding_info`: `uid` = `resource.alert_object_id`, `title` = `resource.source_name`,
//!   `desc` = `resource.context.event_description`, the rule that raised it in `analytic`
//!   (`rule_object_id`, `rule_name`, type 1 Rule), and the triggering Directory Insights event
//!   (`resource.context.di_event`, an object or a JSON document inside a string) in
//!   `related_events`: its `uid` is the `metadata.uid` this mapper gives that event, so the
//!   finding joins the event it came from.
//! - `evidences`: the triggering event's user, actor, source endpoint and device, mapped by the
//!   same code as the event itself.
//! - `severity_id` from the alert's `severity` and `status_id` from its `status` (or the `to`
//!   of a `status` change), through `[alert_priorities]` / `[alert_statuses]` in
//!   `mappings/event_types.toml`; `alert_updated` is 3 Close when the status closes the finding,
//!   else 2 Update. The severity and status texts stay in `unmapped` (several map to one id).
//!
//! Other findings (`risk_event_created`) get `finding_info` from the vendor's rows
//! (`resource.id`, `resource.name`). Without a finding uid the event is a Base Event.

use std::borrow::Cow;

use crate::mapper::classify::build_event;
use crate::mapper::extract::*;
use crate::mapper::model::*;
use crate::ocsf::severity_caption;
use crate::source::{RawObject, raw_str};
use crate::tables::{ActivityRule, MappingTables};

/// Fills a Detection Finding from an alert event (the vendor's rows may fill more).
pub(in crate::mapper) fn fill<'a>(
    event: &mut OcsfEvent<'a>,
    tables: &MappingTables,
    source: &RawObject<'a>,
    activity: &ActivityRule,
) {
    let resource = source.object("resource");
    let context = resource.and_then(|resource| resource.object("context"));
    let consumed = &mut event.consumed;
    let mut take_resource = |key: &'static str| {
        let value = resource.and_then(|resource| resource.non_empty_str(key));
        if value.is_some() {
            consumed.take2("resource", key);
        }
        value
    };
    let uid = take_resource("alert_object_id");
    let title = take_resource("source_name");
    let mut take_context = |key: &'static str| {
        let value = context.and_then(|context| context.non_empty_str(key));
        if value.is_some() {
            consumed.take3("resource", "context", key);
        }
        value
    };
    let desc = take_context("event_description");
    let analytic = Named {
        uid: take_context("rule_object_id"),
        name: take_context("rule_name"),
        kind: None,
    };

    // Severity: a known one, 99 with the source's text, or 0 Unknown.
    let priority = source
        .non_empty_str("severity")
        .or_else(|| source.non_empty_str("priority"));
    event.severity = Some(match priority {
        Some(priority) => match tables.alert_priority(&priority) {
            Some(id) => (id, Cow::Borrowed(severity_caption(id).unwrap_or("Unknown"))),
            None => (99, priority),
        },
        None => (0, Cow::Borrowed("Unknown")),
    });

    // Status: the alert's, else the `to` of a `status` change; a created alert is New.
    let status_text = source
        .non_empty_str("status")
        .or_else(|| changed_status(source));
    let known = status_text
        .as_deref()
        .and_then(|status| tables.alert_status(status));
    event.status = match (&status_text, known) {
        (Some(_), Some(status)) => Some(finding_status(status.status_id, None)),
        (Some(text), None) => Some(finding_status(99, Some(text.clone()))),
        (None, _) if event.activity_id == 1 => Some(finding_status(1, None)),
        (None, _) => None,
    };
    if *activity == ActivityRule::FromAlertStatus {
        event.activity_id = if known.is_some_and(|status| status.closes) {
            3
        } else {
            2
        };
    }

    let (related, evidence) = match context.and_then(|context| context.get("di_event")) {
        Some(raw) if !event.nested => {
            trigger(tables, raw, source.non_empty_str("organization").as_deref())
        }
        _ => (None, None),
    };
    event.finding = Some(Box::new(Finding {
        uid,
        title,
        desc,
        analytic: analytic.is_usable().then_some(analytic),
        created_time: None,
        modified_time: None,
        related,
        evidence,
    }));
}

/// The alert's triggering event, mapped like any event (its own trigger not followed), as a
/// related event (when it has the RFC 3339 `timestamp` that gives it an OCSF event of its own)
/// and as evidence.
fn trigger(
    tables: &MappingTables,
    raw: &str,
    organization: Option<&str>,
) -> (Option<RelatedEvent>, Option<Evidence>) {
    let text: Cow<'_, str> = if raw.starts_with('"') {
        match raw_str(raw) {
            Some(text) => text,
            None => return (None, None),
        }
    } else {
        Cow::Borrowed(raw)
    };
    let text = text.trim();
    let Some(object) = RawObject::parse(text) else {
        return (None, None);
    };
    let timestamp = object.str("timestamp");
    let time_ms = timestamp.as_deref().and_then(parse_time_ms);
    let nested = build_event(
        tables,
        &object,
        time_ms.unwrap_or(0),
        timestamp.clone().unwrap_or_default(),
        true,
    );
    let related = match (time_ms, &timestamp) {
        (Some(time_ms), Some(timestamp)) => {
            let organization = object
                .non_empty_str("organization")
                .map(Cow::into_owned)
                .or_else(|| organization.map(str::to_owned));
            let id = object.non_empty_str("id");
            Some(RelatedEvent {
                uid: crate::mapper::event_uid(
                    organization.as_deref(),
                    id.as_deref(),
                    timestamp,
                    text.as_bytes(),
                ),
                type_uid: i64::from(nested.class.uid()) * 100 + i64::from(nested.activity_id),
                type_name: format!("{}: {}", nested.class.caption(), nested.type_caption()),
                time_ms,
            })
        }
        _ => None,
    };
    let user = nested.user.as_ref().map(Person::to_owned_static);
    let actor = nested
        .actor
        .as_ref()
        .filter(|actor| !user.as_ref().is_some_and(|user| actor.same_as(user)))
        .map(Person::to_owned_static);
    let evidence = Evidence {
        uid: owned(&object.non_empty_str("id")),
        name: owned(&nested.event_type),
        actor,
        user,
        src_endpoint: nested.src_endpoint.as_ref().map(Endpoint::to_owned_static),
        device: nested.device.as_ref().map(Device::to_owned_static),
    };
    (related, evidence.is_usable().then_some(evidence))
}
