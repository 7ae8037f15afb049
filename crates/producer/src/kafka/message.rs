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
            payload: Some(payload),
            headers: Some(headers),
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
