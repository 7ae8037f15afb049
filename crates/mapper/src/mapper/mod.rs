//! The mapping itself: one raw Directory Insights event -> one OCSF 1.8.0 event.
//!
//! What is an error and what is not (the pipeline must never lose an event):
//! - [`MapError`]: the bytes are not JSON, the JSON is not an object, or `timestamp` is missing,
//!   not an RFC 3339 string, or not a plausible event time ([`PLAUSIBLE_TIME_MS`]). The caller
//!   dead-letters the raw bytes with the reason.
//! - Everything else maps. An unknown or missing `event_type` is a Base Event (class 0,
//!   activity 99 with `activity_name` = the event_type, or 0 Unknown without one) carrying every
//!   source field in `unmapped.jumpcloud`. A known event type whose class-required data is
//!   missing (Authentication or Account Change without a user, Entity Management without an
//!   entity, Group Management without a group, User Access without a user) is also a Base Event,
//!   with `activity_name` = the event_type, so the output always validates.
//! - A missing `id` maps too: `metadata.uid` is then a UUIDv5 of the raw bytes.

mod classify;
mod config;
mod consumed;
mod extract;
mod fill;
mod model;
mod observables;
mod place;
mod prune;
#[cfg(test)]
mod tests;
mod write;

use std::borrow::Cow;

pub use config::MapOptions;

use crate::error::MapError;
use crate::json_writer::JsonWriter;
use crate::record::{MappedEvent, OcsfRecord};
use crate::source::{RawObject, has_wide_number, json_kind, lone_surrogates_replaced, raw_str};
use crate::tables::MappingTables;

/// Maps Directory Insights events to OCSF. `Send + Sync`: build one and share it.
#[derive(Debug, Clone)]
pub struct Mapper {
    tables: MappingTables,
    options: MapOptions,
}

// The mapper and its errors are shared across tasks and threads: checked when compiling.
const _: () = {
    const fn shareable<T: Send + Sync + 'static>() {}
    shareable::<Mapper>();
    shareable::<MapError>();
    shareable::<crate::MappingError>();
};

impl Default for Mapper {
    /// The embedded tables and default options.
    fn default() -> Mapper {
        // The embedded tables are checked by the tests; should they ever fail to load, every
        // event still maps (as a Base Event), nothing is dropped.
        let tables = MappingTables::embedded().unwrap_or_else(|_| MappingTables::empty());
        Mapper::new(tables, MapOptions::default())
    }
}

impl Mapper {
    /// A mapper over these tables.
    pub fn new(tables: MappingTables, options: MapOptions) -> Mapper {
        Mapper { tables, options }
    }

    /// The options in use.
    pub fn options(&self) -> &MapOptions {
        &self.options
    }

    /// Maps one raw event (the JSON bytes of one DI event).
    pub fn map(&self, raw: &[u8]) -> Result<OcsfRecord, MapError> {
        let mut json = Vec::with_capacity(raw.len() * 2 + 512);
        let facts = self.map_into(raw, &mut json)?;
        Ok(facts.into_record(json))
    }

    /// Maps one raw event, appending its compact OCSF JSON (no newline) to `out`. On error
    /// nothing is appended. Reuse `out` across calls to avoid allocations.
    pub fn map_into(&self, raw: &[u8], out: &mut Vec<u8>) -> Result<MappedEvent, MapError> {
        let text = trim_input(raw);
        // Checked once here; parsing from `&str` then skips serde_json's per-value UTF-8 checks.
        let raw_text = std::str::from_utf8(text)
            .map_err(|error| MapError::InvalidJson(format!("invalid UTF-8: {error}")))?;
        // The source with lone surrogate escapes read as U+FFFD, when it has any.
        let readable: Cow<'_, str>;
        let source: RawObject<'_> = match text.first() {
            // The fast scan refuses nesting deeper than its own limit (below
            // MAX_NESTING_DEPTH): what it accepts needs no separate depth check.
            Some(b'{') => match RawObject::scan(raw_text) {
                Some(source) => source,
                None => {
                    if nesting_exceeds(text, MAX_NESTING_DEPTH) {
                        return Err(MapError::TooDeep(MAX_NESTING_DEPTH));
                    }
                    // The fast scan refuses every surrogate escape; a lone one (valid JSON that
                    // no string can hold, refused by serde_json's `Value` and most consumers)
                    // would reach the output as it came.
                    readable = lone_surrogates_replaced(raw_text);
                    let mut source: RawObject<'_> = serde_json::from_str(&readable)
                        .map_err(|error| MapError::InvalidJson(error.to_string()))?;
                    source.had_lone_surrogates = matches!(readable, Cow::Owned(_));
                    // The fast scan hands out no number wider than a double; this path may.
                    source.has_wide_number = has_wide_number(&readable);
                    source
                }
            },
            Some(_) => {
                return Err(
                    match serde_json::from_slice::<serde::de::IgnoredAny>(text) {
                        Ok(_) => MapError::NotAnObject(json_kind(text)),
                        Err(error) => MapError::InvalidJson(error.to_string()),
                    },
                );
            }
            None => return Err(MapError::InvalidJson("empty input".to_owned())),
        };
        let timestamp = source
            .get("timestamp")
            .ok_or_else(|| MapError::Timestamp("the event has no `timestamp`".to_owned()))?;
        let timestamp_text = raw_str(timestamp).ok_or_else(|| {
            MapError::Timestamp(format!("`timestamp` is not a string: {}", short(timestamp)))
        })?;
        let time_ms = chrono::DateTime::parse_from_rfc3339(&timestamp_text)
            .map_err(|error| {
                MapError::Timestamp(format!(
                    "`timestamp` {:?} is not RFC 3339: {error}",
                    shorten(&timestamp_text)
                ))
            })?
            .timestamp_millis();
        if !PLAUSIBLE_TIME_MS.contains(&time_ms) {
            return Err(MapError::Timestamp(format!(
                "`timestamp` {:?} is not a plausible event time (OCSF `time` must be epoch \
                 milliseconds from 1973-03-03T09:46:40Z, below which validators read seconds, \
                 to 2100-01-01)",
                shorten(&timestamp_text)
            )));
        }

        let organization = source.non_empty_str("organization");
        let id = source.non_empty_str("id");
        let uid = event_uid(
            organization.as_deref(),
            id.as_deref(),
            &timestamp_text,
            text,
        );

        let event = classify::build(&self.tables, &source, time_ms, timestamp_text.clone());
        let start = out.len();
        let mut writer = JsonWriter::new(out);
        event.write(&mut writer, &source, raw_text, &uid, self.options.raw_data);
        debug_assert!(out.len() > start);

        let (class_uid, class_name, activity_id) = (
            event.class.uid(),
            event.class.schema_name(),
            event.activity_id,
        );
        let event_code = event.event_type.as_deref().map(str::to_owned);
        let subject_user_uid = event
            .user
            .as_ref()
            .and_then(|user| user.uid.as_deref())
            .map(str::to_owned);
        Ok(MappedEvent {
            class_uid,
            class_name,
            activity_id,
            uid,
            tenant_uid: organization.map(Cow::into_owned),
            event_code,
            original_event_uid: id.map(Cow::into_owned),
            subject_user_uid,
            json: (),
        })
    }
}

/// The event times the mapper accepts, epoch milliseconds: from 10^11 (1973-03-03T09:46:40Z;
/// below it OCSF validators take a `timestamp_t` for seconds) to 2100-01-01. An event outside
/// is an error (dead-lettered with the reason and its bytes): a `time` in the year 6022
/// (`127875557812123`) is one no consumer reads as milliseconds.
pub const PLAUSIBLE_TIME_MS: std::ops::Range<i64> = 100_000_000_000..4_102_444_800_000;

/// The deepest nesting of arrays/objects an event may have (serde_json's own default limit).
pub const MAX_NESTING_DEPTH: usize = 128;

/// Whether valid JSON `text` nests arrays/objects deeper than `limit`.
fn nesting_exceeds(text: &[u8], limit: usize) -> bool {
    // Fast path: fewer opening brackets than the limit cannot nest deeper than it.
    if count_openers(text) <= limit {
        return false;
    }
    let mut depth = 0_usize;
    let mut index = 0;
    while let Some(offset) = memchr::memchr3(b'"', b'[', b'{', &text[index..]) {
        let at = index + offset;
        match text[at] {
            b'"' => {
                // Skip the string: find its closing quote (not escaped).
                let mut end = at + 1;
                loop {
                    let rest = text.get(end..).unwrap_or_default();
                    match memchr::memchr2(b'"', b'\\', rest) {
                        Some(found) if text[end + found] == b'\\' => end += found + 2,
                        Some(found) => {
                            end += found + 1;
                            break;
                        }
                        None => return false,
                    }
                }
                // Closing brackets between the previous token and here lower the depth.
                depth = depth.saturating_sub(count_closers(&text[index..at]));
                index = end.min(text.len());
                continue;
            }
            _ => {
                depth = depth.saturating_sub(count_closers(&text[index..at]));
                depth += 1;
                if depth > limit {
                    return true;
                }
            }
        }
        index = at + 1;
    }
    false
}

/// The number of `[` and `{` in `text`. `[` (0x5b) and `{` (0x7b) differ only in bit 0x20, so
/// it is one compare per byte; summed in `u8` lanes per 255-byte block, which vectorizes.
fn count_openers(text: &[u8]) -> usize {
    text.chunks(255)
        .map(|block| {
            let in_block: u8 = block
                .iter()
                .map(|&byte| u8::from(byte | 0x20 == b'{'))
                .fold(0, u8::wrapping_add);
            usize::from(in_block)
        })
        .sum()
}

fn count_closers(between: &[u8]) -> usize {
    between.iter().filter(|b| matches!(b, b']' | b'}')).count()
}

/// The mapper's view of the input: without a UTF-8 BOM and surrounding whitespace.
fn trim_input(raw: &[u8]) -> &[u8] {
    let raw = raw.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(raw);
    raw.trim_ascii()
}

/// `metadata.uid`: UUIDv5 (RFC 4122 URL namespace) of `jumpcloud:<organization>:<id>:<timestamp>`,
/// or of the raw bytes when the event has no `id`.
pub(super) fn event_uid(
    organization: Option<&str>,
    id: Option<&str>,
    timestamp: &str,
    raw: &[u8],
) -> String {
    use sha1::Digest;
    // UUIDv5 = SHA-1 of namespace + name (RFC 4122 4.3), hashed part by part: no name buffer.
    // The `sha1` crate uses the CPU's SHA extensions where present. `uuid::Uuid::new_v5` gives
    // the same bytes but hashes with the portable `sha1_smol` over a formatted name: 325 ns
    // against 185 ns per uid, 3-10 % of the mapper's throughput (`cargo bench -p mapper`, both
    // builds interleaved), which the >= 1.5x target (met at 1.52x) cannot spare.
    let mut hasher = sha1::Sha1::new();
    hasher.update(uuid::Uuid::NAMESPACE_URL.as_bytes());
    match id {
        Some(id) => {
            for part in [
                "jumpcloud:",
                organization.unwrap_or(""),
                ":",
                id,
                ":",
                timestamp,
            ] {
                hasher.update(part.as_bytes());
            }
        }
        None => hasher.update(raw),
    }
    let digest = hasher.finalize();
    let mut bytes = [0_u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    let uuid = uuid::Builder::from_sha1_bytes(bytes).into_uuid();
    let mut buffer = uuid::Uuid::encode_buffer();
    uuid.hyphenated().encode_lower(&mut buffer).to_owned()
}

fn short(raw: &str) -> String {
    shorten(raw).to_owned()
}

/// At most 64 bytes of `text` (on a char boundary), for error messages.
fn shorten(text: &str) -> &str {
    if text.len() <= 64 {
        return text;
    }
    let mut end = 64;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}
