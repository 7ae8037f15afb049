//! JumpCloud's own OCSF mapping (`mappings/vendor/events.tsv`, `fields.tsv`): the class and
//! activity of each event type it lists, and its field rows with their usage expanded.

use std::collections::BTreeSet;
use std::path::Path;

use super::Table;
use crate::error::MappingError;
use crate::ocsf::OcsfClass;

/// File name of the vendor's event table (under `vendor/`).
pub const VENDOR_EVENTS_FILE: &str = "vendor/events.tsv";
/// File name of the vendor's field table (under `vendor/`).
pub const VENDOR_FIELDS_FILE: &str = "vendor/fields.tsv";

/// One row of `events.tsv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct VendorEvent {
    /// The page's section (`directory_object`, `alert`, ...).
    pub section: String,
    pub class: OcsfClass,
    pub activity_id: i32,
    /// Line in `events.tsv`.
    pub line: usize,
}

/// One row of `fields.tsv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct VendorField {
    pub section: String,
    pub ocsf_field: String,
    /// The raw fields, alternatives in the file's order.
    pub sources: Vec<String>,
    pub literal: String,
    pub transform: String,
    pub usage: String,
    /// Line in `fields.tsv`.
    pub line: usize,
}

impl VendorField {
    /// Whether the row places the raw value as it is: no transform, or a cast to a number
    /// (`geoip.latitude → double`). Enum tables, boolean-to-status and time conversions are the
    /// typed code's (`actor.user.type_id`, `status_id`, `time`).
    pub fn is_plain_or_cast(&self) -> bool {
        let transform = self.transform.as_str();
        transform.is_empty()
            || ((transform.contains("→ int") || transform.contains("→ double"))
                && !["enum", "boolean", "iso8601"]
                    .iter()
                    .any(|other| transform.contains(other)))
    }
}

/// Both tables.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct VendorTables {
    pub events: Table<VendorEvent>,
    /// Event types in `events.tsv` order.
    pub order: Vec<String>,
    pub fields: Vec<VendorField>,
    /// Event type -> the indexes in `fields` of the rows that apply to it (in file order).
    pub rows_of: Table<Vec<usize>>,
}

fn columns(line: &str) -> Vec<&str> {
    line.split('\t').collect()
}

pub(super) fn parse_events(path: &Path, text: &str) -> Result<VendorTables, MappingError> {
    let mut tables = VendorTables::default();
    let mut lines = text.lines().enumerate();
    let header = lines.next().map(|(_, line)| line).unwrap_or("");
    if !header.starts_with("service\tevent_type\tclass_name\tclass_uid\tactivity_name\tactivity_id")
    {
        return Err(MappingError::new(
            path,
            1,
            "not the vendor's events.tsv (header)",
        ));
    }
    for (index, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let error = |reason: String| MappingError::new(path, index + 1, reason);
        let c = columns(line);
        if c.len() < 6 {
            return Err(error(format!("{} columns, expected 8", c.len())));
        }
        let class_uid: u32 = c[3]
            .parse()
            .map_err(|_| error(format!("class_uid {:?} is not a number", c[3])))?;
        let class = OcsfClass::from_uid(class_uid).ok_or_else(|| {
            error(format!(
                "class_uid {class_uid} is not a class the mapper has"
            ))
        })?;
        let activity_id: i32 = c[5]
            .parse()
            .map_err(|_| error(format!("activity_id {:?} is not a number", c[5])))?;
        if class.activity_caption(activity_id) != Some(c[4]) {
            return Err(error(format!(
                "activity {activity_id} {:?} is not an activity of {}",
                c[4],
                class.caption()
            )));
        }
        let event_type = c[1].trim().to_owned();
        let entry = VendorEvent {
            section: c[0].trim().to_owned(),
            class,
            activity_id,
            line: index + 1,
        };
        if tables.events.insert(event_type.clone(), entry).is_some() {
            return Err(error(format!("event type {event_type} is listed twice")));
        }
        tables.order.push(event_type);
    }
    Ok(tables)
}

pub(super) fn parse_fields(
    tables: &mut VendorTables,
    path: &Path,
    text: &str,
) -> Result<(), MappingError> {
    let mut lines = text.lines().enumerate();
    let header = lines.next().map(|(_, line)| line).unwrap_or("");
    if !header.starts_with("service\tocsf_field\tsource\tliteral\ttransform\tusage") {
        return Err(MappingError::new(
            path,
            1,
            "not the vendor's fields.tsv (header)",
        ));
    }
    for (index, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let c = columns(line);
        if c.len() < 6 {
            return Err(MappingError::new(
                path,
                index + 1,
                format!("{} columns, expected 6", c.len()),
            ));
        }
        tables.fields.push(VendorField {
            section: c[0].trim().to_owned(),
            ocsf_field: c[1].trim().to_owned(),
            sources: c[2]
                .split(',')
                .map(str::trim)
                .filter(|source| !source.is_empty())
                .map(str::to_owned)
                .collect(),
            literal: c[3].trim().to_owned(),
            transform: c[4].trim().to_owned(),
            usage: c[5].trim().to_owned(),
            line: index + 1,
        });
    }
    let mut rows_of: Table<Vec<usize>> = Table::default();
    for (index, field) in tables.fields.iter().enumerate() {
        for event_type in tables.usage(field) {
            rows_of
                .entry(event_type.to_owned())
                .or_default()
                .push(index);
        }
    }
    tables.rows_of = rows_of;
    Ok(())
}

impl VendorTables {
    /// The event types a field row applies to: every type of its section ("all events in
    /// this service"), its section but the missing ones ("N events (missing: x, y)"), or the
    /// types it names (an abbreviated list "N events: a, b, ... (+K more)" names only some:
    /// the rest are not on the page).
    pub fn usage(&self, field: &VendorField) -> Vec<&str> {
        let section = |name: &str| -> Vec<&str> {
            self.order
                .iter()
                .filter(|event_type| {
                    self.events
                        .get(event_type.as_str())
                        .is_some_and(|event| event.section == name)
                })
                .map(String::as_str)
                .collect()
        };
        let usage = field.usage.as_str();
        if usage == "all events in this service" {
            return section(&field.section);
        }
        if let Some((_, missing)) = usage.split_once(" events (missing: ") {
            let missing: BTreeSet<&str> = missing
                .trim_end_matches(')')
                .split(',')
                .map(str::trim)
                .collect();
            return section(&field.section)
                .into_iter()
                .filter(|event_type| !missing.contains(event_type))
                .collect();
        }
        let list = match usage.split_once(" events: ") {
            Some((count, rest)) if count.bytes().all(|b| b.is_ascii_digit()) => rest,
            _ => usage,
        };
        list.split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty() && !name.contains("...") && !name.contains('('))
            .filter_map(|name| self.events.get_key_value(name).map(|(key, _)| key.as_str()))
            .collect()
    }
}
