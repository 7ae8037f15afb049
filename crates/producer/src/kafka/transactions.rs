//! Kafka transactions and the state topic: what exactly-once delivery needs of the producer.
//!
//! A unit of work is `begin` → records, dead letters and the sources' cursors (state records)
//! → `commit`: the cursors are committed if and only if the records are. The transactional id
//! fences an older process with the same id (a zombie): its next transactional call fails with
//! [`TransactionError::Fenced`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::admin::{NewTopic, TopicReplication};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::Producer;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::util::Timeout;

use super::access::{MissingAcl, Operation, ResourceKind};
use super::{DeliveryListener, DeliveryTag, OcsfProducer, OutgoingMessage, enqueue_waiting};
use crate::config::ProducerConfig;
use crate::dead_letter::DeadLetter;
use crate::error::{ProduceError, ProducerError};

/// How a transactional call failed, by what the caller must do next.
#[derive(Debug, thiserror::Error)]
pub enum TransactionError {
    /// Another process with the same transactional id took over: stop, write nothing more.
    #[error(
        "fenced: transactional id {transactional_id:?} was taken over, by another process started with the same deployment_id, or by the broker ending this process's transaction after transaction.timeout.ms (a broker away for minutes); this process stops and writes nothing more, and a restart resumes from the last committed cursors ({message})"
    )]
    Fenced {
        /// The id both processes use.
        transactional_id: String,
        /// librdkafka's words.
        message: String,
    },
    /// The transaction cannot commit: abort it and do its work again.
    #[error("the transaction must be aborted: {0}")]
    Abortable(String),
    /// A passing failure (broker unreachable, the call timed out): librdkafka goes on with the
    /// call in the background, and only **the same call** may be made next, to resume it
    /// (any other transactional call fails with "Conflicting ... API call is already in
    /// progress").
    #[error("transaction call failed, can be retried: {0}")]
    Retriable(String),
    /// The producer is unusable (e.g. a broker that lost its data): build a new one.
    #[error("fatal producer error: {0}")]
    Fatal(String),
    /// The principal may not use the transactional id (no Write ACL on it).
    #[error("{0}")]
    Unauthorized(Box<MissingAcl>),
}

/// The codes librdkafka reports for a producer whose epoch was bumped by someone else: a newer
/// producer with the same transactional id, or the broker ending a transaction that outlived
/// `transaction.timeout.ms` (which one, only the caller can tell: see
/// [`ProducerConfig::transaction_timeout`]).
fn is_fencing(code: RDKafkaErrorCode) -> bool {
    matches!(
        code,
        RDKafkaErrorCode::ProducerFenced
            | RDKafkaErrorCode::InvalidProducerEpoch
            | RDKafkaErrorCode::Fenced
    )
}

impl TransactionError {
    /// Classifies a failed transactional call. `fatal` is the producer's fatal error, if it
    /// raised one: a producer fenced by a newer one reports that as its fatal error, and
    /// later calls only say "fatal".
    fn from_kafka(
        transactional_id: &str,
        error: &KafkaError,
        fatal: Option<(RDKafkaErrorCode, String)>,
    ) -> Self {
        let message = error.to_string();
        // rdkafka's `commit_transaction` flushes the queue first: a flush that timed out
        // (records still on their way) leaves the transaction as it was, to be committed by
        // calling commit again.
        if let KafkaError::Flush(RDKafkaErrorCode::OperationTimedOut) = error {
            return Self::Retriable(message);
        }
        let KafkaError::Transaction(rd) = error else {
            return Self::Abortable(message);
        };
        let fenced =
            is_fencing(rd.code()) || fatal.as_ref().is_some_and(|(code, _)| is_fencing(*code));
        if fenced {
            Self::Fenced {
                transactional_id: transactional_id.to_owned(),
                message,
            }
        } else if rd.is_fatal() {
            Self::Fatal(message)
        } else if rd.txn_requires_abort() {
            Self::Abortable(message)
        } else if rd.is_retriable() {
            Self::Retriable(message)
        } else {
            Self::Abortable(message)
        }
    }
}

/// How long one transactional call may block. A call that times out goes on in librdkafka and
/// is resumed by calling it again, so this only bounds how long a caller waits before it can
/// report the delay and look at its shutdown signal.
const TRANSACTION_CALL_TIMEOUT: Duration = Duration::from_secs(10);

impl OcsfProducer {
    fn transaction_error(&self, error: &KafkaError) -> TransactionError {
        let transactional_id = self.config.transactional_id.as_deref().unwrap_or("");
        let fatal = self.producer.client().fatal_error();
        let unauthorized = RDKafkaErrorCode::TransactionalIdAuthorizationFailed;
        if error.rdkafka_error_code() == Some(unauthorized)
            || fatal
                .as_ref()
                .is_some_and(|(code, _)| *code == unauthorized)
        {
            return TransactionError::Unauthorized(Box::new(MissingAcl::new(
                &self.config,
                vec![Operation::Write],
                ResourceKind::TransactionalId,
                vec![transactional_id.to_owned()],
                "exactly-once delivery; a prefixed ACL on the deployment_id covers its backfill and shards",
            )));
        }
        TransactionError::from_kafka(transactional_id, error, fatal)
    }

    /// Registers the transactional id with the broker: fences (and aborts the open transaction
    /// of) any earlier process with the same id. Blocks; call once, before reading the state.
    pub fn init_transactions(&self) -> Result<(), TransactionError> {
        self.producer
            .init_transactions(Timeout::After(TRANSACTION_CALL_TIMEOUT))
            .map_err(|e| self.transaction_error(&e))
    }

    /// Starts a transaction.
    pub fn begin_transaction(&self) -> Result<(), TransactionError> {
        self.producer
            .begin_transaction()
            .map_err(|e| self.transaction_error(&e))
    }

    /// Flushes and commits the open transaction. Blocks until the broker answers.
    pub fn commit_transaction(&self) -> Result<(), TransactionError> {
        self.producer
            .commit_transaction(Timeout::After(TRANSACTION_CALL_TIMEOUT))
            .map_err(|e| self.transaction_error(&e))
    }

    /// Aborts the open transaction: its records stay invisible to `read_committed` readers.
    pub fn abort_transaction(&self) -> Result<(), TransactionError> {
        self.producer
            .abort_transaction(Timeout::After(TRANSACTION_CALL_TIMEOUT))
            .map_err(|e| self.transaction_error(&e))
    }

    /// Queues a dead letter (waiting for room in the queue); the broker's verdict goes to
    /// `listener` as `delivered(index, ..)`.
    pub async fn enqueue_dead_letter_tracked(
        &self,
        letter: DeadLetter,
        listener: &Arc<dyn DeliveryListener>,
        index: u32,
    ) -> Result<(), ProduceError> {
        let message = self.prepare_dead_letter(letter);
        let tag = Box::new(DeliveryTag::Listener(Arc::clone(listener), index));
        enqueue_waiting(&self.producer, &self.room, message, tag).await
    }

    /// Queues one state record (`key` = a source's checkpoint key, `value` = its checkpoint)
    /// to the state topic; the verdict goes to `listener` as `delivered(index, ..)`.
    pub async fn enqueue_state_tracked(
        &self,
        key: &str,
        value: Vec<u8>,
        listener: &Arc<dyn DeliveryListener>,
        index: u32,
    ) -> Result<(), ProduceError> {
        let topic = self.config.state_topic.clone();
        self.enqueue_keyed_tracked(&topic, key, Some(value), listener, index)
            .await
    }

    /// Queues one record of a compacted topic: `value` under `key`, or a tombstone (`None`:
    /// compaction removes the key); the verdict goes to `listener` as `delivered(index, ..)`.
    pub async fn enqueue_keyed_tracked(
        &self,
        topic: &str,
        key: &str,
        value: Option<Vec<u8>>,
        listener: &Arc<dyn DeliveryListener>,
        index: u32,
    ) -> Result<(), ProduceError> {
        let message = OutgoingMessage {
            topic: Arc::from(topic),
            key: Some(std::borrow::Cow::Owned(key.as_bytes().to_vec())),
            payload: value.map(std::borrow::Cow::Owned),
            headers: None,
        };
        let tag = Box::new(DeliveryTag::Listener(Arc::clone(listener), index));
        enqueue_waiting(&self.producer, &self.room, message, tag).await
    }

    /// Creates the state topic when it does not exist: compacted, one partition.
    pub async fn ensure_state_topic(&self) -> Result<(), ProducerError> {
        let topic = self.config.state_topic.clone();
        self.ensure_compacted_topic(&topic).await
    }

    /// Creates `topic` when it does not exist: compacted, one partition (every key's latest
    /// value in one ordered log, read back whole at start-up).
    pub async fn ensure_compacted_topic(&self, name: &str) -> Result<(), ProducerError> {
        let topic = NewTopic::new(
            name,
            1,
            TopicReplication::Fixed(self.config.topic.replication_factor),
        )
        .set("cleanup.policy", "compact");
        let (needs, purpose) = super::access::STATE_TOPIC;
        super::create_missing_topics(&self.config, &[topic], needs, purpose).await?;
        let reader = super::access::state_reader_group(&self.config);
        super::access::require_group(&self.config, &reader, super::access::STATE_READER_GROUP)
            .await?;
        Ok(())
    }
}

/// Every key's latest value in the state topic, read with `read_committed` to the end (a
/// tombstone removes its key). Blocks; with exactly-once delivery call it after
/// [`OcsfProducer::init_transactions`], which ends a fenced process's open transaction first.
pub fn read_state_topic(
    config: &ProducerConfig,
    timeout: Duration,
) -> Result<BTreeMap<String, Vec<u8>>, ProducerError> {
    read_compacted_topic(config, &config.state_topic, timeout)
}

/// Every key's latest value in the compacted `topic`, read as [`read_state_topic`] reads the
/// state topic (`read_committed`, to the end, tombstones remove their keys).
pub fn read_compacted_topic(
    config: &ProducerConfig,
    topic: &str,
    timeout: Duration,
) -> Result<BTreeMap<String, Vec<u8>>, ProducerError> {
    let kafka = |e: KafkaError| ProducerError::Kafka(format!("reading the topic {topic}: {e}"));
    let mut client = super::consumer_config(config);
    // The true end of the topic comes from a read_uncommitted client: right after a commit the
    // broker may not have written the transaction's markers yet, and until then the last
    // stable offset a read_committed reader is given lags behind.
    let watermarks: BaseConsumer = client
        .clone()
        .set("isolation.level", "read_uncommitted")
        .create()
        .map_err(kafka)?;
    let consumer: BaseConsumer = client
        .set("group.id", super::access::state_reader_group(config))
        .set("enable.auto.commit", "false")
        .set("isolation.level", "read_committed")
        .create()
        .map_err(kafka)?;
    let metadata = consumer
        .fetch_metadata(Some(topic), Timeout::After(timeout))
        .map_err(kafka)?;
    let mut assignment = TopicPartitionList::new();
    let mut ends = BTreeMap::new();
    for partition in metadata.topics().iter().flat_map(|t| t.partitions()) {
        let (low, high) = watermarks
            .fetch_watermarks(topic, partition.id(), Timeout::After(timeout))
            .map_err(kafka)?;
        if high > low {
            ends.insert(partition.id(), high);
            assignment
                .add_partition_offset(topic, partition.id(), Offset::Beginning)
                .map_err(kafka)?;
        }
    }
    let mut state = BTreeMap::new();
    if ends.is_empty() {
        return Ok(state);
    }
    consumer.assign(&assignment).map_err(kafka)?;
    let started = Instant::now();
    // Read until every partition's position reaches its high watermark (librdkafka moves a
    // read_committed position past aborted records and transaction markers too).
    loop {
        if let Some(message) = consumer.poll(Duration::from_millis(100)) {
            let message = message.map_err(kafka)?;
            let key = message
                .key()
                .map(|k| String::from_utf8_lossy(k).into_owned())
                .unwrap_or_default();
            match message.payload() {
                Some(value) => state.insert(key, value.to_vec()),
                None => state.remove(&key),
            };
        }
        let positions = consumer.position().map_err(kafka)?;
        let done = ends.iter().all(|(partition, high)| {
            positions
                .find_partition(topic, *partition)
                .and_then(|e| e.offset().to_raw())
                .is_some_and(|position| position >= *high)
        });
        if done {
            return Ok(state);
        }
        if started.elapsed() > timeout {
            return Err(ProducerError::Kafka(format!(
                "reading the compacted topic {topic}: not at its end after {timeout:?} (an open transaction of another process with the same deployment id?)"
            )));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_commit_whose_flush_timed_out_is_resumed_not_aborted() {
        let timed_out = KafkaError::Flush(RDKafkaErrorCode::OperationTimedOut);
        let error = TransactionError::from_kafka("id", &timed_out, None);
        assert!(matches!(error, TransactionError::Retriable(_)), "{error}");
        let other = KafkaError::Flush(RDKafkaErrorCode::MessageTimedOut);
        let error = TransactionError::from_kafka("id", &other, None);
        assert!(matches!(error, TransactionError::Abortable(_)), "{error}");
    }
}
