//! `jumpcloud-ocsf inventory [--org ID] [--format json]`: one inventory snapshot as OCSF 1.8.0
//! NDJSON on stdout: User Inventory Info (5003) per user, Device Inventory Info (5001) per
//! system and per Apple MDM device, the graph (groups, memberships, application assignments,
//! device owners) carried in the records.
//!
//! A record that cannot be mapped is reported on stderr with its raw JSON and the exit status is
//! 1 (the others are still written). A failed organisation is reported and exits 1 as well.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use fetcher::JumpCloudClient;
use fetcher::inventory::{InventoryConfig, collect_org};
use mapper::inventory::{InventoryInput, InventoryMapError, map_snapshot_split, snapshot_changes};
use mapper::{Mapper, OcsfRecord};
use pipeline::Snapshot;
use tokio::sync::{mpsc, oneshot};

use crate::config::AppConfig;
use crate::wiring::{build_pipeline, connect_kafka};

/// Output format of the snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// OCSF NDJSON, one record per line.
    Json,
}

/// Print one inventory snapshot as OCSF NDJSON.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Configuration file (TOML): `[jumpcloud]` is used; environment variables override it.
    #[arg(long, short, env = "JUMPCLOUD_OCSF_CONFIG")]
    pub config: Option<PathBuf>,
    /// Organisation id; repeat for several. Default: `jumpcloud.org_ids`, else the
    /// credential's own organisation.
    #[arg(long = "org", value_name = "ID")]
    pub orgs: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "json")]
    pub format: OutputFormat,
    /// `limit` per list request (the console API caps it at 100).
    #[arg(long, default_value_t = 100)]
    pub page_size: usize,
    /// Per-entity requests in flight (group members, app bindings, device owners).
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// Skip device -> user bindings (one request per user).
    #[arg(long)]
    pub no_device_owners: bool,
    /// Skip Apple MDM servers and devices.
    #[arg(long)]
    pub no_apple_mdm: bool,
    /// Keep running: a snapshot now and then every DURATION (e.g. `6h`, `30m`); from the second
    /// snapshot on, what changed since the previous one is also written, as Account Change
    /// (3001), User Access Management (3005) and Group Management (3006) events.
    #[arg(long, value_name = "DURATION", value_parser = fetcher::duration::parse_duration)]
    pub interval: Option<Duration>,
    /// With `--interval`: stop after this many snapshots.
    #[arg(long, value_name = "N")]
    pub snapshots: Option<u64>,
    /// Produce to this Kafka topic (`[kafka]` of the configuration; key = the user/device id)
    /// instead of stdout; records that cannot be mapped go to the dead-letter topic.
    #[arg(long, env = "JUMPCLOUD_OCSF_INVENTORY_TOPIC", value_name = "TOPIC")]
    pub kafka_topic: Option<String>,
}

/// The organisations to inventory: the flags, else the configuration (with `org_ids = "all"`,
/// those the provider lists now), else the credential's own.
pub async fn target_orgs(
    flags: &[String],
    config: &AppConfig,
    client: &JumpCloudClient,
) -> Result<Vec<String>> {
    if flags.is_empty() {
        crate::wiring::resolve_org_ids(config, client).await
    } else {
        Ok(flags.to_vec())
    }
}

/// What the next snapshot is compared with: the previous one's users and memberships.
#[derive(Debug, Clone, Default)]
pub struct PreviousSnapshot {
    /// `/api/systemusers` records.
    pub users: Vec<serde_json::Value>,
    /// Group id -> member user ids.
    pub group_members: BTreeMap<String, Vec<String>>,
}

/// The change events between `previous` and `input` (Account Change, User Access Management,
/// Group Management), made at `processed_ms`.
pub fn change_records(
    previous: &PreviousSnapshot,
    input: &InventoryInput,
    processed_ms: i64,
) -> Vec<OcsfRecord> {
    snapshot_changes(
        &previous.users,
        &previous.group_members,
        input,
        processed_ms,
    )
}

/// One organisation's snapshot: the OCSF records (and change events against `previous`), the
/// records that could not be mapped (with their raw JSON), and the reference for the next one.
#[derive(Debug)]
pub struct OrgSnapshot {
    /// 5003/5001 records, then the change events.
    pub records: Vec<OcsfRecord>,
    /// Records that could not be mapped: the reason and the raw console JSON.
    pub rejected: Vec<(InventoryMapError, serde_json::Value)>,
    /// How many of `records` are change events.
    pub changes: u64,
    /// What the next snapshot is compared with.
    pub next: PreviousSnapshot,
}

/// Collects one organisation and maps it (and the changes since `previous`).
pub async fn snapshot_org(
    client: &JumpCloudClient,
    org: &str,
    config: &InventoryConfig,
    previous: Option<&PreviousSnapshot>,
) -> Result<OrgSnapshot> {
    let input = collect_org(client, org, config)
        .await
        .with_context(|| format!("inventory of organisation {org:?}"))?;
    let processed_ms = chrono::Utc::now().timestamp_millis();
    let (mut records, rejected) = map_snapshot_split(&input, processed_ms);
    let changes = match previous {
        Some(previous) => {
            let found = change_records(previous, &input, processed_ms);
            let count = found.len() as u64;
            records.extend(found);
            count
        }
        None => 0,
    };
    Ok(OrgSnapshot {
        records,
        rejected,
        changes,
        next: PreviousSnapshot {
            users: input.users,
            group_members: input.group_members,
        },
    })
}

/// Where snapshots go.
pub enum Output {
    /// NDJSON on stdout; rejected records on stderr.
    Stdout,
    /// One Kafka topic (keyed by the entity uid), each snapshot one unit of the delivery engine
    /// (one transaction in exactly-once mode); rejected records to the dead-letter topic.
    Kafka(mpsc::Sender<Snapshot>),
}

impl Output {
    /// Writes one organisation's snapshot; with Kafka, returns once it is durable.
    pub async fn write(&self, org: &str, snapshot: &OrgSnapshot) -> Result<()> {
        match self {
            Output::Stdout => {
                let stdout = io::stdout();
                let mut out = io::BufWriter::new(stdout.lock());
                for record in &snapshot.records {
                    out.write_all(&record.json)?;
                    out.write_all(b"\n")?;
                }
                out.flush()?;
                for (error, raw) in &snapshot.rejected {
                    eprintln!("error: organisation {org:?}: {error}: {raw}");
                }
                Ok(())
            }
            Output::Kafka(snapshots) => {
                let (reply, answer) = oneshot::channel();
                let unit = Snapshot {
                    org: org.to_owned(),
                    records: snapshot.records.clone(),
                    rejected: snapshot.rejected.clone(),
                    reply,
                };
                snapshots
                    .send(unit)
                    .await
                    .map_err(|_| anyhow::anyhow!("the Kafka writer stopped"))?;
                answer
                    .await
                    .map_err(|_| anyhow::anyhow!("the Kafka writer stopped"))?
                    .map_err(|error| anyhow::anyhow!("writing the snapshot to Kafka: {error}"))
            }
        }
    }
}

pub fn run(args: Args) -> ExitCode {
    crate::runtime::block_on(run_async(args))
}

async fn run_async(args: Args) -> Result<bool> {
    let OutputFormat::Json = args.format;
    let config = AppConfig::load(args.config.as_deref())?;
    let client = config.jumpcloud_client()?;
    let inventory_config = InventoryConfig {
        page_size: args.page_size.max(1),
        concurrency: args.concurrency.max(1),
        device_owners: !args.no_device_owners,
        apple_mdm: !args.no_apple_mdm,
        ..InventoryConfig::default()
    };
    let orgs = target_orgs(&args.orgs, &config, &client).await?;
    let (output, writer) = match &args.kafka_topic {
        Some(topic) => {
            let (snapshots, writer) = kafka_writer(&config, topic).await?;
            (Output::Kafka(snapshots), Some(writer))
        }
        None => (Output::Stdout, None),
    };
    let mut previous: BTreeMap<String, PreviousSnapshot> = BTreeMap::new();
    let mut all_ok = true;
    let mut taken = 0u64;
    loop {
        let started = tokio::time::Instant::now();
        for org in &orgs {
            let result =
                match snapshot_org(&client, org, &inventory_config, previous.get(org)).await {
                    Ok(snapshot) => output.write(org, &snapshot).await.map(|()| snapshot),
                    Err(err) => Err(err),
                };
            match result {
                Ok(snapshot) => {
                    tracing::info!(
                        org,
                        written = snapshot.records.len(),
                        rejected = snapshot.rejected.len(),
                        changes = snapshot.changes,
                        "inventory snapshot written"
                    );
                    all_ok &= snapshot.rejected.is_empty();
                    previous.insert(org.clone(), snapshot.next);
                }
                Err(err) => {
                    // The previous snapshot stays the reference: changes are reported against
                    // it once the organisation answers (and Kafka accepts) again.
                    eprintln!("error: {err:#}");
                    all_ok = false;
                }
            }
        }
        taken += 1;
        let Some(interval) = args.interval else {
            break;
        };
        if args.snapshots.is_some_and(|limit| taken >= limit) {
            break;
        }
        tokio::select! {
            () = tokio::time::sleep_until(started + interval) => {}
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    drop(output);
    if let Some(writer) = writer {
        writer
            .await
            .context("the Kafka writer failed")?
            .context("writing to Kafka")?;
    }
    Ok(all_ok)
}

/// The delivery engine's writer for snapshots to `topic` (its own transactional id,
/// `<deployment_id>.inventory`), and where to send them.
async fn kafka_writer(
    config: &AppConfig,
    topic: &str,
) -> Result<(
    mpsc::Sender<Snapshot>,
    tokio::task::JoinHandle<Result<(), pipeline::UnitError>>,
)> {
    let mut config = config.clone();
    config.kafka.topic.single_topic = Some(topic.to_owned());
    let (destination, _) = connect_kafka(&config, "inventory")
        .await
        .context("connecting the inventory topic's writer")?;
    let pipeline = build_pipeline(&config, Arc::new(Mapper::default()), destination);
    let (snapshots, receiver) = mpsc::channel(1);
    let writer = tokio::spawn(async move {
        let (_never, shutdown) = tokio::sync::watch::channel(false);
        pipeline.write_snapshots(receiver, shutdown).await
    });
    Ok((snapshots, writer))
}
