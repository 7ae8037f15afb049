//! What the tables say of one event type, for a person: its class and activity and where they
//! come from (the vendor's table, a deviation, this product's own table or a pattern), the
//! vendor's class when it differs and why, and the fate of each of the vendor's typed field
//! rows (`jumpcloud-ocsf map --explain EVENT_TYPE`, `docs/event-types.md`).

use std::fmt;

use super::placement::{Fate, Target, fate};
use super::{ActivityRule, Classification, EventDeviation, Fill, MappingTables, Origin};
use crate::ocsf::OcsfClass;

/// What happens to one of the vendor's field rows for the event type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowFate {
    /// The raw value is placed at the vendor's path (or the path that replaced a deprecated
    /// one).
    Placed,
    /// The mapper's own reading fills that attribute; the row fills it where that reading
    /// leaves it empty.
    Slot,
    /// The mapper's own reading follows the row as the vendor does.
    Typed,
    /// A stated deviation (`deviations.toml` `[[fields]]`): what the record has instead, why.
    Deviation { ours: String, why: String },
    /// The event type is classified differently (a deviation); the path is not in its class.
    OtherClass(String),
    /// The class is decided from the event's content; the mapper's own reading applies.
    ByContent,
}

/// One typed field row of the vendor's table for the event type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldRow {
    /// Line in `vendor/fields.tsv`.
    pub line: usize,
    pub ocsf_field: String,
    pub sources: Vec<String>,
    pub fate: RowFate,
}

/// What the tables say of one event type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    pub event_type: String,
    /// The class, `None` for a Base Event (no table names the type).
    pub class: Option<OcsfClass>,
    /// The activity, as a sentence ("3 Update", "from the event's `changes` ...").
    pub activity: String,
    pub origin: Option<Origin>,
    /// The pattern of `event_types.toml` that matched, for a type no table names exactly.
    pub pattern: Option<String>,
    /// The vendor's name of the type when it lists it under another one.
    pub same_as: Option<String>,
    /// The vendor's class, activity and `events.tsv` line.
    pub vendor: Option<(OcsfClass, i32, usize)>,
    pub deviation: Option<EventDeviation>,
    /// What this product's table adds (service, protocol, privileges, factor).
    pub enrichments: Vec<String>,
    pub fields: Vec<FieldRow>,
    /// Values the mapper supplies for what the class requires, where the vendor leaves them.
    pub fills: Vec<Fill>,
}

fn activity_text(class: OcsfClass, classification: &Classification) -> String {
    match &classification.activity {
        ActivityRule::Fixed(id) => {
            let caption = class.activity_caption(*id).unwrap_or("?");
            match (&classification.activity_name, *id) {
                (Some(name), 99) => format!("99 {caption} (activity_name {name})"),
                _ => format!("{id} {caption}"),
            }
        }
        ActivityRule::FromChanges => "from the event's `changes` (account_changes.toml): \
                                      Disable 5 > Lock 9 > Enable 2 > Unlock 12 > Password \
                                      Change 3 > Other 99"
            .to_owned(),
        ActivityRule::FromAssociation => "from the association's ends and op \
                                          (associations.toml): Group Management 3/4, User \
                                          Access Management 1/2, or Entity Management 3"
            .to_owned(),
        ActivityRule::FromVerb => "from the verb of the event type ([entity_verbs]: create 1, \
                                   update/patch 3, delete 4, else 99)"
            .to_owned(),
        ActivityRule::FromAlertStatus => "from the alert's status ([alert_statuses]): 3 Close \
                                          when it closes the finding, else 2 Update"
            .to_owned(),
    }
}

fn enrichments(classification: &Classification) -> Vec<String> {
    let mut notes = Vec::new();
    if let Some(service) = &classification.service_name {
        notes.push(format!(
            "service.name {service} (when the event names none)"
        ));
    }
    if let Some(protocol) = classification.auth_protocol_id {
        notes.push(format!("auth_protocol_id {protocol}"));
    }
    if !classification.privileges.is_empty() {
        notes.push(format!(
            "privileges {}",
            classification.privileges.join(", ")
        ));
    }
    if let Some(factor) = classification.auth_factor {
        notes.push(format!("auth_factors[].factor_type_id {factor}"));
    }
    notes
}

impl MappingTables {
    /// What the tables say of `event_type`.
    pub fn explain(&self, event_type: &str) -> Explanation {
        let vendor = self
            .vendor
            .events
            .get(event_type)
            .map(|listed| (listed.class, listed.activity_id, listed.line));
        let mut explanation = Explanation {
            event_type: event_type.to_owned(),
            class: None,
            activity: "99 Other (activity_name = the event type)".to_owned(),
            origin: None,
            pattern: None,
            same_as: None,
            vendor,
            deviation: self.event_deviations.get(event_type).cloned(),
            enrichments: Vec::new(),
            fields: Vec::new(),
            fills: Vec::new(),
        };
        let Some(found) = self.lookup(event_type) else {
            return explanation;
        };
        let classification = found.classification;
        let class = classification.class;
        explanation.class = Some(class);
        explanation.activity = activity_text(class, classification);
        explanation.origin = Some(classification.origin);
        explanation.same_as = classification.same_as.clone();
        explanation.enrichments = enrichments(classification);
        if !self.exact.contains_key(event_type) {
            explanation.pattern = self
                .patterns
                .iter()
                .find(|(_, candidate)| std::ptr::eq(candidate, classification))
                .map(|(pattern, _)| format!("{}*{}", pattern.prefix, pattern.suffix));
        }
        explanation.fills = self
            .fills
            .iter()
            .filter(|fill| fill.class == class)
            .cloned()
            .collect();
        let rows_of = classification.same_as.as_deref().unwrap_or(event_type);
        let indexes = self
            .vendor
            .rows_of
            .get(rows_of)
            .map_or(&[][..], Vec::as_slice);
        for field in indexes.iter().map(|index| &self.vendor.fields[*index]) {
            let fate = match fate(field, rows_of, classification, &self.field_deviations) {
                Fate::Untyped | Fate::Refused(_) => continue,
                Fate::Typed => RowFate::Typed,
                Fate::Placed(Target::Slot(..)) => RowFate::Slot,
                Fate::Placed(Target::Path(_)) => RowFate::Placed,
                Fate::Deviation(index) => {
                    let deviation = &self.field_deviations[index];
                    RowFate::Deviation {
                        ours: deviation.ours.clone(),
                        why: deviation.why.clone(),
                    }
                }
                Fate::OtherClass(reason) => RowFate::OtherClass(reason),
                Fate::ByContent => RowFate::ByContent,
            };
            if explanation
                .fields
                .iter()
                .any(|known| known.ocsf_field == field.ocsf_field && known.sources == field.sources)
            {
                continue;
            }
            explanation.fields.push(FieldRow {
                line: field.line,
                ocsf_field: field.ocsf_field.clone(),
                sources: field.sources.clone(),
                fate,
            });
        }
        explanation
    }

    /// The event types of the vendor's table, in its order.
    pub fn vendor_event_types(&self) -> impl Iterator<Item = &str> {
        self.vendor.order.iter().map(String::as_str)
    }

    /// The event types of this product's own table (types the vendor does not list), sorted.
    pub fn own_event_types(&self) -> Vec<&str> {
        let mut own: Vec<&str> = self
            .exact
            .iter()
            .filter(|(_, c)| c.origin == Origin::Own)
            .map(|(event_type, _)| event_type.as_str())
            .collect();
        own.sort_unstable();
        own
    }

    /// The patterns of this product's own table (`prefix*suffix`), with class and activity.
    pub fn own_patterns(&self) -> Vec<(String, OcsfClass, String)> {
        self.patterns
            .iter()
            .map(|(pattern, classification)| {
                (
                    format!("{}*{}", pattern.prefix, pattern.suffix),
                    classification.class,
                    activity_text(classification.class, classification),
                )
            })
            .collect()
    }

    /// The event types whose class or activity differs from the vendor's, with the reason.
    pub fn event_deviations(&self) -> Vec<(&str, &EventDeviation)> {
        let mut list: Vec<(&str, &EventDeviation)> = self
            .event_deviations
            .iter()
            .map(|(event_type, deviation)| (event_type.as_str(), deviation))
            .collect();
        list.sort_unstable_by_key(|(_, deviation)| deviation.line);
        list
    }

    /// The vendor's field rows this product does not follow, with the reason.
    pub fn field_deviations(&self) -> &[super::FieldDeviation] {
        &self.field_deviations
    }

    /// The values the mapper supplies where OCSF requires what the vendor leaves empty.
    pub fn fills(&self) -> &[Fill] {
        &self.fills
    }
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "event type: {}", self.event_type)?;
        match self.class {
            Some(class) => writeln!(f, "class:      {} ({})", class.caption(), class.uid())?,
            None => writeln!(f, "class:      Base Event (0): no table names it")?,
        }
        writeln!(f, "activity:   {}", self.activity)?;
        let origin = match (self.origin, &self.pattern, &self.same_as) {
            (Some(Origin::Vendor { line }), ..) => {
                format!("the vendor's table (mappings/vendor/events.tsv:{line})")
            }
            (Some(Origin::Deviation), ..) => "a deviation (mappings/deviations.toml)".to_owned(),
            (Some(Origin::Own), _, Some(alias)) => {
                format!("mappings/event_types.toml: the vendor's {alias}, under another name")
            }
            (Some(Origin::Own), Some(pattern), None) => {
                format!(
                    "mappings/event_types.toml, pattern {pattern} (the vendor does not list it)"
                )
            }
            (Some(Origin::Own), None, None) => {
                "mappings/event_types.toml (the vendor does not list it)".to_owned()
            }
            (None, ..) => "no table (the vendor does not list it)".to_owned(),
        };
        writeln!(f, "from:       {origin}")?;
        if let (Some((class, activity, line)), Some(deviation)) = (self.vendor, &self.deviation) {
            writeln!(
                f,
                "vendor:     {} ({}) {activity} {} (events.tsv:{line}); ours differs:",
                class.caption(),
                class.uid(),
                class.activity_caption(activity).unwrap_or("?")
            )?;
            writeln!(f, "            {}", deviation.why)?;
        }
        for note in &self.enrichments {
            writeln!(f, "adds:       {note}")?;
        }
        if !self.fields.is_empty() {
            writeln!(f, "the vendor's typed field rows (vendor/fields.tsv):")?;
        }
        for row in &self.fields {
            let sources = row.sources.join(", ");
            let fate = match &row.fate {
                RowFate::Placed => "placed at that path".to_owned(),
                RowFate::Slot => {
                    "the mapper's own reading, this row where it finds nothing".to_owned()
                }
                RowFate::Typed => "the mapper's own reading, as the vendor".to_owned(),
                RowFate::Deviation { ours, why } => format!("deviation: {ours} ({why})"),
                RowFate::OtherClass(reason) => format!("not in our class: {reason}"),
                RowFate::ByContent => {
                    "the mapper's own reading (class decided by content)".to_owned()
                }
            };
            writeln!(
                f,
                "  fields.tsv:{} {} <- {sources}: {fate}",
                row.line, row.ocsf_field
            )?;
        }
        for fill in &self.fills {
            writeln!(
                f,
                "fills:      {}: {} ({})",
                fill.attribute, fill.ours, fill.why
            )?;
        }
        Ok(())
    }
}
