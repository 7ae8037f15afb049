//! A group of live sources queried together: one Directory Insights request names several
//! organisations (`x-org-id` repeated), the page is split by each event's `organization`, and
//! each member keeps its own cursor, dedup and acknowledgements.
//!
//! - **Sweep.** The members that are caught up are swept together every `poll_interval`: the
//!   window is `[oldest member cursor - overlap, now - lag)`, and each member drops the events
//!   before its own `cursor - overlap` (already committed, out of its dedup memory).
//! - **Alone.** A member more than `group_spread` behind the newest member (a backfill, a
//!   restart after a long stop) is paged alone, one page per turn, until it has caught up; then
//!   it rejoins the sweep. So are members that cannot be grouped (the provider's own events,
//!   the credential's own organisation).
//! - **Isolated.** A grouped request refused for one organisation (402 Directory Insights not
//!   enabled, 403 not accessible) is answered for the whole request, so the group finds the
//!   refused members by bisection (`/events/count` probes on a one-second window), takes them
//!   out and retries each alone with exponential backoff; the others go on. A page holding an
//!   event of no member (no `organization`) is not taken: the members page alone for that
//!   window, where every event is attributed by the request itself.
//!
//! The caller runs [`OrgGroup::next_turn`], waits for its share of the request budget
//! ([`TurnPriority`]), then [`OrgGroup::take_turn`].

use super::window::{self, Window};
use super::{EventBatch, EventSource, EventsConfig, PageOf, check_paging, latest_timestamp};
use crate::checkpoint::Checkpoint;
use crate::client::{EventQuery, FetchError, JumpCloudClient, PageEvent, Scope};
use crate::timestamp::{floor_to_millis, format_timestamp};
use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};
use chrono::{DateTime, Utc};
use serde_json::value::RawValue;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// What a member is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Swept with the group.
    Sweep,
    /// Paged alone (behind, or not groupable).
    Alone,
    /// Refused (or failing) alone: retried with backoff.
    Isolated,
}

#[derive(Debug)]
struct Member {
    source: EventSource,
    mode: Mode,
    groupable: bool,
    /// When it may next be paged alone (`Alone`/`Isolated`).
    due_at: Instant,
    delays: ExponentialBackoff,
    /// Completed a window since the start or the last rewind.
    completed: bool,
}

#[derive(Debug)]
struct OpenSweep {
    window: Window,
    search_after: Option<Box<RawValue>>,
    progress: DateTime<Utc>,
    members: Vec<usize>,
}

/// How urgent a turn is: sweeps of caught-up organisations go before backlog pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TurnPriority {
    /// Keeps caught-up organisations fresh.
    Fresh,
    /// Catches up a backlog (or retries a failing organisation).
    Backlog,
}

/// The next thing a group wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Turn {
    /// A request (sweep page, or one member's page) of this priority.
    Request(TurnPriority),
    /// Nothing is due before this long.
    Wait(Duration),
}

/// What one turn gave.
#[derive(Debug, Default)]
pub struct TurnOutcome {
    /// Batches to deliver, each of its own member's source.
    pub batches: Vec<EventBatch>,
    /// Organisations whose request succeeded.
    pub succeeded: Vec<String>,
    /// Organisations whose request failed, with the error (they are retried).
    pub failed: Vec<(String, String)>,
}

/// The delays between retries of a failing source or group member: exponential from 1 s to
/// 5 min, with jitter, without end (a live source is retried as long as it runs).
pub fn error_backoff() -> ExponentialBackoff {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_secs(1))
        .with_max_delay(Duration::from_secs(300))
        .with_jitter()
        .without_max_times()
        .build()
}

/// A refusal that names the organisation (the rest of the request would have been answered).
fn refuses_org(error: &FetchError) -> bool {
    matches!(
        error,
        FetchError::DirectoryInsightsDisabled { .. } | FetchError::Forbidden { .. }
    )
}

/// Sources paged together; see the module documentation.
#[derive(Debug)]
pub struct OrgGroup {
    client: JumpCloudClient,
    config: EventsConfig,
    members: Vec<Member>,
    sweep: Option<OpenSweep>,
    next_sweep_at: Instant,
    sweep_delays: ExponentialBackoff,
    /// Swept members not yet asked in the current round (a round is every swept member, in
    /// requests of at most `per_request`).
    round: Vec<usize>,
    /// Organisations per request: `group_size`, halved when a server refuses the request as
    /// too large (HTTP 413/414/431: too many `x-org-id` headers).
    per_request: usize,
    /// Round-robin position among members paged alone.
    turn: usize,
    /// Members whose own window starts before this page alone (an unattributable event).
    alone_until: Option<DateTime<Utc>>,
}

impl OrgGroup {
    /// A group of `sources` (live sources; at least one). Groupable members start in the
    /// sweep, the others alone.
    pub fn new(sources: Vec<EventSource>) -> Result<Self, FetchError> {
        let first = sources
            .first()
            .ok_or_else(|| FetchError::Config("a group needs at least one source".into()))?;
        let client = first.client().clone();
        let config = first.config().clone();
        let per_request = config.group_size.max(1);
        let now = Instant::now();
        let members = sources
            .into_iter()
            .map(|source| {
                let groupable = source.is_groupable();
                Member {
                    source,
                    mode: if groupable { Mode::Sweep } else { Mode::Alone },
                    groupable,
                    due_at: now,
                    delays: error_backoff(),
                    completed: false,
                }
            })
            .collect();
        Ok(Self {
            client,
            config,
            members,
            sweep: None,
            next_sweep_at: now,
            sweep_delays: error_backoff(),
            round: Vec::new(),
            per_request,
            turn: 0,
            alone_until: None,
        })
    }

    /// The member sources.
    pub fn sources(&self) -> impl Iterator<Item = &EventSource> {
        self.members.iter().map(|member| &member.source)
    }

    /// True when every member completed a window since the start or the last rewind.
    pub fn all_completed(&self) -> bool {
        self.members.iter().all(|member| member.completed)
    }

    /// Drops a member (a `--once` run gives up on it); true when the group is empty now.
    pub fn remove(&mut self, org_id: &str) -> bool {
        if let Some(index) = self
            .members
            .iter()
            .position(|m| m.source.org_id() == org_id)
        {
            self.members.remove(index);
            // Indexes moved: the open sweep restarts its window (dedup drops what it re-reads).
            self.sweep = None;
            self.round.clear();
        }
        self.members.is_empty()
    }

    /// Starts every member again from its durable checkpoint (`durable` by checkpoint key).
    pub fn rewind(&mut self, durable: impl Fn(&str) -> Option<Checkpoint>) {
        self.sweep = None;
        self.round.clear();
        let now = Instant::now();
        self.next_sweep_at = now;
        for member in &mut self.members {
            let checkpoint = durable(member.source.checkpoint_key());
            member.source.rewind(checkpoint.as_ref());
            member.completed = false;
            if member.mode == Mode::Alone {
                member.due_at = now;
            }
        }
    }

    fn sweeping(&self) -> bool {
        self.members.iter().any(|m| m.mode == Mode::Sweep)
    }

    /// The member to page alone next (round robin among those due).
    fn next_alone(&self, now: Instant) -> Option<usize> {
        let count = self.members.len();
        (0..count)
            .map(|offset| (self.turn + offset) % count)
            .find(|&i| {
                let member = &self.members[i];
                member.mode != Mode::Sweep && member.due_at <= now
            })
    }

    fn is_behind(&self, source: &EventSource) -> bool {
        let caught_up_at = window::minus(
            Utc::now(),
            self.config.lag + self.config.poll_interval + self.config.group_spread,
        );
        source.fetch_cursor() < caught_up_at
    }

    /// What the group wants to do next.
    pub fn next_turn(&self) -> Turn {
        let now = Instant::now();
        if (self.sweep.is_some() || self.sweeping()) && self.next_sweep_at <= now {
            return Turn::Request(TurnPriority::Fresh);
        }
        if let Some(i) = self.next_alone(now) {
            let member = &self.members[i];
            let priority = if member.mode == Mode::Alone && !self.is_behind(&member.source) {
                TurnPriority::Fresh
            } else {
                TurnPriority::Backlog
            };
            return Turn::Request(priority);
        }
        let mut wake = now + self.config.poll_interval;
        if self.sweep.is_some() || self.sweeping() {
            wake = wake.min(self.next_sweep_at);
        }
        for member in self.members.iter().filter(|m| m.mode != Mode::Sweep) {
            wake = wake.min(member.due_at);
        }
        Turn::Wait(wake.saturating_duration_since(now))
    }

    /// Makes the request [`Self::next_turn`] asked for, with pages of at most `max_events`.
    pub async fn take_turn(&mut self, max_events: usize) -> TurnOutcome {
        let now = Instant::now();
        if (self.sweep.is_some() || self.sweeping()) && self.next_sweep_at <= now {
            return self.sweep_page(max_events).await;
        }
        match self.next_alone(now) {
            Some(i) => {
                self.turn = (i + 1) % self.members.len().max(1);
                self.alone_page(i, max_events).await
            }
            None => TurnOutcome::default(),
        }
    }

    async fn alone_page(&mut self, i: usize, max_events: usize) -> TurnOutcome {
        let mut outcome = TurnOutcome::default();
        let next = self.members[i].source.next_batch_of(max_events).await;
        let now = Instant::now();
        let newest = self.newest_sweep_cursor();
        let alone_until = self.alone_until;
        let poll_interval = self.config.poll_interval;
        let spread = self.config.group_spread;
        let member = &mut self.members[i];
        let org = member.source.org_id().to_owned();
        match next {
            Ok(batch) => {
                if member.mode == Mode::Isolated {
                    tracing::info!(org = %org, "organisation answers again; paging it alone until it has caught up");
                    member.mode = Mode::Alone;
                    member.delays = error_backoff();
                }
                outcome.succeeded.push(org);
                match batch {
                    Some(batch) => outcome.batches.push(batch),
                    None => {
                        // A window completed: the member is at `now - lag`.
                        member.completed = true;
                        let cursor = member.source.fetch_cursor();
                        let near = newest.is_none_or(|n| cursor >= window::minus(n, spread));
                        let clear = alone_until.is_none_or(|t| member.source.own_start() > t);
                        if member.groupable && near && clear {
                            member.mode = Mode::Sweep;
                        } else {
                            member.due_at = now + poll_interval;
                        }
                    }
                }
            }
            Err(error) => {
                let delay = member.delays.next().unwrap_or(Duration::from_secs(300));
                tracing::warn!(org = %org, error = %error, retry_in = ?delay, "organisation paged alone failed; retrying it alone with backoff");
                member.mode = Mode::Isolated;
                member.due_at = now + delay;
                outcome.failed.push((org, error.to_string()));
            }
        }
        outcome
    }

    fn newest_sweep_cursor(&self) -> Option<DateTime<Utc>> {
        self.members
            .iter()
            .filter(|m| m.mode == Mode::Sweep)
            .map(|m| m.source.fetch_cursor())
            .max()
    }

    /// Starts a sweep round: members too far behind the newest go alone, the others are asked
    /// in requests of at most `per_request`.
    fn start_round(&mut self) {
        let Some(newest) = self.newest_sweep_cursor() else {
            return;
        };
        let now = Instant::now();
        let spread = self.config.group_spread;
        let alone_until = self.alone_until;
        for member in self.members.iter_mut().filter(|m| m.mode == Mode::Sweep) {
            let behind = member.source.fetch_cursor() < window::minus(newest, spread);
            let unattributed = alone_until.is_some_and(|t| member.source.own_start() <= t);
            if behind || unattributed {
                tracing::info!(org = %member.source.org_id(), cursor = %format_timestamp(member.source.fetch_cursor()), "paged alone until caught up");
                member.mode = Mode::Alone;
                member.due_at = now;
            }
        }
        if alone_until.is_some() && !self.members.iter().any(|m| m.mode == Mode::Alone) {
            self.alone_until = None;
        }
        self.round = (0..self.members.len())
            .filter(|&i| self.members[i].mode == Mode::Sweep)
            .collect();
    }

    /// Opens the window of the round's next request.
    fn open_sweep(&mut self) -> Option<OpenSweep> {
        if self.round.is_empty() {
            self.start_round();
        }
        let take = self.per_request.min(self.round.len());
        let members: Vec<usize> = self
            .round
            .drain(..take)
            .filter(|&i| self.members[i].mode == Mode::Sweep)
            .collect();
        let Some(oldest) = members
            .iter()
            .map(|&i| self.members[i].source.fetch_cursor())
            .min()
        else {
            self.end_of_request();
            return None;
        };
        let window = window::live_window(oldest, Utc::now(), self.config.lag, self.config.overlap);
        let Some(window) = window else {
            // The lag reaches past every cursor: nothing to ask for yet.
            for &i in &members {
                self.members[i].completed = true;
            }
            self.end_of_request();
            return None;
        };
        Some(OpenSweep {
            window,
            search_after: None,
            progress: window.start,
            members,
        })
    }

    /// A sweep request's window is complete: the round goes on at once, or the next round is
    /// due in `poll_interval`.
    fn end_of_request(&mut self) {
        if self.round.is_empty() {
            self.next_sweep_at = Instant::now() + self.config.poll_interval;
        }
    }

    fn ids(&self, members: &[usize]) -> Vec<Arc<str>> {
        members
            .iter()
            .map(|&i| self.members[i].source.org_arc())
            .collect()
    }

    async fn sweep_page(&mut self, max_events: usize) -> TurnOutcome {
        let mut outcome = TurnOutcome::default();
        let open = match self.sweep.take() {
            Some(open) => open,
            None => match self.open_sweep() {
                Some(open) => open,
                None => return outcome,
            },
        };
        let limit = max_events.clamp(1, self.config.page_limit);
        let query = EventQuery {
            service: self.config.services.clone(),
            start_time: format_timestamp(open.window.start),
            end_time: format_timestamp(open.window.end),
            limit: Some(limit),
            sort: Some("ASC"),
            search_after: open.search_after.clone(),
        };
        let ids = self.ids(&open.members);
        let page = self
            .client
            .events_page_for(Scope::Orgs(&ids), &query)
            .await
            .and_then(|page| Ok((check_paging(&page, &query, limit)?, page)));
        let (last_page, page) = match page {
            Ok(page) => page,
            Err(error) if refuses_org(&error) => {
                return self.isolate_refusers(open, error).await;
            }
            Err(FetchError::Rejected {
                status: status @ (413 | 414 | 431),
                ..
            }) if open.members.len() > 1 => {
                self.per_request = (open.members.len() / 2).max(1);
                tracing::warn!(
                    status,
                    per_request = self.per_request,
                    "the server refused a grouped request as too large; asking for fewer organisations per request (lower events.group_size)"
                );
                // The members wait at the front of the round; the window opens again for them.
                let mut round = open.members;
                round.append(&mut self.round);
                self.round = round;
                return outcome;
            }
            Err(error) => {
                let delay = self.sweep_delays.next().unwrap_or(Duration::from_secs(300));
                tracing::warn!(orgs = open.members.len(), error = %error, retry_in = ?delay, "grouped request failed; retrying the group");
                let text = error.to_string();
                outcome.failed = ids
                    .iter()
                    .map(|id| (id.to_string(), text.clone()))
                    .collect();
                self.next_sweep_at = Instant::now() + delay;
                self.sweep = Some(open);
                return outcome;
            }
        };
        self.sweep_delays = error_backoff();
        let mut shares: HashMap<&str, Vec<PageEvent>> = HashMap::with_capacity(ids.len());
        let latest = latest_timestamp(&page.events);
        let mut unattributed = 0usize;
        for event in page.events {
            match event
                .organization
                .as_deref()
                .and_then(|org| ids.iter().find(|id| &***id == org))
            {
                Some(id) => shares.entry(&**id).or_default().push(event),
                None => unattributed += 1,
            }
        }
        if unattributed > 0 {
            tracing::warn!(unattributed, start = %format_timestamp(open.window.start), end = %format_timestamp(open.window.end), "events of a grouped page name no member organisation; paging the members alone for this window");
            self.alone_until = Some(open.window.end);
            let now = Instant::now();
            for &i in &open.members {
                self.members[i].mode = Mode::Alone;
                self.members[i].due_at = now;
            }
            return outcome;
        }
        let progress = if last_page {
            open.window.end
        } else {
            latest.map_or(open.progress, |l| {
                open.progress.max(floor_to_millis(l)).min(open.window.end)
            })
        };
        for (&i, id) in open.members.iter().zip(&ids) {
            let member = &mut self.members[i];
            let page_of = PageOf {
                window: open.window,
                last_page,
                progress,
                drop_before: Some(member.source.own_start()),
            };
            let share = shares.remove(&**id).unwrap_or_default();
            outcome
                .batches
                .push(member.source.take_group_page(share, page_of));
            outcome.succeeded.push(id.to_string());
            if last_page {
                member.completed = true;
            }
        }
        if last_page {
            self.end_of_request();
        } else {
            self.sweep = Some(OpenSweep {
                search_after: page.search_after,
                progress,
                ..open
            });
        }
        outcome
    }

    /// A grouped request was refused: find the refused members by bisection, take them out of
    /// the sweep (retried alone with backoff) and keep the open window for the others.
    async fn isolate_refusers(&mut self, mut open: OpenSweep, error: FetchError) -> TurnOutcome {
        let mut outcome = TurnOutcome::default();
        let refused: Vec<(usize, FetchError)> = if open.members.len() == 1 {
            vec![(open.members[0], error)]
        } else {
            self.bisect(open.members.clone()).await
        };
        if refused.is_empty() {
            // The refusal did not come back when probed: retry the group after a pause.
            let delay = self.sweep_delays.next().unwrap_or(Duration::from_secs(300));
            self.next_sweep_at = Instant::now() + delay;
            self.sweep = Some(open);
            return outcome;
        }
        let now = Instant::now();
        for (i, error) in refused {
            let member = &mut self.members[i];
            let delay = member.delays.next().unwrap_or(Duration::from_secs(300));
            tracing::warn!(org = %member.source.org_id(), error = %error, retry_in = ?delay, "organisation refused inside a grouped request; retrying it alone with backoff, the group goes on");
            member.mode = Mode::Isolated;
            member.due_at = now + delay;
            outcome
                .failed
                .push((member.source.org_id().to_owned(), error.to_string()));
            open.members.retain(|&m| m != i);
        }
        if !open.members.is_empty() {
            self.sweep = Some(open);
        }
        outcome
    }

    /// The members of `set` a request refuses, found by halving: a half that is answered is
    /// clean, a refused half is split again.
    async fn bisect(&self, set: Vec<usize>) -> Vec<(usize, FetchError)> {
        let end = window::minus(Utc::now(), self.config.lag);
        let probe = EventQuery {
            service: self.config.services.clone(),
            start_time: format_timestamp(window::minus(end, Duration::from_secs(1))),
            end_time: format_timestamp(end),
            limit: None,
            sort: None,
            search_after: None,
        };
        let mut refused = Vec::new();
        let mut pending = vec![set];
        while let Some(set) = pending.pop() {
            let mid = set.len() / 2;
            for half in [&set[..mid], &set[mid..]] {
                if half.is_empty() {
                    continue;
                }
                let ids = self.ids(half);
                match self
                    .client
                    .events_count_for(Scope::Orgs(&ids), &probe)
                    .await
                {
                    Ok(_) => {}
                    Err(error) if refuses_org(&error) => {
                        if half.len() == 1 {
                            refused.push((half[0], error));
                        } else {
                            pending.push(half.to_vec());
                        }
                    }
                    Err(error) => {
                        tracing::warn!(error = %error, "probe failed; the group retries later");
                    }
                }
            }
        }
        refused
    }
}
