//! Kafka producer for OCSF records.
//!
//! One job: deliver OCSF records to Kafka (rdkafka; idempotent, acks=all, keyed, with headers,
//! compressed) as JSON or Avro in the Confluent wire format with a schema registry, and deliver
//! what could not be mapped or encoded to a dead-letter topic. Every send ends in the broker's
//! acknowledgement (a future, or a [`DeliveryListener`] call), which is what moves the
//! fetcher's checkpoints.
//!
//! - [`OcsfProducer`]: `new` (registers Avro schemas up front), `send`, `enqueue`,
//!   `enqueue_tracked` (verdicts to a listener: no future per record), `send_dead_letter`,
//!   `flush`, `ensure_topics`.
//! - [`avro`]: the `.avsc` generator (`generate-avro-schemas` binary), the committed schemas
//!   and the JSON -> Avro encoder.
//! - [`registry`]: the schema registry client.
//! - [`ShardMembership`]: which organisation shards this instance owns, through Kafka's group
//!   protocol on a coordination topic (`[cluster]`).
//! - [`access`]: what the configured principal may do on its topics and groups, asked of the
//!   broker before anything is written; a missing ACL is one line with its `kafka-acls` remedy.

pub mod avro;
pub mod config;
pub mod dead_letter;
pub mod error;
pub mod kafka;
pub mod registry;

pub use config::{
    Compression, Format, KafkaProperties, KeyStrategy, ProducerConfig, RegistryConfig, TopicConfig,
};
pub use dead_letter::{DeadLetter, Stage};
pub use error::{ProduceError, ProducerError};
pub use kafka::access::{self, MissingAcl};
pub use kafka::{
    Delivery, DeliveryListener, MembershipConfig, OcsfProducer, PendingDelivery, PreparedRecord,
    ShardChange, ShardMembership, TransactionError, ensure_record_topics, headers,
    read_compacted_topic, read_state_topic, record_topics, shard_of,
};
pub use registry::{RegistryClient, RegistryError};

// One producer is shared by every task; its errors cross tasks: checked when compiling.
const _: () = {
    const fn shareable<T: Send + Sync + 'static>() {}
    shareable::<OcsfProducer>();
    shareable::<ProduceError>();
};
