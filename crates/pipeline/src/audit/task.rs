//! The audit inside `run`: a round every `check_every` over the live sources' settled windows,
//! oldest first, a few per source per round; each counted with `/events/count` on a spare turn
//! of the request gate, compared, repaired when events are missing, and made final in one unit
//! of results per round.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use fetcher::timestamp::format_timestamp;
use fetcher::{EventQuery, EventSource, FetchError, Scope, SourceStats};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

use super::AuditPlan;
use super::book::{Book, Entry, Final};
use super::records::{Outcome, Summary};
use super::window::{label, time_of};
use crate::destination::Destination;
use crate::gate::RequestGate;
use crate::map::Mapping;
use crate::stats::PipelineStats;
use crate::stopped;
use crate::writer::SnapshotUnit;

/// Windows audited per source in one round, and in all.
const PER_SOURCE: usize = 8;
const PER_ROUND: usize = 256;

/// A live source as the audit sees it.
#[derive(Debug, Clone)]
pub(crate) struct Audited {
    /// Its checkpoint key (`events/<org>`).
    pub(crate) key: Arc<str>,
    /// The organisation (`provider/<id>` for the provider's own events).
    pub(crate) org: Arc<str>,
    /// The provider id, for the provider's own events (`x-provider-id`).
    pub(crate) provider: Option<String>,
    pub(crate) overlap: Duration,
    pub(crate) services: Vec<String>,
    /// Its counters: the durable cursor among them.
    pub(crate) stats: Arc<SourceStats>,
}

impl Audited {
    /// `source`, when it is a live source (backfill ranges are not audited).
    pub(crate) fn of(source: &EventSource) -> Option<Self> {
        source.is_live().then(|| Self {
            key: Arc::from(source.checkpoint_key()),
            org: Arc::from(source.org_id()),
            provider: source
                .is_provider()
                .then(|| source.org_id().trim_start_matches("provider/").to_owned()),
            overlap: source.config().overlap,
            services: source.config().services.clone(),
            stats: source.stats(),
        })
    }

    pub(crate) fn scope(&self) -> Scope<'_> {
        match &self.provider {
            Some(provider) => Scope::Provider(provider),
            None => Scope::Org(&self.org),
        }
    }

    pub(crate) fn query(&self, start: i64, end: i64) -> EventQuery {
        EventQuery {
            service: self.services.clone(),
            start_time: format_timestamp(time_of(start)),
            end_time: format_timestamp(time_of(end)),
            limit: None,
            sort: None,
            search_after: None,
        }
    }
}

/// Why an audit step did not finish.
#[derive(Debug)]
pub(crate) enum Interrupted {
    /// Shutdown, or the writer is gone (fenced).
    Stopped,
    /// A request or a unit failed: the window is audited again later.
    Failed(String),
}

impl From<FetchError> for Interrupted {
    fn from(error: FetchError) -> Self {
        Interrupted::Failed(error.to_string())
    }
}

/// How an audit of a window ended.
enum Verdict {
    Final(Final),
    /// Still missing events: audited again after `retry_after`.
    Again,
}

/// What a run of [`AuditTask`] did (for `audit --repair`).
#[derive(Debug, Default, Clone)]
pub struct AuditReport {
    /// Windows compared.
    pub compared: u64,
    /// Events delivered by repairs.
    pub repaired: u64,
    /// Windows left missing events, and failures.
    pub problems: Vec<String>,
}

/// See the module documentation.
pub(crate) struct AuditTask {
    pub(crate) plan: AuditPlan,
    pub(crate) book: Arc<Book>,
    pub(crate) sources: Vec<Audited>,
    pub(crate) gate: Arc<RequestGate>,
    pub(crate) units: mpsc::Sender<SnapshotUnit>,
    pub(crate) destination: Arc<Destination>,
    pub(crate) mapping: Mapping,
    pub(crate) stats: Arc<PipelineStats>,
    pub(crate) stop: watch::Receiver<bool>,
    /// One pass over the windows starting at or after this, then the task ends (`audit
    /// --repair`); `None`: rounds until stopped.
    pub(crate) once_since: Option<i64>,
}

impl AuditTask {
    pub(crate) async fn run(mut self) -> AuditReport {
        let mut report = AuditReport::default();
        let mut again: HashMap<(Arc<str>, i64), Instant> = HashMap::new();
        let mut turn = 0usize;
        loop {
            let full = match self.round(&mut again, &mut report, turn).await {
                Ok(full) => full,
                Err(()) => return report,
            };
            turn = turn.wrapping_add(1);
            if self.once_since.is_some() && !full {
                return report;
            }
            // More due (a backlog): the next round at once; its requests wait for spare turns.
            let pause = if full {
                Duration::from_millis(100)
            } else {
                self.plan.check_every()
            };
            tokio::select! {
                () = stopped(&mut self.stop) => return report,
                () = tokio::time::sleep(pause) => {}
            }
        }
    }

    /// One round: audits up to [`PER_ROUND`] due windows ([`PER_SOURCE`] of each source), then
    /// writes their results. `Ok(true)` when more were due than it took; `Err` when stopped.
    async fn round(
        &mut self,
        again: &mut HashMap<(Arc<str>, i64), Instant>,
        report: &mut AuditReport,
        turn: usize,
    ) -> Result<bool, ()> {
        let now = Utc::now().timestamp_millis();
        let settled = now - millis(self.plan.settle_after);
        let since = self.once_since.unwrap_or(i64::MIN);
        let instant = Instant::now();
        again.retain(|_, when| *when > instant);
        let mut finals = Vec::new();
        let mut audited = 0;
        let mut more = false;
        let mut horizons = Vec::with_capacity(self.sources.len());
        let count = self.sources.len();
        for offset in 0..count {
            let source = self.sources[(turn + offset) % count].clone();
            // The durable cursor (the start's, until a unit is durable).
            let cursor = source
                .stats
                .committed_cursor_ms
                .load(std::sync::atomic::Ordering::Relaxed);
            let horizon = settled.min(cursor - millis(source.overlap));
            let room = PER_SOURCE.min(PER_ROUND.saturating_sub(audited));
            // One more than taken: whether more are due.
            let mut due = self.book.due(&source.key, horizon, room + 1, |start| {
                start < since || again.contains_key(&(Arc::clone(&source.key), start))
            });
            if due.len() > room {
                more = true;
                due.truncate(room);
            }
            horizons.push((Arc::clone(&source.org), Arc::clone(&source.key), horizon));
            if room == 0 {
                continue;
            }
            for entry in due {
                audited += 1;
                match self.audit(&source, entry, now, report).await {
                    Ok(Verdict::Final(done)) => finals.push(done),
                    Ok(Verdict::Again) => {
                        again.insert(
                            (Arc::clone(&source.key), entry.start),
                            Instant::now() + self.plan.retry_after(),
                        );
                    }
                    Err(Interrupted::Stopped) => return Err(()),
                    Err(Interrupted::Failed(error)) => {
                        tracing::warn!(org = %source.org, window = %label(entry.start), %error, "audit: the window could not be audited; trying again later");
                        report.problems.push(format!(
                            "{} {}: {error}",
                            source.org,
                            label(entry.start)
                        ));
                        again.insert(
                            (Arc::clone(&source.key), entry.start),
                            Instant::now() + self.plan.check_every(),
                        );
                        break;
                    }
                }
            }
        }
        if !finals.is_empty() {
            self.finalize(finals).await?;
        }
        for (org, key, horizon) in horizons {
            self.stats.audit.progress(
                &org,
                self.book.backlog(&key, horizon),
                self.book.open_windows(&key),
            );
        }
        Ok(more)
    }

    /// Counts `entry`'s window, compares, repairs it when events are missing.
    async fn audit(
        &mut self,
        source: &Audited,
        entry: Entry,
        now: i64,
        report: &mut AuditReport,
    ) -> Result<Verdict, Interrupted> {
        let windows = self.book.windows();
        let (start, end) = (entry.start, windows.end(entry.start));
        let api = self.count(source, start, end).await?;
        report.compared += 1;
        let outcome = self.compare(source, &entry, api);
        let mut entry = entry;
        let mut api = api;
        if outcome == Outcome::Missing && self.plan.repair {
            if self.book.repairable(&source.key, start) {
                let repaired = self.repair(source, start).await?;
                report.repaired += repaired;
                entry = self.book.entry(&source.key, start);
                tracing::info!(org = %source.org, window = %label(start), repaired, "audit: window repaired; counting it again");
                api = self.count(source, start, end).await?;
                report.compared += 1;
                self.compare(source, &entry, api);
            } else {
                tracing::warn!(org = %source.org, window = %label(start), "audit: the window's identities are not all readable; it is not repaired");
            }
        }
        let outcome = Outcome::of(api, entry.events());
        if outcome == Outcome::Missing && now < end.saturating_add(millis(self.plan.repair_for)) {
            report.problems.push(format!(
                "{} {}: {} event(s) missing",
                source.org,
                label(start),
                api - entry.events()
            ));
            return Ok(Verdict::Again);
        }
        if outcome == Outcome::Missing {
            tracing::warn!(org = %source.org, window = %label(start), repair_for = ?self.plan.repair_for, "audit: giving up on the window: it still misses events; it stays reported");
        }
        let quiet = api == 0 && entry.events() == 0 && entry.seqs == 0;
        Ok(Verdict::Final(Final {
            source: Arc::clone(&source.key),
            start,
            summary: (!quiet).then(|| Summary {
                api,
                delivered: u64::from(entry.delivered),
                dead_lettered: u64::from(entry.dead),
                repaired: u64::from(entry.repaired),
                result: outcome,
                audited_at: Utc::now(),
            }),
            seqs: entry.seqs,
        }))
    }

    /// Compares, counts, logs a mismatch; returns the outcome.
    fn compare(&self, source: &Audited, entry: &Entry, api: u64) -> Outcome {
        let ours = entry.events();
        let outcome = Outcome::of(api, ours);
        self.stats.audit.compared(outcome);
        self.stats.audit.window(&source.org, entry.start, api, ours);
        match outcome {
            Outcome::Match => {}
            Outcome::Missing => tracing::warn!(
                org = %source.org,
                window = %label(entry.start),
                api,
                delivered = entry.delivered,
                dead_lettered = entry.dead,
                missing = api - ours,
                "audit: events missing from a settled window"
            ),
            Outcome::Excess => tracing::warn!(
                org = %source.org,
                window = %label(entry.start),
                api,
                delivered = entry.delivered,
                dead_lettered = entry.dead,
                excess = ours - api,
                "audit: more events delivered than the API counts (deleted at the source, or past retention); reported, not repaired"
            ),
        }
        outcome
    }

    /// `/events/count` of `source`'s window, on a spare turn of the request gate.
    pub(crate) async fn count(
        &mut self,
        source: &Audited,
        start: i64,
        end: i64,
    ) -> Result<u64, Interrupted> {
        let _turn = tokio::select! {
            () = stopped(&mut self.stop) => return Err(Interrupted::Stopped),
            turn = self.gate.spare_turn() => turn,
        };
        let query = source.query(start, end);
        tokio::select! {
            () = stopped(&mut self.stop) => Err(Interrupted::Stopped),
            count = self.plan.client.events_count_for(source.scope(), &query) => Ok(count?),
        }
    }

    /// Hands `unit` to the writer and waits until it is durable.
    pub(crate) async fn write(
        &mut self,
        unit: SnapshotUnit,
        answer: oneshot::Receiver<Result<(), String>>,
    ) -> Result<(), Interrupted> {
        if self.units.send(unit).await.is_err() {
            return Err(Interrupted::Stopped);
        }
        match answer.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => Err(Interrupted::Failed(error)),
            Err(_) => Err(Interrupted::Stopped),
        }
    }

    /// Writes the results of `finals` as one unit; once durable, they are final in the book.
    async fn finalize(&mut self, finals: Vec<Final>) -> Result<(), ()> {
        let state = self.book.results(&finals);
        let (reply, answer) = oneshot::channel();
        let unit = SnapshotUnit {
            what: "audit results",
            org: String::new(),
            items: Vec::new(),
            state,
            tally: None,
            reply,
        };
        match self.write(unit, answer).await {
            Ok(()) => {
                self.book.finalized(&finals);
                Ok(())
            }
            Err(Interrupted::Stopped) => Err(()),
            Err(Interrupted::Failed(error)) => {
                tracing::warn!(%error, windows = finals.len(), "audit: writing the results failed; the windows are audited again");
                Ok(())
            }
        }
    }
}

pub(crate) fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}
