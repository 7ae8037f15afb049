//! Which organisation shards this instance owns, decided by Kafka's group protocol.
//!
//! Instances of one deployment join one consumer group (`[cluster] group_id`) subscribed to a
//! coordination topic whose partitions are the shards. The group coordinator (the broker) hands
//! each member a share of the partitions; this module turns its rebalance callbacks into
//! [`ShardChange`]s. Nothing is ever written to or read from the coordination topic: it exists
//! for its partition count. Assignment is cooperative (`cooperative-sticky`), so a member
//! joining or leaving moves only the shards it takes or gives.
//!
//! A revocation waits (on the consumer's thread, before the partitions are released) until the
//! receiver says the shards stopped: their last unit committed or aborted. Only then may the
//! coordinator give them to another member.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc as std_mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rdkafka::TopicPartitionList;
use rdkafka::admin::{NewTopic, TopicReplication};
use rdkafka::client::ClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance};
use rdkafka::util::Timeout;
use tokio::sync::mpsc;

use crate::config::ProducerConfig;
use crate::error::ProducerError;

/// How this instance takes part in the group.
#[derive(Debug, Clone)]
pub struct MembershipConfig {
    /// The consumer group every instance of the deployment joins.
    pub group_id: String,
    /// The coordination topic; its partitions are the shards.
    pub topic: String,
    /// Partitions of the coordination topic when this instance creates it. An existing topic
    /// keeps its count (every instance reads the same metadata, so they agree).
    pub shards: i32,
    /// Without a heartbeat for this long a member is dropped and its shards move.
    pub session_timeout: Duration,
    /// How long a revocation may take (stopping the shards' pipelines) before the shards are
    /// released anyway; also librdkafka's `max.poll.interval.ms` is set above it.
    pub revoke_timeout: Duration,
}

/// How long after its creation the coordination topic may take to show in the metadata.
const PARTITIONS_SHOWN_WITHIN: Duration = Duration::from_secs(30);

/// The group consumer's errors are warnings at most once per this interval.
const ERROR_WARNING_INTERVAL: Duration = Duration::from_secs(30);

/// A change in the shards this instance owns.
#[derive(Debug)]
pub enum ShardChange {
    /// These shards are now this instance's.
    Assigned(Vec<i32>),
    /// These shards are no longer this instance's. Stop them, then send on `done`: the group
    /// waits for it (up to the revoke timeout). `lost` is set when the group already gave them
    /// away (this instance missed its session): their writers are fenced by the new owner.
    Revoked {
        /// The shards.
        shards: Vec<i32>,
        /// The assignment was lost rather than given back.
        lost: bool,
        /// Send once the shards stopped.
        done: std_mpsc::SyncSender<()>,
    },
}

/// The rebalance callbacks: shard changes out, revocations waited for.
struct MembershipContext {
    topic: String,
    changes: mpsc::UnboundedSender<ShardChange>,
    revoke_timeout: Duration,
}

impl MembershipContext {
    fn shards_of(&self, list: &TopicPartitionList) -> Vec<i32> {
        list.elements()
            .iter()
            .filter(|e| e.topic() == self.topic)
            .map(|e| e.partition())
            .collect()
    }
}

impl ClientContext for MembershipContext {}

impl ConsumerContext for MembershipContext {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let Rebalance::Revoke(list) = rebalance else {
            return;
        };
        let shards = self.shards_of(list);
        if shards.is_empty() {
            return;
        }
        let lost = consumer.assignment_lost();
        tracing::info!(?shards, lost, "shards revoked: stopping them");
        let (done, stopped) = std_mpsc::sync_channel(1);
        let change = ShardChange::Revoked {
            shards: shards.clone(),
            lost,
            done,
        };
        if self.changes.send(change).is_ok() && stopped.recv_timeout(self.revoke_timeout).is_err() {
            tracing::warn!(
                ?shards,
                timeout = ?self.revoke_timeout,
                "shards did not stop within the revoke timeout; releasing them (their writers are fenced by the next owner)"
            );
        }
    }

    fn post_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(list) => {
                // Nothing is read from the coordination topic: its partitions stay paused, so
                // the instances need no Read ACL on it (Describe, for the group's metadata).
                if let Err(error) = consumer.pause(list) {
                    tracing::warn!(%error, "pausing the coordination topic's partitions");
                }
                let shards = self.shards_of(list);
                if shards.is_empty() {
                    return;
                }
                tracing::info!(?shards, "shards assigned");
                let _ = self.changes.send(ShardChange::Assigned(shards));
            }
            Rebalance::Revoke(_) => {}
            Rebalance::Error(error) => tracing::warn!(%error, "rebalance failed"),
        }
    }
}

/// Membership in the deployment's group. Dropping it without [`ShardMembership::leave`]
/// leaves the group too, blocking until the revocation is answered.
pub struct ShardMembership {
    shards: i32,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for ShardMembership {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShardMembership")
            .field("shards", &self.shards)
            .finish_non_exhaustive()
    }
}

impl ShardMembership {
    /// Creates the coordination topic if it is missing, joins the group and starts the thread
    /// that polls it. Shard changes arrive on `changes`; answer every revocation.
    pub async fn join(
        kafka: &ProducerConfig,
        config: &MembershipConfig,
        changes: mpsc::UnboundedSender<ShardChange>,
    ) -> Result<Self, ProducerError> {
        super::access::require_group(kafka, &config.group_id, super::access::CLUSTER_GROUP).await?;
        create_topic(kafka, config).await?;
        let kafka_error = |e: rdkafka::error::KafkaError| {
            ProducerError::Kafka(format!("joining group {:?}: {e}", config.group_id))
        };
        let context = MembershipContext {
            topic: config.topic.clone(),
            changes,
            revoke_timeout: config.revoke_timeout,
        };
        let session_ms = config.session_timeout.as_millis().max(1);
        let heartbeat_ms = (session_ms / 3).clamp(100, 3_000);
        let poll_interval_ms = config.revoke_timeout.as_millis() + 60_000;
        let consumer: BaseConsumer<MembershipContext> = super::consumer_config(kafka)
            .set("group.id", &config.group_id)
            .set("partition.assignment.strategy", "cooperative-sticky")
            .set("session.timeout.ms", session_ms.to_string())
            .set("heartbeat.interval.ms", heartbeat_ms.to_string())
            .set("max.poll.interval.ms", poll_interval_ms.to_string())
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "latest")
            .create_with_context(context)
            .map_err(kafka_error)?;
        // An instance started beside this one may have created the topic a moment ago: the
        // broker's metadata can show it a little after the creation was answered.
        let deadline = Instant::now() + PARTITIONS_SHOWN_WITHIN;
        let shards = loop {
            let metadata = consumer
                .fetch_metadata(Some(&config.topic), Timeout::After(Duration::from_secs(30)))
                .map_err(kafka_error)?;
            let partitions = metadata
                .topics()
                .iter()
                .find(|t| t.name() == config.topic)
                .map(|t| t.partitions().len())
                .and_then(|n| i32::try_from(n).ok())
                .filter(|n| *n > 0);
            match partitions {
                Some(partitions) => break partitions,
                None if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                None => {
                    return Err(ProducerError::Kafka(format!(
                        "the coordination topic {:?} shows no partitions {PARTITIONS_SHOWN_WITHIN:?} after it was created",
                        config.topic
                    )));
                }
            }
        };
        if shards != config.shards {
            tracing::warn!(
                topic = %config.topic,
                partitions = shards,
                configured = config.shards,
                "the coordination topic exists with another partition count: using its count"
            );
        }
        consumer.subscribe(&[&config.topic]).map_err(kafka_error)?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("shard-membership".into())
            .spawn(move || {
                let mut warned: Option<Instant> = None;
                while !stopping.load(Ordering::SeqCst) {
                    // Nothing is ever written to the coordination topic; polling serves the
                    // group's callbacks.
                    if let Some(Err(error)) = consumer.poll(Duration::from_millis(200)) {
                        // librdkafka retries by itself; an instance that gets no shards says
                        // why, once per interval (a broker outage repeats the same error).
                        if warned.is_none_or(|at| at.elapsed() >= ERROR_WARNING_INTERVAL) {
                            tracing::warn!(%error, "the group's consumer reported an error");
                            warned = Some(Instant::now());
                        } else {
                            tracing::debug!(%error, "the group's consumer reported an error");
                        }
                    }
                }
                // Dropping the consumer leaves the group: the revocation is answered first.
                drop(consumer);
            })
            .map_err(|e| ProducerError::Kafka(format!("starting the membership thread: {e}")))?;
        tracing::info!(group = %config.group_id, topic = %config.topic, shards, "joined the group");
        Ok(Self {
            shards,
            stop,
            thread: Some(thread),
        })
    }

    /// How many shards there are (the coordination topic's partitions).
    pub fn shard_count(&self) -> i32 {
        self.shards
    }

    /// Leaves the group: the owned shards are revoked (answer it on the changes channel), then
    /// the member goes. Blocks: call it off the async workers.
    pub fn leave(mut self) {
        self.stop_thread();
    }

    fn stop_thread(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for ShardMembership {
    fn drop(&mut self) {
        self.stop_thread();
    }
}

async fn create_topic(
    kafka: &ProducerConfig,
    config: &MembershipConfig,
) -> Result<(), ProducerError> {
    let topic = NewTopic::new(
        &config.topic,
        config.shards.max(1),
        TopicReplication::Fixed(kafka.topic.replication_factor),
    );
    let (needs, purpose) = super::access::COORDINATION_TOPIC;
    for name in super::create_missing_topics(kafka, &[topic], needs, purpose).await? {
        tracing::info!(topic = %name, shards = config.shards, "created the coordination topic");
    }
    Ok(())
}

/// The shard of an organisation: FNV-1a (64-bit) of its id, modulo the shard count. Stable
/// across versions and machines (documented in the README); changing it moves organisations.
pub fn shard_of(org_id: &str, shards: i32) -> i32 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let hash = org_id.bytes().fold(OFFSET, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(PRIME)
    });
    let shards = u64::try_from(shards.max(1)).unwrap_or(1);
    i32::try_from(hash % shards).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_of_is_fnv1a_modulo_the_count() {
        // FNV-1a 64 of "" is the offset basis; of "a" the published test vector.
        assert_eq!(
            shard_of("", 1_000_000_007),
            (0xcbf2_9ce4_8422_2325u64 % 1_000_000_007) as i32
        );
        assert_eq!(
            shard_of("a", 1_000_000_007),
            (0xaf63_dc4c_8601_ec8cu64 % 1_000_000_007) as i32
        );
        for shards in [1, 2, 12, 64] {
            for org in ["", "5a3f0c2e9d1b", "org-17"] {
                let shard = shard_of(org, shards);
                assert!((0..shards).contains(&shard));
                assert_eq!(shard, shard_of(org, shards));
            }
        }
    }

    #[test]
    fn organisations_spread_over_the_shards() {
        let mut counts = [0usize; 12];
        for n in 0..1_200 {
            counts[shard_of(&format!("{n:024x}"), 12) as usize] += 1;
        }
        assert!(counts.iter().all(|c| (60..=140).contains(c)), "{counts:?}");
    }
}
