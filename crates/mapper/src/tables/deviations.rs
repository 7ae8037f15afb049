//! `mappings/deviations.toml`: every place the product's OCSF differs from JumpCloud's own
//! mapping, with the vendor's choice and the reason. The event-type entries change what the
//! mapper does (the class and activity rule given replace the vendor's); the field entries take
//! vendor rows out of the placement; the fill entries describe values the mapper supplies where
//! OCSF requires an attribute the vendor leaves empty (the code in `mapper/fill/` does that).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use super::config::{RawActivity, Source, class_named};
use crate::error::MappingError;
use crate::ocsf::OcsfClass;

/// File name of the deviations.
pub const DEVIATIONS_FILE: &str = "deviations.toml";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEventDeviation {
    pub class: Spanned<String>,
    pub activity: Spanned<RawActivity>,
    pub activity_name: Option<String>,
    pub vendor: String,
    pub why: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFieldDeviation {
    ocsf_fields: Vec<String>,
    source: Option<String>,
    event_types: Option<Vec<String>>,
    classes: Option<Vec<Spanned<String>>>,
    ours: String,
    why: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFill {
    class: Spanned<String>,
    attribute: String,
    ours: String,
    why: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDeviations {
    #[serde(default)]
    event_types: BTreeMap<String, Spanned<RawEventDeviation>>,
    #[serde(default)]
    fields: Vec<Spanned<RawFieldDeviation>>,
    #[serde(default)]
    fills: Vec<Spanned<RawFill>>,
}

/// Vendor field rows the product does not follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldDeviation {
    /// Paths, or prefixes ending in `.*`.
    pub ocsf_fields: Vec<String>,
    /// Only rows with this raw field (or below this prefix, ending in `.*`).
    pub source: Option<String>,
    /// Only these event types.
    pub event_types: Option<Vec<String>>,
    /// Only event types of these classes.
    pub classes: Option<Vec<OcsfClass>>,
    pub ours: String,
    pub why: String,
    /// Line in `deviations.toml`.
    pub line: usize,
}

impl FieldDeviation {
    /// Whether this deviation names a vendor row (target path, raw fields) of an event type.
    pub fn names(
        &self,
        path: &str,
        sources: &[String],
        event_type: &str,
        class: OcsfClass,
    ) -> bool {
        let path_named = self
            .ocsf_fields
            .iter()
            .any(|named| match named.strip_suffix(".*") {
                Some(prefix) => path
                    .strip_prefix(prefix)
                    .is_some_and(|rest| rest.starts_with('.')),
                None => named == path,
            });
        path_named
            && self.source.as_ref().is_none_or(|named| {
                sources.iter().any(|source| match named.strip_suffix(".*") {
                    Some(prefix) => source
                        .strip_prefix(prefix)
                        .is_some_and(|rest| rest.starts_with('.')),
                    None => source == named,
                })
            })
            && self
                .event_types
                .as_ref()
                .is_none_or(|types| types.iter().any(|t| t == event_type))
            && self
                .classes
                .as_ref()
                .is_none_or(|classes| classes.contains(&class))
    }
}

/// A value the mapper supplies for a required attribute the vendor leaves empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fill {
    pub class: OcsfClass,
    pub attribute: String,
    pub ours: String,
    pub why: String,
}

/// An event type the product classifies differently: the vendor's choice and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventDeviation {
    pub vendor: String,
    pub why: String,
    /// Line in `deviations.toml`.
    pub line: usize,
}

/// The parsed file: event-type entries (with their raw classification, built by the caller),
/// field entries and fills.
pub(super) struct Deviations {
    pub event_types: Vec<(String, RawEventDeviation, usize)>,
    pub fields: Vec<FieldDeviation>,
    pub fills: Vec<Fill>,
}

pub(super) fn parse(path: &Path, text: &str) -> Result<Deviations, MappingError> {
    let source = Source { path, text };
    let raw: RawDeviations = source.parse()?;
    let mut event_types = Vec::with_capacity(raw.event_types.len());
    for (event_type, entry) in raw.event_types {
        let line = source.line_of(entry.span().start);
        let entry = entry.into_inner();
        if entry.vendor.trim().is_empty() || entry.why.trim().is_empty() {
            return Err(MappingError::new(
                path,
                line,
                format!("deviation of {event_type} needs `vendor` and `why`"),
            ));
        }
        event_types.push((event_type, entry, line));
    }
    let mut fields = Vec::with_capacity(raw.fields.len());
    for entry in raw.fields {
        let line = source.line_of(entry.span().start);
        let entry = entry.into_inner();
        if entry.ocsf_fields.is_empty()
            || entry.why.trim().is_empty()
            || entry.ours.trim().is_empty()
        {
            return Err(MappingError::new(
                path,
                line,
                "a field deviation needs `ocsf_fields`, `ours` and `why`",
            ));
        }
        let classes = match entry.classes {
            None => None,
            Some(names) => Some(
                names
                    .iter()
                    .map(|name| class_named(&source, name))
                    .collect::<Result<Vec<_>, _>>()?,
            ),
        };
        fields.push(FieldDeviation {
            ocsf_fields: entry.ocsf_fields,
            source: entry.source,
            event_types: entry.event_types,
            classes,
            ours: entry.ours,
            why: entry.why,
            line,
        });
    }
    let mut fills = Vec::with_capacity(raw.fills.len());
    for entry in raw.fills {
        let entry = entry.into_inner();
        fills.push(Fill {
            class: class_named(&source, &entry.class)?,
            attribute: entry.attribute,
            ours: entry.ours,
            why: entry.why,
        });
    }
    Ok(Deviations {
        event_types,
        fields,
        fills,
    })
}
