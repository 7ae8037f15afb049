//! The vendor's tables (`mappings/vendor/`), read independently of the mapper's own reading.

use std::collections::{BTreeMap, BTreeSet};

const EVENTS_TSV: &str = include_str!("../../../../mappings/vendor/events.tsv");
const FIELDS_TSV: &str = include_str!("../../../../mappings/vendor/fields.tsv");

/// One row of `events.tsv`.
#[derive(Debug, Clone)]
pub struct VendorEvent {
    pub section: String,
    pub event_type: String,
    pub class_uid: u32,
    pub class_name: String,
    pub activity_id: i32,
    pub activity_name: String,
}

/// One row of `fields.tsv`.
#[derive(Debug, Clone)]
pub struct FieldRow {
    pub line: usize,
    pub section: String,
    pub ocsf_field: String,
    /// The raw fields, alternatives split.
    pub sources: Vec<String>,
    pub literal: String,
    pub transform: String,
    pub usage: String,
}

impl FieldRow {
    /// A raw field placed on a typed OCSF attribute with no conversion: the rows the
    /// conformance counts.
    pub fn is_typed(&self) -> bool {
        !self.sources.is_empty()
            && self.literal.is_empty()
            && self.transform.is_empty()
            && !self.ocsf_field.starts_with("metadata.")
            && !is_untyped_target(&self.ocsf_field)
    }

    /// A raw field the vendor keeps somewhere (typed or not): it belongs in the test event.
    pub fn has_source(&self) -> bool {
        !self.sources.is_empty()
    }
}

/// `unmapped.*`, `observables[]`, and the free-form `*.data` objects.
pub fn is_untyped_target(path: &str) -> bool {
    path.starts_with("unmapped.")
        || path.starts_with("observables")
        || path.starts_with("entity.data.")
        || path.starts_with("entity_result.data.")
        || path.contains(".data.")
}

/// Both tables, with every row's usage expanded to event types.
pub struct Vendor {
    pub events: Vec<VendorEvent>,
    pub rows: Vec<FieldRow>,
    /// Event type -> indexes into `rows` of the rows that name it.
    pub rows_of: BTreeMap<String, Vec<usize>>,
}

fn columns(line: &str) -> Vec<&str> {
    line.split('\t').collect()
}

impl Vendor {
    pub fn load() -> Vendor {
        let mut events = Vec::new();
        for line in EVENTS_TSV.lines().skip(1).filter(|l| !l.trim().is_empty()) {
            let c = columns(line);
            events.push(VendorEvent {
                section: c[0].to_owned(),
                event_type: c[1].to_owned(),
                class_name: c[2].to_owned(),
                class_uid: c[3].parse().expect("class_uid"),
                activity_name: c[4].to_owned(),
                activity_id: c[5].parse().expect("activity_id"),
            });
        }
        let mut rows = Vec::new();
        for (index, line) in FIELDS_TSV.lines().enumerate().skip(1) {
            if line.trim().is_empty() {
                continue;
            }
            let c = columns(line);
            rows.push(FieldRow {
                line: index + 1,
                section: c[0].to_owned(),
                ocsf_field: c[1].to_owned(),
                sources: c[2]
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect(),
                literal: c[3].to_owned(),
                transform: c[4].to_owned(),
                usage: c.get(5).copied().unwrap_or("").to_owned(),
            });
        }
        let mut vendor = Vendor {
            events,
            rows,
            rows_of: BTreeMap::new(),
        };
        let known: BTreeSet<String> = vendor.events.iter().map(|e| e.event_type.clone()).collect();
        let mut rows_of: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (index, row) in vendor.rows.iter().enumerate() {
            for event_type in vendor.usage(row) {
                if known.contains(&event_type) {
                    rows_of.entry(event_type).or_default().push(index);
                }
            }
        }
        vendor.rows_of = rows_of;
        vendor
    }

    fn section_events(&self, section: &str) -> Vec<String> {
        self.events
            .iter()
            .filter(|e| e.section == section)
            .map(|e| e.event_type.clone())
            .collect()
    }

    /// The event types a row names: "all events in this service", a list, the named ones of
    /// an abbreviated list ("N events: a, b, ... (+K more)"), or a section minus "missing".
    pub fn usage(&self, row: &FieldRow) -> Vec<String> {
        let usage = row.usage.trim();
        if usage == "all events in this service" {
            return self.section_events(&row.section);
        }
        if let Some((_, missing)) = usage.split_once(" events (missing: ") {
            let missing: BTreeSet<&str> = missing
                .trim_end_matches(')')
                .split(',')
                .map(str::trim)
                .collect();
            return self
                .section_events(&row.section)
                .into_iter()
                .filter(|e| !missing.contains(e.as_str()))
                .collect();
        }
        let list = match usage.split_once(" events: ") {
            Some((count, rest)) if count.chars().all(|c| c.is_ascii_digit()) => rest,
            _ => usage,
        };
        list.split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty() && !name.contains("...") && !name.contains('('))
            .map(str::to_owned)
            .collect()
    }

    /// The rows of one event type, each (target, source) once.
    pub fn rows_for(&self, event_type: &str) -> Vec<&FieldRow> {
        let mut seen = BTreeSet::new();
        self.rows_of
            .get(event_type)
            .into_iter()
            .flatten()
            .map(|index| &self.rows[*index])
            .filter(|row| seen.insert((row.ocsf_field.clone(), row.sources.clone())))
            .collect()
    }
}
