//! Where the sources start: the checkpoints read once at start-up.
//!
//! With the Kafka state store the cursors live in a compacted topic (key = checkpoint key,
//! value = the checkpoint as JSON), read back with `read_committed`; a file checkpoint is taken
//! over for a key the topic does not hold yet (so switching stores does not restart from the
//! initial lookback). With the file store, the file. After start-up the durable checkpoints are
//! the acknowledgements' (`ack.rs`), written with each unit by the destination. The state
//! topic also holds the audit's records (keys `audit/...`, not checkpoints): they are read into
//! an [`audit::Ledger`](crate::audit::Ledger) here.

use std::collections::BTreeMap;
use std::sync::Arc;

use fetcher::{Checkpoint, CheckpointError, CheckpointStore};

use crate::audit::{Ledger, is_audit_key};

/// The checkpoints the sources start from.
#[derive(Debug)]
pub struct StartingCheckpoints {
    /// The state topic and what it held, with the Kafka state store.
    topic: Option<(String, BTreeMap<String, Checkpoint>)>,
    /// The file store: the store itself, or taken over for keys the topic does not hold.
    file: Option<Arc<dyn CheckpointStore>>,
    /// The audit's records of the state topic.
    audit: Ledger,
}

impl StartingCheckpoints {
    /// The state read from `topic` (raw values by key); a value that is not a checkpoint is an
    /// error naming its key (the pipeline never silently restarts from zero).
    pub fn from_state_topic(
        topic: &str,
        records: BTreeMap<String, Vec<u8>>,
        file: Option<Arc<dyn CheckpointStore>>,
    ) -> Result<Self, CheckpointError> {
        let audit = Ledger::read(records.iter().filter(|(key, _)| is_audit_key(key)));
        Ok(Self {
            topic: Some((topic.to_owned(), decode_state(topic, records)?)),
            file,
            audit,
        })
    }

    /// The checkpoints of a file store.
    pub fn from_file(store: Arc<dyn CheckpointStore>) -> Self {
        Self {
            topic: None,
            file: Some(store),
            audit: Ledger::default(),
        }
    }

    /// The checkpoint a source with `key` starts from (`None`: none; it starts from its
    /// initial cursor).
    pub fn checkpoint(&self, key: &str) -> Result<Option<Checkpoint>, CheckpointError> {
        if let Some((topic, values)) = &self.topic {
            if let Some(held) = values.get(key) {
                return Ok(Some(held.clone()));
            }
            let Some(file) = &self.file else {
                return Ok(None);
            };
            let taken = file.load(key)?;
            if let Some(checkpoint) = &taken {
                tracing::info!(
                    key,
                    file = %file.location(),
                    topic = %topic,
                    cursor = %checkpoint.cursor,
                    "taking over the file checkpoint: the state topic holds none for this key yet; the next unit writes it there"
                );
            }
            return Ok(taken);
        }
        match &self.file {
            Some(file) => file.load(key),
            None => Ok(None),
        }
    }

    /// The audit's records the state topic held (empty with the file store).
    pub fn audit_ledger(&self) -> &Ledger {
        &self.audit
    }

    /// Where the checkpoints come from.
    pub fn location(&self) -> String {
        match (&self.topic, &self.file) {
            (Some((topic, _)), _) => format!("kafka:{topic}"),
            (None, Some(file)) => file.location(),
            (None, None) => "none".into(),
        }
    }

    /// The JSON value of a state record.
    pub fn encode(checkpoint: &Checkpoint) -> Vec<u8> {
        serde_json::to_vec(checkpoint).unwrap_or_default()
    }
}

/// The checkpoints of the state topic's records (raw values by key; the audit's keys are not
/// checkpoints and are passed over); a value that is not a checkpoint is an error naming its key.
pub(crate) fn decode_state(
    topic: &str,
    records: BTreeMap<String, Vec<u8>>,
) -> Result<BTreeMap<String, Checkpoint>, CheckpointError> {
    records
        .into_iter()
        .filter(|(key, _)| !is_audit_key(key))
        .map(|(key, value)| {
            serde_json::from_slice(&value)
                .map(|checkpoint| (key.clone(), checkpoint))
                .map_err(|e| CheckpointError::Corrupt {
                    path: format!("kafka topic {topic}, key {key}").into(),
                    reason: e.to_string(),
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn checkpoint(second: u32) -> Checkpoint {
        Checkpoint {
            cursor: Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, second).unwrap(),
            acked: Vec::new(),
            updated_at: Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap(),
        }
    }

    #[test]
    fn the_topic_wins_and_a_file_checkpoint_is_taken_over_for_missing_keys() {
        let dir = tempfile::tempdir().unwrap();
        let file = fetcher::FileCheckpointStore::open(dir.path().join("cp.json")).unwrap();
        file.save("events/a", &checkpoint(1)).unwrap();
        file.save("events/b", &checkpoint(2)).unwrap();
        let records = BTreeMap::from([(
            "events/a".to_string(),
            StartingCheckpoints::encode(&checkpoint(30)),
        )]);
        let state =
            StartingCheckpoints::from_state_topic("s", records, Some(Arc::new(file))).unwrap();
        assert_eq!(state.checkpoint("events/a").unwrap(), Some(checkpoint(30)));
        assert_eq!(state.checkpoint("events/b").unwrap(), Some(checkpoint(2)));
        assert_eq!(state.checkpoint("events/c").unwrap(), None);
        assert_eq!(state.location(), "kafka:s");
    }

    #[test]
    fn the_audits_records_are_routed_to_its_ledger_not_decoded_as_checkpoints() {
        let records = BTreeMap::from([
            (
                "events/a".to_string(),
                StartingCheckpoints::encode(&checkpoint(30)),
            ),
            (
                "audit/events/a".to_string(),
                br#"{"from":"2026-11-01T00:00:00Z","through":"2026-11-01T01:00:00Z","cursor":null}"#
                    .to_vec(),
            ),
        ]);
        let state = StartingCheckpoints::from_state_topic("s", records, None).unwrap();
        assert_eq!(state.checkpoint("events/a").unwrap(), Some(checkpoint(30)));
        assert_eq!(state.checkpoint("audit/events/a").unwrap(), None);
        let cover = state.audit_ledger().sources["events/a"]
            .cover
            .clone()
            .unwrap();
        assert_eq!(cover.through.to_rfc3339(), "2026-11-01T01:00:00+00:00");
    }

    #[test]
    fn a_value_that_is_not_a_checkpoint_is_an_error_naming_its_key() {
        let records = BTreeMap::from([("events/x".to_string(), b"{oops".to_vec())]);
        let error = StartingCheckpoints::from_state_topic("state", records, None).unwrap_err();
        assert!(error.to_string().contains("key events/x"), "{error}");
    }
}
