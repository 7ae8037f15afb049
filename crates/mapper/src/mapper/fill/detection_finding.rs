//! Detection Finding (2004): a Directory Insights alert (`alert_created`, `alert_updated`,
//! `alert_status_updated`, service `alerts`) as an OCSF finding.
//!
//! - `finding_info`: `uid` = the alert's id, `title`, `desc`, the rule that raised it in
//!   `analytic` (type 1 Rule), `created_time` / `modified_time` from the alert's times, and the
//!   triggering Directory Insights event in `related_events` (its `uid` is the `metadata.uid`
//!   this mapper gives that event, so the finding joins the event it came from).
//! - `evidences`: the triggering event's user, actor, source endpoint and device, mapped by the
//!   same code as the event itself.
//! - `severity_id` from the alert's priority and `status_id` from its status
//!   (`[alert_priorities]`, `[alert_statuses]` in `mappings/event_types.toml`); the activity of
//!   an update is 3 Close when the status closes the finding, else 2 Update.
//!
//! The alert's own fields are read from `alert` (`id`, `title` or `name`, `description`,
//! `priority` or `severity`, `status`, `created_at`, `updated_at`, `rule {id, name}` or
//! `rule_id`/`rule_name`, and the triggering event in `trigger_event`, `triggering_event` or
//! `event`: an object, or a JSON document inside a string), with `resource {type: "alert", id,
//! name}` as the fallback for the id and title. Without an alert id the event is a Base Event.
//! The triggering event stays whole in `unmapped` (the evidence is a typed view of part of it),
//! and so do the priority and status (several map to one OCSF id).

use std::borrow::Cow;

use crate::mapper::classify::build_event;
use crate::mapper::extract::*;
use crate::mapper::model::*;
use crate::ocsf::severity_caption;
use crate::source::{RawObject, raw_str};
use crate::tables::{ActivityRule, MappingTables};

/// Where an alert carries its triggering event.
const TRIGGER_KEYS: [&str; 3] = ["trigger_event", "triggering_event", "event"];

/// Fills a Detection Finding from an alert event; `false` when it names no alert (the caller
/// then makes it a Base Event).
pub(in crate::mapper) fn fill<'a>(
    event: &mut OcsfEvent<'a>,
    tables: &MappingTables,
    source: &RawObject<'a>,
    activity: &ActivityRule,
) -> bool {
    let alert = source.object("alert");
    let resource = source
        .object("resource")
        .filter(|resource| resource.str("type").as_deref() == Some("alert"));
    let consumed = &mut event.consumed;
    let uid = match alert.and_then(|alert| alert.non_empty_str("id")) {
        Some(uid) => {
            consumed.take2("alert", "id");
            uid
        }
        None => match resource.and_then(|resource| resource.non_empty_str("id")) {
            Some(uid) => {
                consumed.take2("resource", "id");
                uid
            }
            None => return false,
        },
    };
    let mut take = |key: &'static str| {
        let value = alert.and_then(|alert| alert.non_empty_str(key));
        if value.is_some() {
            consumed.take2("alert", key);
        }
        value
    };
    let title = take("title").or_else(|| take("name"));
    let desc = take("description");
    let created_time = alert.and_then(|alert| time_ms_of(alert, "created_at"));
    let modified_time = alert.and_then(|alert| time_ms_of(alert, "updated_at"));
    for (key, time) in [("created_at", created_time), ("updated_at", modified_time)] {
        if time.is_some() {
            consumed.take2("alert", key);
        }
    }
    let title = title.or_else(|| {
        let name = resource.and_then(|resource| resource.non_empty_str("name"));
        if name.is_some() {
            consumed.take2("resource", "name");
        }
        name
    });
    let analytic = alert.and_then(|alert| analytic(alert, consumed));

    // Severity from the priority: a known one, 99 with the source's text, or 0 Unknown. The
    // priority and the status stay in `unmapped` too: the tables map several to one id.
    let priority = ["priority", "severity"]
        .into_iter()
        .find_map(|key| alert.and_then(|alert| alert.non_empty_str(key)));
    event.severity = Some(match priority {
        Some(priority) => match tables.alert_priority(&priority) {
            Some(id) => (id, Cow::Borrowed(severity_caption(id).unwrap_or("Unknown"))),
            None => (99, priority),
        },
        None => (0, Cow::Borrowed("Unknown")),
    });

    // Status: the alert's, else the `to` of a `status` change; a created alert is New.
    let status_text = alert
        .and_then(|alert| alert.non_empty_str("status"))
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

    let (related, evidence) = match alert {
        Some(alert) if !event.nested => trigger(
            tables,
            alert,
            source.non_empty_str("organization").as_deref(),
        ),
        _ => (None, None),
    };
    event.finding = Some(Box::new(Finding {
        uid,
        title,
        desc,
        analytic,
        created_time,
        modified_time,
        related,
        evidence,
    }));
    true
}

/// The alert's triggering event, mapped like any event (its own trigger not followed), as a
/// related event (when it has the RFC 3339 `timestamp` that gives it an OCSF event of its own)
/// and as evidence.
fn trigger(
    tables: &MappingTables,
    alert: &RawObject<'_>,
    organization: Option<&str>,
) -> (Option<RelatedEvent>, Option<Evidence>) {
    let Some(raw) = TRIGGER_KEYS.into_iter().find_map(|key| alert.get(key)) else {
        return (None, None);
    };
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
