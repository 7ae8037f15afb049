//! The Kafka destination: the producer (built again after a fatal error), the topics, the
//! state topic and how cursors are written (in the transaction, or after the records'
//! acknowledgements, or to the file store).

use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use fetcher::CheckpointStore;
use producer::{OcsfProducer, ProduceError, ProducerConfig, ProducerError, TransactionError};

use super::{UnitError, run_blocking};
use crate::config::{DeliveryGuarantee, PipelineConfig, StateStore};
use crate::state::StartingCheckpoints;

/// How cursors are written with Kafka.
pub(super) enum StateWrites {
    /// In the unit's transaction (exactly-once).
    InTransaction,
    /// To the state topic after the unit's records are acknowledged.
    TopicAfterAcks,
    /// To a checkpoint store after the unit's records are acknowledged.
    Store(Arc<dyn CheckpointStore>),
}

/// The Kafka producer (rebuilt after a fatal error) and how cursors are written.
pub struct KafkaDestination {
    producer: RwLock<Arc<OcsfProducer>>,
    pub(crate) config: ProducerConfig,
    pub(super) state: StateWrites,
    /// When the open transaction began (exactly-once), `None` when none is open.
    open_since: Mutex<Option<Instant>>,
    /// Whether a fencing error on a transaction older than `transaction.timeout.ms` is taken
    /// for the broker ending it (the id is taken again), or always stops the pipeline (a
    /// cluster's shard: the group decides who owns it).
    pub(crate) retake_expired: bool,
}

/// How long the state topic may take to read at start-up.
pub(super) const STATE_READ_TIMEOUT: Duration = Duration::from_secs(60);

impl KafkaDestination {
    /// Connects: creates the producer (transactional when `delivery` says exactly-once, its id
    /// derived from `deployment_id`), the topics and the state topic, fences an earlier process with the
    /// same identity (`init_transactions`), then reads the cursors. Returns the destination and
    /// the checkpoints the sources start from. `file_store` is the file checkpoint:
    /// the store itself with `[pipeline] state_store = "file"`, else taken over for keys the state topic
    /// does not hold yet. `role` tells apart the jobs of one deployment (the live run: `""`;
    /// a backfill: `"backfill"`), which must not fence each other: the transactional id is
    /// `deployment_id`, or `deployment_id.role`. A cluster's shard (`"shard-N"`) stops on any
    /// fencing error; the other roles take their id again when the fenced transaction had
    /// outlived `transaction.timeout.ms` (the broker ended it after an outage).
    pub async fn connect(
        mut config: ProducerConfig,
        delivery: &PipelineConfig,
        role: &str,
        file_store: Option<Arc<dyn CheckpointStore>>,
    ) -> Result<(Self, StartingCheckpoints), ProducerError> {
        let exactly_once = delivery.delivery == DeliveryGuarantee::ExactlyOnce;
        if exactly_once && delivery.state_store == StateStore::File {
            return Err(ProducerError::Config(
                "[pipeline] delivery = \"exactly-once\" keeps cursors in Kafka: set state_store = \"kafka\", or delivery = \"at-least-once\" for a file".into(),
            ));
        }
        config.transactional_id = exactly_once.then(|| match role {
            "" => config.deployment_id.clone(),
            role => format!("{}.{role}", config.deployment_id),
        });
        // Kafka first: its credentials, certificates and ACLs are named before the registry
        // is asked to register the schemas.
        let topics = producer::ensure_record_topics(&config).await?;
        let producer = Arc::new(OcsfProducer::new(config.clone()).await?);
        if !topics.is_empty() {
            tracing::info!(?topics, "created Kafka topics");
        }
        let (state, starting) = match delivery.state_store {
            StateStore::File => {
                let store = file_store.ok_or_else(|| {
                    ProducerError::Config("state_store = \"file\" needs a checkpoint file".into())
                })?;
                (
                    StateWrites::Store(Arc::clone(&store)),
                    StartingCheckpoints::from_file(store),
                )
            }
            StateStore::Kafka => {
                producer.ensure_state_topic().await?;
                if exactly_once {
                    register_at_start(&producer).await?;
                }
                let reading = config.clone();
                let records = tokio::task::spawn_blocking(move || {
                    producer::read_state_topic(&reading, STATE_READ_TIMEOUT)
                })
                .await
                .map_err(|e| ProducerError::Kafka(e.to_string()))??;
                tracing::info!(
                    topic = %config.state_topic,
                    cursors = records.len(),
                    "read the sources' cursors from the state topic"
                );
                let starting =
                    StartingCheckpoints::from_state_topic(&config.state_topic, records, file_store)
                        .map_err(|e| ProducerError::Config(e.to_string()))?;
                let writes = if exactly_once {
                    StateWrites::InTransaction
                } else {
                    StateWrites::TopicAfterAcks
                };
                (writes, starting)
            }
        };
        let destination = Self {
            producer: RwLock::new(producer),
            config,
            state,
            open_since: Mutex::new(None),
            retake_expired: !role.starts_with("shard-"),
        };
        Ok((destination, starting))
    }

    /// The current producer.
    pub fn producer(&self) -> Arc<OcsfProducer> {
        Arc::clone(&self.producer.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// Swaps in a new producer (the old one is dropped once nothing uses it).
    pub(crate) fn replace_producer(&self, producer: Arc<OcsfProducer>) {
        *self.producer.write().unwrap_or_else(|p| p.into_inner()) = producer;
    }

    /// When the open transaction began, if one is open.
    pub(crate) fn open_since(&self) -> Option<Instant> {
        *self.open_since.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn set_open_since(&self, since: Option<Instant>) {
        *self.open_since.lock().unwrap_or_else(|p| p.into_inner()) = since;
    }

    pub(super) fn exactly_once(&self) -> bool {
        matches!(self.state, StateWrites::InTransaction)
    }

    /// After an at-least-once unit whose records were not all acknowledged: create topics that
    /// vanished, and build a new producer when the failures say the old one is unusable. (In
    /// exactly-once mode the transactional calls decide that: `transaction.rs`.)
    pub(super) async fn recover(&self, failures: &[ProduceError]) -> Result<(), UnitError> {
        let producer = self.producer();
        if failures.iter().any(ProduceError::is_unknown_topic)
            && let Err(err) = producer.ensure_topics().await
        {
            tracing::warn!(error = %err, "creating the topics again failed");
        }
        if !failures.iter().any(ProduceError::needs_new_producer) {
            return Ok(());
        }
        tracing::warn!("the Kafka producer hit a fatal error; building a new one");
        let rebuilt = OcsfProducer::new(self.config.clone())
            .await
            .map_err(|e| UnitError::Failed(format!("building a new producer: {e}")))?;
        self.replace_producer(Arc::new(rebuilt));
        Ok(())
    }
}

/// How long start-up waits for the broker to register the transactional id.
const REGISTER_AT_START: Duration = Duration::from_secs(60);

/// `init_transactions` at start-up: fences an earlier process with the same id and ends its
/// open transaction. A call that times out is resumed (the same call again) for up to
/// [`REGISTER_AT_START`].
async fn register_at_start(producer: &Arc<OcsfProducer>) -> Result<(), ProducerError> {
    let started = Instant::now();
    loop {
        let registering = Arc::clone(producer);
        match run_blocking(move || registering.init_transactions()).await {
            Ok(()) => return Ok(()),
            Err(TransactionError::Retriable(message)) if started.elapsed() < REGISTER_AT_START => {
                tracing::warn!(error = %message, "registering the transactional id: trying the same call again");
            }
            Err(err) => return Err(ProducerError::Kafka(err.to_string())),
        }
    }
}
