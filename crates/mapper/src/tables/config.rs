//! The on-disk format of the mapping files and its checks (file, line and reason on error).

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use super::Table;
use super::deviations::RawEventDeviation;
use super::vendor::VendorTables;
use super::{ActivityRule, AlertStatus, Classification, EventTypePattern, Origin, alert_key};
use crate::error::MappingError;
use crate::ocsf::{
    OcsfClass, auth_protocol_caption, factor_type_caption, finding_status_caption, severity_caption,
};

/// File name of the event-type table.
pub const EVENT_TYPES_FILE: &str = "event_types.toml";
/// File name of the `changes` rules.
pub const ACCOUNT_CHANGES_FILE: &str = "account_changes.toml";
/// File name of the association rules.
pub const ASSOCIATIONS_FILE: &str = "associations.toml";

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum RawActivity {
    Id(i64),
    Rule(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClassification {
    /// Absent for an event type the vendor lists (its class comes from the vendor's table).
    class: Option<Spanned<String>>,
    activity: Option<Spanned<RawActivity>>,
    activity_name: Option<String>,
    auth_protocol: Option<Spanned<i64>>,
    service: Option<String>,
    #[serde(default)]
    privileges: Vec<String>,
    auth_factor: Option<Spanned<i64>>,
    /// A type the vendor lists under another name: classified and placed as that one.
    same_as: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPattern {
    #[serde(rename = "match")]
    pattern: Spanned<String>,
    class: Spanned<String>,
    activity: Spanned<RawActivity>,
    activity_name: Option<String>,
    auth_protocol: Option<Spanned<i64>>,
    service: Option<String>,
    #[serde(default)]
    privileges: Vec<String>,
    auth_factor: Option<Spanned<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAlertStatus {
    status_id: Spanned<i64>,
    #[serde(default)]
    close: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEventTypes {
    #[serde(default)]
    entity_verbs: BTreeMap<String, Spanned<i64>>,
    #[serde(default)]
    services: BTreeMap<String, String>,
    #[serde(default)]
    alert_statuses: BTreeMap<String, Spanned<RawAlertStatus>>,
    #[serde(default)]
    alert_priorities: BTreeMap<String, Spanned<i64>>,
    #[serde(default)]
    event_types: BTreeMap<String, Spanned<RawClassification>>,
    #[serde(default)]
    patterns: Vec<Spanned<RawPattern>>,
}

/// The byte range of a 1-based line (for errors about an entry found by its line).
fn offset_of_line(text: &str, line: usize) -> Range<usize> {
    let start: usize = text
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum();
    start..start
}

/// 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

pub(super) struct Source<'a> {
    pub path: &'a Path,
    pub text: &'a str,
}

impl Source<'_> {
    pub fn error(&self, span: Range<usize>, reason: impl Into<String>) -> MappingError {
        MappingError::new(self.path, line_of(self.text, span.start), reason.into())
    }

    pub fn line_of(&self, offset: usize) -> usize {
        line_of(self.text, offset)
    }

    pub fn parse<T: serde::de::DeserializeOwned>(&self) -> Result<T, MappingError> {
        toml::from_str(self.text).map_err(|error| {
            let line = error
                .span()
                .map_or(0, |span| line_of(self.text, span.start));
            MappingError::new(self.path, line, error.message().trim().to_owned())
        })
    }
}

pub(super) fn activity_id(
    source: &Source<'_>,
    class: OcsfClass,
    id: i64,
    span: Range<usize>,
) -> Result<i32, MappingError> {
    let id = i32::try_from(id)
        .map_err(|_| source.error(span.clone(), format!("activity {id} is out of range")))?;
    if class.activity_caption(id).is_none() {
        return Err(source.error(
            span,
            format!(
                "activity {id} is not an activity_id of {} ({})",
                class.schema_name(),
                class.uid()
            ),
        ));
    }
    Ok(id)
}

pub(super) fn class_named(
    source: &Source<'_>,
    name: &Spanned<String>,
) -> Result<OcsfClass, MappingError> {
    OcsfClass::from_schema_name(name.get_ref()).ok_or_else(|| {
        let known: Vec<&str> = OcsfClass::ALL.iter().map(|c| c.schema_name()).collect();
        source.error(
            name.span(),
            format!(
                "unknown class {:?} (expected one of {})",
                name.get_ref(),
                known.join(", ")
            ),
        )
    })
}

/// A class and activity rule as written in a mapping file.
pub(super) fn activity_rule(
    source: &Source<'_>,
    class: OcsfClass,
    activity: Spanned<RawActivity>,
) -> Result<ActivityRule, MappingError> {
    let activity_span = activity.span();
    Ok(match activity.into_inner() {
        RawActivity::Id(id) => ActivityRule::Fixed(activity_id(source, class, id, activity_span)?),
        RawActivity::Rule(rule) => match rule.as_str() {
            "from_changes" if class == OcsfClass::AccountChange => ActivityRule::FromChanges,
            "from_association" => ActivityRule::FromAssociation,
            "from_verb" if class == OcsfClass::EntityManagement => ActivityRule::FromVerb,
            "from_status" if class == OcsfClass::DetectionFinding => ActivityRule::FromAlertStatus,
            "from_changes" | "from_verb" | "from_status" => {
                return Err(source.error(
                    activity_span,
                    format!(
                        "activity {rule:?} needs class {}",
                        match rule.as_str() {
                            "from_changes" => "account_change",
                            "from_verb" => "entity_management",
                            _ => "detection_finding",
                        }
                    ),
                ));
            }
            other => {
                return Err(source.error(
                    activity_span,
                    format!(
                        "unknown activity {other:?} (expected an activity_id, \"from_changes\", \
                         \"from_association\", \"from_verb\" or \"from_status\")"
                    ),
                ));
            }
        },
    })
}

/// Where an event type's class and activity come from when its entry gives none.
#[derive(Debug, Clone)]
pub(super) enum Given {
    /// Nowhere: the entry must give them.
    Nothing,
    /// The vendor's table (`events.tsv` line).
    Vendor {
        class: OcsfClass,
        activity_id: i32,
        line: usize,
    },
    /// A deviation.
    Deviation {
        class: OcsfClass,
        activity: ActivityRule,
    },
}

/// An event-type entry: its class and activity (given by the entry, or by `given`) and the
/// enrichments (`auth_protocol`, `service`, `privileges`, `auth_factor`).
fn classification(
    source: &Source<'_>,
    name: &str,
    span: Range<usize>,
    raw: RawClassification,
    given: Given,
) -> Result<Classification, MappingError> {
    let origin = match &given {
        Given::Nothing => Origin::Own,
        Given::Vendor { line, .. } => Origin::Vendor { line: *line },
        Given::Deviation { .. } => Origin::Deviation,
    };
    let (class, activity) = match (raw.class, raw.activity, given) {
        (
            None,
            None,
            Given::Vendor {
                class, activity_id, ..
            },
        ) => (class, ActivityRule::Fixed(activity_id)),
        (None, None, Given::Deviation { class, activity }) => (class, activity),
        (Some(class), Some(activity), Given::Nothing) => {
            let class = class_named(source, &class)?;
            (class, activity_rule(source, class, activity)?)
        }
        (_, _, Given::Vendor { line, .. }) => {
            return Err(source.error(
                span,
                format!(
                    "{name} is in the vendor's table ({}:{line}): its class and activity come \
                     from there; a different choice goes in {} with the reason",
                    super::vendor::VENDOR_EVENTS_FILE,
                    super::deviations::DEVIATIONS_FILE
                ),
            ));
        }
        (_, _, Given::Deviation { .. }) => {
            return Err(source.error(
                span,
                format!(
                    "{name} has a deviation: its class and activity are given in {}",
                    super::deviations::DEVIATIONS_FILE
                ),
            ));
        }
        _ => {
            return Err(source.error(
                span,
                format!("{name} is not in the vendor's table: it needs a class and an activity"),
            ));
        }
    };
    let class_span = span.clone();
    let auth_protocol_id = match raw.auth_protocol {
        None => None,
        Some(spanned) => {
            let span = spanned.span();
            let id = i32::try_from(*spanned.get_ref())
                .ok()
                .filter(|id| auth_protocol_caption(*id).is_some())
                .ok_or_else(|| {
                    source.error(
                        span.clone(),
                        format!(
                            "auth_protocol {} is not an OCSF auth_protocol_id",
                            spanned.get_ref()
                        ),
                    )
                })?;
            if class != OcsfClass::Authentication {
                return Err(source.error(span, "auth_protocol is only for class authentication"));
            }
            Some(id)
        }
    };
    let auth_factor = match raw.auth_factor {
        None => None,
        Some(spanned) => {
            let span = spanned.span();
            let id = i32::try_from(*spanned.get_ref())
                .ok()
                .filter(|id| factor_type_caption(*id).is_some())
                .ok_or_else(|| {
                    source.error(
                        span.clone(),
                        format!(
                            "auth_factor {} is not an OCSF auth_factors[].factor_type_id",
                            spanned.get_ref()
                        ),
                    )
                })?;
            if !matches!(class, OcsfClass::Authentication | OcsfClass::AccountChange) {
                return Err(source.error(
                    span,
                    "auth_factor is only for class authentication or account_change",
                ));
            }
            Some(id)
        }
    };
    if !raw.privileges.is_empty()
        && !matches!(class, OcsfClass::UserAccess | OcsfClass::GroupManagement)
    {
        return Err(source.error(
            class_span.clone(),
            "privileges are only for class user_access or group_management",
        ));
    }
    if class == OcsfClass::UserAccess
        && raw.privileges.is_empty()
        && activity != ActivityRule::FromAssociation
    {
        let reason = match &origin {
            Origin::Vendor { line } => format!(
                "{name} is User Access Management in the vendor's table ({}:{line}): give its \
                 `privileges` in {EVENT_TYPES_FILE} (OCSF requires them)",
                super::vendor::VENDOR_EVENTS_FILE
            ),
            _ => "class user_access needs privileges (OCSF requires them)".to_owned(),
        };
        return Err(source.error(class_span, reason));
    }
    Ok(Classification {
        class,
        activity,
        activity_name: raw.activity_name,
        auth_protocol_id,
        service_name: raw.service,
        privileges: raw.privileges,
        auth_factor,
        placements: Default::default(),
        first_placements: 0,
        origin,
        same_as: None,
    })
}

/// What `event_types.toml` holds.
pub(super) struct EventTypeTables {
    pub exact: Table<Classification>,
    pub patterns: Vec<(EventTypePattern, Classification)>,
    pub entity_verbs: Table<i32>,
    pub services: Table<String>,
    pub alert_statuses: Table<super::AlertStatus>,
    pub alert_priorities: Table<i32>,
}

/// The event types' deviations, as `deviations.toml` gives them (parsed by the caller).
pub(super) struct EventDeviations<'a> {
    pub source: Source<'a>,
    pub entries: Vec<(String, RawEventDeviation, usize)>,
}

/// Parses `event_types.toml` and makes the table of every event type: the vendor's class and
/// activity for the types it lists, a deviation's instead where `deviations.toml` has one, the
/// entry's own for the types the vendor does not list; enrichments from the entries.
pub(super) fn parse_event_types(
    path: &Path,
    text: &str,
    vendor: &VendorTables,
    deviations: EventDeviations<'_>,
) -> Result<EventTypeTables, MappingError> {
    let source = Source { path, text };
    let raw: RawEventTypes = source.parse()?;
    let mut entity_verbs =
        Table::with_capacity_and_hasher(raw.entity_verbs.len(), Default::default());
    for (verb, activity) in raw.entity_verbs {
        let id = activity_id(
            &source,
            OcsfClass::EntityManagement,
            *activity.get_ref(),
            activity.span(),
        )?;
        entity_verbs.insert(verb, id);
    }
    // The deviations first: each names a type the vendor lists, with a class and activity.
    let mut deviated: BTreeMap<String, (OcsfClass, ActivityRule, Option<String>, usize)> =
        BTreeMap::new();
    for (event_type, entry, line) in deviations.entries {
        if !vendor.events.contains_key(&event_type) {
            return Err(MappingError::new(
                deviations.source.path,
                line,
                format!(
                    "{event_type} is not in the vendor's table: give its class in {EVENT_TYPES_FILE}"
                ),
            ));
        }
        let class = class_named(&deviations.source, &entry.class)?;
        let activity = activity_rule(&deviations.source, class, entry.activity)?;
        deviated.insert(event_type, (class, activity, entry.activity_name, line));
    }
    let given = |event_type: &str| -> Given {
        if let Some((class, activity, _, _)) = deviated.get(event_type) {
            return Given::Deviation {
                class: *class,
                activity: activity.clone(),
            };
        }
        match vendor.events.get(event_type) {
            Some(listed) => Given::Vendor {
                class: listed.class,
                activity_id: listed.activity_id,
                line: listed.line,
            },
            None => Given::Nothing,
        }
    };
    let mut exact = Table::with_capacity_and_hasher(
        raw.event_types.len() + vendor.order.len(),
        Default::default(),
    );
    for (event_type, entry) in raw.event_types {
        if event_type.trim().is_empty() || event_type.trim() != event_type {
            return Err(source.error(
                entry.span(),
                format!("event type {event_type:?} is empty or has surrounding spaces"),
            ));
        }
        let span = entry.span();
        let mut entry = entry.into_inner();
        let mut entry_given = given(&event_type);
        let alias = entry.same_as.take();
        if let Some(alias) = &alias {
            let listed = vendor.events.get(alias.get_ref()).ok_or_else(|| {
                source.error(
                    alias.span(),
                    format!("same_as {:?} is not in the vendor's table", alias.get_ref()),
                )
            })?;
            if !matches!(entry_given, Given::Nothing) {
                return Err(source.error(
                    alias.span(),
                    format!("{event_type} is in the vendor's table itself: no same_as"),
                ));
            }
            entry_given = Given::Vendor {
                class: listed.class,
                activity_id: listed.activity_id,
                line: listed.line,
            };
        }
        let mut found = classification(&source, &event_type, span, entry, entry_given)?;
        if let Some(alias) = alias {
            found.origin = Origin::Own;
            found.same_as = Some(alias.into_inner());
        }
        exact.insert(event_type, found);
    }
    for event_type in &vendor.order {
        if exact.contains_key(event_type) {
            continue;
        }
        let empty = RawClassification {
            class: None,
            activity: None,
            activity_name: None,
            auth_protocol: None,
            service: None,
            privileges: Vec::new(),
            auth_factor: None,
            same_as: None,
        };
        let line = deviated.get(event_type).map_or(1, |(.., line)| *line);
        let (file_source, span) = if deviated.contains_key(event_type) {
            (
                &deviations.source,
                offset_of_line(deviations.source.text, line),
            )
        } else {
            (&source, 0..0)
        };
        let found = classification(file_source, event_type, span, empty, given(event_type))?;
        exact.insert(event_type.clone(), found);
    }
    for (event_type, (_, _, activity_name, _)) in &deviated {
        if let (Some(name), Some(found)) = (activity_name, exact.get_mut(event_type)) {
            found.activity_name = Some(name.clone());
        }
    }
    let mut patterns = Vec::with_capacity(raw.patterns.len());
    for entry in raw.patterns {
        let entry = entry.into_inner();
        let pattern_span = entry.pattern.span();
        let pattern_text = entry.pattern.into_inner();
        let Some((prefix, suffix)) = pattern_text.split_once('*') else {
            return Err(source.error(pattern_span, format!("pattern {pattern_text:?} has no `*`")));
        };
        if suffix.contains('*') {
            return Err(source.error(
                pattern_span,
                format!("pattern {pattern_text:?} has more than one `*`"),
            ));
        }
        let pattern = EventTypePattern {
            prefix: prefix.to_owned(),
            suffix: suffix.to_owned(),
        };
        let raw_classification = RawClassification {
            class: Some(entry.class),
            activity: Some(entry.activity),
            activity_name: entry.activity_name,
            auth_protocol: entry.auth_protocol,
            service: entry.service,
            privileges: entry.privileges,
            auth_factor: entry.auth_factor,
            same_as: None,
        };
        patterns.push((
            pattern,
            classification(
                &source,
                &pattern_text,
                pattern_span,
                raw_classification,
                Given::Nothing,
            )?,
        ));
    }
    let mut alert_statuses =
        Table::with_capacity_and_hasher(raw.alert_statuses.len(), Default::default());
    for (status, entry) in raw.alert_statuses {
        let span = entry.span();
        let entry = entry.into_inner();
        let status_id = i32::try_from(*entry.status_id.get_ref())
            .ok()
            .filter(|id| finding_status_caption(*id).is_some())
            .ok_or_else(|| {
                source.error(
                    span.clone(),
                    format!(
                        "status_id {} is not a Detection Finding status_id",
                        entry.status_id.get_ref()
                    ),
                )
            })?;
        if alert_statuses
            .insert(
                alert_key(&status),
                AlertStatus {
                    status_id,
                    closes: entry.close,
                },
            )
            .is_some()
        {
            return Err(source.error(span, format!("alert status {status:?} is given twice")));
        }
    }
    let mut alert_priorities =
        Table::with_capacity_and_hasher(raw.alert_priorities.len(), Default::default());
    for (priority, severity) in raw.alert_priorities {
        let span = severity.span();
        let id = i32::try_from(*severity.get_ref())
            .ok()
            .filter(|id| severity_caption(*id).is_some())
            .ok_or_else(|| {
                source.error(
                    span.clone(),
                    format!(
                        "severity_id {} is not an OCSF severity_id",
                        severity.get_ref()
                    ),
                )
            })?;
        if alert_priorities.insert(alert_key(&priority), id).is_some() {
            return Err(source.error(span, format!("alert priority {priority:?} is given twice")));
        }
    }
    Ok(EventTypeTables {
        exact,
        patterns,
        entity_verbs,
        services: raw.services.into_iter().collect(),
        alert_statuses,
        alert_priorities,
    })
}
