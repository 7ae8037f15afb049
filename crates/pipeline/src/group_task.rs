//! One task per group of live sources ([`fetcher::OrgGroup`]): asks the group for its next
//! turn, waits for room in the in-flight budget and for a turn at the request budget
//! ([`RequestGate`]), then hands each member's batch to the writer with that member's acker.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use fetcher::{Acker, OrgGroup, Turn};
use tokio::sync::{mpsc, watch};

use crate::gate::RequestGate;
use crate::source_task::{Fetched, InFlightBudget, Mode, Outstanding, Rewinds, stopped};
use crate::stats::PipelineStats;

/// What a group task needs besides its group.
pub(crate) struct GroupTask {
    pub(crate) batches: mpsc::Sender<Fetched>,
    pub(crate) budget: InFlightBudget,
    pub(crate) gate: Arc<RequestGate>,
    pub(crate) rewinds: Arc<Rewinds>,
    pub(crate) stats: Arc<PipelineStats>,
    pub(crate) mode: Mode,
    pub(crate) stop: watch::Receiver<bool>,
}

impl GroupTask {
    /// Runs the group until every member completed a window and everything handed out is
    /// durable (`Once`: the members that failed are returned with their error), or until
    /// stopped (`Follow`: failing members are retried, their error shown in the stats).
    pub(crate) async fn run(mut self, mut group: OrgGroup) -> Vec<(String, String)> {
        let ackers: HashMap<String, Acker> = group
            .sources()
            .map(|source| (source.org_id().to_owned(), source.acker()))
            .collect();
        let page_limit = group
            .sources()
            .next()
            .map_or(1, |source| source.config().page_limit);
        let outstanding = Arc::new(AtomicUsize::new(0));
        let mut failed = Vec::new();
        let mut epoch = self.rewinds.epoch();
        loop {
            let now = self.rewinds.epoch();
            if now != epoch {
                group.rewind(|key| self.rewinds.durable(key));
                epoch = now;
            }
            if self.mode == Mode::Once && group.all_completed() {
                if outstanding.load(Ordering::SeqCst) == 0 && self.rewinds.epoch() == epoch {
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
            let mut permit = tokio::select! {
                biased;
                () = stopped(&mut self.stop) => return failed,
                permit = self.budget.reserve(page_limit) => match permit {
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
            for batch in outcome.batches {
                let Some(acker) = ackers.get(&batch.org_id) else {
                    continue;
                };
                let room = batch.events.len().min(permit.num_permits());
                let fetched = Fetched {
                    permit: permit.split(room),
                    acker: acker.clone(),
                    batch,
                    epoch,
                    _outstanding: Outstanding::new(&outstanding),
                };
                if self.batches.send(fetched).await.is_err() {
                    return failed;
                }
            }
        }
    }
}
