//! The writer's side of a snapshot: one unit holding its records, change events, dead letters
//! and state records, finished like an event unit (one transaction, or acknowledgements first).

use std::sync::Arc;

use producer::{DeadLetter, Stage};

use super::SnapshotUnit;
use crate::deliveries::UnitDeliveries;
use crate::destination::UnitError;
use crate::unit::Writer;

impl Writer {
    /// Writes and finishes one snapshot; tells its task whether it is durable. `Err` when this
    /// process was fenced (the writer stops) or the unit failed (the task takes the snapshot
    /// again later; no event source is rewound, none of their batches were in it).
    pub(crate) async fn write_snapshot(&mut self, unit: SnapshotUnit) -> Result<(), UnitError> {
        let SnapshotUnit {
            org,
            records,
            rejected,
            state,
            reply,
        } = unit;
        tracing::info!(
            org,
            records = records.len(),
            dead_letters = rejected.len(),
            state_records = state.len(),
            "writing an inventory snapshot"
        );
        let result = self
            .write_snapshot_records(&org, &records, rejected, &state)
            .await;
        let _ = reply.send(result.as_ref().map(|_| ()).map_err(ToString::to_string));
        result
    }

    async fn write_snapshot_records(
        &mut self,
        org: &str,
        records: &[mapper::OcsfRecord],
        rejected: Vec<(mapper::inventory::InventoryMapError, serde_json::Value)>,
        state: &[crate::destination::KeyedRecord],
    ) -> Result<(), UnitError> {
        self.destination.begin(&self.retry).await?;
        let deliveries = Arc::new(UnitDeliveries::new(self.stats.delivery_latency.clone()));
        let mut letters: Vec<DeadLetter> = rejected
            .into_iter()
            .map(|(error, raw)| DeadLetter {
                raw: raw.to_string().into_bytes().into(),
                reason: error.to_string(),
                stage: Stage::Map,
                org_id: Some(org.to_owned()).filter(|o| !o.is_empty()),
                event_id: None,
            })
            .collect();
        let mut failed = None;
        for record in records {
            let index = deliveries.hand_over();
            if let Err(err) = self.destination.enqueue(record, &deliveries, index).await {
                deliveries.not_handed_over();
                if err.is_record_fault() {
                    letters.push(DeadLetter {
                        raw: record.json.clone().into(),
                        reason: err.to_string(),
                        stage: err.stage(),
                        org_id: Some(org.to_owned()).filter(|o| !o.is_empty()),
                        event_id: None,
                    });
                } else {
                    failed = Some(format!("handing an inventory record over failed: {err}"));
                    break;
                }
            }
        }
        if failed.is_none() {
            for letter in letters {
                let index = deliveries.hand_over();
                if let Err(err) = self
                    .destination
                    .enqueue_dead_letter(letter, &deliveries, index)
                    .await
                {
                    deliveries.not_handed_over();
                    failed = Some(format!("handing a dead letter over failed: {err}"));
                    break;
                }
            }
        }
        if let Some(message) = failed {
            let error = UnitError::Failed(message);
            self.destination.abort(&error, &self.retry).await?;
            return Err(error);
        }
        self.destination
            .finish_with_state(&[], state, &deliveries, &self.retry)
            .await
    }
}
