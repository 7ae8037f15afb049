//! Exactly-once's transactional calls, by librdkafka's rules:
//!
//! - A call that fails with a retriable error (it timed out while the broker is away) goes on
//!   inside librdkafka; it is **resumed by making the same call again**, with backoff, until it
//!   succeeds or its error turns abortable or fatal. No other transactional call is made
//!   meanwhile (librdkafka refuses it: "Conflicting ... API call is already in progress").
//! - An abortable error is answered by aborting (itself resumed the same way).
//! - A fatal error, and a fencing error on a transaction older than `transaction.timeout.ms`
//!   (the broker ended it after an outage longer than that), are answered by taking the
//!   transactional id again: a new producer whose `init_transactions` ends what the old one
//!   left open. It fences nothing but this process's own past.
//! - A fencing error on a younger transaction is another process with the same identity: stop.
//!   So does any fencing error of a cluster's shard: there the group decides who owns the
//!   shard, and the supervisor starts the shard's pipeline again if it still does.
//!
//! A commit that ends any other way than committed or aborted leaves the unit's fate unknown
//! ([`UnitError::Unknown`]): the writer then reads the durable cursors back from the state
//! topic instead of trusting its memory.

use std::sync::Arc;
use std::time::Instant;

use producer::{OcsfProducer, TransactionError};

use super::{KafkaDestination, UnitError, run_blocking};
use crate::health::{Retrying, attempt_delays};

impl KafkaDestination {
    /// Begins a transaction.
    pub(crate) async fn begin_transaction(&self, retry: &Retrying) -> Result<(), UnitError> {
        let mut tries = 0;
        loop {
            tries += 1;
            let error = match self.producer().begin_transaction() {
                Ok(()) => {
                    self.set_open_since(Some(Instant::now()));
                    return Ok(());
                }
                Err(error) if tries > 2 => error,
                // The producer still holds a transaction it could not end: end it, then begin.
                Err(TransactionError::Abortable(_)) => {
                    self.abort(retry).await?;
                    continue;
                }
                Err(TransactionError::Fatal(message)) => {
                    self.take_id_again(retry, &message).await?;
                    continue;
                }
                Err(error) => error,
            };
            return Err(match error {
                fenced @ TransactionError::Fenced { .. } => UnitError::Fenced(fenced.to_string()),
                // Retriable: a call left unfinished by a caller that gave up on shutdown.
                other => UnitError::Failed(format!("beginning a transaction: {other}")),
            });
        }
    }

    /// Commits the open transaction, resuming a commit that timed out.
    pub(crate) async fn commit_transaction(&self, retry: &Retrying) -> Result<(), UnitError> {
        let mut delays = attempt_delays();
        loop {
            let producer = self.producer();
            match run_blocking(move || producer.commit_transaction()).await {
                Ok(()) => {
                    self.set_open_since(None);
                    return Ok(());
                }
                Err(TransactionError::Retriable(message)) => {
                    if let Err(stopping) = retry
                        .wait(&mut delays, "committing the transaction", &message)
                        .await
                    {
                        return Err(UnitError::Unknown(stopping.to_string()));
                    }
                }
                Err(TransactionError::Abortable(message)) => {
                    self.abort_transaction(retry).await?;
                    return Err(UnitError::Failed(format!(
                        "the transaction could not commit and was aborted: {message}"
                    )));
                }
                Err(TransactionError::Fatal(message)) => {
                    self.take_id_again(retry, &message).await?;
                    return Err(UnitError::Unknown(format!(
                        "the producer failed while committing: {message}"
                    )));
                }
                // The broker refused the commit (the Write ACL on the transactional id is
                // gone): nothing committed; the unit is taken again until the ACL is back.
                Err(TransactionError::Unauthorized(missing)) => {
                    return Err(UnitError::Failed(missing.to_string()));
                }
                Err(fenced @ TransactionError::Fenced { .. }) => {
                    self.fenced_unless_expired(fenced, retry).await?;
                    return Err(UnitError::Unknown(
                        "the broker ended the transaction while it was being committed".into(),
                    ));
                }
            }
        }
    }

    /// Aborts the open transaction (if one is open), resuming an abort that timed out.
    pub(crate) async fn abort_transaction(&self, retry: &Retrying) -> Result<(), UnitError> {
        if self.open_since().is_none() {
            return Ok(());
        }
        self.abort(retry).await
    }

    /// Aborts, resuming an abort that timed out.
    async fn abort(&self, retry: &Retrying) -> Result<(), UnitError> {
        let mut delays = attempt_delays();
        loop {
            let producer = self.producer();
            match run_blocking(move || producer.abort_transaction()).await {
                Ok(()) => {
                    self.set_open_since(None);
                    return Ok(());
                }
                Err(
                    TransactionError::Retriable(message) | TransactionError::Abortable(message),
                ) => {
                    retry
                        .wait(&mut delays, "aborting the transaction", &message)
                        .await?;
                }
                Err(TransactionError::Fatal(message)) => {
                    return self.take_id_again(retry, &message).await;
                }
                Err(TransactionError::Unauthorized(missing)) => {
                    return Err(UnitError::Failed(missing.to_string()));
                }
                Err(fenced @ TransactionError::Fenced { .. }) => {
                    return self.fenced_unless_expired(fenced, retry).await;
                }
            }
        }
    }

    /// A fencing error: another process took the transactional id, unless the transaction had
    /// been open for longer than `transaction.timeout.ms`, in which case the broker ended it
    /// itself (it was away for longer than that) and the id is taken again.
    async fn fenced_unless_expired(
        &self,
        fenced: TransactionError,
        retry: &Retrying,
    ) -> Result<(), UnitError> {
        let timeout = self.config.transaction_timeout();
        match self.open_since().map(|since| since.elapsed()) {
            Some(open) if open > timeout && self.retake_expired => {
                tracing::warn!(
                    open_for = ?open,
                    transaction_timeout = ?timeout,
                    "the broker ended this process's transaction after transaction.timeout.ms (it was away for longer than that); taking the transactional id again"
                );
                self.take_id_again(retry, &fenced.to_string()).await
            }
            _ => Err(UnitError::Fenced(fenced.to_string())),
        }
    }

    /// Builds a new producer with the same transactional id and registers it
    /// (`init_transactions`, resumed while the broker is away), which ends the transaction the
    /// old one left open. The old producer is dropped.
    pub(crate) async fn take_id_again(&self, retry: &Retrying, why: &str) -> Result<(), UnitError> {
        tracing::warn!(error = %why, "building a new Kafka producer with the same transactional id");
        let rebuilt = OcsfProducer::new(self.config.clone())
            .await
            .map_err(|e| UnitError::Failed(format!("building a new producer: {e}")))?;
        let rebuilt = Arc::new(rebuilt);
        let mut delays = attempt_delays();
        loop {
            let registering = Arc::clone(&rebuilt);
            match run_blocking(move || registering.init_transactions()).await {
                Ok(()) => break,
                Err(TransactionError::Retriable(message)) => {
                    retry
                        .wait(&mut delays, "registering the transactional id", &message)
                        .await?;
                }
                Err(fenced @ TransactionError::Fenced { .. }) => {
                    return Err(UnitError::Fenced(fenced.to_string()));
                }
                Err(other) => {
                    return Err(UnitError::Failed(format!(
                        "registering the transactional id: {other}"
                    )));
                }
            }
        }
        self.replace_producer(rebuilt);
        self.set_open_since(None);
        Ok(())
    }
}
