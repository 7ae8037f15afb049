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
use std::time::Duration;

use anyhow::{Context, Result};
use fetcher::JumpCloudClient;
use fetcher::inventory::{InventoryConfig, collect_org};
use mapper::OcsfRecord;
use mapper::inventory::{InventoryInput, InventoryMapError, map_snapshot_split, snapshot_changes};
use producer::{DeadLetter, OcsfProducer, Stage};

use crate::config::AppConfig;

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
    /// One Kafka topic (keyed by the entity uid); rejected records to the dead-letter topic.
    Kafka(Box<OcsfProducer>),
}

impl Output {
    /// Writes one organisation's snapshot; every Kafka record is acknowledged before it returns.
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
            Output::Kafka(producer) => {
                let sends = snapshot.records.iter().map(|record| producer.send(record));
                for result in futures::future::join_all(sends).await {
                    result.context("producing an inventory record")?;
                }
                let letters = snapshot.rejected.iter().map(|(error, raw)| {
                    producer.send_dead_letter(DeadLetter {
                        raw: raw.to_string().into_bytes().into(),
                        reason: error.to_string(),
                        stage: Stage::Map,
                        org_id: Some(org.to_owned()).filter(|o| !o.is_empty()),
                        event_id: None,
                    })
                });
                for result in futures::future::join_all(letters).await {
                    result.context("producing an inventory dead letter")?;
                }
                Ok(())
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
    let output = match &args.kafka_topic {
        Some(topic) => {
            let producer = OcsfProducer::for_topic(config.kafka.clone(), topic)
                .await
                .context("starting the Kafka producer of the inventory topic")?;
            Output::Kafka(Box::new(producer))
        }
        None => Output::Stdout,
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
    Ok(all_ok)
}
