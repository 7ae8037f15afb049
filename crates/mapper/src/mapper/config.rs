//! Options of the [`super::Mapper`].

/// How the mapper writes events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapOptions {
    /// Put the original event text in `raw_data` (default `true`). Costs roughly the input size
    /// again per event; turn it off when the lake keeps the raw events elsewhere.
    pub raw_data: bool,
}

impl Default for MapOptions {
    fn default() -> MapOptions {
        MapOptions { raw_data: true }
    }
}
