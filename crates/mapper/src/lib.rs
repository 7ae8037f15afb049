//! Directory Insights event -> OCSF 1.8.0 record.
//!
//! One job: turn the raw JSON bytes of one JumpCloud Directory Insights event into one OCSF
//! 1.8.0 event (Authentication 3002, Account Change 3001, Entity Management 3004, User Access
//! Management 3005, Group Management 3006, Detection Finding 2004 for alerts, or a Base Event
//! with every source field kept). The
//! event_type -> class/activity tables are data in `mappings/`, compiled in as the default.
//! Nothing is ever dropped: an event that cannot be mapped is an error the caller dead-letters.
//!
//! ```
//! let mapper = mapper::Mapper::default();
//! let record = mapper
//!     .map(br#"{"id":"1","timestamp":"2026-01-01T00:00:00Z","event_type":"ldap_search"}"#)
//!     .unwrap();
//! assert_eq!(record.class_uid, 0);
//! ```

mod error;
pub mod inventory;
mod json_writer;
mod mapper;
pub mod ocsf;
pub mod record;
mod source;
mod tables;

pub use error::{MapError, MappingError};
pub use mapper::{MAX_NESTING_DEPTH, MapOptions, Mapper, PLAUSIBLE_TIME_MS};
pub use record::{MappedEvent, OcsfRecord};
pub use tables::{ACCOUNT_CHANGES_FILE, ASSOCIATIONS_FILE, EVENT_TYPES_FILE, MappingTables};
