//! The fetch loop, one task per group of sources ([`fetcher::OrgGroup`]: live organisations
//! swept together, or one source paged alone: the provider's events, a backfill range): asks
//! the group for its next turn, waits for room in the in-flight budget and for a turn at the
//! request budget ([`RequestGate`]), maps each batch it gets ([`Mapping`]) and hands the
//! chunks to the writer, in order.

use std::sync::Arc;
use std::time::Duration;

use fetcher::{OrgGroup, Turn};
use tokio::sync::{mpsc, watch};

use crate::ack::Acknowledgements;
use crate::budget::{InFlightBudget, fit_to_batch};
use crate::gate::RequestGate;
use crate::health::DeliveryHealth;
use crate::map::{MappedChunk, Mapping};
use crate::stats::PipelineStats;
use crate::{Mode, stopped};

/// While delivery fails (the broker away), fetched events only wait in memory for it: a fetch
/// task then asks for pages of at most this many events, and only while fewer than this many
/// fetched events hold room in the in-flight budget, instead of filling the whole budget.
pub(crate) const WHILE_FAILING: usize = 1_000;

/// What a fetch task needs besides its group.
pub(crate) struct FetchTask {
    pub(crate) chunks: mpsc::Sender<MappedChunk>,
    pub(crate) mapping: Mapping,
    pub(crate) budget: InFlightBudget,
    pub(crate) gate: Arc<RequestGate>,
    pub(crate) acks: Arc<Acknowledgements>,
    pub(crate) stats: Arc<PipelineStats>,
    /// Whether delivery is failing: then it fetches at most [`WHILE_FAILING`] events ahead.
    pub(crate) health: Arc<DeliveryHealth>,
    pub(crate) mode: Mode,
    pub(crate) stop: watch::Receiver<bool>,
}

impl FetchTask {
    /// Runs the group until every member completed a window (a range: its whole range) and
    /// everything handed out is durable (`Once`: the members that failed are returned with
    /// their error), or until stopped (`Follow`: failing members are retried, their error
    /// shown in the stats).
    pub(crate) async fn run(mut self, mut group: OrgGroup) -> Vec<(String, String)> {
        let keys: Vec<String> = group
            .sources()
            .map(|source| source.checkpoint_key().to_owned())
            .collect();
        let page_limit = group
            .sources()
            .next()
            .map_or(1, |source| source.config().page_limit);
        let mut failed = Vec::new();
        let mut epoch = self.acks.epoch();
        loop {
            let now = self.acks.epoch();
            if now != epoch {
                group.rewind(|key| self.acks.durable_checkpoint(key));
                epoch = now;
            }
            if self.mode == Mode::Once && group.all_completed() {
                let in_flight: u64 = keys.iter().map(|key| self.acks.in_flight(key)).sum();
                if in_flight == 0 && self.acks.epoch() == epoch {
                    return failed;
                }
                tokio::select! {
                    () = stopped(&mut self.stop) => return failed,
                    () = tokio::time::sleep(Duration::from_millis(20)) => {}
                }
                continue;
            }
            let priority = match group.next_turn() {
                Turn::Wait(wait) => {
                    tokio::select! {
                        () = stopped(&mut self.stop) => return failed,
                        () = tokio::time::sleep(wait) => {}
                    }
                    continue;
                }
                Turn::Request(priority) => priority,
            };
            let failing = self.health.consecutive_failures() > 0;
            if failing && self.budget.in_use() >= WHILE_FAILING {
                tokio::select! {
                    () = stopped(&mut self.stop) => return failed,
                    () = tokio::time::sleep(Duration::from_millis(100)) => {}
                }
                continue;
            }
            let page = if failing {
                page_limit.min(WHILE_FAILING)
            } else {
                page_limit
            };
            let permit = tokio::select! {
                biased;
                () = stopped(&mut self.stop) => return failed,
                permit = self.budget.reserve(page) => match permit {
                    Some(permit) => permit,
                    None => return failed,
                },
            };
            let turn = tokio::select! {
                biased;
                () = stopped(&mut self.stop) => return failed,
                turn = self.gate.turn(priority) => turn,
            };
            let outcome = tokio::select! {
                biased;
                () = stopped(&mut self.stop) => return failed,
                outcome = group.take_turn(permit.num_permits()) => outcome,
            };
            drop(turn);
            if self.acks.epoch() != epoch {
                // Rewound while fetching: the page is of the old epoch; the group starts again
                // from the durable checkpoints at the top of the loop.
                continue;
            }
            for org in &outcome.succeeded {
                self.stats.set_org_error(org, None);
            }
            for (org, error) in outcome.failed {
                tracing::error!(org = %org, error = %error, "fetching Directory Insights events failed");
                self.stats.set_org_error(&org, Some(error.clone()));
                if self.mode == Mode::Once {
                    let empty = group.remove(&org);
                    failed.push((org, error));
                    if empty {
                        return failed;
                    }
                }
            }
            let events: usize = outcome.batches.iter().map(|b| b.events.len()).sum();
            // The page's room is held until its events are mapped (the raw events dropped).
            let _room = fit_to_batch(permit, events);
            for batch in outcome.batches {
                let in_flight = self.acks.handed_out(&batch.checkpoint_key, epoch);
                let delivered = self.mapping.map_batch(batch, in_flight, &self.chunks).await;
                if !delivered {
                    return failed;
                }
            }
        }
    }
}
