//! Turns at the JumpCloud request budget: a few requests in flight at a time (the client's rate
//! cap spaces them), handed out sweeps first, then backlog pages, then spare turns (the audit's
//! counts and repairs: only when no event request waits), first come first served within each
//! class. A group with a large backlog waits behind every due sweep, so caught-up
//! organisations stay fresh; backlog pages share what the sweeps leave (each group has at most
//! one request waiting, so backlogs are served round robin).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use fetcher::TurnPriority;
use tokio::sync::oneshot;

/// Requests in flight at once: enough to keep a 10 requests/s cap busy with ~300 ms answers,
/// few enough that the order of the turns, not the rate limiter's, decides who goes next.
pub(crate) const REQUESTS_IN_FLIGHT: usize = 4;

/// See the module documentation. Shared by the pipelines of a process
/// ([`crate::Pipeline::with_request_gate`]), as the client's rate cap is.
#[derive(Debug)]
pub struct RequestGate {
    state: Mutex<GateState>,
}

#[derive(Debug)]
struct GateState {
    free: usize,
    fresh: VecDeque<oneshot::Sender<Turn>>,
    backlog: VecDeque<oneshot::Sender<Turn>>,
    spare: VecDeque<oneshot::Sender<Turn>>,
}

/// One request's turn; the next waiter goes when it is dropped.
#[derive(Debug)]
pub(crate) struct Turn {
    /// `None` once passed on unreleased.
    gate: Option<Arc<RequestGate>>,
}

impl Drop for Turn {
    fn drop(&mut self) {
        if let Some(gate) = self.gate.take() {
            gate.release();
        }
    }
}

impl RequestGate {
    /// A gate with `REQUESTS_IN_FLIGHT` (4) turns.
    pub fn shared() -> Arc<Self> {
        Self::new(REQUESTS_IN_FLIGHT)
    }

    pub(crate) fn new(in_flight: usize) -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(GateState {
                free: in_flight.max(1),
                fresh: VecDeque::new(),
                backlog: VecDeque::new(),
                spare: VecDeque::new(),
            }),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, GateState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits for a turn of `priority`.
    pub(crate) async fn turn(self: &Arc<Self>, priority: TurnPriority) -> Turn {
        self.wait(Some(priority)).await
    }

    /// Waits for a spare turn: given only when no sweep or backlog page waits.
    pub(crate) async fn spare_turn(self: &Arc<Self>) -> Turn {
        self.wait(None).await
    }

    async fn wait(self: &Arc<Self>, priority: Option<TurnPriority>) -> Turn {
        let receiver = {
            let mut state = self.lock();
            if state.free > 0
                && state.fresh.is_empty()
                && state.backlog.is_empty()
                && state.spare.is_empty()
            {
                state.free -= 1;
                return Turn {
                    gate: Some(Arc::clone(self)),
                };
            }
            let (sender, receiver) = oneshot::channel();
            match priority {
                Some(TurnPriority::Fresh) => state.fresh.push_back(sender),
                Some(TurnPriority::Backlog) => state.backlog.push_back(sender),
                None => state.spare.push_back(sender),
            }
            receiver
        };
        match receiver.await {
            Ok(turn) => turn,
            // The gate lives as long as this `Arc`: its senders are never dropped unsent.
            Err(_) => Turn {
                gate: Some(Arc::clone(self)),
            },
        }
    }

    fn release(self: &Arc<Self>) {
        let mut state = self.lock();
        loop {
            let Some(next) = state
                .fresh
                .pop_front()
                .or_else(|| state.backlog.pop_front())
                .or_else(|| state.spare.pop_front())
            else {
                state.free += 1;
                return;
            };
            let turn = Turn {
                gate: Some(Arc::clone(self)),
            };
            match next.send(turn) {
                Ok(()) => return,
                // The waiter gave up (its task stopped): pass the turn on without releasing it.
                Err(mut turn) => {
                    turn.gate = None;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn waiting_sweeps_go_before_waiting_backlog_pages_and_spare_turns_last() {
        let gate = RequestGate::new(1);
        let held = gate.turn(TurnPriority::Backlog).await;
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for (name, priority) in [
            ("spare-1", None),
            ("backlog-1", Some(TurnPriority::Backlog)),
            ("backlog-2", Some(TurnPriority::Backlog)),
            ("fresh-1", Some(TurnPriority::Fresh)),
            ("fresh-2", Some(TurnPriority::Fresh)),
        ] {
            let gate = Arc::clone(&gate);
            let order = Arc::clone(&order);
            tasks.push(tokio::spawn(async move {
                let _turn = gate.wait(priority).await;
                order.lock().unwrap().push(name);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }));
            // Queue them in this order.
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        drop(held);
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(
            *order.lock().unwrap(),
            ["fresh-1", "fresh-2", "backlog-1", "backlog-2", "spare-1"]
        );
    }

    #[tokio::test]
    async fn a_waiter_that_gave_up_does_not_lose_the_turn() {
        let gate = RequestGate::new(1);
        let held = gate.turn(TurnPriority::Fresh).await;
        let gone = {
            let gate = Arc::clone(&gate);
            tokio::spawn(async move {
                let _turn = gate.turn(TurnPriority::Fresh).await;
            })
        };
        tokio::time::sleep(Duration::from_millis(10)).await;
        gone.abort();
        let _ = gone.await;
        drop(held);
        let next = tokio::time::timeout(Duration::from_secs(1), gate.turn(TurnPriority::Backlog))
            .await
            .expect("the turn was passed on");
        drop(next);
        assert_eq!(gate.lock().free, 1);
    }
}
