//! Reading topics as a downstream consumer does: a consumer group of its own, committed offsets,
//! and (by default) `read_committed`, so records of aborted or open transactions stay invisible.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Headers, Message};

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

/// Reads `topics` from the beginning with a new consumer group (`read_committed`) until every
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
    let isolation = match isolation {
        Isolation::ReadCommitted => "read_committed",
        Isolation::ReadUncommitted => "read_uncommitted",
    };
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("enable.partition.eof", "true")
        .set("isolation.level", isolation)
        .set("session.timeout.ms", "10000")
        .set("topic.metadata.refresh.interval.ms", "1000")
        .create()
        .expect("consumer");
    // Watermarks as a read_uncommitted reader sees them: the true end of each partition.
    let watermarks: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("isolation.level", "read_uncommitted")
        .create()
        .expect("watermark client");
    let names: Vec<&str> = topics.iter().map(String::as_str).collect();
    consumer.subscribe(&names).expect("subscribe");
    let started = Instant::now();
    let mut last_record = Instant::now();
    let mut records = Vec::new();
    while started.elapsed() < deadline {
        let idle = match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(message)) => {
                records.push(consumed(&message));
                last_record = Instant::now();
                false
            }
            Some(Err(KafkaError::PartitionEOF(_))) | None => true,
            Some(Err(err)) => {
                eprintln!("consumer: {err}");
                true
            }
        };
        let enough = expected == usize::MAX || records.len() >= expected;
        if idle && enough && at_end(&consumer, &watermarks, topics, last_record.elapsed()) {
            break;
        }
    }
    if !records.is_empty() {
        if let Err(err) = consumer.commit_consumer_state(CommitMode::Sync) {
            eprintln!("consumer commit: {err}");
        }
    }
    records
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

/// How long a reader waits with nothing new, once no transaction is open, before it takes the
/// aborted records and markers at a partition's end as the end.
const QUIET: Duration = Duration::from_secs(2);

/// Every subscribed topic is assigned, and every assigned partition is read to its end: no
/// transaction is open on it (the last stable offset a `read_committed` reader gets equals the
/// true high watermark: right after a commit the broker may not have written its markers
/// yet, and until then the LSO lags behind), and the position reached the high watermark, or
/// nothing came for [`QUIET`] (what is left is aborted records and transaction markers).
fn at_end(
    consumer: &BaseConsumer,
    watermarks: &BaseConsumer,
    topics: &[String],
    quiet: Duration,
) -> bool {
    let Ok(positions) = consumer.position() else {
        return false;
    };
    let elements = positions.elements();
    let covers = topics
        .iter()
        .all(|topic| elements.iter().any(|e| e.topic() == topic));
    let timeout = Duration::from_secs(5);
    covers
        && elements.iter().all(|e| {
            let stable = consumer
                .fetch_watermarks(e.topic(), e.partition(), timeout)
                .map(|(_, high)| high);
            let high = watermarks
                .fetch_watermarks(e.topic(), e.partition(), timeout)
                .map(|(_, high)| high);
            match (e.offset().to_raw(), stable, high) {
                (_, Ok(stable), Ok(high)) if stable != high => false,
                (_, _, Ok(0)) => true,
                (Some(position), _, Ok(high)) => position >= high || quiet >= QUIET,
                (None, _, Ok(_)) => false,
                _ => false,
            }
        })
}
