//! Errors: start-up ([`ProducerError`]) and per record ([`ProduceError`]).

use rdkafka::error::{KafkaError, RDKafkaErrorCode};

use crate::avro::{EncodeError, SchemaCompileError};
use crate::dead_letter::Stage;
use crate::registry::RegistryError;

/// The producer could not start. Nothing was sent.
#[derive(Debug, thiserror::Error)]
pub enum ProducerError {
    /// The configuration is inconsistent (e.g. Avro without a schema registry).
    #[error("producer configuration: {0}")]
    Config(String),
    /// librdkafka refused the client configuration or an admin call failed.
    #[error("Kafka client: {0}")]
    Kafka(String),
    /// TLS with the brokers failed (unknown CA, a certificate for another host): librdkafka's
    /// words, the cause when it could be told, the remedy.
    #[error("{0}")]
    Tls(String),
    /// The principal lacks an ACL (found before anything was written).
    #[error(transparent)]
    Acl(Box<crate::kafka::access::MissingAcl>),
    /// The schema registry refused a class schema, or could not be reached.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// A committed Avro schema does not compile.
    #[error("Avro schema of class {class_name}: {source}")]
    Schema {
        /// The class.
        class_name: String,
        /// Why.
        source: SchemaCompileError,
    },
}

impl From<crate::kafka::access::MissingAcl> for ProducerError {
    fn from(missing: crate::kafka::access::MissingAcl) -> Self {
        Self::Acl(Box::new(missing))
    }
}

impl From<Box<crate::kafka::access::MissingAcl>> for ProducerError {
    fn from(missing: Box<crate::kafka::access::MissingAcl>) -> Self {
        Self::Acl(missing)
    }
}

impl ProducerError {
    /// True when the principal lacks a Kafka ACL: waiting or retrying does not help, the
    /// operator must grant it. Also true for the text of such an error carried as
    /// [`ProducerError::Kafka`] (a transactional id's ACL, reported by `init_transactions`).
    pub fn is_missing_acl(&self) -> bool {
        match self {
            Self::Acl(_) => true,
            Self::Kafka(message) => message.starts_with(crate::kafka::access::MISSING_ACL),
            _ => false,
        }
    }
}

/// One record could not be delivered.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ProduceError {
    /// The record does not fit its Avro schema (or is not valid JSON): dead-letter it
    /// (stage `encode`) and continue. Nothing was sent.
    #[error("encode: {0}")]
    Encode(#[from] EncodeError),
    /// The encoded record is larger than `message.max.bytes`: dead-letter it (stage `produce`).
    /// Nothing was sent.
    #[error("record of {size} bytes exceeds message_max_bytes {limit}")]
    TooLarge {
        /// Encoded size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Kafka did not confirm the record (delivery timeout, broker error, fatal producer error).
    /// The record may or may not be in the topic; retry it (at-least-once).
    #[error("Kafka delivery to {topic} failed: {message}")]
    Kafka {
        /// The topic.
        topic: String,
        /// The librdkafka error code, when there is one.
        code: Option<RDKafkaErrorCode>,
        /// The error text.
        message: String,
    },
    /// The producer was dropped before the broker answered.
    #[error("producer shut down before delivery to {topic} was confirmed")]
    Cancelled {
        /// The topic.
        topic: String,
    },
}

impl ProduceError {
    /// True when the record itself is at fault (it will never be deliverable as it is): the
    /// pipeline dead-letters it and moves on. False for transport failures, to be retried.
    pub fn is_record_fault(&self) -> bool {
        matches!(self, Self::Encode(_) | Self::TooLarge { .. })
            || matches!(
                self,
                Self::Kafka {
                    code: Some(RDKafkaErrorCode::MessageSizeTooLarge),
                    ..
                }
            )
    }

    /// The stage a record that failed with this error is dead-lettered under: `encode` when it
    /// did not fit its schema, `produce` otherwise (too large, refused by the broker).
    pub fn stage(&self) -> Stage {
        match self {
            Self::Encode(_) => Stage::Encode,
            _ => Stage::Produce,
        }
    }

    /// True when the producer that returned this is unusable and must be built again (a fatal
    /// librdkafka error, e.g. after a broker lost the idempotent producer's state).
    pub fn needs_new_producer(&self) -> bool {
        matches!(
            self,
            Self::Kafka {
                code: Some(RDKafkaErrorCode::Fatal),
                ..
            }
        )
    }

    /// True when the topic does not exist (deleted, or a broker that lost its data).
    pub fn is_unknown_topic(&self) -> bool {
        matches!(
            self,
            Self::Kafka {
                code: Some(
                    RDKafkaErrorCode::UnknownTopicOrPartition | RDKafkaErrorCode::UnknownTopic
                ),
                ..
            }
        )
    }

    pub(crate) fn from_kafka(topic: &str, error: &KafkaError) -> Self {
        Self::Kafka {
            topic: topic.to_owned(),
            code: error.rdkafka_error_code(),
            message: error.to_string(),
        }
    }
}
