//! The Kafka producer: OCSF records and dead letters to topics, keyed, with headers; every send
//! resolves to the broker's acknowledgement.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use mapper::OcsfRecord;
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::producer::Producer;
use rdkafka::util::Timeout;
use tokio::sync::oneshot;

use crate::avro::{CLASS_SCHEMA_FILES, ClassEncoders};
use crate::config::{Format, ProducerConfig};
use crate::dead_letter::DeadLetter;
use crate::error::{ProduceError, ProducerError};
use crate::registry::{RegistryClient, RegistryError};
use access::{Operation, TopicState};

/// Header names on every OCSF record.
pub mod headers {
    /// OCSF `class_uid`.
    pub const CLASS_UID: &str = "ocsf_class_uid";
    /// OCSF version (`1.8.0`).
    pub const VERSION: &str = "ocsf_version";
    /// `metadata.event_code` (the Directory Insights `event_type`).
    pub const EVENT_CODE: &str = "event_code";
    /// `metadata.tenant_uid` (the organisation).
    pub const TENANT_UID: &str = "tenant_uid";
    /// `metadata.original_event_uid` (the Directory Insights `id`).
    pub const ORIGINAL_EVENT_UID: &str = "original_event_uid";
    /// `application/json` or `application/vnd.apache.avro+binary`.
    pub const CONTENT_TYPE: &str = "content-type";
    /// Dead letters: why.
    pub const DLQ_REASON: &str = "dlq_reason";
    /// Dead letters: stage (`map`, `encode`, `produce`).
    pub const DLQ_STAGE: &str = "dlq_stage";
    /// Dead letters: original size when the raw bytes were cut to fit `message_max_bytes`.
    pub const DLQ_ORIGINAL_SIZE: &str = "dlq_original_size";
}

/// The topic and (Avro) schema id of one class.
#[derive(Debug, Clone)]
struct ClassTarget {
    topic: Arc<str>,
    schema_id: Option<u32>,
    subject: Option<String>,
}

/// The OCSF Kafka producer (idempotent, `acks=all`). Cheap to share behind an `Arc`.
pub struct OcsfProducer {
    producer: KafkaProducer,
    room: Arc<QueueRoom>,
    config: ProducerConfig,
    targets: HashMap<u32, ClassTarget>,
    encoders: Option<ClassEncoders>,
    dead_letter_topic: Arc<str>,
}

impl std::fmt::Debug for OcsfProducer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OcsfProducer")
            .field("config", &self.config)
            .field("targets", &self.targets)
            .finish_non_exhaustive()
    }
}

fn client_config(config: &ProducerConfig) -> ClientConfig {
    let mut client = ClientConfig::new();
    for (name, value) in config.librdkafka_properties() {
        client.set(name, value);
    }
    client
}

/// Describes the topics of `new_topics` first: the principal must be allowed `needs` on those
/// that exist (else one line naming the missing ACL, `purpose` saying what it is for); only
/// those that do not exist are created (`[kafka.topic] create`), so existing topics need no
/// Create ACL. Returns once every partition of those it found missing takes writes (see
/// `writable.rs`); returns the topics it created.
async fn create_missing_topics(
    config: &ProducerConfig,
    new_topics: &[NewTopic<'_>],
    needs: &[Operation],
    purpose: &str,
) -> Result<Vec<String>, ProducerError> {
    let names: Vec<String> = new_topics.iter().map(|t| t.name.to_owned()).collect();
    let described = access::describe_topics_async(config, &names, access::DESCRIBE_TIMEOUT).await?;
    access::require_topic_access(config, &described, needs, purpose)?;
    let missing: Vec<&NewTopic<'_>> = new_topics
        .iter()
        .filter(|topic| {
            described
                .iter()
                .any(|d| d.name == topic.name && d.state == TopicState::Missing)
        })
        .collect();
    if missing.is_empty() {
        return Ok(Vec::new());
    }
    if !config.topic.create {
        let commands: Vec<String> = missing.iter().map(|t| create_command(config, t)).collect();
        return Err(ProducerError::Config(format!(
            "topic {} does not exist and [kafka.topic] create = false: create it first ({})",
            missing
                .iter()
                .map(|t| t.name)
                .collect::<Vec<_>>()
                .join(", "),
            commands.join("; ")
        )));
    }
    let admin: AdminClient<DefaultClientContext> = client_config(config)
        .create()
        .map_err(|e| ProducerError::Kafka(e.to_string()))?;
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let results = admin
        .create_topics(missing.iter().copied(), &options)
        .await
        .map_err(|e| ProducerError::Kafka(e.to_string()))?;
    let mut created = Vec::new();
    let mut shown = Vec::new();
    for result in results {
        match result {
            Ok(name) => {
                shown.push(name.clone());
                created.push(name);
            }
            // Created a moment ago by another instance: maybe not writable yet either.
            Err((name, RDKafkaErrorCode::TopicAlreadyExists)) => shown.push(name),
            Err((
                name,
                RDKafkaErrorCode::TopicAuthorizationFailed
                | RDKafkaErrorCode::ClusterAuthorizationFailed,
            )) => {
                let topic = missing.iter().find(|t| t.name == name);
                let command = topic.map(|t| create_command(config, t)).unwrap_or_default();
                return Err(access::MissingAcl::new(
                    config,
                    vec![Operation::Create],
                    access::ResourceKind::Topic,
                    vec![name],
                    format!("it does not exist; or create it first: {command}"),
                )
                .into());
            }
            Err((name, code)) => {
                return Err(ProducerError::Kafka(format!("create topic {name}: {code}")));
            }
        }
    }
    writable::wait_until_writable(config, &shown).await?;
    Ok(created)
}

/// The `kafka-topics.sh` command that creates `topic` as the pipeline would.
fn create_command(config: &ProducerConfig, topic: &NewTopic<'_>) -> String {
    let replication = match topic.replication {
        TopicReplication::Fixed(n) => n,
        TopicReplication::Variable(partitions) => {
            i32::try_from(partitions.first().map_or(1, |p| p.len())).unwrap_or(1)
        }
    };
    let mut command = format!(
        "kafka-topics.sh --bootstrap-server {} --command-config admin.properties --create --topic {} --partitions {} --replication-factor {replication}",
        config.brokers.split(',').next().unwrap_or_default().trim(),
        topic.name,
        topic.num_partitions,
    );
    for (key, value) in &topic.config {
        command.push_str(&format!(" --config {key}={value}"));
    }
    command
}

/// Every topic a producer of `config` writes records to: each class's topic and the
/// dead-letter topic (what [`OcsfProducer::topics`] returns, without making a producer).
pub fn record_topics(config: &ProducerConfig) -> Vec<String> {
    let mut topics: Vec<String> = CLASS_SCHEMA_FILES
        .iter()
        .map(|file| config.topic.topic_for(file.class_uid, file.class_name))
        .collect();
    topics.push(config.topic.dead_letter.clone());
    topics.sort();
    topics.dedup();
    topics
}

/// Create every topic of [`record_topics`] that does not exist yet (partitions and replication
/// from `[producer.topic]`), without a producer: a start calls it before registering its Avro
/// schemas, so a wrong Kafka credential, certificate or ACL is named in about a second.
/// Returns the topics it created.
pub async fn ensure_record_topics(config: &ProducerConfig) -> Result<Vec<String>, ProducerError> {
    let names = record_topics(config);
    let new_topics: Vec<NewTopic<'_>> = names
        .iter()
        .map(|name| {
            NewTopic::new(
                name,
                config.topic.partitions,
                TopicReplication::Fixed(config.topic.replication_factor),
            )
        })
        .collect();
    let (needs, purpose) = access::RECORD_TOPICS;
    create_missing_topics(config, &new_topics, needs, purpose).await
}

/// The connection and security settings of `config`: what applies to a consumer too.
fn consumer_config(config: &ProducerConfig) -> ClientConfig {
    let mut client = ClientConfig::new();
    for (name, value) in config.librdkafka_properties() {
        if name == "bootstrap.servers"
            || name == "client.id"
            || name.starts_with("security.")
            || name.starts_with("sasl.")
            || name.starts_with("ssl.")
        {
            client.set(name, value);
        }
    }
    client
}

impl OcsfProducer {
    /// Create the producer. With Avro, every class schema is registered up front (subject
    /// `<topic>-value`, or `<topic>-<record name>` when classes share a topic); a schema the
    /// registry rejects is an error here, before anything is sent.
    pub async fn new(config: ProducerConfig) -> Result<Self, ProducerError> {
        for name in config.properties.0.keys() {
            if matches!(
                name.as_str(),
                "acks" | "request.required.acks" | "enable.idempotence"
            ) {
                return Err(ProducerError::Config(format!(
                    "property {name} is fixed by the producer (acks=all, idempotence on)"
                )));
            }
        }
        let room = Arc::new(QueueRoom::default());
        let producer: KafkaProducer = client_config(&config)
            .create_with_context(DeliveryContext {
                room: Arc::clone(&room),
            })
            .map_err(|e| ProducerError::Kafka(e.to_string()))?;

        // Topic per class; count how many classes share each topic.
        let mut topic_users: BTreeMap<String, usize> = BTreeMap::new();
        for file in CLASS_SCHEMA_FILES {
            *topic_users
                .entry(config.topic.topic_for(file.class_uid, file.class_name))
                .or_default() += 1;
        }
        let mut targets = HashMap::new();
        let encoders = match config.format {
            Format::Json => None,
            Format::Avro => {
                let registry_config = config.schema_registry.as_ref().ok_or_else(|| {
                    ProducerError::Config(
                        "format = \"avro\" needs [producer.schema_registry]".into(),
                    )
                })?;
                let registry = RegistryClient::new(registry_config)?;
                let encoders = ClassEncoders::from_committed_schemas().map_err(|source| {
                    ProducerError::Schema {
                        class_name: "(committed schemas)".into(),
                        source,
                    }
                })?;
                // One registration per class, side by side (one after another: about 0.25 s
                // each against a busy registry).
                let registry = Arc::new(registry);
                let mut registering = tokio::task::JoinSet::new();
                for (class_uid, class_name, encoder) in encoders.iter() {
                    let topic = config.topic.topic_for(class_uid, class_name);
                    let subject = if topic_users.get(&topic).copied().unwrap_or(0) > 1 {
                        format!("{topic}-{}", crate::avro::record_full_name(class_name))
                    } else {
                        format!("{topic}-value")
                    };
                    let schema = encoder.schema_text().to_owned();
                    let registry = Arc::clone(&registry);
                    registering.spawn(async move {
                        let schema_id = registry.register(&subject, &schema).await?;
                        Ok::<_, RegistryError>((class_uid, topic, subject, schema_id))
                    });
                }
                let mut registered = Vec::new();
                while let Some(done) = registering.join_next().await {
                    let done = done.map_err(|e| {
                        RegistryError::Transport(format!("registering a schema: {e}"))
                    })?;
                    registered.push(done?);
                }
                registered.sort_unstable_by_key(|(class_uid, ..)| *class_uid);
                for (class_uid, topic, subject, schema_id) in registered {
                    tracing::info!(class_uid, %subject, schema_id, "registered Avro schema");
                    targets.insert(
                        class_uid,
                        ClassTarget {
                            topic: Arc::from(topic),
                            schema_id: Some(schema_id),
                            subject: Some(subject),
                        },
                    );
                }
                Some(encoders)
            }
        };
        for file in CLASS_SCHEMA_FILES {
            targets
                .entry(file.class_uid)
                .or_insert_with(|| ClassTarget {
                    topic: Arc::from(config.topic.topic_for(file.class_uid, file.class_name)),
                    schema_id: None,
                    subject: None,
                });
        }
        let dead_letter_topic = Arc::from(config.topic.dead_letter.as_str());
        Ok(Self {
            producer,
            room,
            config,
            targets,
            encoders,
            dead_letter_topic,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &ProducerConfig {
        &self.config
    }

    /// The topic records of this class go to.
    pub fn topic_for(&self, class_uid: u32, class_name: &str) -> String {
        match self.targets.get(&class_uid) {
            Some(target) => target.topic.to_string(),
            None => self.config.topic.topic_for(class_uid, class_name),
        }
    }

    /// The registry subject and schema id of a class (Avro only).
    pub fn schema_for(&self, class_uid: u32) -> Option<(&str, u32)> {
        let target = self.targets.get(&class_uid)?;
        Some((target.subject.as_deref()?, target.schema_id?))
    }

    /// Every topic this producer writes to: the class topics and the dead-letter topic.
    pub fn topics(&self) -> Vec<String> {
        record_topics(&self.config)
    }

    /// Create every topic of [`Self::topics`] that does not exist yet (partitions and replication
    /// from `[producer.topic]`). Returns the topics it created.
    pub async fn ensure_topics(&self) -> Result<Vec<String>, ProducerError> {
        ensure_record_topics(&self.config).await
    }

    /// A producer of `config` writing every record to `topic` (created when missing): what the
    /// one-off commands (`inventory --kafka-topic`, `respond --audit-topic`) write with.
    pub async fn for_topic(mut config: ProducerConfig, topic: &str) -> Result<Self, ProducerError> {
        config.topic.single_topic = Some(topic.to_owned());
        let producer = Self::new(config).await?;
        producer.ensure_topics().await?;
        Ok(producer)
    }

    fn send_prepared(
        &self,
        prepared: Result<OutgoingMessage<'_>, ProduceError>,
    ) -> impl Future<Output = Result<Delivery, ProduceError>> + Send + 'static {
        // Enqueue now when there is room, so records keep the order of the calls; only a
        // record that must wait for room is copied into the future.
        let (sender, receiver) = oneshot::channel();
        let tag = Box::new(DeliveryTag::Future(sender));
        let first_attempt = prepared.and_then(|message| {
            let topic = message.topic.clone();
            try_enqueue(&self.producer, message, tag).map(|attempt| {
                (
                    topic,
                    attempt.map_err(|(message, tag)| (message.into_owned(), tag)),
                )
            })
        });
        let producer = self.producer.clone();
        let room = Arc::clone(&self.room);
        async move {
            let (topic, attempt) = first_attempt?;
            if let Err((message, tag)) = attempt {
                enqueue_waiting(&producer, &room, message, tag).await?;
            }
            PendingDelivery { receiver, topic }.await
        }
    }

    /// Encode and send one OCSF record; resolves on the broker's acknowledgement. The record is
    /// queued during this call when librdkafka's queue has room (so calls keep their order);
    /// when the queue is full the returned future waits for room. For strict order under
    /// backpressure use [`Self::enqueue`]. An [`ProduceError::Encode`] means nothing was sent.
    pub fn send(
        &self,
        record: &OcsfRecord,
    ) -> impl Future<Output = Result<Delivery, ProduceError>> + Send + 'static {
        self.send_prepared(self.prepare(record))
    }

    /// Encode one OCSF record and wait until it is in librdkafka's queue (backpressure: waits
    /// while the queue is full); the returned [`PendingDelivery`] resolves on the broker's
    /// acknowledgement. Awaiting `enqueue` calls one after another keeps their order.
    pub async fn enqueue(&self, record: &OcsfRecord) -> Result<PendingDelivery, ProduceError> {
        let message = self.prepare(record)?;
        let topic = message.topic.clone();
        let (sender, receiver) = oneshot::channel();
        enqueue_waiting(
            &self.producer,
            &self.room,
            message,
            Box::new(DeliveryTag::Future(sender)),
        )
        .await?;
        Ok(PendingDelivery { receiver, topic })
    }

    /// Like [`Self::enqueue`], but the broker's verdict goes to `listener` as
    /// `listener.delivered(index, ..)` instead of a future per record: the pipeline's way of
    /// tracking a batch. `Ok(())` means the record is queued and the listener will hear about it
    /// exactly once; an error means nothing was queued and the listener hears nothing.
    pub async fn enqueue_tracked(
        &self,
        record: &OcsfRecord,
        listener: &Arc<dyn DeliveryListener>,
        index: u32,
    ) -> Result<(), ProduceError> {
        let message = self.prepare(record)?;
        let tag = Box::new(DeliveryTag::Listener(Arc::clone(listener), index));
        enqueue_waiting(&self.producer, &self.room, message, tag).await
    }

    /// Hands a record prepared with [`Self::prepare_record`] or
    /// [`Self::prepare_dead_letter_record`] to librdkafka, waiting while its queue is full; the
    /// broker's verdict goes to `listener` as `listener.delivered(index, ..)`. `Ok(())` means
    /// the record is queued and the listener will hear about it exactly once; an error means
    /// nothing was queued and the listener hears nothing.
    pub async fn enqueue_prepared(
        &self,
        prepared: PreparedRecord,
        listener: &Arc<dyn DeliveryListener>,
        index: u32,
    ) -> Result<(), ProduceError> {
        let tag = Box::new(DeliveryTag::Listener(Arc::clone(listener), index));
        enqueue_waiting(&self.producer, &self.room, prepared.0, tag).await
    }

    /// Send a dead letter to the dead-letter topic; resolves on the broker's acknowledgement.
    /// Raw bytes beyond `message_max_bytes` are cut (header `dlq_original_size` says so).
    pub fn send_dead_letter(
        &self,
        letter: DeadLetter,
    ) -> impl Future<Output = Result<Delivery, ProduceError>> + Send + 'static {
        self.send_prepared(Ok(self.prepare_dead_letter(letter)))
    }

    /// Records queued and not yet acknowledged.
    pub fn in_flight(&self) -> i32 {
        self.producer.in_flight_count()
    }

    /// Wait until every queued record is acknowledged or failed, at most `timeout`.
    pub fn flush(&self, timeout: Duration) -> Result<(), ProduceError> {
        self.producer
            .flush(Timeout::After(timeout))
            .map_err(|error| ProduceError::from_kafka("(flush)", &error))
    }
}

pub mod access;
mod delivery;
mod membership;
mod message;
mod queue;
#[cfg(test)]
mod tests;
mod transactions;
mod writable;

pub use delivery::{Delivery, DeliveryListener, PendingDelivery};
use delivery::{DeliveryContext, DeliveryTag};
use message::OutgoingMessage;
pub use message::PreparedRecord;
#[cfg(test)]
use queue::ReportedRecord;
use queue::{KafkaProducer, QueueRoom, enqueue_waiting, try_enqueue};

pub use membership::{MembershipConfig, ShardChange, ShardMembership, shard_of};
pub use transactions::{TransactionError, read_compacted_topic, read_state_topic};
