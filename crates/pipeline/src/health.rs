//! Whether a pipeline's delivery is stuck: consecutive failed attempts to make a unit durable
//! (a unit that failed, or a transactional call being resumed while the broker is away), shown
//! by `/readyz` and the metrics so that a supervisor or an alert sees a pipeline that keeps
//! failing, and the waits between those attempts (which end early on shutdown).

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};

use crate::Shutdown;
use crate::destination::UnitError;
use crate::stopped;

/// Consecutive failed delivery attempts of one pipeline, and the last reason.
#[derive(Debug, Default)]
pub struct DeliveryHealth {
    consecutive_failures: AtomicU64,
    last_failure: Mutex<Option<String>>,
}

impl DeliveryHealth {
    /// Failed attempts since the last durable unit (0 while units become durable).
    pub fn consecutive_failures(&self) -> u64 {
        self.consecutive_failures.load(Ordering::Relaxed)
    }

    /// Why delivery is failing, while it is: the count of failed attempts and the last reason.
    pub fn problem(&self) -> Option<String> {
        let failures = self.consecutive_failures();
        if failures == 0 {
            return None;
        }
        let last = self
            .last_failure
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .unwrap_or_default();
        Some(format!(
            "delivery failing: {failures} consecutive failed attempt(s) to make a unit durable; last: {last}"
        ))
    }

    /// One more failed attempt.
    pub(crate) fn failed(&self, why: &str) {
        *self.last_failure.lock().unwrap_or_else(|p| p.into_inner()) = Some(why.to_owned());
        self.consecutive_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// A unit became durable: delivery works.
    pub(crate) fn durable(&self) {
        if self.consecutive_failures.swap(0, Ordering::Relaxed) > 0 {
            *self.last_failure.lock().unwrap_or_else(|p| p.into_inner()) = None;
            tracing::info!("delivery works again: a unit is durable");
        }
    }
}

/// Delays between attempts: 0.5 s doubling to 5 s, plus up to as much again of jitter, without
/// end. Each attempt of a transactional call itself waits up to 10 s for the broker.
pub(crate) fn attempt_delays() -> impl Iterator<Item = Duration> {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(500))
        .with_max_delay(Duration::from_secs(5))
        .with_jitter()
        .without_max_times()
        .build()
}

/// What a call that is retried needs from the writer: where failures are reported, and when to
/// stop waiting (shutdown).
pub(crate) struct Retrying {
    pub(crate) health: std::sync::Arc<DeliveryHealth>,
    pub(crate) stop: Shutdown,
}

impl Retrying {
    /// Reports that `what` failed with `message`, then waits for the next delay. `Err` when
    /// shutdown is requested first: the caller gives up (what it leaves open the broker, or
    /// the next start, ends).
    pub(crate) async fn wait(
        &self,
        delays: &mut impl Iterator<Item = Duration>,
        what: &str,
        message: &str,
    ) -> Result<(), UnitError> {
        self.health.failed(&format!("{what}: {message}"));
        let delay = delays.next().unwrap_or(Duration::from_secs(10));
        tracing::warn!(error = %message, retry_in = ?delay, "{what} failed; trying the same call again");
        let mut stop = self.stop.clone();
        tokio::select! {
            () = stopped(&mut stop) => Err(UnitError::Failed(format!(
                "stopping while {what} was being retried: {message}"
            ))),
            () = tokio::time::sleep(delay) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_count_until_a_unit_is_durable() {
        let health = DeliveryHealth::default();
        assert_eq!(health.problem(), None);
        health.failed("committing the transaction: Timed out");
        health.failed("aborting the transaction: Timed out");
        assert_eq!(health.consecutive_failures(), 2);
        let problem = health.problem().unwrap();
        assert!(problem.contains("2 consecutive"), "{problem}");
        assert!(problem.contains("aborting the transaction"), "{problem}");
        health.durable();
        assert_eq!(health.consecutive_failures(), 0);
        assert_eq!(health.problem(), None);
    }

    #[tokio::test]
    async fn a_wait_ends_early_on_shutdown() {
        let (stop_sender, stop) = tokio::sync::watch::channel(false);
        let retrying = Retrying {
            health: std::sync::Arc::default(),
            stop,
        };
        let mut delays = std::iter::repeat(Duration::from_secs(3600));
        let waiting = retrying.wait(&mut delays, "committing", "broker away");
        tokio::pin!(waiting);
        tokio::select! {
            _ = &mut waiting => panic!("no delay passed yet"),
            () = tokio::time::sleep(Duration::from_millis(100)) => {}
        }
        stop_sender.send(true).unwrap();
        let error = waiting.await.unwrap_err();
        assert!(
            error.to_string().contains("stopping while committing"),
            "{error}"
        );
        assert_eq!(retrying.health.consecutive_failures(), 1);
    }
}
