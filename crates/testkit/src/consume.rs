//! Reading topics as a downstream consumer does: a consumer group's committed offsets and (by
//! default) `read_committed`, so records of aborted or open transactions stay invisible.
//!
//! The reader assigns itself every partition of the topics rather than joining the group by
//! subscription, so no rebalance (each new topic showing in the metadata starts one) stands
//! between a test and its records. It starts at the group's committed offset (the beginning if
//! it has none), commits where it stopped, and picks up a topic that does not exist yet when it
//! shows. A read that falls short names per partition the end, the position and the records
//! read: that is how two acknowledged records missing from the log (not from the read) were
//! found on 2026-12-07 (see `producer/src/kafka/writable.rs`).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Headers, Message};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

/// One consumed Kafka record.
#[derive(Debug, Clone)]
pub struct Consumed {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub payload: Vec<u8>,
    pub headers: BTreeMap<String, String>,
}

/// Which records a reader sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isolation {
    /// Only records of committed transactions (and non-transactional ones).
    ReadCommitted,
    /// Every record written, aborted transactions included.
    ReadUncommitted,
}

/// [`consume_from`] the shared test broker.
pub fn consume(topics: &[String], expected: usize, deadline: Duration) -> Vec<Consumed> {
    consume_from(&crate::brokers(), topics, expected, deadline)
}

/// Reads `topics` from the beginning as a new consumer group (`read_committed`) until every
/// assigned partition has reached its end and at least `expected` records were read
/// (`usize::MAX`: no minimum), or until `deadline`; then commits the group's offsets. Reading to
/// the end, not to `expected`, is what lets a test see duplicates.
pub fn consume_from(
    bootstrap: &str,
    topics: &[String],
    expected: usize,
    deadline: Duration,
) -> Vec<Consumed> {
    let group = format!("reader-{}", uuid::Uuid::new_v4().simple());
    consume_with(
        bootstrap,
        &group,
        Isolation::ReadCommitted,
        topics,
        expected,
        deadline,
    )
}

/// [`consume_from`] with a named group (it resumes at the group's committed offsets) and an
/// isolation level.
pub fn consume_with(
    bootstrap: &str,
    group: &str,
    isolation: Isolation,
    topics: &[String],
    expected: usize,
    deadline: Duration,
) -> Vec<Consumed> {
    let mut connection = ClientConfig::new();
    connection.set("bootstrap.servers", bootstrap);
    consume_with_config(&connection, group, isolation, topics, expected, deadline)
}

/// [`consume_with`] a broker reached with the settings of `connection` (bootstrap servers,
/// security: e.g. the secured broker's [`crate::SecureBroker::admin_config`]).
pub fn consume_with_config(
    connection: &ClientConfig,
    group: &str,
    isolation: Isolation,
    topics: &[String],
    expected: usize,
    deadline: Duration,
) -> Vec<Consumed> {
    let isolation = match isolation {
        Isolation::ReadCommitted => "read_committed",
        Isolation::ReadUncommitted => "read_uncommitted",
    };
    let consumer: BaseConsumer = connection
        .clone()
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("enable.partition.eof", "true")
        .set("isolation.level", isolation)
        .create()
        .expect("consumer");
    let started = Instant::now();
    let ends = end_offsets(connection, &consumer, topics, deadline);
    let mut unassigned: Vec<&String> = topics.iter().collect();
    let mut last_look: Option<Instant> = None;
    let mut records = Vec::new();
    while started.elapsed() < deadline {
        if !unassigned.is_empty() && last_look.is_none_or(|at| at.elapsed() > DISCOVERY_INTERVAL) {
            last_look = Some(Instant::now());
            unassigned.retain(|topic| !assign_partitions(&consumer, topic));
        }
        let idle = match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(message)) => {
                records.push(consumed(&message));
                false
            }
            Some(Err(KafkaError::PartitionEOF(_))) | None => true,
            Some(Err(err)) => {
                eprintln!("consumer: {err}");
                true
            }
        };
        let enough = expected == usize::MAX || records.len() >= expected;
        if idle && enough && read_to(&consumer, &ends) {
            break;
        }
    }
    if records.len() < expected && expected != usize::MAX {
        eprintln!(
            "consumer: {} of {expected} records by the deadline ({deadline:?}); per partition: {}",
            records.len(),
            partition_report(&consumer, &ends, &records)
        );
    }
    if !records.is_empty()
        && let Err(err) = consumer.commit_consumer_state(CommitMode::Sync)
    {
        eprintln!("consumer commit: {err}");
    }
    records
}

/// How often the reader looks for a topic that had no partitions yet.
const DISCOVERY_INTERVAL: Duration = Duration::from_secs(1);

/// Adds every partition of `topic` to the consumer's assignment, each from the group's committed
/// offset (`auto.offset.reset`: the beginning, when there is none); false when the topic has no
/// partitions yet.
fn assign_partitions(consumer: &BaseConsumer, topic: &str) -> bool {
    let Ok(metadata) = consumer.fetch_metadata(Some(topic), Duration::from_secs(10)) else {
        return false;
    };
    let mut partitions = TopicPartitionList::new();
    for found in metadata.topics().iter().filter(|t| t.error().is_none()) {
        for partition in found.partitions() {
            if let Err(err) = partitions.add_partition_offset(topic, partition.id(), Offset::Stored)
            {
                eprintln!("consumer: {topic}[{}]: {err}", partition.id());
            }
        }
    }
    if partitions.count() == 0 {
        return false;
    }
    match consumer.incremental_assign(&partitions) {
        Ok(()) => true,
        Err(err) => {
            eprintln!("consumer: assigning {topic}: {err}");
            false
        }
    }
}

fn consumed(message: &rdkafka::message::BorrowedMessage<'_>) -> Consumed {
    let headers = message
        .headers()
        .map(|headers| {
            headers
                .iter()
                .map(|h| {
                    (
                        h.key.to_string(),
                        String::from_utf8_lossy(h.value.unwrap_or_default()).into_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    Consumed {
        topic: message.topic().to_string(),
        partition: message.partition(),
        offset: message.offset(),
        key: message.key().map(<[u8]>::to_vec),
        payload: message.payload().unwrap_or_default().to_vec(),
        headers,
    }
}

/// The end of every partition of `topics` when the read starts: its high watermark, once no
/// transaction is open on it. (Right after a commit the broker may not have written the
/// transaction's markers yet; until then the last stable offset a `read_committed` reader is
/// given lags behind the high watermark.)
fn end_offsets(
    connection: &ClientConfig,
    committed: &BaseConsumer,
    topics: &[String],
    deadline: Duration,
) -> BTreeMap<(String, i32), i64> {
    let uncommitted: BaseConsumer = connection
        .clone()
        .set("isolation.level", "read_uncommitted")
        .create()
        .expect("watermark client");
    let timeout = Duration::from_secs(10);
    let started = Instant::now();
    let mut ends = BTreeMap::new();
    for topic in topics {
        let Ok(metadata) = uncommitted.fetch_metadata(Some(topic), timeout) else {
            continue;
        };
        for partition in metadata.topics().iter().flat_map(|t| t.partitions()) {
            let high = loop {
                let high = uncommitted
                    .fetch_watermarks(topic, partition.id(), timeout)
                    .map(|(_, high)| high)
                    .unwrap_or(-1);
                let stable = committed
                    .fetch_watermarks(topic, partition.id(), timeout)
                    .map(|(_, stable)| stable)
                    .unwrap_or(-1);
                if (high >= 0 && stable >= high) || started.elapsed() > deadline {
                    break high;
                }
                std::thread::sleep(Duration::from_millis(100));
            };
            ends.insert((topic.clone(), partition.id()), high);
        }
    }
    ends
}

/// Every partition was read to its end (librdkafka moves a `read_committed` position past
/// aborted records and transaction markers too).
fn read_to(consumer: &BaseConsumer, ends: &BTreeMap<(String, i32), i64>) -> bool {
    let Ok(positions) = consumer.position() else {
        return false;
    };
    ends.iter().all(|((topic, partition), end)| {
        *end <= 0
            || positions
                .find_partition(topic, *partition)
                .and_then(|e| e.offset().to_raw())
                .is_some_and(|position| position >= *end)
    })
}

/// Each partition's end when the read started, the consumer's position, whether it is
/// assigned, and the records read from it: what a read that fell short was missing.
fn partition_report(
    consumer: &BaseConsumer,
    ends: &BTreeMap<(String, i32), i64>,
    records: &[Consumed],
) -> String {
    let positions = consumer.position().ok();
    let assigned = consumer.assignment().ok();
    let mut read: BTreeMap<(&str, i32), usize> = BTreeMap::new();
    for record in records {
        *read
            .entry((record.topic.as_str(), record.partition))
            .or_default() += 1;
    }
    ends.iter()
        .map(|((topic, partition), end)| {
            let position = positions
                .as_ref()
                .and_then(|p| p.find_partition(topic, *partition))
                .map(|e| format!("{:?}", e.offset()))
                .unwrap_or_else(|| "none".to_string());
            let is_assigned = assigned
                .as_ref()
                .is_some_and(|a| a.find_partition(topic, *partition).is_some());
            let count = read.get(&(topic.as_str(), *partition)).copied().unwrap_or(0);
            format!(
                "{topic}[{partition}] end {end} position {position} assigned {is_assigned} read {count}"
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}
