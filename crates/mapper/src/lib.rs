//! Directory Insights event -> OCSF 1.8.0 record.
//!
//! One job: turn the raw JSON bytes of one JumpCloud Directory Insights event into one OCSF
//! 1.8.0 event: the class and activity JumpCloud's own OCSF mapping gives its event type (18
//! classes, from Authentication to Scheduled Job Activity), the raw fields the vendor types at
//! the vendor's paths, every difference stated in `mappings/deviations.toml`; a Base Event with
//! every source field kept for a type no table names. The tables are data in `mappings/`
//! (the vendor's as `mappings/vendor/`), compiled in as the default.
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
pub use tables::{
    ACCOUNT_CHANGES_FILE, ASSOCIATIONS_FILE, DEVIATIONS_FILE, EVENT_TYPES_FILE, EventDeviation,
    Explanation, FieldDeviation, FieldRow, Fill, MappingSources, MappingTables, Origin, RowFate,
    VENDOR_EVENTS_FILE, VENDOR_FIELDS_FILE,
};
