//! Errors: a mapping file that cannot be used, and an event that cannot be mapped.

use std::path::{Path, PathBuf};

/// A mapping file is invalid. Names the file, the 1-based line (0 when unknown) and the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}:{line}: {reason}", file.display())]
pub struct MappingError {
    /// The file.
    pub file: PathBuf,
    /// 1-based line, 0 when the problem is not tied to a line (e.g. unreadable file).
    pub line: usize,
    /// What is wrong.
    pub reason: String,
}

impl MappingError {
    pub(crate) fn new(file: &Path, line: usize, reason: impl Into<String>) -> MappingError {
        MappingError {
            file: file.to_path_buf(),
            line,
            reason: reason.into(),
        }
    }
}

/// An event that cannot be mapped. The caller dead-letters the raw bytes with this reason.
///
/// Only these are errors; everything else maps (unknown or missing `event_type`, missing
/// `id`, odd field types all give a valid OCSF event, Base Event when nothing better fits).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MapError {
    /// The bytes are not one JSON value (syntax, invalid UTF-8, nesting deeper than 128, ...).
    #[error("not valid JSON: {0}")]
    InvalidJson(String),
    /// Valid JSON nested deeper than [`crate::MAX_NESTING_DEPTH`]: kept out of the OCSF stream
    /// because common JSON readers (serde_json, Python) refuse such documents.
    #[error("JSON nested deeper than {0} levels")]
    TooDeep(usize),
    /// Valid JSON, but not an object.
    #[error("not a JSON object: the event is a JSON {0}")]
    NotAnObject(&'static str),
    /// No `timestamp`, or one that is not an RFC 3339 string.
    #[error("no usable timestamp: {0}")]
    Timestamp(String),
}
