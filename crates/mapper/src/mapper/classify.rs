//! Classification: which OCSF class and activity an event gets (the tables in `mappings/`, the
//! `changes` rules), and the orchestration that fills the class or falls back to a Base Event.

use std::borrow::Cow;

use serde_json::value::RawValue;

use super::consumed::Consumed;
use super::extract::*;
use super::model::*;
use crate::ocsf::OcsfClass;
use crate::source::RawObject;
use crate::tables::{ActivityRule, Classification, EventTypeMatch, MappingTables};

/// The activity decided for a classified event.
struct Activity<'a> {
    class: OcsfClass,
    id: i32,
    /// The caption for 99 (the source's own value).
    other_name: Option<Cow<'a, str>>,
}

/// One event: classified by the tables and filled, or a Base Event; ready to write.
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
        placed: Vec::new(),
        filled: Vec::new(),
        extra_profiles: Vec::new(),
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
        // The vendor's rows for who the event is about, what the typed code reads for the class
        // (its own, richer reading), what every class takes, the vendor's rows for what is still
        // empty, then what OCSF requires.
        self.place(
            &classification.placements[..classification.first_placements],
            source,
        );
        match classification.activity {
            ActivityRule::FromAssociation => {
                if !self.fill_association(tables, source) {
                    self.reset_to_base();
                    return false;
                }
            }
            _ => match self.class {
                OcsfClass::Authentication => {
                    self.fill_authentication(source, classification.auth_protocol_id);
                }
                OcsfClass::AccountChange => {
                    if let Some(factor) = classification.auth_factor {
                        self.add_auth_factor(AuthFactor {
                            factor_type_id: factor,
                            provider: None,
                            is_totp: factor == 7,
                        });
                    }
                    self.fill_account_change(source);
                }
                OcsfClass::EntityManagement => self.fill_entity_management(source),
                OcsfClass::UserAccess => {
                    self.privileges = privileges(&classification.privileges, None);
                    self.fill_user_access(source);
                }
                OcsfClass::GroupManagement => {
                    self.privileges = privileges(&classification.privileges, None);
                    self.fill_group_management(source);
                }
                OcsfClass::DetectionFinding => super::fill::fill_detection_finding(
                    self,
                    tables,
                    source,
                    &classification.activity,
                ),
                OcsfClass::ApiActivity => {
                    // The object the call acted on.
                    if let Some(resource) = resource_named(source, &mut self.consumed) {
                        self.resources.push(resource);
                    }
                }
                _ => {}
            },
        }
        self.fill_common(source);
        // All of them: a vendor-first slot the typed code left empty is filled now.
        self.place(&classification.placements, source);
        if self.class == OcsfClass::Authentication {
            self.default_service(tables, classification.service_name.as_deref());
        }
        self.supply_required(source, event_type);
        self.prune_placed();
        if !self.has_required() {
            self.reset_to_base();
            return false;
        }
        self.consume_placed();
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
        self.placed.clear();
        self.filled.clear();
        self.extra_profiles.clear();
        self.consumed.clear();
        if let Some(event_type) = &self.event_type {
            self.activity_name = event_type.clone();
        }
    }
}
