//! `jumpcloud-ocsf audit`: the audit on demand. For each organisation and settled window since
//! `--since`, what the deployment delivered (the counts kept with its cursors in the state
//! topic) against Directory Insights' `/events/count`, as a table; exit 0 only when every
//! window matches. `--repair` first repairs the windows missing events, as `run` does.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Utc};
use fetcher::{EventQuery, JumpCloudClient, Scope};
use futures::StreamExt;
use pipeline::audit::{Ledger, Outcome, WindowCounts, label, time_of};
use pipeline::{DeliveryGuarantee, StartingCheckpoints, StateStore};

use crate::config::AppConfig;
use crate::runtime::shutdown_on_signal;
use crate::wiring::{
    build_mapper, build_pipeline, connect_kafka, event_sources, resolve_org_ids, with_audit,
};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Configuration file (TOML); environment variables override it.
    #[arg(long, short, env = "JUMPCLOUD_OCSF_CONFIG")]
    pub config: Option<PathBuf>,
    /// The windows starting this long ago or later (e.g. `24h`, `7d`), or since an RFC 3339
    /// time. Summaries are kept `[audit] keep_summaries` (7 days).
    #[arg(long, default_value = "24h")]
    pub since: String,
    /// Only this organisation (repeatable; `provider/<id>` for the provider's own events).
    #[arg(long = "org")]
    pub orgs: Vec<String>,
    /// First repair the windows missing events: fetch them again and deliver, exactly once,
    /// what was not delivered. Connects with the deployment's own transactional id
    /// (`deployment_id`), so a `run` of the same deployment is FENCED: it stops and must be
    /// started again. Exactly-once delivery only; not with `[cluster]` (there each shard's
    /// pipeline repairs its own windows).
    #[arg(long)]
    pub repair: bool,
}

/// How long the state topic may take to read.
const STATE_READ: Duration = Duration::from_secs(60);

/// Counts asked at once (the client's rate cap spaces them).
const COUNTS_IN_FLIGHT: usize = 8;

/// Exit 0: every window matches; 1: some does not; 2: the audit could not be made.
pub fn run(args: Args) -> ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(audit(args)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}

async fn audit(args: Args) -> Result<bool> {
    let config = AppConfig::load(args.config.as_deref())?;
    if config.pipeline.state_store != StateStore::Kafka {
        bail!(
            "the audit's counts are kept with the cursors in the Kafka state topic: it needs [pipeline] state_store = \"kafka\""
        );
    }
    let now = Utc::now();
    let since =
        fetcher::timestamp::parse_time_or_ago(&args.since, now).map_err(anyhow::Error::msg)?;
    let client = config.jumpcloud_client()?;
    if args.repair {
        repair(&config, &client, &args.orgs, since).await?;
    }
    let records = {
        let kafka = config.kafka.clone();
        tokio::task::spawn_blocking(move || producer::read_state_topic(&kafka, STATE_READ))
            .await
            .context("reading the state topic")??
    };
    let state = StartingCheckpoints::from_state_topic(&config.kafka.state_topic, records, None)?;
    let rows = compare(&config, &client, &state, &args.orgs, since, Utc::now()).await?;
    Ok(print(&rows, state.audit_ledger()))
}

/// One window compared.
struct Row {
    org: String,
    counts: WindowCounts,
    api: u64,
}

impl Row {
    fn ours(&self) -> u64 {
        self.counts.delivered + self.counts.dead_lettered
    }
}

/// The organisation a source's checkpoint key names, and whom to ask about it.
fn organisation(key: &str) -> Option<(String, Option<&str>)> {
    let org = key.strip_prefix("events/")?;
    Some(match org.strip_prefix("provider/") {
        Some(provider) => (org.to_owned(), Some(provider)),
        None => (org.to_owned(), None),
    })
}

/// Every counted source's settled windows since `since`, with the API's count of each.
async fn compare(
    config: &AppConfig,
    client: &JumpCloudClient,
    state: &StartingCheckpoints,
    only: &[String],
    since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Vec<Row>> {
    let windows = config.audit.windows();
    let settled = now.timestamp_millis() - millis(config.audit.settle_after);
    let overlap = millis(config.events.overlap);
    let mut asked = Vec::new();
    for (key, ledger) in &state.audit_ledger().sources {
        let Some((org, provider)) = organisation(key) else {
            continue;
        };
        if !only.is_empty() && !only.contains(&org) {
            continue;
        }
        let Some(cursor) = state.checkpoint(key)? else {
            continue;
        };
        let horizon = settled.min(cursor.cursor.timestamp_millis() - overlap);
        for counts in ledger.window_counts(windows, since.timestamp_millis(), horizon) {
            asked.push((org.clone(), provider.map(str::to_owned), counts));
        }
    }
    for org in only {
        if !asked.iter().any(|(o, ..)| o == org) {
            eprintln!(
                "note: organisation {org:?}: no counted window since {since} (not served by this deployment, or counted only from later)"
            );
        }
    }
    let services = config.events.services.clone();
    let end = |start| windows.end(start);
    let rows = futures::stream::iter(asked.into_iter().map(|(org, provider, counts)| {
        let query = EventQuery {
            service: services.clone(),
            start_time: fetcher::timestamp::format_timestamp(time_of(counts.start)),
            end_time: fetcher::timestamp::format_timestamp(time_of(end(counts.start))),
            limit: None,
            sort: None,
            search_after: None,
        };
        async move {
            let scope = match &provider {
                Some(provider) => Scope::Provider(provider),
                None => Scope::Org(&org),
            };
            let api = client
                .events_count_for(scope, &query)
                .await
                .with_context(|| format!("/events/count of {org} {}", label(counts.start)))?;
            Ok::<_, anyhow::Error>(Row { org, counts, api })
        }
    }))
    .buffered(COUNTS_IN_FLIGHT)
    .collect::<Vec<_>>()
    .await;
    rows.into_iter().collect()
}

/// Prints the table (every window with events or a mismatch) and the totals; true when every
/// window matches.
fn print(rows: &[Row], ledger: &Ledger) -> bool {
    println!(
        "{:<26} {:<20} {:>9} {:>9} {:>13} {:>8} {:>8}  {:<7} AUDITED",
        "ORGANISATION",
        "WINDOW",
        "API",
        "DELIVERED",
        "DEAD-LETTERED",
        "MISSING",
        "REPAIRED",
        "RESULT"
    );
    let (mut matched, mut missing, mut excess, mut missing_events) = (0, 0, 0, 0);
    for row in rows {
        let outcome = Outcome::of(row.api, row.ours());
        match outcome {
            Outcome::Match => matched += 1,
            Outcome::Missing => {
                missing += 1;
                missing_events += row.api - row.ours();
            }
            Outcome::Excess => excess += 1,
        }
        if row.api == 0 && row.ours() == 0 {
            continue;
        }
        println!(
            "{:<26} {:<20} {:>9} {:>9} {:>13} {:>8} {:>8}  {:<7} {}",
            if row.org.is_empty() {
                "default"
            } else {
                &row.org
            },
            label(row.counts.start),
            row.api,
            row.counts.delivered,
            row.counts.dead_lettered,
            row.api.saturating_sub(row.ours()),
            row.counts.repaired,
            outcome.as_str(),
            if row.counts.settled { "yes" } else { "not yet" },
        );
    }
    let orgs: std::collections::BTreeSet<&str> = rows.iter().map(|r| r.org.as_str()).collect();
    println!(
        "{} window(s) of {} organisation(s): {matched} match, {missing} missing ({missing_events} event(s)), {excess} excess",
        rows.len(),
        orgs.len()
    );
    for key in &ledger.unreadable {
        println!("unreadable audit record: {key}");
    }
    missing == 0 && excess == 0 && ledger.unreadable.is_empty()
}

/// `--repair`: one audit with repairs of the settled windows since `since`, under the
/// deployment's own transactional id (fencing a running `run`).
async fn repair(
    config: &AppConfig,
    client: &JumpCloudClient,
    only: &[String],
    since: DateTime<Utc>,
) -> Result<()> {
    if config.cluster.group_id.is_some() {
        bail!(
            "--repair is not for a [cluster]: each shard's pipeline repairs its own windows inside `run`"
        );
    }
    if config.pipeline.delivery != DeliveryGuarantee::ExactlyOnce {
        bail!(
            "--repair delivers exactly once under the deployment's transactional id: it needs [pipeline] delivery = \"exactly-once\""
        );
    }
    let mut config = config.clone();
    config.audit.enabled = true;
    config.audit.repair = true;
    eprintln!(
        "repairing under the transactional id {:?}: a `run` of this deployment is fenced and stops",
        config.kafka.deployment_id
    );
    let (destination, store) = connect_kafka(&config, "").await?;
    let mut orgs = resolve_org_ids(&config, client).await?;
    if !only.is_empty() {
        orgs.retain(|org| only.contains(org));
    }
    let provider = only.is_empty()
        || config
            .jumpcloud
            .provider_id
            .as_ref()
            .is_some_and(|id| only.contains(&format!("provider/{id}")));
    let sources = event_sources(&config, client, &store, &orgs, provider)?;
    let mapper = Arc::new(build_mapper(&config.mapper)?);
    let pipeline = with_audit(
        build_pipeline(&config, mapper, destination),
        &config,
        client,
        &store,
    );
    let report = pipeline
        .audit_once(sources, since, shutdown_on_signal())
        .await
        .context("the repair was fenced")?;
    eprintln!(
        "repair: {} window comparison(s), {} event(s) delivered",
        report.compared, report.repaired
    );
    for problem in &report.problems {
        eprintln!("repair: {problem}");
    }
    Ok(())
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}
