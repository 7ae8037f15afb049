//! Waiting until a topic just created can take writes on every partition.
//!
//! An idempotent producer must not send to a partition the broker has not set up yet. The
//! broker can refuse the first request there (the partition not served yet) and write the next
//! request in flight a moment later: a partition with no state for the producer accepts any
//! sequence number first. librdkafka, seeing the later sequence acknowledged, takes the earlier
//! batch for persisted (`rd_kafka_handle_idempotent_Produce_success`, librdkafka 2.12.1: a later
//! request's success is read as proof that an earlier failed one was written) and reports its
//! records delivered; they are not in the log. CI caught it: 600 records acknowledged, 598 in
//! the log, the partition's first batch at sequence 2 (the 2026-12-07 fresh-clone run at
//! cd2a3ba, the segment read with Kafka's `DumpLogSegments`).
//!
//! **Architecture invariant:** nothing is produced to a topic this process saw missing until
//! every partition of it answers `ListOffsets` at its leader: served from the partition's log
//! there, so the broker takes writes on it.

use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::RDKafkaErrorCode;

use crate::config::ProducerConfig;
use crate::error::ProducerError;

/// How long a new topic may take to become writable before start-up fails.
pub(super) const WRITABLE_WITHIN: Duration = Duration::from_secs(60);

/// Waits (off the async workers) until every partition of `topics` has a leader that serves it.
pub(super) async fn wait_until_writable(
    config: &ProducerConfig,
    topics: &[String],
) -> Result<(), ProducerError> {
    if topics.is_empty() {
        return Ok(());
    }
    let client = super::consumer_config(config);
    let topics = topics.to_vec();
    tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = client
            .create()
            .map_err(|e| ProducerError::Kafka(e.to_string()))?;
        let started = Instant::now();
        for topic in &topics {
            while let Err(reason) = partitions_served(&consumer, topic) {
                if reason == NOT_ALLOWED {
                    // Start-up names the missing ACL when it uses the topic.
                    break;
                }
                if started.elapsed() > WRITABLE_WITHIN {
                    return Err(ProducerError::Kafka(format!(
                        "topic {topic} was created but is not writable after {}s: {reason}",
                        WRITABLE_WITHIN.as_secs()
                    )));
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        Ok(())
    })
    .await
    .map_err(|e| ProducerError::Kafka(format!("waiting for new topics: {e}")))?
}

/// What [`partitions_served`] says when the principal may not describe the topic.
const NOT_ALLOWED: &str = "not allowed to describe the topic";

/// Ok when the broker lists `topic` with partitions, each with a leader that answers
/// `ListOffsets` for it; else what is not there yet.
fn partitions_served(consumer: &BaseConsumer, topic: &str) -> Result<(), String> {
    let timeout = Duration::from_secs(5);
    let metadata = consumer
        .fetch_metadata(Some(topic), timeout)
        .map_err(|e| format!("metadata: {e}"))?;
    let found = metadata
        .topics()
        .iter()
        .find(|t| t.name() == topic)
        .ok_or("not in the metadata")?;
    match found.error().map(RDKafkaErrorCode::from) {
        None => {}
        Some(RDKafkaErrorCode::TopicAuthorizationFailed) => return Err(NOT_ALLOWED.into()),
        Some(code) => return Err(format!("metadata: {code}")),
    }
    if found.partitions().is_empty() {
        return Err("no partitions yet".into());
    }
    for partition in found.partitions() {
        if partition.leader() < 0 || partition.error().is_some() {
            return Err(format!("partition {} has no leader yet", partition.id()));
        }
        if let Err(error) = consumer.fetch_watermarks(topic, partition.id(), timeout) {
            return Err(match error.rdkafka_error_code() {
                Some(RDKafkaErrorCode::TopicAuthorizationFailed) => NOT_ALLOWED.into(),
                _ => format!("partition {}: {error}", partition.id()),
            });
        }
    }
    Ok(())
}
