//! A destination in memory, for the engine's own tests: what a unit hands over becomes
//! visible when the unit finishes (exactly-once, like a Kafka transaction) or at once
//! (at-least-once, like records a broker acknowledged), and the cursors when the unit
//! finishes; faults are scripted, one per finished unit.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use fetcher::Checkpoint;
use producer::DeadLetter;
use tokio::sync::Notify;

use super::{KeyedRecord, UnitError};

/// The name the memory gives its state topic.
pub(crate) const STATE_TOPIC: &str = "memory.state";

/// One record or dead letter handed over.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Line {
    Record {
        class_name: &'static str,
        json: Vec<u8>,
    },
    DeadLetter(DeadLetter),
}

/// How one unit's finish goes.
#[derive(Debug, Clone)]
pub(crate) enum Fault {
    /// It succeeds.
    Pass,
    /// Nothing of the unit counts (an aborted transaction, a record not acknowledged).
    Fail,
    /// Another process took over.
    Fence,
    /// The unit commits, but the caller is told its fate is unknown (the producer failed while
    /// committing).
    CommitThenLose,
    /// The finish waits until the notify fires, then succeeds (a slow broker).
    Hold(Arc<Notify>),
}

#[derive(Debug, Default)]
pub(crate) struct Memory {
    /// Handed over in the open unit, not yet visible (exactly-once).
    pub(crate) open: Vec<Line>,
    /// Visible to a reader.
    pub(crate) visible: Vec<Line>,
    /// The durable cursors.
    pub(crate) cursors: BTreeMap<String, Checkpoint>,
    /// The other durable records of the state topic (the audit's), by key.
    pub(crate) state: BTreeMap<String, Vec<u8>>,
    /// Faults for the next finishes, in order.
    pub(crate) faults: VecDeque<Fault>,
    /// Records and dead letters made ready (mapped) so far.
    pub(crate) prepared: usize,
    /// Units finished (durable or not).
    pub(crate) finished: usize,
}

/// The in-memory destination.
#[derive(Debug, Default)]
pub struct MemorySink {
    pub(crate) transactional: bool,
    memory: Mutex<Memory>,
}

impl MemorySink {
    pub(crate) fn new(transactional: bool) -> Arc<Self> {
        Arc::new(Self {
            transactional,
            memory: Mutex::default(),
        })
    }

    pub(crate) fn memory(&self) -> MutexGuard<'_, Memory> {
        self.memory.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn prepared(&self) {
        self.memory().prepared += 1;
    }

    pub(crate) fn hand_over(&self, line: Line) {
        let mut memory = self.memory();
        if self.transactional {
            memory.open.push(line);
        } else {
            memory.visible.push(line);
        }
    }

    pub(crate) fn abort(&self) {
        self.memory().open.clear();
    }

    pub(crate) async fn finish(
        &self,
        cursors: &[(String, Checkpoint)],
        keyed: &[KeyedRecord],
    ) -> Result<(), UnitError> {
        let fault = {
            let mut memory = self.memory();
            memory.finished += 1;
            memory.faults.pop_front()
        };
        match fault {
            Some(Fault::Fail) => {
                self.abort();
                Err(UnitError::Failed("a scripted failure".into()))
            }
            Some(Fault::Fence) => Err(UnitError::Fenced("a scripted fence".into())),
            Some(Fault::CommitThenLose) => {
                self.commit(cursors, keyed);
                Err(UnitError::Unknown(
                    "a scripted commit of unknown fate".into(),
                ))
            }
            Some(Fault::Pass) | None => {
                self.commit(cursors, keyed);
                Ok(())
            }
            Some(Fault::Hold(release)) => {
                release.notified().await;
                self.commit(cursors, keyed);
                Ok(())
            }
        }
    }

    fn commit(&self, cursors: &[(String, Checkpoint)], keyed: &[KeyedRecord]) {
        let mut memory = self.memory();
        let open = std::mem::take(&mut memory.open);
        memory.visible.extend(open);
        for (key, checkpoint) in cursors {
            memory.cursors.insert(key.clone(), checkpoint.clone());
        }
        for record in keyed {
            match &record.value {
                Some(value) => memory.state.insert(record.key.clone(), value.clone()),
                None => memory.state.remove(&record.key),
            };
        }
    }

    /// The state topic as a reader would find it: the cursors (as checkpoints are written) and
    /// the other records.
    pub(crate) fn state_records(&self) -> BTreeMap<String, Vec<u8>> {
        let memory = self.memory();
        let mut records = memory.state.clone();
        for (key, checkpoint) in &memory.cursors {
            records.insert(
                key.clone(),
                crate::state::StartingCheckpoints::encode(checkpoint),
            );
        }
        records
    }

    pub(crate) fn cursors(&self) -> BTreeMap<String, Checkpoint> {
        self.memory().cursors.clone()
    }
}
