//! `jumpcloud-ocsf demo`: the whole pipeline against an in-process JumpCloud simulator, for a
//! bounded time, writing OCSF NDJSON per class to a local directory (or to Kafka when
//! `KAFKA_BROKERS` is set), then a summary. Needs nothing else running.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use fetcher::AuthConfig;
use pipeline::{Destination, FileSink, Mode, Pipeline, StartingCheckpoints};
use secrecy::SecretString;
use simulator::SimConfig;
use tokio::sync::watch;

use crate::config::{AppConfig, env_or_file};
use crate::runtime::{block_on, shutdown_on_signal};
use crate::wiring::{build_mapper, build_pipeline, build_sources, checkpoint_store, connect_kafka};

const DEMO_API_KEY: &str = "demo-api-key";

#[derive(Debug, clap::Args)]
pub struct Args {
    /// How long the pipeline follows the simulator's live events before it stops.
    #[arg(long, default_value_t = 20)]
    pub seconds: u64,
    /// Events of history the simulator starts with (spread over the past day).
    #[arg(long, default_value_t = 5_000)]
    pub events: usize,
    /// Organisations (an MSP with several tenants).
    #[arg(long, default_value_t = 2)]
    pub orgs: usize,
    /// Live events per second while the demo runs (all organisations together).
    #[arg(long, default_value_t = 20.0)]
    pub live_rate: f64,
    /// Simulated ingestion delay: events become visible up to this many seconds late.
    #[arg(long, default_value_t = 3.0)]
    pub late_max_secs: f64,
    /// Seed of the simulated data.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Output directory (one NDJSON file per OCSF class, dead letters, checkpoints). Emptied
    /// of earlier demo output first.
    #[arg(long, default_value = "demo-output")]
    pub out: PathBuf,
}

pub fn run(args: Args) -> ExitCode {
    block_on(async { demo(args).await.map(|()| true) })
}

async fn demo(args: Args) -> Result<()> {
    prepare_output_dir(&args.out)?;
    let sim_config = SimConfig {
        seed: args.seed,
        api_key: DEMO_API_KEY.to_string(),
        orgs: args.orgs.max(1),
        history_events: args.events,
        history_days: 1,
        late_max_secs: args.late_max_secs,
        live_events_per_sec: args.live_rate,
        ..SimConfig::default()
    };
    let listen: SocketAddr = ([127, 0, 0, 1], 0).into();
    let sim = simulator::start(sim_config, listen)
        .await
        .context("starting the simulator")?;
    println!(
        "simulator: {} ({} organisations, {} events of history)",
        sim.base_url(),
        args.orgs,
        args.events
    );

    let mut config = AppConfig::default();
    config.jumpcloud.base_url = Some(sim.base_url());
    config.jumpcloud.auth = AuthConfig::ApiKey {
        api_key: SecretString::from(DEMO_API_KEY),
    };
    config.jumpcloud.org_ids = sim.org_ids();
    config.jumpcloud.max_requests_per_sec = 50;
    // Lag covers the simulated ingestion delay; the overlap re-reads the recent past.
    config.events.lag = Duration::from_secs_f64(args.late_max_secs.max(0.0) + 2.0);
    config.events.overlap = Duration::from_secs(60);
    config.events.poll_interval = Duration::from_secs(1);
    config.events.initial_lookback = Duration::from_secs(2 * 86_400);
    config.events.checkpoint_path = Some(args.out.join("checkpoints.json"));

    let (destination, store) = match env_or_file("KAFKA_BROKERS").filter(|v| !v.is_empty()) {
        Some(brokers) => {
            config.kafka.brokers = brokers.clone();
            // Exactly-once, with a state topic of this demo run's own: the simulator's
            // organisations are new each run, their cursors must not come from an earlier one.
            config.kafka.deployment_id = format!("jumpcloud-ocsf-demo-{}", std::process::id());
            config.kafka.state_topic = format!("{}.state", config.kafka.deployment_id);
            let (destination, store) = connect_kafka(&config, "").await?;
            if let Destination::Kafka(kafka) = destination.as_ref() {
                println!(
                    "output: Kafka at {brokers} (topics {}; exactly-once, read with isolation.level=read_committed)",
                    kafka.producer().topics().join(", ")
                );
            }
            (destination, store)
        }
        None => {
            println!(
                "output: {}/ (one NDJSON file per OCSF class; set KAFKA_BROKERS for Kafka)",
                args.out.display()
            );
            let sink = FileSink::create(&args.out)
                .with_context(|| format!("output directory {}", args.out.display()))?;
            let store = checkpoint_store(&config)?;
            let destination = Destination::Files {
                sink,
                store: Arc::clone(&store),
            };
            (Arc::new(destination), StartingCheckpoints::from_file(store))
        }
    };

    let mapper = Arc::new(build_mapper(&config.mapper)?);
    let (_client, sources) = build_sources(&config, &store)?;
    let source_stats: Vec<_> = sources
        .iter()
        .map(|s| (s.org_id().to_string(), s.stats()))
        .collect();
    let pipeline = build_pipeline(&config, mapper, destination);
    let (stop, shutdown) = watch::channel(false);
    let ctrl_c = shutdown_on_signal();
    let seconds = args.seconds;
    tokio::spawn(async move {
        let mut ctrl_c = ctrl_c;
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(seconds)) => {}
            _ = ctrl_c.wait_for(|stop| *stop) => {}
        }
        let _ = stop.send(true);
    });
    println!("running the pipeline for {seconds} s ...");
    let report = pipeline.run(sources, Mode::Follow, shutdown).await;
    sim.shutdown().await;

    print_summary(&pipeline, &source_stats);
    for (org, error) in &report.failed_orgs {
        eprintln!("organisation {org}: {error}");
    }
    Ok(())
}

fn prepare_output_dir(dir: &std::path::Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let is_demo_file = matches!(path.extension().and_then(|e| e.to_str()), Some("ndjson"))
            || path.file_name().and_then(|n| n.to_str()) == Some("checkpoints.json");
        if is_demo_file {
            std::fs::remove_file(&path)
                .with_context(|| format!("cannot remove {}", path.display()))?;
        }
    }
    Ok(())
}

fn print_summary(pipeline: &Pipeline, sources: &[(String, Arc<fetcher::SourceStats>)]) {
    let stats = pipeline.stats();
    println!();
    println!(
        "{:<8} {:<20} {:>8} {:>10}",
        "class", "name", "activity", "events"
    );
    for (class, count) in stats.per_class() {
        println!(
            "{:<8} {:<20} {:>8} {count:>10}",
            class.class_uid, class.class_name, class.activity_id
        );
    }
    println!();
    println!(
        "{:<26} {:>9} {:>10} {:>13} {:>10}",
        "organisation", "fetched", "delivered", "dead letters", "lag (s)"
    );
    let per_org = stats.per_org();
    let now_ms = chrono::Utc::now().timestamp_millis();
    for (org_id, stats) in sources {
        let totals = per_org.get(org_id).cloned().unwrap_or_default();
        let durable_ms = stats
            .committed_cursor_ms
            .load(std::sync::atomic::Ordering::Relaxed);
        let lag = (now_ms - durable_ms) as f64 / 1000.0;
        println!(
            "{:<26} {:>9} {:>10} {:>13} {:>10.1}",
            org_id, totals.fetched, totals.delivered, totals.dead_lettered, lag
        );
    }
    let totals = stats.totals();
    println!();
    println!(
        "total: {} fetched = {} delivered + {} dead letters",
        totals.fetched, totals.delivered, totals.dead_lettered
    );
}
