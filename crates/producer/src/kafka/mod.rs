//! The Kafka producer: OCSF records and dead letters to topics, keyed, with headers; every send
//! resolves to the broker's acknowledgement.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use mapper::OcsfRecord;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, Message, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::util::Timeout;
use rdkafka::{ClientConfig, ClientContext};
use tokio::sync::{Notify, oneshot};

use crate::avro::{AvroEncoder, CLASS_SCHEMA_FILES, ClassEncoders, EncodeError, OCSF_VERSION};
use crate::config::{Format, KeyStrategy, ProducerConfig};
use crate::dead_letter::DeadLetter;
use crate::error::{ProduceError, ProducerError};
use crate::registry::RegistryClient;

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
    /// Dead letters: stage (`fetch`, `parse`, `map`, `encode`, `produce`).
    pub const DLQ_STAGE: &str = "dlq_stage";
    /// Dead letters: original size when the raw bytes were cut to fit `message_max_bytes`.
    pub const DLQ_ORIGINAL_SIZE: &str = "dlq_original_size";
}

/// Room kept for headers and framing below `message_max_bytes`.
const RECORD_OVERHEAD_BYTES: usize = 16 * 1024;

/// The broker's acknowledgement of one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: i32,
    /// The offset.
    pub offset: i64,
}

/// Receives the broker's verdict on records queued with [`OcsfProducer::enqueue_tracked`].
///
/// Called once per record on the producer's polling thread, so it must be quick (count, note a
/// failure, wake a task): a pipeline batch of thousands of records needs no future per record.
pub trait DeliveryListener: Send + Sync + 'static {
    /// The record queued with `index` was acknowledged (`Ok`) or failed for good (`Err`).
    fn delivered(&self, index: u32, result: Result<(), ProduceError>);
}

/// Who hears about one record's delivery (librdkafka's per-message opaque).
enum DeliveryTag {
    /// A [`PendingDelivery`] waiting on the other end.
    Future(oneshot::Sender<Result<Delivery, ProduceError>>),
    /// A listener, with the caller's index of the record.
    Listener(Arc<dyn DeliveryListener>, u32),
}

/// librdkafka's client context: routes delivery reports to their [`DeliveryTag`] and wakes
/// producers waiting for room in the queue.
struct DeliveryContext {
    room: Arc<QueueRoom>,
}

impl ClientContext for DeliveryContext {}

impl ProducerContext for DeliveryContext {
    type DeliveryOpaque = Box<DeliveryTag>;

    fn delivery(&self, result: &DeliveryResult<'_>, tag: Box<DeliveryTag>) {
        let reported = match result {
            Ok(message) | Err((_, message)) => {
                ReportedRecord::of(message.topic(), message.partition(), message.offset())
            }
        };
        self.room.record_reported(reported);
        match *tag {
            DeliveryTag::Future(sender) => {
                let outcome = match result {
                    Ok(message) => Ok(Delivery {
                        topic: message.topic().to_owned(),
                        partition: message.partition(),
                        offset: message.offset(),
                    }),
                    Err((error, message)) => Err(ProduceError::from_kafka(message.topic(), error)),
                };
                // The receiver may be gone (caller stopped waiting): nothing to tell.
                let _ = sender.send(outcome);
            }
            DeliveryTag::Listener(listener, index) => {
                let outcome = match result {
                    Ok(_) => Ok(()),
                    Err((error, message)) => Err(ProduceError::from_kafka(message.topic(), error)),
                };
                listener.delivered(index, outcome);
            }
        }
    }
}

/// Where a delivered record sits: a delivery report covers one produce request, that is
/// consecutive offsets of one partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ReportedRecord {
    /// A hash of the topic name (a collision only costs one early wake-up).
    topic: u64,
    partition: i32,
    /// The offset; negative when the broker assigned none (a failed delivery).
    offset: i64,
}

impl ReportedRecord {
    fn of(topic: &str, partition: i32, offset: i64) -> Self {
        use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
        Self {
            topic: BuildHasherDefault::<DefaultHasher>::default().hash_one(topic),
            partition,
            offset,
        }
    }

    /// Whether `self` follows `previous` in the same delivery report.
    fn continues(self, previous: ReportedRecord) -> bool {
        self.topic == previous.topic
            && self.partition == previous.partition
            && previous.offset >= 0
            && self.offset == previous.offset + 1
    }
}

/// Wakes senders waiting for room in librdkafka's queue when a delivery report has freed some.
///
/// librdkafka releases a report's room in its queue only when the whole report is dropped,
/// after the callback of its last record; nothing runs after that on the polling thread until
/// the next report. Waking the senders on every record's callback woke them before the room
/// was there (about a dozen futile wake-ups and failed sends per wait in a 1M-event backfill).
/// So they are woken on the first record of each report: by then the reports before it have
/// been dropped and their room is free. (A sender also tries again after
/// [`QUEUE_FULL_RECHECK`], should no further report come.)
#[derive(Default)]
struct QueueRoom {
    waiting: AtomicUsize,
    notify: Notify,
    /// The last record reported, to tell where a report starts.
    last_reported: Mutex<Option<ReportedRecord>>,
}

impl QueueRoom {
    fn record_reported(&self, record: ReportedRecord) {
        let starts_report = {
            let mut last = self
                .last_reported
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let starts_report = !last.is_some_and(|previous| record.continues(previous));
            *last = Some(record);
            starts_report
        };
        if starts_report && self.waiting.load(Ordering::Acquire) > 0 {
            self.notify.notify_waiters();
        }
    }
}

/// A record in librdkafka's queue; resolves on the broker's acknowledgement.
#[must_use = "the delivery is only confirmed when this resolves"]
pub struct PendingDelivery {
    receiver: oneshot::Receiver<Result<Delivery, ProduceError>>,
    topic: Arc<str>,
}

impl Future for PendingDelivery {
    type Output = Result<Delivery, ProduceError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match Pin::new(&mut self.receiver).poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(outcome)) => Poll::Ready(outcome),
            Poll::Ready(Err(_dropped)) => Poll::Ready(Err(ProduceError::Cancelled {
                topic: self.topic.to_string(),
            })),
        }
    }
}

/// An encoded record not yet in librdkafka's queue. Key and payload borrow from the
/// `OcsfRecord` when they can (librdkafka copies them when it queues the record); they are
/// copied only when the record must wait for room in the queue.
struct OutgoingMessage<'a> {
    topic: Arc<str>,
    key: Option<Cow<'a, [u8]>>,
    payload: Cow<'a, [u8]>,
    headers: Option<OwnedHeaders>,
}

impl OutgoingMessage<'_> {
    fn into_owned(self) -> OutgoingMessage<'static> {
        OutgoingMessage {
            topic: self.topic,
            key: self.key.map(|key| Cow::Owned(key.into_owned())),
            payload: Cow::Owned(self.payload.into_owned()),
            headers: self.headers,
        }
    }
}

/// The topic and (Avro) schema id of one class.
#[derive(Debug, Clone)]
struct ClassTarget {
    topic: Arc<str>,
    schema_id: Option<u32>,
    subject: Option<String>,
}

/// Longest wait for a delivery report to free room before trying again anyway.
const QUEUE_FULL_RECHECK: Duration = Duration::from_millis(50);

type KafkaProducer = ThreadedProducer<DeliveryContext>;

/// Hands `message` to librdkafka. `Ok(Err(message))`: the queue is full, try again later.
fn try_enqueue<'a>(
    producer: &KafkaProducer,
    mut message: OutgoingMessage<'a>,
    tag: Box<DeliveryTag>,
) -> Result<Result<(), (OutgoingMessage<'a>, Box<DeliveryTag>)>, ProduceError> {
    let headers = message.headers.take();
    let mut record =
        BaseRecord::<[u8], [u8], Box<DeliveryTag>>::with_opaque_to(&message.topic, tag)
            .payload(&message.payload[..]);
    if let Some(key) = &message.key {
        record = record.key(&key[..]);
    }
    if let Some(headers) = headers {
        record = record.headers(headers);
    }
    match producer.send(record) {
        Ok(()) => Ok(Ok(())),
        Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), returned)) => {
            let BaseRecord {
                headers,
                delivery_opaque,
                ..
            } = returned;
            message.headers = headers;
            Ok(Err((message, delivery_opaque)))
        }
        Err((error, _)) => Err(ProduceError::from_kafka(&message.topic, &error)),
    }
}

/// Hands `message` to librdkafka, waiting while its queue is full (backpressure).
async fn enqueue_waiting(
    producer: &KafkaProducer,
    room: &QueueRoom,
    message: OutgoingMessage<'_>,
    tag: Box<DeliveryTag>,
) -> Result<(), ProduceError> {
    let (mut message, mut tag) = match try_enqueue(producer, message, tag)? {
        Ok(()) => return Ok(()),
        Err(returned) => returned,
    };
    room.waiting.fetch_add(1, Ordering::AcqRel);
    let result = loop {
        let notified = room.notify.notified();
        tokio::pin!(notified);
        // Registered before trying again: a report arriving in between is not missed.
        notified.as_mut().enable();
        match try_enqueue(producer, message, tag) {
            Ok(Ok(())) => break Ok(()),
            Ok(Err(returned)) => (message, tag) = returned,
            Err(err) => break Err(err),
        }
        let _ = tokio::time::timeout(QUEUE_FULL_RECHECK, notified).await;
    };
    room.waiting.fetch_sub(1, Ordering::AcqRel);
    result
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
                for (class_uid, class_name, encoder) in encoders.iter() {
                    let topic = config.topic.topic_for(class_uid, class_name);
                    let subject = if topic_users.get(&topic).copied().unwrap_or(0) > 1 {
                        format!("{topic}-{}", crate::avro::record_full_name(class_name))
                    } else {
                        format!("{topic}-value")
                    };
                    let schema_id = registry.register(&subject, encoder.schema_text()).await?;
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
        let mut topics: Vec<String> = self.targets.values().map(|t| t.topic.to_string()).collect();
        topics.push(self.dead_letter_topic.to_string());
        topics.sort();
        topics.dedup();
        topics
    }

    /// Create every topic of [`Self::topics`] that does not exist yet (partitions and replication
    /// from `[producer.topic]`). Returns the topics it created.
    pub async fn ensure_topics(&self) -> Result<Vec<String>, ProducerError> {
        let admin: AdminClient<DefaultClientContext> = client_config(&self.config)
            .create()
            .map_err(|e| ProducerError::Kafka(e.to_string()))?;
        let names = self.topics();
        let new_topics: Vec<NewTopic<'_>> = names
            .iter()
            .map(|name| {
                NewTopic::new(
                    name,
                    self.config.topic.partitions,
                    TopicReplication::Fixed(self.config.topic.replication_factor),
                )
            })
            .collect();
        let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
        let results = admin
            .create_topics(new_topics.iter(), &options)
            .await
            .map_err(|e| ProducerError::Kafka(e.to_string()))?;
        let mut created = Vec::new();
        for result in results {
            match result {
                Ok(name) => created.push(name),
                Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((name, code)) => {
                    return Err(ProducerError::Kafka(format!("create topic {name}: {code}")));
                }
            }
        }
        Ok(created)
    }

    fn key_of<'r>(&self, record: &'r OcsfRecord) -> &'r [u8] {
        let chosen = match self.config.key {
            KeyStrategy::User => record
                .subject_user_uid
                .as_deref()
                .or(record.tenant_uid.as_deref())
                .unwrap_or(&record.uid),
            KeyStrategy::Event => &record.uid,
            KeyStrategy::Org => record.tenant_uid.as_deref().unwrap_or(&record.uid),
        };
        chosen.as_bytes()
    }

    fn encode<'r>(&self, record: &'r OcsfRecord) -> Result<Cow<'r, [u8]>, ProduceError> {
        match (&self.encoders, self.config.format) {
            (Some(encoders), Format::Avro) => {
                let encoder: &AvroEncoder = encoders
                    .get(record.class_uid)
                    .ok_or(EncodeError::UnknownClass(record.class_uid))?;
                let schema_id = self
                    .targets
                    .get(&record.class_uid)
                    .and_then(|t| t.schema_id)
                    .ok_or(EncodeError::UnknownClass(record.class_uid))?;
                let event: serde_json::Value = serde_json::from_slice(&record.json)
                    .map_err(|e| EncodeError::InvalidJson(e.to_string()))?;
                Ok(Cow::Owned(encoder.encode_confluent(schema_id, &event)?))
            }
            _ => Ok(Cow::Borrowed(&record.json)),
        }
    }

    fn prepare<'r>(&self, record: &'r OcsfRecord) -> Result<OutgoingMessage<'r>, ProduceError> {
        let payload = self.encode(record)?;
        let limit = self.config.message_max_bytes as usize;
        if payload.len() + RECORD_OVERHEAD_BYTES > limit {
            return Err(ProduceError::TooLarge {
                size: payload.len(),
                limit,
            });
        }
        let topic = match self.targets.get(&record.class_uid) {
            Some(target) => target.topic.clone(),
            None => Arc::from(
                self.config
                    .topic
                    .topic_for(record.class_uid, record.class_name),
            ),
        };
        let class_uid = record.class_uid.to_string();
        let mut headers = OwnedHeaders::new_with_capacity(6)
            .insert(Header {
                key: headers::CLASS_UID,
                value: Some(class_uid.as_str()),
            })
            .insert(Header {
                key: headers::VERSION,
                value: Some(OCSF_VERSION),
            });
        for (name, value) in [
            (headers::EVENT_CODE, &record.event_code),
            (headers::TENANT_UID, &record.tenant_uid),
            (headers::ORIGINAL_EVENT_UID, &record.original_event_uid),
        ] {
            if let Some(value) = value {
                headers = headers.insert(Header {
                    key: name,
                    value: Some(value.as_str()),
                });
            }
        }
        headers = headers.insert(Header {
            key: headers::CONTENT_TYPE,
            value: Some(self.config.format.content_type()),
        });
        Ok(OutgoingMessage {
            topic,
            key: Some(Cow::Borrowed(self.key_of(record))),
            payload,
            headers: Some(headers),
        })
    }

    fn prepare_dead_letter(&self, letter: DeadLetter) -> OutgoingMessage<'static> {
        let limit = (self.config.message_max_bytes as usize).saturating_sub(RECORD_OVERHEAD_BYTES);
        let original_size = letter.raw.len();
        let payload: Cow<'static, [u8]> =
            Cow::Owned(letter.raw[..original_size.min(limit)].to_vec());
        let reason: String = letter.reason.chars().take(4096).collect();
        let mut headers = OwnedHeaders::new_with_capacity(6)
            .insert(Header {
                key: headers::DLQ_REASON,
                value: Some(reason.as_str()),
            })
            .insert(Header {
                key: headers::DLQ_STAGE,
                value: Some(letter.stage.as_str()),
            })
            .insert(Header {
                key: headers::VERSION,
                value: Some(OCSF_VERSION),
            });
        if let Some(org) = &letter.org_id {
            headers = headers.insert(Header {
                key: headers::TENANT_UID,
                value: Some(org.as_str()),
            });
        }
        if let Some(event_id) = &letter.event_id {
            headers = headers.insert(Header {
                key: headers::ORIGINAL_EVENT_UID,
                value: Some(event_id.as_str()),
            });
        }
        if payload.len() < original_size {
            let size = original_size.to_string();
            headers = headers.insert(Header {
                key: headers::DLQ_ORIGINAL_SIZE,
                value: Some(size.as_str()),
            });
        }
        headers = headers.insert(Header {
            key: headers::CONTENT_TYPE,
            value: Some("application/octet-stream"),
        });
        let key = letter
            .org_id
            .or(letter.event_id)
            .map(|key| Cow::Owned(key.into_bytes()));
        OutgoingMessage {
            topic: self.dead_letter_topic.clone(),
            key,
            payload,
            headers: Some(headers),
        }
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

#[cfg(test)]
mod tests;
mod transactions;

pub use transactions::{TransactionError, read_state_topic};
