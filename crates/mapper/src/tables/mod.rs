//! The classification tables: Directory Insights `event_type` -> OCSF class and activity, the
//! `changes` rules for `user_update`/`admin_update`, and the `association_change` rules.
//!
//! They are data (`mappings/*.toml` at the workspace root), compiled in as the default
//! ([`MappingTables::embedded`]) and replaceable at start-up ([`MappingTables::load_dir`]).

mod config;
mod deviations;
mod explain;
mod placement;
mod rules;
#[cfg(test)]
mod tests;
mod vendor;

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

/// The tables' maps: looked up once or twice per event with short keys, where SipHash showed
/// in profiles; foldhash is several times faster and still seeded per process.
pub(crate) type Table<V> = HashMap<String, V, foldhash::fast::RandomState>;
use std::path::{Path, PathBuf};

use crate::error::MappingError;
use crate::ocsf::OcsfClass;

pub use config::{ACCOUNT_CHANGES_FILE, ASSOCIATIONS_FILE, EVENT_TYPES_FILE};
pub use deviations::{DEVIATIONS_FILE, EventDeviation, FieldDeviation, Fill};
pub use explain::{Explanation, FieldRow, RowFate};
pub(crate) use placement::{Base, PathTarget, Placement, Slot, SourceRef, Target, path_target};
pub use vendor::{VENDOR_EVENTS_FILE, VENDOR_FIELDS_FILE};

const EMBEDDED_EVENT_TYPES: &str = include_str!("../../../../mappings/event_types.toml");
const EMBEDDED_ACCOUNT_CHANGES: &str = include_str!("../../../../mappings/account_changes.toml");
const EMBEDDED_ASSOCIATIONS: &str = include_str!("../../../../mappings/associations.toml");
const EMBEDDED_DEVIATIONS: &str = include_str!("../../../../mappings/deviations.toml");
const EMBEDDED_VENDOR_EVENTS: &str = include_str!("../../../../mappings/vendor/events.tsv");
const EMBEDDED_VENDOR_FIELDS: &str = include_str!("../../../../mappings/vendor/fields.tsv");

/// The text of every mapping file, each with the path its errors name.
#[derive(Debug, Clone, Copy)]
pub struct MappingSources<'a> {
    pub event_types: (&'a Path, &'a str),
    pub account_changes: (&'a Path, &'a str),
    pub associations: (&'a Path, &'a str),
    pub deviations: (&'a Path, &'a str),
    pub vendor_events: (&'a Path, &'a str),
    pub vendor_fields: (&'a Path, &'a str),
}

impl MappingSources<'static> {
    /// The files compiled in from the workspace's `mappings/`.
    pub fn embedded() -> MappingSources<'static> {
        MappingSources {
            event_types: (Path::new(EVENT_TYPES_FILE), EMBEDDED_EVENT_TYPES),
            account_changes: (Path::new(ACCOUNT_CHANGES_FILE), EMBEDDED_ACCOUNT_CHANGES),
            associations: (Path::new(ASSOCIATIONS_FILE), EMBEDDED_ASSOCIATIONS),
            deviations: (Path::new(DEVIATIONS_FILE), EMBEDDED_DEVIATIONS),
            vendor_events: (Path::new(VENDOR_EVENTS_FILE), EMBEDDED_VENDOR_EVENTS),
            vendor_fields: (Path::new(VENDOR_FIELDS_FILE), EMBEDDED_VENDOR_FIELDS),
        }
    }
}

/// How the activity of an event type is decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ActivityRule {
    /// A fixed `activity_id`.
    Fixed(i32),
    /// From the event's `changes` (the account-change rules).
    FromChanges,
    /// From the event's `association` (the association rules).
    FromAssociation,
    /// From the verb of the event type (the entity verbs).
    FromVerb,
    /// Detection Finding: from the alert's status (the alert statuses): 3 Close when the status
    /// closes the finding, else 2 Update.
    FromAlertStatus,
}

/// Where an event type's class and activity come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The vendor's table (`vendor/events.tsv`, this line).
    Vendor { line: usize },
    /// A deviation (`deviations.toml`).
    Deviation,
    /// This product's own table (`event_types.toml`: a type the vendor does not list).
    Own,
}

/// What one event type maps to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Classification {
    pub class: OcsfClass,
    pub activity: ActivityRule,
    pub activity_name: Option<String>,
    pub auth_protocol_id: Option<i32>,
    pub service_name: Option<String>,
    pub privileges: Vec<String>,
    /// `auth_factors[].factor_type_id` of the MFA factor the event is about (e.g. TOTP 7).
    pub auth_factor: Option<i32>,
    /// The vendor's typed field rows of this type, as the mapper follows them.
    pub placements: Arc<[Placement]>,
    /// The first this many of `placements` fill the slots the vendor's rows decide first
    /// ([`Slot::vendor_first`]).
    pub first_placements: usize,
    pub origin: Origin,
    /// The vendor's name of this type, when the vendor lists it under another one
    /// (`ldap_search` is its `ldap_srch`): classified and placed as that one.
    pub same_as: Option<String>,
}

/// An event-type pattern: `prefix*suffix`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EventTypePattern {
    pub prefix: String,
    pub suffix: String,
}

impl EventTypePattern {
    /// The text `*` matched, when `event_type` matches.
    fn capture<'e>(&self, event_type: &'e str) -> Option<&'e str> {
        if event_type.len() < self.prefix.len() + self.suffix.len() {
            return None;
        }
        // Most patterns differ from the event type in its first or last byte: test those
        // before comparing whole strings (every event not in the exact table tries them all).
        let (text, prefix, suffix) = (
            event_type.as_bytes(),
            self.prefix.as_bytes(),
            self.suffix.as_bytes(),
        );
        if prefix.first().is_some_and(|b| text.first() != Some(b))
            || suffix.last().is_some_and(|b| text.last() != Some(b))
        {
            return None;
        }
        event_type
            .strip_prefix(self.prefix.as_str())?
            .strip_suffix(self.suffix.as_str())
    }
}

/// A scalar the account-change rules compare with (`from`, `to`, `from_not`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ScalarValue {
    String(String),
    Bool(bool),
    Integer(i64),
}

impl ScalarValue {
    /// Whether a raw JSON value equals this scalar.
    pub fn matches(&self, value: &str) -> bool {
        match self {
            ScalarValue::String(expected) => {
                crate::source::raw_str(value).is_some_and(|actual| actual == expected.as_str())
            }
            ScalarValue::Bool(expected) => crate::source::raw_bool(value) == Some(*expected),
            ScalarValue::Integer(expected) => value.parse::<i64>().ok() == Some(*expected),
        }
    }
}

/// One `changes` rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ChangeRule {
    pub field: String,
    pub from: Option<ScalarValue>,
    pub from_not: Option<ScalarValue>,
    pub to: Option<ScalarValue>,
    pub activity_id: i32,
}

/// The account-change rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AccountChangeRules {
    pub priority: Vec<i32>,
    pub otherwise: i32,
    pub rules: Vec<ChangeRule>,
}

/// One `association_change` rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AssociationRule {
    /// The type of the non-user end; `None` matches any.
    pub other_type: Option<String>,
    pub class: OcsfClass,
    pub add_activity: i32,
    pub remove_activity: i32,
    pub privileges: Vec<String>,
}

/// What a Directory Insights alert status means for the Detection Finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AlertStatus {
    /// `status_id` (1 New, 2 In Progress, 3 Suppressed, 4 Resolved, 5 Archived, 6 Deleted).
    pub status_id: i32,
    /// An update to this status closes the finding (activity 3 Close).
    pub closes: bool,
}

/// The key an alert status or priority is looked up by: lower case, `-` and spaces as `_`
/// ("In Progress", "in-progress" and "IN_PROGRESS" are all `in_progress`).
pub(crate) fn alert_key(text: &str) -> String {
    text.trim()
        .chars()
        .map(|c| match c {
            ' ' | '-' => '_',
            other => other.to_ascii_lowercase(),
        })
        .collect()
}

/// The result of looking up an event type.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EventTypeMatch<'t, 'e> {
    pub classification: &'t Classification,
    /// The verb: what a pattern's `*` matched, or what follows the first `_` of an exact entry.
    pub verb: &'e str,
}

/// The compiled classification tables. Cheap to share: build once, wrap in the [`crate::Mapper`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingTables {
    pub(crate) exact: Table<Classification>,
    pub(crate) patterns: Vec<(EventTypePattern, Classification)>,
    pub(crate) entity_verbs: Table<i32>,
    pub(crate) services: Table<String>,
    /// Alert status (as [`alert_key`]) -> Detection Finding status.
    pub(crate) alert_statuses: Table<AlertStatus>,
    /// Alert priority (as [`alert_key`]) -> `severity_id`.
    pub(crate) alert_priorities: Table<i32>,
    pub(crate) account_changes: AccountChangeRules,
    pub(crate) associations: Vec<AssociationRule>,
    /// The vendor's tables (for [`MappingTables::explain`] and the docs).
    pub(crate) vendor: Arc<vendor::VendorTables>,
    /// Why an event type differs from the vendor's.
    pub(crate) event_deviations: Table<EventDeviation>,
    pub(crate) field_deviations: Vec<FieldDeviation>,
    pub(crate) fills: Vec<Fill>,
}

impl MappingTables {
    /// The tables compiled into the binary from the workspace's `mappings/` directory (built
    /// once per process; each call returns a copy).
    ///
    /// The embedded files are checked by this crate's tests, so this cannot fail at run time;
    /// should it ever, the error says which file and line.
    pub fn embedded() -> Result<MappingTables, MappingError> {
        static EMBEDDED: OnceLock<Result<MappingTables, MappingError>> = OnceLock::new();
        EMBEDDED
            .get_or_init(|| MappingTables::from_all(MappingSources::embedded()))
            .clone()
    }

    /// Loads `event_types.toml`, `account_changes.toml` and `associations.toml` from `dir`
    /// (each must be there: copy `mappings/` and edit it), and `deviations.toml`,
    /// `vendor/events.tsv` and `vendor/fields.tsv` when they are there (the built-in ones
    /// otherwise). The error names the file, the line and the reason.
    pub fn load_dir(dir: impl AsRef<Path>) -> Result<MappingTables, MappingError> {
        let dir = dir.as_ref();
        let read = |name: &str| -> Result<(PathBuf, String), MappingError> {
            let path = dir.join(name);
            match std::fs::read_to_string(&path) {
                Ok(text) => Ok((path, text)),
                Err(error) => Err(MappingError::new(&path, 0, format!("cannot read: {error}"))),
            }
        };
        let optional = |name: &str, embedded: &str| -> Result<(PathBuf, String), MappingError> {
            if dir.join(name).exists() {
                read(name)
            } else {
                Ok((PathBuf::from(name), embedded.to_owned()))
            }
        };
        let event_types = read(EVENT_TYPES_FILE)?;
        let account_changes = read(ACCOUNT_CHANGES_FILE)?;
        let associations = read(ASSOCIATIONS_FILE)?;
        let deviations = optional(DEVIATIONS_FILE, EMBEDDED_DEVIATIONS)?;
        let vendor_events = optional(VENDOR_EVENTS_FILE, EMBEDDED_VENDOR_EVENTS)?;
        let vendor_fields = optional(VENDOR_FIELDS_FILE, EMBEDDED_VENDOR_FIELDS)?;
        MappingTables::from_all(MappingSources {
            event_types: (&event_types.0, &event_types.1),
            account_changes: (&account_changes.0, &account_changes.1),
            associations: (&associations.0, &associations.1),
            deviations: (&deviations.0, &deviations.1),
            vendor_events: (&vendor_events.0, &vendor_events.1),
            vendor_fields: (&vendor_fields.0, &vendor_fields.1),
        })
    }

    /// Builds the tables from the three files' text (paths only name them in errors), with
    /// the built-in deviations and vendor tables.
    pub fn from_sources(
        event_types: (&Path, &str),
        account_changes: (&Path, &str),
        associations: (&Path, &str),
    ) -> Result<MappingTables, MappingError> {
        MappingTables::from_all(MappingSources {
            event_types,
            account_changes,
            associations,
            ..MappingSources::embedded()
        })
    }

    /// Builds the tables from every file's text.
    pub fn from_all(sources: MappingSources<'_>) -> Result<MappingTables, MappingError> {
        let mut vendor = vendor::parse_events(sources.vendor_events.0, sources.vendor_events.1)?;
        vendor::parse_fields(
            &mut vendor,
            sources.vendor_fields.0,
            sources.vendor_fields.1,
        )?;
        let deviations = deviations::parse(sources.deviations.0, sources.deviations.1)?;
        let event_deviations: Table<EventDeviation> = deviations
            .event_types
            .iter()
            .map(|(event_type, entry, line)| {
                (
                    event_type.clone(),
                    EventDeviation {
                        vendor: entry.vendor.clone(),
                        why: entry.why.clone(),
                        line: *line,
                    },
                )
            })
            .collect();
        let config::EventTypeTables {
            mut exact,
            patterns,
            entity_verbs,
            services,
            alert_statuses,
            alert_priorities,
        } = config::parse_event_types(
            sources.event_types.0,
            sources.event_types.1,
            &vendor,
            config::EventDeviations {
                source: config::Source {
                    path: sources.deviations.0,
                    text: sources.deviations.1,
                },
                entries: deviations.event_types,
            },
        )?;
        placement::place_vendor_rows(
            &mut exact,
            &vendor,
            &deviations.fields,
            sources.vendor_fields.0,
        )?;
        let account_changes =
            rules::parse_account_changes(sources.account_changes.0, sources.account_changes.1)?;
        let associations =
            rules::parse_associations(sources.associations.0, sources.associations.1)?;
        Ok(MappingTables {
            exact,
            patterns,
            entity_verbs,
            services,
            alert_statuses,
            alert_priorities,
            account_changes,
            associations,
            vendor: Arc::new(vendor),
            event_deviations,
            field_deviations: deviations.fields,
            fills: deviations.fills,
        })
    }

    /// How `event_type` is classified; `None` means Base Event.
    pub(crate) fn lookup<'t, 'e>(&'t self, event_type: &'e str) -> Option<EventTypeMatch<'t, 'e>> {
        if let Some(classification) = self.exact.get(event_type) {
            let verb = event_type
                .split_once('_')
                .map_or(event_type, |(_, verb)| verb);
            return Some(EventTypeMatch {
                classification,
                verb,
            });
        }
        self.patterns.iter().find_map(|(pattern, classification)| {
            pattern.capture(event_type).map(|verb| EventTypeMatch {
                classification,
                verb,
            })
        })
    }

    /// The activity of a verb per the entity verbs: the whole verb, then its last word.
    pub(crate) fn verb_activity(&self, verb: &str) -> Option<i32> {
        if let Some(activity) = self.entity_verbs.get(verb) {
            return Some(*activity);
        }
        let last_word = verb.rsplit('_').next()?;
        self.entity_verbs.get(last_word).copied()
    }

    /// What an alert status means for the finding (`None` when the table does not know it).
    pub(crate) fn alert_status(&self, status: &str) -> Option<AlertStatus> {
        self.alert_statuses.get(&alert_key(status)).copied()
    }

    /// The `severity_id` of an alert priority (`None` when the table does not know it).
    pub(crate) fn alert_priority(&self, priority: &str) -> Option<i32> {
        self.alert_priorities.get(&alert_key(priority)).copied()
    }

    /// The display name of a DI service.
    pub(crate) fn service_name(&self, service: &str) -> Option<&str> {
        self.services.get(service).map(String::as_str)
    }

    /// Tables that classify nothing: every event becomes a Base Event (keeps every field).
    pub fn empty() -> MappingTables {
        MappingTables {
            exact: Table::default(),
            patterns: Vec::new(),
            entity_verbs: Table::default(),
            services: Table::default(),
            alert_statuses: Table::default(),
            alert_priorities: Table::default(),
            account_changes: AccountChangeRules {
                priority: Vec::new(),
                otherwise: 99,
                rules: Vec::new(),
            },
            associations: Vec::new(),
            vendor: Arc::default(),
            event_deviations: Table::default(),
            field_deviations: Vec::new(),
            fills: Vec::new(),
        }
    }

    /// The number of exact event-type entries (for diagnostics).
    pub fn event_type_count(&self) -> usize {
        self.exact.len()
    }
}
