//! The broker's verdicts: librdkafka's delivery reports routed to a future per record
//! ([`PendingDelivery`]) or to a listener of many ([`DeliveryListener`]).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use rdkafka::ClientContext;
use rdkafka::message::Message;
use rdkafka::producer::{DeliveryResult, ProducerContext};
use tokio::sync::oneshot;

use super::queue::{QueueRoom, ReportedRecord};
use crate::error::ProduceError;

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
pub(super) enum DeliveryTag {
    /// A [`PendingDelivery`] waiting on the other end.
    Future(oneshot::Sender<Result<Delivery, ProduceError>>),
    /// A listener, with the caller's index of the record.
    Listener(Arc<dyn DeliveryListener>, u32),
}

/// librdkafka's client context: routes delivery reports to their [`DeliveryTag`] and wakes
/// producers waiting for room in the queue.
pub(super) struct DeliveryContext {
    pub(super) room: Arc<QueueRoom>,
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

/// A record in librdkafka's queue; resolves on the broker's acknowledgement.
#[must_use = "the delivery is only confirmed when this resolves"]
pub struct PendingDelivery {
    pub(super) receiver: oneshot::Receiver<Result<Delivery, ProduceError>>,
    pub(super) topic: Arc<str>,
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
