//! Building a Kafka message from an OCSF record or a dead letter: topic, key, headers and the
//! encoded value (JSON as it is, or Avro in the Confluent wire format).

use std::borrow::Cow;
use std::sync::Arc;

use mapper::OcsfRecord;
use rdkafka::message::{Header, OwnedHeaders};

use super::{OcsfProducer, headers};
use crate::avro::{AvroEncoder, EncodeError, OCSF_VERSION};
use crate::config::{Format, KeyStrategy};
use crate::dead_letter::DeadLetter;
use crate::error::ProduceError;

/// Room kept for headers and framing below `message_max_bytes`.
const RECORD_OVERHEAD_BYTES: usize = 16 * 1024;

/// An encoded record not yet in librdkafka's queue. Key and payload borrow from the
/// `OcsfRecord` when they can (librdkafka copies them when it queues the record); they are
/// copied only when the record must wait for room in the queue.
pub(super) struct OutgoingMessage<'a> {
    pub(super) topic: Arc<str>,
    pub(super) key: Option<Cow<'a, [u8]>>,
    /// `None`: a tombstone (compacted topics).
    pub(super) payload: Option<Cow<'a, [u8]>>,
    pub(super) headers: Option<OwnedHeaders>,
}

/// An OCSF record or a dead letter made ready for the producer, owning its bytes: built where
/// records are mapped, handed over later with [`OcsfProducer::enqueue_prepared`].
pub struct PreparedRecord(pub(super) OutgoingMessage<'static>);

impl PreparedRecord {
    /// The topic it goes to.
    pub fn topic(&self) -> &str {
        &self.0.topic
    }

    /// Bytes of its key and value.
    pub fn size(&self) -> usize {
        self.0.key.as_ref().map_or(0, |k| k.len()) + self.0.payload.as_ref().map_or(0, |p| p.len())
    }
}

impl std::fmt::Debug for PreparedRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreparedRecord")
            .field("topic", &self.0.topic)
            .field("size", &self.size())
            .finish_non_exhaustive()
    }
}

impl OutgoingMessage<'_> {
    pub(super) fn into_owned(self) -> OutgoingMessage<'static> {
        OutgoingMessage {
            topic: self.topic,
            key: self.key.map(|key| Cow::Owned(key.into_owned())),
            payload: self.payload.map(|payload| Cow::Owned(payload.into_owned())),
            headers: self.headers,
        }
    }
}

impl OcsfProducer {
    pub(super) fn key_of<'r>(&self, record: &'r OcsfRecord) -> &'r [u8] {
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

    pub(super) fn encode<'r>(&self, record: &'r OcsfRecord) -> Result<Cow<'r, [u8]>, ProduceError> {
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

    pub(super) fn prepare<'r>(
        &self,
        record: &'r OcsfRecord,
    ) -> Result<OutgoingMessage<'r>, ProduceError> {
        let payload = self.encode(record)?;
        self.check_size(payload.len())?;
        Ok(OutgoingMessage {
            topic: self.record_topic(record),
            key: Some(Cow::Borrowed(self.key_of(record))),
            payload: Some(payload),
            headers: Some(self.record_headers(record)),
        })
    }

    /// Topic, key, headers and encoded value of `record`, owning their bytes (the JSON value
    /// is moved, not copied): ready for [`OcsfProducer::enqueue_prepared`]. An error means the
    /// record cannot be sent as it is (an Avro mismatch, larger than `message_max_bytes`).
    pub fn prepare_record(&self, record: OcsfRecord) -> Result<PreparedRecord, ProduceError> {
        let encoded = match self.encode(&record)? {
            Cow::Owned(avro) => Some(avro),
            Cow::Borrowed(_) => None,
        };
        let topic = self.record_topic(&record);
        let headers = self.record_headers(&record);
        let key = self.key_of(&record).to_vec();
        let payload = encoded.unwrap_or(record.json);
        self.check_size(payload.len())?;
        Ok(PreparedRecord(OutgoingMessage {
            topic,
            key: Some(Cow::Owned(key)),
            payload: Some(Cow::Owned(payload)),
            headers: Some(headers),
        }))
    }

    /// A dead letter ready for [`OcsfProducer::enqueue_prepared`] (raw bytes beyond
    /// `message_max_bytes` are cut; header `dlq_original_size` says so).
    pub fn prepare_dead_letter_record(&self, letter: DeadLetter) -> PreparedRecord {
        PreparedRecord(self.prepare_dead_letter(letter))
    }

    fn check_size(&self, size: usize) -> Result<(), ProduceError> {
        let limit = self.config.message_max_bytes as usize;
        if size + RECORD_OVERHEAD_BYTES > limit {
            return Err(ProduceError::TooLarge { size, limit });
        }
        Ok(())
    }

    fn record_topic(&self, record: &OcsfRecord) -> Arc<str> {
        match self.targets.get(&record.class_uid) {
            Some(target) => target.topic.clone(),
            None => Arc::from(
                self.config
                    .topic
                    .topic_for(record.class_uid, record.class_name),
            ),
        }
    }

    fn record_headers(&self, record: &OcsfRecord) -> OwnedHeaders {
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
        headers.insert(Header {
            key: headers::CONTENT_TYPE,
            value: Some(self.config.format.content_type()),
        })
    }

    pub(super) fn prepare_dead_letter(&self, letter: DeadLetter) -> OutgoingMessage<'static> {
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
            payload: Some(payload),
            headers: Some(headers),
        }
    }
}
