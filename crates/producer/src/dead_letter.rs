//! Dead letters: what could not be mapped, encoded or produced, with its raw bytes and the
//! reason, for the dead-letter topic.

use bytes::Bytes;

/// The pipeline stage where a record failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stage {
    /// Mapping a raw event to OCSF (including an event that is not JSON).
    Map,
    /// Encoding an OCSF record (Avro).
    Encode,
    /// Producing to Kafka (e.g. a record larger than the broker accepts).
    Produce,
}

impl Stage {
    /// The `dlq_stage` header value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Map => "map",
            Self::Encode => "encode",
            Self::Produce => "produce",
        }
    }
}

/// A record for the dead-letter topic. The value is `raw`; the rest goes into headers
/// (`dlq_reason`, `dlq_stage`, `tenant_uid`, `original_event_uid`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// The bytes as received (the raw event, or the OCSF JSON that failed to encode).
    pub raw: Bytes,
    /// Why it failed, for a human.
    pub reason: String,
    /// Where it failed.
    pub stage: Stage,
    /// The JumpCloud organisation it came from.
    pub org_id: Option<String>,
    /// The Directory Insights event id, when known.
    pub event_id: Option<String>,
}

impl DeadLetter {
    /// A dead letter of `raw`, refused at `stage` for `reason`, from the organisation `org_id`
    /// (empty: none known) and the Directory Insights event `event_id` when known.
    pub fn new(
        raw: impl Into<Bytes>,
        stage: Stage,
        reason: impl Into<String>,
        org_id: &str,
        event_id: Option<&str>,
    ) -> Self {
        Self {
            raw: raw.into(),
            reason: reason.into(),
            stage,
            org_id: Some(org_id.to_owned()).filter(|org| !org.is_empty()),
            event_id: event_id.map(str::to_owned),
        }
    }
}
