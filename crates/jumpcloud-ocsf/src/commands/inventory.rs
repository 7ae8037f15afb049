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
use fetcher::inventory::{InventoryConfig, OrgInventory, collect_org};
use mapper::inventory::{
    ApplicationBinding, InventoryInput, diff_users, map_snapshot, user_change_records,
};

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
}

/// fetcher's collected inventory -> the mapper's input (moves the records).
pub fn mapper_input(collected: OrgInventory) -> InventoryInput {
    InventoryInput {
        tenant_uid: collected.tenant_uid,
        collected_at_ms: collected.collected_at_ms,
        users: collected.users,
        systems: collected.systems,
        groups: collected.groups,
        group_members: collected.group_members,
        applications: collected.applications,
        application_groups: collected.application_groups,
        application_users: collected
            .application_users
            .into_iter()
            .map(|(app, users)| {
                let bindings = users
                    .into_iter()
                    .map(|u| ApplicationBinding {
                        user_id: u.user_id,
                        direct: u.direct,
                        via_group_ids: u.via_group_ids,
                    })
                    .collect();
                (app, bindings)
            })
            .collect(),
        apple_mdms: collected.apple_mdms,
        mdm_devices: collected.mdm_devices,
        system_users: collected.system_users,
    }
}

/// The organisations to inventory: the flags, else the configuration, else the credential's own.
pub fn target_orgs(flags: &[String], config: &AppConfig) -> Vec<String> {
    if !flags.is_empty() {
        flags.to_vec()
    } else if !config.jumpcloud.org_ids.is_empty() {
        config.jumpcloud.org_ids.clone()
    } else {
        vec![String::new()]
    }
}

/// Counts of one snapshot.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotCounts {
    /// Records written.
    pub written: u64,
    /// Records that could not be mapped.
    pub rejected: u64,
    /// Change events written (against the previous snapshot).
    pub changes: u64,
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
/// Group Management), written to `out`; returns how many.
pub fn write_changes(
    previous: &PreviousSnapshot,
    input: &InventoryInput,
    out: &mut impl Write,
) -> io::Result<u64> {
    let changes = diff_users(
        &previous.users,
        &input.users,
        &previous.group_members,
        &input.group_members,
    );
    let group_names: BTreeMap<String, String> = input
        .groups
        .iter()
        .filter_map(|g| {
            Some((
                fetcher::inventory::record_id(g)?,
                g.get("name")?.as_str()?.to_owned(),
            ))
        })
        .collect();
    let records = user_change_records(
        input.tenant_uid.as_deref(),
        input.collected_at_ms,
        &changes,
        &previous.users,
        &input.users,
        &group_names,
    );
    for record in &records {
        out.write_all(&record.json)?;
        out.write_all(b"\n")?;
    }
    Ok(records.len() as u64)
}

/// Collects one organisation and writes its OCSF records to `out`; rejected records go to
/// stderr with their raw JSON.
pub async fn write_snapshot(
    client: &JumpCloudClient,
    org: &str,
    config: &InventoryConfig,
    previous: Option<&PreviousSnapshot>,
    out: &mut impl Write,
) -> Result<(SnapshotCounts, PreviousSnapshot)> {
    let collected = collect_org(client, org, config)
        .await
        .with_context(|| format!("inventory of organisation {org:?}"))?;
    let input = mapper_input(collected);
    let mut counts = SnapshotCounts::default();
    for result in map_snapshot(&input) {
        match result {
            Ok(record) => {
                out.write_all(&record.json)?;
                out.write_all(b"\n")?;
                counts.written += 1;
            }
            Err((error, raw)) => {
                counts.rejected += 1;
                eprintln!("error: organisation {org:?}: {error}: {raw}");
            }
        }
    }
    if let Some(previous) = previous {
        counts.changes = write_changes(previous, &input, out)?;
    }
    out.flush()?;
    let next = PreviousSnapshot {
        users: input.users,
        group_members: input.group_members,
    };
    Ok((counts, next))
}

pub fn run(args: Args) -> ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run_async(args)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run_async(args: Args) -> Result<bool> {
    let OutputFormat::Json = args.format;
    let config = AppConfig::load(args.config.as_deref())?;
    let client = JumpCloudClient::new(config.jumpcloud.clone())?;
    let inventory_config = InventoryConfig {
        page_size: args.page_size.max(1),
        concurrency: args.concurrency.max(1),
        device_owners: !args.no_device_owners,
        apple_mdm: !args.no_apple_mdm,
        ..InventoryConfig::default()
    };
    let orgs = target_orgs(&args.orgs, &config);
    let mut previous: BTreeMap<String, PreviousSnapshot> = BTreeMap::new();
    let mut all_ok = true;
    let mut taken = 0u64;
    loop {
        let started = tokio::time::Instant::now();
        {
            let stdout = io::stdout();
            let mut out = io::BufWriter::new(stdout.lock());
            for org in &orgs {
                let result =
                    write_snapshot(&client, org, &inventory_config, previous.get(org), &mut out)
                        .await;
                match result {
                    Ok((counts, next)) => {
                        tracing::info!(
                            org,
                            written = counts.written,
                            rejected = counts.rejected,
                            changes = counts.changes,
                            "inventory snapshot written"
                        );
                        all_ok &= counts.rejected == 0;
                        previous.insert(org.clone(), next);
                    }
                    Err(err) => {
                        // The previous snapshot stays the reference: changes are reported
                        // against it once the organisation answers again.
                        eprintln!("error: {err:#}");
                        all_ok = false;
                    }
                }
            }
            out.flush()?;
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
