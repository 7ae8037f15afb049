//! Where the sources' cursors are read from at start-up and written to after each unit.
//!
//! With the Kafka state store the cursors live in a compacted topic (key = checkpoint key,
//! value = the checkpoint as JSON), read back once at start-up with `read_committed`;
//! [`KafkaState`] serves those to the sources and takes over a file checkpoint for a key the
//! topic does not hold yet (so switching stores does not restart from the initial lookback).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use fetcher::{Checkpoint, CheckpointError, CheckpointStore};

/// The cursors read from the state topic at start-up, as a [`CheckpointStore`] the sources
/// load from. Writes go through the delivery engine (in the unit's transaction, or after its
/// records); `save` only keeps the value in memory.
#[derive(Debug)]
pub struct KafkaState {
    topic: String,
    values: Mutex<BTreeMap<String, Checkpoint>>,
    /// A file checkpoint to take over for keys the topic does not hold.
    file: Option<Arc<dyn CheckpointStore>>,
}

impl KafkaState {
    /// The state read from `topic` (raw values by key); a value that is not a checkpoint is an
    /// error naming its key (the pipeline never silently restarts from zero).
    pub fn from_records(
        topic: &str,
        records: BTreeMap<String, Vec<u8>>,
        file: Option<Arc<dyn CheckpointStore>>,
    ) -> Result<Self, CheckpointError> {
        let mut values = BTreeMap::new();
        for (key, value) in records {
            let checkpoint: Checkpoint =
                serde_json::from_slice(&value).map_err(|e| CheckpointError::Corrupt {
                    path: format!("kafka topic {topic}, key {key}").into(),
                    reason: e.to_string(),
                })?;
            values.insert(key, checkpoint);
        }
        Ok(Self {
            topic: topic.to_owned(),
            values: Mutex::new(values),
            file,
        })
    }

    /// Every cursor it holds, by key.
    pub(crate) fn into_values(self) -> BTreeMap<String, Checkpoint> {
        self.values.into_inner().unwrap_or_else(|p| p.into_inner())
    }

    /// The JSON value of a state record.
    pub fn encode(checkpoint: &Checkpoint) -> Vec<u8> {
        serde_json::to_vec(checkpoint).unwrap_or_default()
    }
}

impl CheckpointStore for KafkaState {
    fn load(&self, key: &str) -> Result<Option<Checkpoint>, CheckpointError> {
        let held = self
            .values
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(key)
            .cloned();
        if held.is_some() {
            return Ok(held);
        }
        let Some(file) = &self.file else {
            return Ok(None);
        };
        let taken = file.load(key)?;
        if let Some(checkpoint) = &taken {
            tracing::info!(
                key,
                file = %file.location(),
                topic = %self.topic,
                cursor = %checkpoint.cursor,
                "taking over the file checkpoint: the state topic holds none for this key yet; the next commit writes it there"
            );
        }
        Ok(taken)
    }

    fn save(&self, key: &str, checkpoint: &Checkpoint) -> Result<(), CheckpointError> {
        self.values
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.to_owned(), checkpoint.clone());
        Ok(())
    }

    fn location(&self) -> String {
        format!("kafka:{}", self.topic)
    }
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
        let records =
            BTreeMap::from([("events/a".to_string(), KafkaState::encode(&checkpoint(30)))]);
        let state = KafkaState::from_records("s", records, Some(Arc::new(file))).unwrap();
        assert_eq!(state.load("events/a").unwrap(), Some(checkpoint(30)));
        assert_eq!(state.load("events/b").unwrap(), Some(checkpoint(2)));
        assert_eq!(state.load("events/c").unwrap(), None);
    }

    #[test]
    fn a_value_that_is_not_a_checkpoint_is_an_error_naming_its_key() {
        let records = BTreeMap::from([("events/x".to_string(), b"{oops".to_vec())]);
        let error = KafkaState::from_records("state", records, None).unwrap_err();
        assert!(error.to_string().contains("key events/x"), "{error}");
    }
}
