//! Where a unit's records, dead letters and cursors go, and how a unit is finished:
//!
//! - Kafka, exactly-once: `begin` → records, dead letters, the cursors after them (state
//!   records) → `commit`. The transaction is the acknowledgement.
//! - Kafka, at-least-once: records and dead letters, then every broker verdict awaited, then
//!   the cursors written (to the state topic, or to the file store).
//! - Files (the demo without a broker): lines appended, fsynced, then the cursors saved.
//!
//! Only this module and the producer know there is Kafka (`kafka.rs`: connecting, building a
//! producer again; `transaction.rs`: exactly-once's transactional calls, by librdkafka's
//! rules).

mod kafka;
#[cfg(test)]
pub(crate) mod memory;
mod transaction;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fetcher::{Checkpoint, CheckpointStore};
use mapper::OcsfRecord;
use producer::{
    DeadLetter, DeliveryListener, OcsfProducer, PreparedRecord, ProduceError, ProducerError,
    TransactionError,
};

pub use kafka::KafkaDestination;
use kafka::{STATE_READ_TIMEOUT, StateWrites};

use crate::audit::{Ledger, is_audit_key};
use crate::deliveries::UnitDeliveries;
use crate::files::FileSink;
use crate::health::Retrying;
use crate::state::{StartingCheckpoints, decode_state};

/// How often a unit still waiting for its acknowledgements is reported as failing to become
/// durable (a broker away holds the records until `delivery_timeout_ms`).
const ACKNOWLEDGEMENT_REPORT: Duration = Duration::from_secs(10);

/// Why a unit did not finish.
#[derive(Debug, thiserror::Error)]
pub enum UnitError {
    /// Another process with the same deployment identity took over: stop, write nothing more.
    #[error("{0}")]
    Fenced(String),
    /// Nothing of the unit counts (aborted, or not every record acknowledged): its sources are
    /// rewound and its events fetched and delivered again.
    #[error("{0}")]
    Failed(String),
    /// The unit may or may not have committed (the producer failed, or the broker ended the
    /// transaction, while it was being committed): the sources are rewound to the cursors the
    /// state topic holds, not to the ones the engine remembers.
    #[error("{0}")]
    Unknown(String),
}

/// The destination of the pipeline's records.
pub enum Destination {
    /// Kafka via the producer crate.
    Kafka(Box<KafkaDestination>),
    /// NDJSON files per OCSF class, cursors in a checkpoint store.
    Files {
        /// The files.
        sink: FileSink,
        /// Where cursors are saved after the files are synced.
        store: Arc<dyn CheckpointStore>,
    },
    /// In memory, with scripted faults: the engine's own tests.
    #[cfg(test)]
    Memory(Arc<memory::MemorySink>),
}

impl Destination {
    /// True when a unit is a Kafka transaction (exactly-once): one unit at a time.
    pub(crate) fn is_transactional(&self) -> bool {
        match self {
            Destination::Kafka(kafka) => kafka.exactly_once(),
            Destination::Files { .. } => false,
            #[cfg(test)]
            Destination::Memory(sink) => sink.transactional,
        }
    }

    /// Records handed over and not yet acknowledged (Kafka's queue).
    pub fn in_flight(&self) -> usize {
        match self {
            Destination::Kafka(kafka) => usize::try_from(kafka.producer().in_flight()).unwrap_or(0),
            _ => 0,
        }
    }

    /// Makes `record` ready to hand over (Kafka: encoded, keyed, with headers). An error means
    /// it cannot be sent as it is (an Avro mismatch, too large): dead-letter it.
    pub(crate) fn prepare(&self, record: OcsfRecord) -> Result<Prepared, ProduceError> {
        match self {
            Destination::Kafka(kafka) => {
                kafka.producer().prepare_record(record).map(Prepared::Kafka)
            }
            #[cfg(test)]
            Destination::Memory(sink) => {
                sink.prepared();
                Ok(Prepared::Line {
                    class_name: record.class_name,
                    json: record.json,
                })
            }
            Destination::Files { .. } => Ok(Prepared::Line {
                class_name: record.class_name,
                json: record.json,
            }),
        }
    }

    /// Makes a dead letter ready to hand over.
    pub(crate) fn prepare_dead_letter(&self, letter: DeadLetter) -> Prepared {
        match self {
            Destination::Kafka(kafka) => {
                Prepared::Kafka(kafka.producer().prepare_dead_letter_record(letter))
            }
            #[cfg(test)]
            Destination::Memory(sink) => {
                sink.prepared();
                Prepared::DeadLetter(letter)
            }
            Destination::Files { .. } => Prepared::DeadLetter(letter),
        }
    }

    /// Starts a unit (a transaction in exactly-once mode).
    pub(crate) async fn begin(&self, retry: &Retrying) -> Result<(), UnitError> {
        match self {
            Destination::Kafka(kafka) if kafka.exactly_once() => {
                kafka.begin_transaction(retry).await
            }
            _ => Ok(()),
        }
    }

    /// Hands one prepared record over; its verdict goes to `deliveries` as `index`. `Err`:
    /// nothing was handed over and no verdict will come.
    pub(crate) async fn enqueue(
        &self,
        prepared: Prepared,
        deliveries: &Arc<UnitDeliveries>,
        index: u32,
    ) -> Result<(), ProduceError> {
        match (self, prepared) {
            (Destination::Kafka(kafka), Prepared::Kafka(record)) => {
                let listener: Arc<dyn DeliveryListener> = deliveries.clone();
                kafka
                    .producer()
                    .enqueue_prepared(record, &listener, index)
                    .await
            }
            (Destination::Files { sink, .. }, Prepared::Line { class_name, json }) => {
                let written = sink
                    .write(class_name, &json)
                    .map_err(|e| file_failure(sink, &e));
                deliveries.delivered(index, written);
                Ok(())
            }
            (Destination::Files { sink, .. }, Prepared::DeadLetter(letter)) => {
                let written = sink
                    .write_dead_letter(&letter)
                    .map_err(|e| file_failure(sink, &e));
                deliveries.delivered(index, written);
                Ok(())
            }
            #[cfg(test)]
            (Destination::Memory(sink), Prepared::Line { class_name, json }) => {
                sink.hand_over(memory::Line::Record { class_name, json });
                deliveries.delivered(index, Ok(()));
                Ok(())
            }
            #[cfg(test)]
            (Destination::Memory(sink), Prepared::DeadLetter(letter)) => {
                sink.hand_over(memory::Line::DeadLetter(letter));
                deliveries.delivered(index, Ok(()));
                Ok(())
            }
            (_, _) => Err(ProduceError::Kafka {
                topic: String::new(),
                code: None,
                message: "a record prepared for another destination".into(),
            }),
        }
    }

    /// Finishes a unit whose records are all handed over: makes them and `cursors` durable
    /// together (exactly-once) or one after the other (at-least-once, files); the one path
    /// that writes cursors. `keyed`: records of compacted topics (an inventory snapshot's
    /// state) written like the cursors. Kafka only for `keyed`.
    pub(crate) async fn finish(
        &self,
        cursors: &[(String, Checkpoint)],
        keyed: &[KeyedRecord],
        deliveries: &Arc<UnitDeliveries>,
        retry: &Retrying,
    ) -> Result<(), UnitError> {
        match self {
            Destination::Kafka(kafka) => match &kafka.state {
                StateWrites::InTransaction => {
                    let producer = kafka.producer();
                    enqueue_cursors(&producer, cursors, deliveries).await;
                    enqueue_keyed(&producer, keyed, deliveries).await;
                    // Every verdict first, awaited here: then the commit's flush finds nothing
                    // in flight and returns at once (rdkafka's flush otherwise waits up to 100 ms
                    // for an event the producer's polling thread has already taken, at every
                    // commit).
                    let failures = await_verdicts(deliveries, retry).await;
                    if failures.is_empty() {
                        return kafka.commit_transaction(retry).await;
                    }
                    // A record was refused: the transaction cannot commit. The commit says why,
                    // by librdkafka's rules (abortable: aborted; fenced; fatal), and nothing
                    // else decides it (a producer built again here would fence its successor).
                    if failures.iter().any(|(_, e)| e.is_unknown_topic())
                        && let Err(err) = kafka.producer().ensure_topics().await
                    {
                        tracing::warn!(error = %err, "creating the topics again failed");
                    }
                    match kafka.commit_transaction(retry).await {
                        Err(error) => Err(error),
                        Ok(()) => Err(UnitError::Unknown(format!(
                            "the transaction committed although {}",
                            not_acknowledged(&failures)
                        ))),
                    }
                }
                StateWrites::TopicAfterAcks => {
                    self.await_acknowledged(deliveries, retry).await?;
                    let producer = kafka.producer();
                    enqueue_cursors(&producer, cursors, deliveries).await;
                    enqueue_keyed(&producer, keyed, deliveries).await;
                    self.await_acknowledged(deliveries, retry).await
                }
                StateWrites::Store(store) => {
                    self.await_acknowledged(deliveries, retry).await?;
                    if !keyed.is_empty() {
                        enqueue_keyed(&kafka.producer(), keyed, deliveries).await;
                        self.await_acknowledged(deliveries, retry).await?;
                    }
                    save_all(store, cursors).await
                }
            },
            Destination::Files { sink, store } => {
                if !keyed.is_empty() {
                    return Err(UnitError::Failed(
                        "compacted-topic state (the inventory) needs the Kafka destination".into(),
                    ));
                }
                self.await_acknowledged(deliveries, retry).await?;
                sink.sync()
                    .map_err(|e| UnitError::Failed(file_failure(sink, &e).to_string()))?;
                save_all(store, cursors).await
            }
            #[cfg(test)]
            Destination::Memory(sink) => {
                self.await_acknowledged(deliveries, retry).await?;
                sink.finish(cursors, keyed).await
            }
        }
    }

    /// Creates the compacted `topic` when it is missing, then reads every key's latest value
    /// (`read_committed`; after `init_transactions`, so an earlier process's open transaction
    /// is ended first). Kafka only.
    pub(crate) async fn read_compacted(
        &self,
        topic: &str,
    ) -> Result<BTreeMap<String, Vec<u8>>, ProducerError> {
        let Destination::Kafka(kafka) = self else {
            return Err(ProducerError::Config(
                "the inventory keeps its state in Kafka: it needs the Kafka destination".into(),
            ));
        };
        kafka.producer().ensure_compacted_topic(topic).await?;
        let config = kafka.config.clone();
        let topic = topic.to_owned();
        tokio::task::spawn_blocking(move || {
            producer::read_compacted_topic(&config, &topic, STATE_READ_TIMEOUT)
        })
        .await
        .map_err(|e| ProducerError::Kafka(e.to_string()))?
    }

    /// The state topic the audit's records go to, when cursors are kept in one (`None` with
    /// the file store and the files).
    pub(crate) fn state_topic(&self) -> Option<String> {
        match self {
            Destination::Kafka(kafka) => match kafka.state {
                StateWrites::Store(_) => None,
                _ => Some(kafka.config.state_topic.clone()),
            },
            Destination::Files { .. } => None,
            #[cfg(test)]
            Destination::Memory(_) => Some(memory::STATE_TOPIC.into()),
        }
    }

    /// Every key's latest value in the state topic (`read_committed`): cursors and the audit's
    /// records. `None` when cursors are not kept in Kafka.
    pub(crate) async fn read_state_records(
        &self,
    ) -> Result<Option<BTreeMap<String, Vec<u8>>>, ProducerError> {
        #[cfg(test)]
        if let Destination::Memory(sink) = self {
            return Ok(Some(sink.state_records()));
        }
        let Destination::Kafka(kafka) = self else {
            return Ok(None);
        };
        if let StateWrites::Store(_) = kafka.state {
            return Ok(None);
        }
        let config = kafka.config.clone();
        let records = tokio::task::spawn_blocking(move || {
            producer::read_state_topic(&config, STATE_READ_TIMEOUT)
        })
        .await
        .map_err(|e| ProducerError::Kafka(e.to_string()))??;
        Ok(Some(records))
    }

    /// The cursors the state topic holds now (`read_committed`), and the audit's records:
    /// where the sources are rewound to after a unit whose fate is unknown. `None` when cursors
    /// are not kept in Kafka (they are then written only after the unit's records are
    /// acknowledged, never unknown).
    pub(crate) async fn read_state(&self) -> Result<Option<DurableState>, ProducerError> {
        let Some(records) = self.read_state_records().await? else {
            return Ok(None);
        };
        let audit = Ledger::read(records.iter().filter(|(key, _)| is_audit_key(key)));
        let topic = self.state_topic().unwrap_or_default();
        let cursors =
            decode_state(&topic, records).map_err(|e| ProducerError::Config(e.to_string()))?;
        Ok(Some(DurableState { cursors, audit }))
    }

    /// Every verdict of the unit in; a failure fails the unit (after repairing what can be).
    async fn await_acknowledged(
        &self,
        deliveries: &Arc<UnitDeliveries>,
        retry: &Retrying,
    ) -> Result<(), UnitError> {
        let failures = await_verdicts(deliveries, retry).await;
        if failures.is_empty() {
            return Ok(());
        }
        if let Destination::Kafka(kafka) = self {
            let errors: Vec<ProduceError> = failures.iter().map(|(_, e)| e.clone()).collect();
            kafka.recover(&errors).await?;
        }
        Err(not_acknowledged(&failures))
    }

    /// Ends a unit that will not finish (exactly-once: aborts its transaction, resuming an
    /// abort that times out while the broker is away).
    pub(crate) async fn abort(&self, why: &UnitError, retry: &Retrying) -> Result<(), UnitError> {
        #[cfg(test)]
        if let Destination::Memory(sink) = self {
            sink.abort();
            return Ok(());
        }
        let Destination::Kafka(kafka) = self else {
            return Ok(());
        };
        if !kafka.exactly_once() {
            return Ok(());
        }
        if let UnitError::Fenced(_) = why {
            return Ok(());
        }
        kafka.abort_transaction(retry).await
    }
}

fn file_failure(sink: &FileSink, error: &std::io::Error) -> ProduceError {
    ProduceError::Kafka {
        topic: sink.dir().display().to_string(),
        code: None,
        message: format!("cannot write: {error}"),
    }
}

/// What the state topic holds: each source's durable cursor, and the audit's records.
pub(crate) struct DurableState {
    pub(crate) cursors: BTreeMap<String, Checkpoint>,
    pub(crate) audit: Ledger,
}

/// Resolves once every record of the unit has its verdict; the failures, by index. While it
/// waits, every [`ACKNOWLEDGEMENT_REPORT`] counts as a failed attempt (a broker away holds the
/// records until their delivery timeout).
async fn await_verdicts(
    deliveries: &Arc<UnitDeliveries>,
    retry: &Retrying,
) -> Vec<(u32, ProduceError)> {
    let answered = deliveries.all_answered();
    tokio::pin!(answered);
    let waiting_since = Instant::now();
    loop {
        tokio::select! {
            failures = &mut answered => return failures,
            () = tokio::time::sleep(ACKNOWLEDGEMENT_REPORT) => retry.health.failed(&format!(
                "{} record(s) of the unit still unacknowledged after {} s (is the broker reachable?)",
                deliveries.unanswered(),
                waiting_since.elapsed().as_secs()
            )),
        }
    }
}

fn not_acknowledged(failures: &[(u32, ProduceError)]) -> UnitError {
    UnitError::Failed(format!(
        "{} record(s) not acknowledged, e.g. {}",
        failures.len(),
        failures
            .first()
            .map_or_else(String::new, |(_, e)| e.to_string())
    ))
}

/// A record or dead letter made ready for the destination.
pub(crate) enum Prepared {
    /// For Kafka: encoded, keyed, with headers.
    Kafka(PreparedRecord),
    /// For the files: one NDJSON line of a class's file.
    Line {
        class_name: &'static str,
        json: Vec<u8>,
    },
    /// For the files: a dead letter.
    DeadLetter(DeadLetter),
}

/// One record of a compacted topic: `value` under `key`, or a tombstone (`None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyedRecord {
    pub(crate) topic: String,
    pub(crate) key: String,
    pub(crate) value: Option<Vec<u8>>,
}

/// Hands each keyed record to its topic; its verdict goes to `deliveries`.
async fn enqueue_keyed(
    producer: &OcsfProducer,
    keyed: &[KeyedRecord],
    deliveries: &Arc<UnitDeliveries>,
) {
    let listener: Arc<dyn DeliveryListener> = deliveries.clone();
    for record in keyed {
        let index = deliveries.hand_over();
        if let Err(err) = producer
            .enqueue_keyed_tracked(
                &record.topic,
                &record.key,
                record.value.clone(),
                &listener,
                index,
            )
            .await
        {
            deliveries.delivered(index, Err(err));
        }
    }
}

/// Hands each cursor to the state topic as one record; its verdict goes to `deliveries`.
async fn enqueue_cursors(
    producer: &OcsfProducer,
    cursors: &[(String, Checkpoint)],
    deliveries: &Arc<UnitDeliveries>,
) {
    let listener: Arc<dyn DeliveryListener> = deliveries.clone();
    for (key, checkpoint) in cursors {
        let index = deliveries.hand_over();
        if let Err(err) = producer
            .enqueue_state_tracked(
                key,
                StartingCheckpoints::encode(checkpoint),
                &listener,
                index,
            )
            .await
        {
            deliveries.delivered(index, Err(err));
        }
    }
}

async fn save_all(
    store: &Arc<dyn CheckpointStore>,
    cursors: &[(String, Checkpoint)],
) -> Result<(), UnitError> {
    let store = Arc::clone(store);
    let cursors = cursors.to_vec();
    tokio::task::spawn_blocking(move || {
        cursors
            .iter()
            .try_for_each(|(key, checkpoint)| store.save(key, checkpoint))
    })
    .await
    .map_err(|e| UnitError::Failed(e.to_string()))?
    .map_err(|e| UnitError::Failed(e.to_string()))
}

/// A blocking transactional call, off the async workers.
pub(crate) async fn run_blocking(
    call: impl FnOnce() -> Result<(), TransactionError> + Send + 'static,
) -> Result<(), TransactionError> {
    tokio::task::spawn_blocking(call)
        .await
        .unwrap_or_else(|e| Err(TransactionError::Abortable(e.to_string())))
}
