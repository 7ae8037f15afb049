//! `jumpcloud-ocsf backfill`: collect a past range (`--since 7d`, or `--from`/`--to`) for every
//! configured organisation into Kafka, sliced with `/events/count`, resumable from its own
//! checkpoint, with progress (a bar on a terminal, plain lines otherwise).

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use fetcher::{EventSource, SourceStats};
use pipeline::Mode;

use crate::config::AppConfig;
use crate::runtime::{block_on, shutdown_on_signal};
use crate::wiring::{build_mapper, build_pipeline, connect_kafka, resolve_org_ids};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Configuration file (TOML); environment variables override it.
    #[arg(long, short, env = "JUMPCLOUD_OCSF_CONFIG")]
    pub config: Option<PathBuf>,
    /// Start this long ago (e.g. `7d`, `36h`); the end is now minus the configured lag.
    #[arg(long, conflicts_with = "from")]
    pub since: Option<String>,
    /// Start of the range: RFC 3339 time or a duration ago.
    #[arg(long, requires = "to")]
    pub from: Option<String>,
    /// End of the range (exclusive): RFC 3339 time or a duration ago.
    #[arg(long, requires = "from")]
    pub to: Option<String>,
}

pub fn run(args: Args) -> ExitCode {
    block_on(backfill(args))
}

async fn backfill(args: Args) -> Result<bool> {
    let config = AppConfig::load(args.config.as_deref())?;
    let now = chrono::Utc::now();
    let (from, to) = match (&args.since, &args.from, &args.to) {
        (Some(since), None, None) => {
            let from =
                fetcher::timestamp::parse_time_or_ago(since, now).map_err(anyhow::Error::msg)?;
            let lag = chrono::Duration::from_std(config.events.lag).unwrap_or_default();
            (from, now - lag)
        }
        (None, Some(from), Some(to)) => (
            fetcher::timestamp::parse_time_or_ago(from, now).map_err(anyhow::Error::msg)?,
            fetcher::timestamp::parse_time_or_ago(to, now).map_err(anyhow::Error::msg)?,
        ),
        _ => bail!("give either --since DURATION or both --from and --to"),
    };
    let mapper = Arc::new(build_mapper(&config.mapper)?);
    // Its own transactional id: a backfill must not fence the live run of its deployment.
    let (destination, starting) = connect_kafka(&config, "backfill").await?;

    let client = config.jumpcloud_client()?;
    let mut sources = Vec::new();
    for org_id in resolve_org_ids(&config, &client).await? {
        let key = fetcher::events::backfill_checkpoint_key(&org_id, from, to);
        let source = EventSource::backfill(
            client.clone(),
            org_id.clone(),
            config.events.clone(),
            starting.checkpoint(&key)?,
            from,
            to,
        )
        .with_context(|| format!("backfill of organisation {org_id:?}"))?;
        sources.push(source);
    }
    eprintln!(
        "backfilling {} organisation(s) from {} to {}",
        sources.len(),
        fetcher::timestamp::format_timestamp(from),
        fetcher::timestamp::format_timestamp(to)
    );
    let stats: Vec<Arc<SourceStats>> = sources.iter().map(EventSource::stats).collect();
    let progress = tokio::spawn(report_progress(stats));
    let pipeline = build_pipeline(&config, mapper, destination);
    let report = pipeline
        .run(sources, Mode::Once, shutdown_on_signal())
        .await;
    progress.abort();
    let totals = pipeline.stats().totals();
    eprintln!(
        "backfill done: {} fetched = {} delivered + {} dead letters",
        totals.fetched, totals.delivered, totals.dead_lettered
    );
    for (org, error) in &report.failed_orgs {
        eprintln!("error: organisation {org:?}: {error}");
    }
    if let Some(fenced) = &report.fenced {
        eprintln!("error: {fenced}");
    }
    Ok(report.is_success())
}

/// Progress every second: a bar with events/s and ETA on a terminal, a plain line every 10 s
/// otherwise (logs, CI).
async fn report_progress(stats: Vec<Arc<SourceStats>>) {
    let read = || {
        let fetched: u64 = stats
            .iter()
            .map(|s| s.events_fetched.load(Ordering::Relaxed))
            .sum();
        let expected: u64 = stats
            .iter()
            .map(|s| s.backfill_expected.load(Ordering::Relaxed))
            .sum();
        (fetched, expected)
    };
    let started = Instant::now();
    if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{elapsed_precise} [{wide_bar}] {pos}/{len} events ({per_sec}, ETA {eta})",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        loop {
            let (fetched, expected) = read();
            bar.set_length(expected.max(fetched));
            bar.set_position(fetched);
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    } else {
        loop {
            tokio::time::sleep(Duration::from_secs(10)).await;
            let (fetched, expected) = read();
            let elapsed = started.elapsed().as_secs_f64().max(0.001);
            let rate = fetched as f64 / elapsed;
            let eta = if rate > 0.0 && expected > fetched {
                format!("{:.0} s", (expected - fetched) as f64 / rate)
            } else {
                "-".to_string()
            };
            eprintln!("backfill: {fetched}/{expected} events, {rate:.0} events/s, ETA {eta}");
        }
    }
}
