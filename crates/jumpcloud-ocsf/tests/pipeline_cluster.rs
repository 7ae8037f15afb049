//! Many instances sharing the organisations through Kafka's group protocol (`[cluster]`), on
//! the real broker with the simulator over HTTP: every organisation is served by exactly one
//! instance; a killed instance's shards resume elsewhere; a paused instance is fenced; scaling
//! 1 → 3 → 1 loses and duplicates nothing (a `read_committed` consumer checks every event
//! against the simulator's ground truth).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use simulator::{SimConfig, SimHandle};

const API_KEY: &str = "cluster-test-key";
const SHARDS: i32 = 12;
const SESSION_TIMEOUT: Duration = Duration::from_secs(6);
const POLL_INTERVAL: Duration = Duration::from_secs(3);
const USERS_PER_ORG: usize = 5;

/// The scenarios start several processes each: one at a time on a small machine.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// One `run` process with its metrics port and its log file.
struct Instance {
    name: String,
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Instance {
    fn start(config: &Path, dir: &Path, name: &str) -> Self {
        let port = free_port();
        let log = dir.join(format!("{name}.log"));
        let child = Command::new(binary())
            .args(["run", "--config"])
            .arg(config)
            .env("METRICS_LISTEN", format!("127.0.0.1:{port}"))
            .env("JUMPCLOUD_OCSF_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("start an instance");
        Self {
            name: name.to_string(),
            child,
            port,
            log,
        }
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success(), "kill -{signal} {}", self.name);
    }

    /// SIGTERM, then waits for a clean exit.
    fn stop(mut self) {
        self.signal("TERM");
        let status = self.child.wait().expect("wait");
        assert!(
            status.success(),
            "{} exited with {status}: {}",
            self.name,
            self.log_text()
        );
    }

    fn kill(mut self) {
        self.child.kill().expect("SIGKILL");
        let _ = self.child.wait();
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Whether the process still runs, and what its log says about the group and its shards
    /// (warnings and errors included), for a failure's message.
    fn report(&self) -> String {
        let state = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()))
            .ok()
            .and_then(|stat| {
                let (_, after) = stat.rsplit_once(')')?;
                after.split_whitespace().next().map(str::to_string)
            });
        let state = match state.as_deref() {
            None | Some("Z") => "has exited",
            Some("T") => "is stopped",
            Some(_) => "is running",
        };
        let text = self.log_text();
        let notable: Vec<&str> = text
            .lines()
            .filter(|l| {
                [
                    "WARN",
                    "ERROR",
                    "group",
                    "shards",
                    "created",
                    "pipeline started",
                ]
                .iter()
                .any(|word| l.contains(word))
            })
            .collect();
        let lines: Vec<&str> = text.lines().collect();
        format!(
            "--- {} {state}; {} log lines; the first 40 about the group, shards or faults:\n{}\n--- {}'s last 10 lines:\n{}",
            self.name,
            lines.len(),
            notable
                .iter()
                .take(40)
                .copied()
                .collect::<Vec<_>>()
                .join("\n"),
            self.name,
            lines[lines.len().saturating_sub(10)..].join("\n")
        )
    }

    /// The shards `/readyz` says this instance owns (`None`: not answering, or not yet in
    /// the group).
    async fn owned_shards(&self) -> Option<BTreeSet<i32>> {
        let body = reqwest::get(format!("http://127.0.0.1:{}/readyz", self.port))
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        let line = body.lines().find_map(|l| l.strip_prefix("shards: "))?;
        let (owned, count) = line.split_once(" of ")?;
        assert_eq!(count.trim(), SHARDS.to_string(), "{body}");
        Some(owned.split(',').filter_map(|s| s.parse().ok()).collect())
    }

    /// The organisations whose sources run here, from `/metrics`.
    async fn served_orgs(&self) -> BTreeSet<String> {
        let Ok(response) = reqwest::get(format!("http://127.0.0.1:{}/metrics", self.port)).await
        else {
            return BTreeSet::new();
        };
        let body = response.text().await.unwrap_or_default();
        body.lines()
            .filter_map(|l| l.strip_prefix("jumpcloud_ocsf_checkpoint_age_seconds{org=\""))
            .filter_map(|l| l.split('"').next())
            .map(str::to_string)
            .collect()
    }
}

/// Waits until each instance owns some shards, every shard is owned once, and every
/// organisation is served by exactly one instance; returns how long that took.
async fn wait_until_shared(instances: &[&Instance], orgs: &[String], within: Duration) -> Duration {
    let started = Instant::now();
    let all_shards: BTreeSet<i32> = (0..SHARDS).collect();
    let all_orgs: BTreeSet<String> = orgs.iter().cloned().collect();
    let mut last = String::new();
    while started.elapsed() < within {
        let mut shards = Vec::new();
        let mut served = Vec::new();
        for instance in instances {
            shards.push(instance.owned_shards().await.unwrap_or_default());
            served.push(instance.served_orgs().await);
        }
        let shard_count: usize = shards.iter().map(BTreeSet::len).sum();
        let shard_union: BTreeSet<i32> = shards.iter().flatten().copied().collect();
        let org_count: usize = served.iter().map(BTreeSet::len).sum();
        let org_union: BTreeSet<String> = served.iter().flatten().cloned().collect();
        last = format!(
            "shards {:?}; organisations served {:?}",
            shards,
            served.iter().map(BTreeSet::len).collect::<Vec<_>>()
        );
        if shards.iter().all(|owned| !owned.is_empty())
            && shard_union == all_shards
            && shard_count == all_shards.len()
            && org_union == all_orgs
            && org_count == all_orgs.len()
        {
            return started.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let reports: Vec<String> = instances.iter().map(|i| i.report()).collect();
    panic!(
        "not shared within {within:?}: {last}\n{}",
        reports.join("\n")
    );
}

/// The simulator with `orgs` organisations and live events.
async fn simulator(seed: u64, orgs: usize) -> SimHandle {
    let config = SimConfig {
        seed,
        api_key: API_KEY.to_string(),
        orgs,
        history_events: 3_000,
        history_days: 1,
        late_max_secs: 1.5,
        live_events_per_sec: 30.0,
        users_per_org: USERS_PER_ORG,
        systems_per_org: 3,
        ..SimConfig::default()
    };
    simulator::start(config, ([127, 0, 0, 1], 0).into())
        .await
        .expect("simulator starts")
}

/// A cluster configuration for the simulator's organisations.
fn cluster_config(dir: &Path, sim: &SimHandle, prefix: &str) -> PathBuf {
    let path = write_config(
        dir,
        &sim.base_url(),
        API_KEY,
        &sim.org_ids(),
        prefix,
        &format!(
            "[cluster]\ngroup_id = \"{prefix}\"\ntopic = \"{prefix}.shards\"\nshards = {SHARDS}\nsession_timeout = \"{}s\"\n",
            SESSION_TIMEOUT.as_secs()
        ),
    );
    let text = std::fs::read_to_string(&path).unwrap().replace(
        "poll_interval = \"200ms\"",
        &format!("poll_interval = \"{}s\"", POLL_INTERVAL.as_secs()),
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// Stops the live events, catches up with one `--once` run and checks that a read_committed
/// consumer sees every simulator event exactly once, as valid OCSF; returns what it read.
async fn assert_every_event_once(sim: &SimHandle, config: &Path, prefix: &str) -> Delivered {
    sim.set_live_rate(0.0);
    tokio::time::sleep(Duration::from_secs(5)).await;
    // `--once` runs alone (it refuses a [cluster]): the same deployment without the group.
    let alone = config.with_file_name("alone.toml");
    let text = std::fs::read_to_string(config).unwrap();
    let text: Vec<&str> = text
        .lines()
        .filter(|line| !line.starts_with("group_id"))
        .collect();
    std::fs::write(&alone, text.join("\n")).unwrap();
    catch_up(&alone, &[]);
    let truth = ground_truth(&sim.base_url(), API_KEY).await;
    let delivered = Delivered::read(&brokers(), prefix);
    delivered.assert_exactly(&truth);
    delivered
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_share_300_orgs_take_over_a_killed_one_and_fence_a_paused_one() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let sim = simulator(1701, 300).await;
    let orgs = sim.org_ids();
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_prefix("cluster3");
    let config = cluster_config(dir.path(), &sim, &prefix);
    let a = Instance::start(&config, dir.path(), "a");
    let b = Instance::start(&config, dir.path(), "b");
    let c = Instance::start(&config, dir.path(), "c");
    let joined = wait_until_shared(&[&a, &b, &c], &orgs, Duration::from_secs(120)).await;
    println!(
        "3 instances own the 12 shards and the 300 organisations, each once, after {joined:?}"
    );
    for instance in [&a, &b, &c] {
        let owned = instance.owned_shards().await.unwrap_or_default();
        assert!(!owned.is_empty(), "{} owns no shard", instance.name);
    }
    tokio::time::sleep(Duration::from_secs(5)).await;

    // kill -9: its shards resume on the others within the session timeout plus a poll.
    c.kill();
    let taken_over = wait_until_shared(&[&a, &b], &orgs, Duration::from_secs(90)).await;
    println!("after kill -9: the 2 others serve everything after {taken_over:?}");
    assert!(
        taken_over < SESSION_TIMEOUT + POLL_INTERVAL + Duration::from_secs(15),
        "takeover took {taken_over:?}"
    );
    tokio::time::sleep(Duration::from_secs(5)).await;

    // SIGSTOP past the session timeout: its shards move; on SIGCONT it is fenced.
    let paused_shards = b.owned_shards().await.unwrap_or_default();
    b.signal("STOP");
    let moved = wait_until_shared(&[&a], &orgs, Duration::from_secs(90)).await;
    println!("b paused: a serves everything after {moved:?}");
    b.signal("CONT");
    tokio::time::sleep(SESSION_TIMEOUT * 2).await;
    let log = b.log_text();
    for line in log
        .lines()
        .filter(|l| l.contains("fenced") || l.contains("lost"))
        .take(4)
    {
        println!("b: {line}");
    }
    assert!(
        log.contains("fenced") || log.contains("lost"),
        "the paused instance neither was fenced nor noticed its lost shards {paused_shards:?}:\n{log}"
    );
    // It rejoins: the two share the shards again.
    wait_until_shared(&[&a, &b], &orgs, Duration::from_secs(90)).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    a.stop();
    b.stop();
    assert_every_event_once(&sim, &config, &prefix).await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scaling_one_three_one_loses_and_duplicates_nothing() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let sim = simulator(1702, 60).await;
    let orgs = sim.org_ids();
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_prefix("cluster131");
    let config = cluster_config(dir.path(), &sim, &prefix);
    // Each shard's owner also takes its organisations' inventory, once per interval.
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&format!(
        "\n[inventory]\nenabled = true\ninterval = \"6h\"\nstate_topic = \"{prefix}.inventory-state\"\nmax_requests_per_sec = 100\nconcurrency = 4\n"
    ));
    std::fs::write(&config, text).unwrap();
    let a = Instance::start(&config, dir.path(), "a");
    wait_until_shared(&[&a], &orgs, Duration::from_secs(90)).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let b = Instance::start(&config, dir.path(), "b");
    let c = Instance::start(&config, dir.path(), "c");
    let spread = wait_until_shared(&[&a, &b, &c], &orgs, Duration::from_secs(90)).await;
    println!("1 -> 3 instances after {spread:?}");
    tokio::time::sleep(Duration::from_secs(4)).await;
    b.stop();
    c.stop();
    let back = wait_until_shared(&[&a], &orgs, Duration::from_secs(90)).await;
    println!("3 -> 1 instance after {back:?}");
    tokio::time::sleep(Duration::from_secs(3)).await;
    a.stop();
    let delivered = assert_every_event_once(&sim, &config, &prefix).await;
    // One snapshot per organisation, whoever owned its shard when it was due, moves or not.
    let mut users: BTreeMap<(String, String), usize> = BTreeMap::new();
    for record in delivered
        .inventory
        .iter()
        .filter(|r| r["class_uid"] == 5003)
    {
        let org = record["metadata"]["tenant_uid"]
            .as_str()
            .unwrap_or_default();
        let user = record["user"]["uid"].as_str().unwrap_or_default();
        *users.entry((org.to_owned(), user.to_owned())).or_default() += 1;
    }
    let snapshot_orgs: BTreeSet<&String> = users.keys().map(|(org, _)| org).collect();
    println!(
        "inventory: {} user records of {} organisations",
        users.values().sum::<usize>(),
        snapshot_orgs.len()
    );
    assert_eq!(
        snapshot_orgs.len(),
        orgs.len(),
        "an organisation without inventory"
    );
    assert_eq!(
        users.len(),
        orgs.len() * USERS_PER_ORG,
        "users of the snapshots"
    );
    assert!(
        users.values().all(|n| *n == 1),
        "a user in two snapshots: {:?}",
        users
            .iter()
            .filter(|(_, n)| **n > 1)
            .take(3)
            .collect::<Vec<_>>()
    );
    sim.shutdown().await;
}
