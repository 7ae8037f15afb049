//! Backpressure: handing a message to librdkafka's bounded queue, waiting for room when it is
//! full, and waking the waiting senders when a delivery report has freed some.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseRecord, ThreadedProducer};
use tokio::sync::Notify;

use super::delivery::{DeliveryContext, DeliveryTag};
use super::message::OutgoingMessage;
use crate::error::ProduceError;

/// Where a delivered record sits: a delivery report covers one produce request, that is
/// consecutive offsets of one partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ReportedRecord {
    /// A hash of the topic name (a collision only costs one early wake-up).
    pub(super) topic: u64,
    pub(super) partition: i32,
    /// The offset; negative when the broker assigned none (a failed delivery).
    pub(super) offset: i64,
}

impl ReportedRecord {
    pub(super) fn of(topic: &str, partition: i32, offset: i64) -> Self {
        use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
        Self {
            topic: BuildHasherDefault::<DefaultHasher>::default().hash_one(topic),
            partition,
            offset,
        }
    }

    /// Whether `self` follows `previous` in the same delivery report.
    pub(super) fn continues(self, previous: ReportedRecord) -> bool {
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
pub(super) struct QueueRoom {
    pub(super) waiting: AtomicUsize,
    pub(super) notify: Notify,
    /// The last record reported, to tell where a report starts.
    pub(super) last_reported: Mutex<Option<ReportedRecord>>,
}

impl QueueRoom {
    pub(super) fn record_reported(&self, record: ReportedRecord) {
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

/// Longest wait for a delivery report to free room before trying again anyway.
pub(super) const QUEUE_FULL_RECHECK: Duration = Duration::from_millis(50);

pub(super) type KafkaProducer = ThreadedProducer<DeliveryContext>;

/// Hands `message` to librdkafka. `Ok(Err(message))`: the queue is full, try again later.
pub(super) fn try_enqueue<'a>(
    producer: &KafkaProducer,
    mut message: OutgoingMessage<'a>,
    tag: Box<DeliveryTag>,
) -> Result<Result<(), (OutgoingMessage<'a>, Box<DeliveryTag>)>, ProduceError> {
    let headers = message.headers.take();
    let mut record =
        BaseRecord::<[u8], [u8], Box<DeliveryTag>>::with_opaque_to(&message.topic, tag);
    if let Some(payload) = &message.payload {
        record = record.payload(&payload[..]);
    }
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
pub(super) async fn enqueue_waiting(
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
