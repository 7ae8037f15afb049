//! Mapping a fetched batch to records ready for the destination (OCSF, encoded, keyed, with
//! headers), in the task that fetched it: off the writer, which only hands records over,
//! finishes units and moves cursors. An event that cannot be mapped, or whose record cannot be
//! encoded or is too large, becomes a dead letter with its raw bytes in the same place.
//!
//! A batch is mapped in chunks of at most [`CHUNK_EVENTS`] events, each waiting for room in the
//! mapped lead ([`MappedLead`]): records mapped ahead of the writer (while it waits for a
//! commit) are bounded in number, whatever the size of a page. Only a batch's last chunk
//! carries the batch (its cursor and dedup keys): a unit ends only after a batch's last chunk,
//! so a batch is never split between units.

use std::collections::HashSet;
use std::sync::{Arc, RwLock};

use fetcher::{EventBatch, RawEvent};
use mapper::Mapper;
use producer::{DeadLetter, Stage};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};

use crate::ack::InFlight;
use crate::audit::{Placing, Tally, Windows};
use crate::destination::{Destination, Prepared};
use crate::stats::{BatchCounts, ClassActivity};

/// Events of one batch mapped at a time.
pub(crate) const CHUNK_EVENTS: usize = 512;

/// Room for events mapped and not yet handed to the destination, shared by a pipeline's fetch
/// tasks (about 3 KB each with `raw_data`).
pub(crate) const MAPPED_LEAD_EVENTS: usize = 2_048;

/// Room for mapped records ahead of the writer.
#[derive(Debug, Clone)]
pub(crate) struct MappedLead(Arc<Semaphore>);

impl Default for MappedLead {
    fn default() -> Self {
        Self(Arc::new(Semaphore::new(MAPPED_LEAD_EVENTS)))
    }
}

impl MappedLead {
    async fn reserve(&self, events: usize) -> Option<OwnedSemaphorePermit> {
        let wanted = u32::try_from(events.clamp(1, MAPPED_LEAD_EVENTS)).unwrap_or(1);
        Arc::clone(&self.0).acquire_many_owned(wanted).await.ok()
    }
}

/// Which event a record was made from: (organisation, id, timestamp).
pub(crate) type EventIdentity = (Arc<str>, Option<String>, Option<String>);

/// Events whose records the broker refused as they are (larger than its limit): dead-lettered
/// when they come again after the rewind, instead of failing their unit forever.
#[derive(Debug, Default)]
pub(crate) struct Refused(RwLock<HashSet<EventIdentity>>);

impl Refused {
    pub(crate) fn insert(&self, identity: EventIdentity) {
        self.0
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(identity);
    }

    fn contains(&self, identity: &EventIdentity) -> bool {
        let refused = self.0.read().unwrap_or_else(|p| p.into_inner());
        !refused.is_empty() && refused.contains(identity)
    }
}

/// One record (or dead letter) ready for the destination, and the event it was made from.
pub(crate) struct Outgoing {
    pub(crate) prepared: Prepared,
    pub(crate) identity: EventIdentity,
}

/// A chunk of a batch, mapped: what the writer hands over, and on the batch's last chunk, what
/// finishing its unit needs.
pub(crate) struct MappedChunk {
    /// The organisation.
    pub(crate) org_id: Arc<str>,
    /// The records and dead letters, in the order of the events.
    pub(crate) items: Vec<Outgoing>,
    /// What the chunk counts for (fetched, delivered per class, dead-lettered).
    pub(crate) counts: BatchCounts,
    /// With the audit: what it delivered to each window, and the events' identities.
    pub(crate) tally: Option<Tally>,
    /// On the batch's last chunk: the batch (its events mapped and dropped), whose cursor and
    /// dedup keys its unit writes.
    pub(crate) batch: Option<EventBatch>,
    /// The batch is in flight until every chunk of it is dropped.
    pub(crate) in_flight: Arc<InFlight>,
    /// Its room in the mapped lead, given back once its records are handed over.
    pub(crate) lead: Option<OwnedSemaphorePermit>,
}

/// What mapping needs: the mapper, the destination (to encode), the refused events.
#[derive(Clone)]
pub(crate) struct Mapping {
    pub(crate) mapper: Arc<Mapper>,
    pub(crate) destination: Arc<Destination>,
    pub(crate) refused: Arc<Refused>,
    pub(crate) lead: MappedLead,
    /// The audit's windows, when the deliveries are counted.
    pub(crate) audit: Option<Windows>,
}

impl Mapping {
    /// Maps `batch` chunk by chunk, sending each chunk to the writer. Returns false when the
    /// writer is gone.
    pub(crate) async fn map_batch(
        &self,
        mut batch: EventBatch,
        in_flight: InFlight,
        writer: &mpsc::Sender<MappedChunk>,
    ) -> bool {
        let in_flight = Arc::new(in_flight);
        let org_id = Arc::clone(&batch.org_id);
        let source = Arc::clone(&batch.checkpoint_key);
        let mut placing = self.audit.map(|windows| {
            Placing::new(
                windows,
                &batch.events,
                batch.cursor_after.timestamp_millis(),
            )
        });
        let mut events = std::mem::take(&mut batch.events).into_iter().peekable();
        let mut batch = Some(batch);
        // Each record is written into a buffer of its own, which it then keeps (no copy), sized
        // after the records before it.
        let mut size_hint = 4 * 1024;
        loop {
            let chunk: Vec<RawEvent> = events.by_ref().take(CHUNK_EVENTS).collect();
            let last = events.peek().is_none();
            let Some(lead) = self.lead.reserve(chunk.len()).await else {
                return false;
            };
            let mut counts = BatchCounts {
                fetched: chunk.len() as u64,
                ..BatchCounts::default()
            };
            let mut tally = placing.as_ref().map(|_| Tally::default());
            let items = chunk
                .into_iter()
                .map(|event| {
                    let Some(placing) = placing.as_mut() else {
                        return self.map_event(event, &mut size_hint, &mut counts);
                    };
                    let (window, id) = placing.place(
                        event.id.as_deref(),
                        event.timestamp.as_deref(),
                        &event.bytes,
                    );
                    let dead_before = counts.dead_lettered_map + counts.dead_lettered_encode;
                    let outgoing = self.map_event(event, &mut size_hint, &mut counts);
                    let dead = counts.dead_lettered_map + counts.dead_lettered_encode > dead_before;
                    if let Some(tally) = tally.as_mut() {
                        tally.add(&source, window, id, dead);
                    }
                    outgoing
                })
                .collect();
            let mapped = MappedChunk {
                org_id: Arc::clone(&org_id),
                items,
                counts,
                tally,
                batch: if last { batch.take() } else { None },
                in_flight: Arc::clone(&in_flight),
                lead: Some(lead),
            };
            if writer.send(mapped).await.is_err() {
                return false;
            }
            if last {
                return true;
            }
            // Mapping is CPU work: let the other tasks of this worker run between chunks.
            tokio::task::yield_now().await;
        }
    }

    /// Maps one event outside a batch (a repair): the record or dead letter, and whether it is
    /// a dead letter.
    pub(crate) fn map_one(&self, event: RawEvent, size_hint: &mut usize) -> (Outgoing, bool) {
        let mut counts = BatchCounts::default();
        let outgoing = self.map_event(event, size_hint, &mut counts);
        (
            outgoing,
            counts.dead_lettered_map + counts.dead_lettered_encode > 0,
        )
    }

    fn map_event(
        &self,
        event: RawEvent,
        size_hint: &mut usize,
        counts: &mut BatchCounts,
    ) -> Outgoing {
        let RawEvent {
            org_id,
            id,
            timestamp,
            bytes,
        } = event;
        let identity = (org_id, id, timestamp);
        let dead = |stage: Stage, reason: String, counts: &mut BatchCounts| {
            match stage {
                Stage::Map => counts.dead_lettered_map += 1,
                Stage::Encode | Stage::Produce => counts.dead_lettered_encode += 1,
            }
            let letter = DeadLetter::new(
                bytes.clone(),
                stage,
                reason,
                &identity.0,
                identity.1.as_deref(),
            );
            self.destination.prepare_dead_letter(letter)
        };
        if self.refused.contains(&identity) {
            let prepared = dead(
                Stage::Produce,
                "the broker refused the record (larger than its limit)".into(),
                counts,
            );
            return Outgoing { prepared, identity };
        }
        let mut json = Vec::with_capacity(*size_hint);
        let prepared = match self.mapper.map_into(&bytes, &mut json) {
            Err(err) => dead(Stage::Map, err.to_string(), counts),
            Ok(facts) => {
                *size_hint = (json.len() + 256).clamp(1024, 64 * 1024);
                let record = facts.into_record(json);
                let class = ClassActivity {
                    class_uid: record.class_uid,
                    class_name: record.class_name,
                    activity_id: record.activity_id,
                };
                match self.destination.prepare(record) {
                    Ok(prepared) => {
                        *counts.delivered.entry(class).or_default() += 1;
                        prepared
                    }
                    Err(err) => dead(err.stage(), err.to_string(), counts),
                }
            }
        };
        Outgoing { prepared, identity }
    }
}
