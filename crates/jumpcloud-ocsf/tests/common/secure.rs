//! Deployments on the secured broker (`testkit::SecureBroker`): a user of their own, the topics
//! a platform team would create for them, exactly the ACL rows of `docs/permissions.md`, and
//! the binary run as that user with its password from a file (`KAFKA_SASL_PASSWORD_FILE`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use testkit::{Acl, AclOperation, AclResource, Isolation, SecureBroker};

use super::binary;

/// What a deployment runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `run --once`, exactly-once, `[inventory] enabled`, JSON.
    ExactlyOnce,
    /// [`Kind::ExactlyOnce`] with Avro through the TLS registry (basic auth).
    ExactlyOnceAvro,
    /// `run --once`, at-least-once (cursors in the state topic), JSON.
    AtLeastOnce,
    /// `backfill --from --to`, exactly-once, JSON.
    Backfill,
    /// `run` with `[cluster]` (2 shards), exactly-once, JSON.
    Cluster,
}

/// One row of the ACL table in `docs/permissions.md`, for the deployment's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Row {
    /// Write on the record topics (prefixed `<prefix>.`; `ocsf.` in the docs).
    RecordsWrite,
    /// Write on the state topic.
    StateWrite,
    /// Read on the state topic.
    StateRead,
    /// Describe on the group the state topics are read with (`<deployment_id>-state-reader`).
    StateReaderGroupDescribe,
    /// Write on the transactional ids (prefixed `<deployment_id>`).
    TransactionalIdWrite,
    /// Write on the inventory state topic.
    InventoryStateWrite,
    /// Read on the inventory state topic.
    InventoryStateRead,
    /// Read on the `[cluster]` group.
    ClusterGroupRead,
    /// Describe on the coordination topic.
    CoordinationTopicDescribe,
}

/// One deployment: its own user, names and configuration.
pub struct Deployment {
    pub kind: Kind,
    pub prefix: String,
    pub user: String,
    pub password_file: PathBuf,
    pub config: PathBuf,
    pub org: String,
}

pub const API_KEY: &str = "secured-test-key";

impl Kind {
    fn exactly_once_run(self) -> bool {
        matches!(self, Self::ExactlyOnce | Self::ExactlyOnceAvro)
    }
}

impl Deployment {
    /// A deployment named `<unique>-<case>` whose configuration (the common one of
    /// [`super::write_config`], secured) and password file are written in a folder of `dir`.
    pub fn new(
        kind: Kind,
        case: &str,
        dir: &Path,
        broker: &SecureBroker,
        sim_url: &str,
        org: &str,
    ) -> Self {
        let prefix = super::unique_prefix(case);
        let dir = dir.join(&prefix);
        std::fs::create_dir_all(&dir).unwrap();
        let password_file = dir.join("kafka.password");
        let password = uuid::Uuid::new_v4().simple().to_string();
        std::fs::write(&password_file, format!("{password}\n")).unwrap();
        let mut deployment = Self {
            kind,
            user: format!("{prefix}-user"),
            prefix,
            password_file,
            config: PathBuf::new(),
            org: org.to_owned(),
        };
        deployment.config = deployment.write_config(broker, sim_url, &dir);
        deployment
    }

    pub fn password(&self) -> String {
        std::fs::read_to_string(&self.password_file)
            .unwrap()
            .trim_end()
            .to_owned()
    }

    pub fn principal(&self) -> String {
        format!("User:{}", self.user)
    }

    /// The record topics are `<prefix>.<class>` and `<prefix>.dead_letter`.
    pub fn records_prefix(&self) -> String {
        format!("{}.", self.prefix)
    }

    pub fn state_topic(&self) -> String {
        format!("{}-state", self.prefix)
    }

    pub fn inventory_state_topic(&self) -> String {
        format!("{}-inventory-state", self.prefix)
    }

    pub fn coordination_topic(&self) -> String {
        format!("{}-shards", self.prefix)
    }

    /// The record topics: one per class and the dead-letter topic.
    pub fn record_topics(&self) -> Vec<String> {
        let mut topics: Vec<String> = super::CLASS_NAMES
            .iter()
            .map(|class| format!("{}{class}", self.records_prefix()))
            .collect();
        topics.push(format!("{}dead_letter", self.records_prefix()));
        topics
    }

    /// Every topic the deployment uses, as the platform team creates them: (name, partitions,
    /// compacted).
    pub fn topics(&self) -> Vec<(String, i32, bool)> {
        let mut topics: Vec<(String, i32, bool)> = self
            .record_topics()
            .into_iter()
            .map(|topic| (topic, 1, false))
            .collect();
        topics.push((self.state_topic(), 1, true));
        if self.kind.exactly_once_run() {
            topics.push((self.inventory_state_topic(), 1, true));
        }
        if self.kind == Kind::Cluster {
            topics.push((self.coordination_topic(), 2, false));
        }
        topics
    }

    /// The rows of `docs/permissions.md` this deployment needs.
    pub fn rows(&self) -> Vec<Row> {
        let mut rows = vec![
            Row::RecordsWrite,
            Row::StateWrite,
            Row::StateRead,
            Row::StateReaderGroupDescribe,
        ];
        if self.kind != Kind::AtLeastOnce {
            rows.push(Row::TransactionalIdWrite);
        }
        if self.kind.exactly_once_run() {
            rows.extend([Row::InventoryStateWrite, Row::InventoryStateRead]);
        }
        if self.kind == Kind::Cluster {
            rows.extend([Row::ClusterGroupRead, Row::CoordinationTopicDescribe]);
        }
        rows
    }

    /// The ACL binding of one row for this deployment.
    pub fn acl(&self, row: Row) -> Acl {
        let topic = |name: String| AclResource::Topic {
            name,
            prefixed: false,
        };
        let (resource, operation) = match row {
            Row::RecordsWrite => (
                AclResource::Topic {
                    name: self.records_prefix(),
                    prefixed: true,
                },
                AclOperation::Write,
            ),
            Row::StateWrite => (topic(self.state_topic()), AclOperation::Write),
            Row::StateRead => (topic(self.state_topic()), AclOperation::Read),
            Row::StateReaderGroupDescribe => (
                AclResource::Group {
                    name: format!("{}-state-reader", self.prefix),
                    prefixed: false,
                },
                AclOperation::Describe,
            ),
            Row::TransactionalIdWrite => (
                AclResource::TransactionalId {
                    name: self.prefix.clone(),
                    prefixed: true,
                },
                AclOperation::Write,
            ),
            Row::InventoryStateWrite => (topic(self.inventory_state_topic()), AclOperation::Write),
            Row::InventoryStateRead => (topic(self.inventory_state_topic()), AclOperation::Read),
            Row::ClusterGroupRead => (
                AclResource::Group {
                    name: self.prefix.clone(),
                    prefixed: false,
                },
                AclOperation::Read,
            ),
            Row::CoordinationTopicDescribe => {
                (topic(self.coordination_topic()), AclOperation::Describe)
            }
        };
        Acl {
            principal: self.principal(),
            resource,
            operation,
        }
    }

    /// The ACLs of every row but `without`.
    pub fn acls(&self, without: Option<Row>) -> Vec<Acl> {
        self.rows()
            .into_iter()
            .filter(|row| Some(*row) != without)
            .map(|row| self.acl(row))
            .collect()
    }

    /// The common test configuration, for the secured broker as this deployment's user.
    fn write_config(&self, broker: &SecureBroker, sim_url: &str, dir: &Path) -> PathBuf {
        let prefix = &self.prefix;
        let mut extra = String::new();
        if self.kind == Kind::ExactlyOnceAvro {
            let registry = broker
                .registry
                .as_ref()
                .expect("the TLS registry (SCHEMA_REGISTRY_TLS_URL)");
            extra.push_str(&format!(
                "\n[kafka.schema_registry]\nurl = \"{}\"\nusername = \"{}\"\nca_location = \"{}\"\n",
                registry.url, registry.user, broker.ca_location
            ));
        }
        if self.kind.exactly_once_run() {
            extra.push_str(&format!(
                "\n[inventory]\nenabled = true\nstate_topic = \"{}\"\nmax_requests_per_sec = 150\nconcurrency = 4\n",
                self.inventory_state_topic()
            ));
        }
        if self.kind == Kind::Cluster {
            extra.push_str(&format!(
                "\n[cluster]\ngroup_id = \"{prefix}\"\ntopic = \"{}\"\nshards = 2\nsession_timeout = \"6s\"\n",
                self.coordination_topic()
            ));
        }
        let path = super::write_config(
            dir,
            sim_url,
            API_KEY,
            std::slice::from_ref(&self.org),
            prefix,
            &extra,
        );
        // The state topic out of the record topics' prefix (whose ACL is a prefixed one), the
        // secured broker instead of the shared one.
        let text = std::fs::read_to_string(&path)
            .unwrap()
            .replacen(
                &format!("brokers = \"{}\"", super::brokers()),
                &format!("brokers = \"{}\"", broker.bootstrap),
                1,
            )
            .replacen(
                &format!("state_topic = \"{prefix}.state\""),
                &format!("state_topic = \"{}\"", self.state_topic()),
                1,
            );
        std::fs::write(&path, text).unwrap();
        let delivery = match self.kind {
            Kind::AtLeastOnce => "at-least-once",
            _ => "exactly-once",
        };
        super::set_in_config(&path, "pipeline", &format!("delivery = \"{delivery}\""));
        for line in [
            "security_protocol = \"sasl_ssl\"".to_owned(),
            "sasl_mechanism = \"SCRAM-SHA-512\"".to_owned(),
            format!("sasl_username = \"{}\"", self.user),
            format!("ssl_ca_location = \"{}\"", broker.ca_location),
        ] {
            super::set_in_config(&path, "kafka", &line);
        }
        if self.kind == Kind::ExactlyOnceAvro {
            super::set_in_config(&path, "kafka", "format = \"avro\"");
        }
        super::set_in_config(&path, "kafka.topic", "partitions = 1");
        path
    }

    /// The command of this deployment, as its user (password from its file), the registry's
    /// password from the registry's file; nothing of the shared plaintext set-up inherited.
    pub fn command(&self, broker: &SecureBroker) -> Command {
        let mut command = self.bare_command(broker);
        match self.kind {
            Kind::ExactlyOnce | Kind::ExactlyOnceAvro | Kind::AtLeastOnce => {
                command
                    .args(["run", "--once", "--config"])
                    .arg(&self.config);
            }
            Kind::Backfill => {
                let fmt = |t: chrono::DateTime<chrono::Utc>| {
                    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                };
                let (from, to) = backfill_range();
                command
                    .args(["backfill", "--config"])
                    .arg(&self.config)
                    .args(["--from", &fmt(from), "--to", &fmt(to)]);
            }
            Kind::Cluster => {
                command.args(["run", "--config"]).arg(&self.config);
            }
        }
        command
    }

    /// The binary as this deployment's user, without arguments.
    pub fn bare_command(&self, broker: &SecureBroker) -> Command {
        let mut command = Command::new(binary());
        command
            .env_remove("KAFKA_BROKERS")
            .env_remove("SCHEMA_REGISTRY_URL")
            .env("KAFKA_SASL_PASSWORD_FILE", &self.password_file)
            .env("JUMPCLOUD_OCSF_LOG", "info");
        if let Some(registry) = &broker.registry {
            command.env("SCHEMA_REGISTRY_PASSWORD_FILE", &registry.password_file);
        }
        command
    }

    /// What a `read_committed` (or `read_uncommitted`) consumer finds in the record topics:
    /// how often each (organisation, event id) arrived, inventory records left out.
    pub fn delivered(&self, broker: &SecureBroker, isolation: Isolation) -> Delivered {
        let group = format!("reader-{}", uuid::Uuid::new_v4().simple());
        let records = testkit::consume_with_config(
            &broker.admin_config(),
            &group,
            isolation,
            &self.record_topics(),
            usize::MAX,
            Duration::from_secs(30),
        );
        let mut delivered = Delivered::default();
        for record in records {
            let header = |name: &str| record.headers.get(name).cloned().unwrap_or_default();
            if record.topic.ends_with("dead_letter") {
                delivered.dead_letters += 1;
            } else if header("event_code").starts_with("inventory_")
                // The console API's inventory records carry no event id (a Directory Insights
                // event may be User Inventory Info too: a SaaS account discovered).
                || (matches!(header("ocsf_class_uid").as_str(), "5001" | "5003")
                    && !record.headers.contains_key("original_event_uid"))
            {
                delivered.inventory += 1;
            } else {
                *delivered
                    .events
                    .entry((header("tenant_uid"), header("original_event_uid")))
                    .or_default() += 1;
                delivered.payloads.push(record.payload);
            }
        }
        delivered
    }
}

/// The backfill's range: the simulator's whole history (1 day) and a little before.
pub fn backfill_range() -> (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>) {
    let now = chrono::Utc::now();
    (
        now - chrono::Duration::days(3),
        now - chrono::Duration::seconds(5),
    )
}

/// What the record topics hold.
#[derive(Debug, Default)]
pub struct Delivered {
    /// (organisation, Directory Insights id) -> records.
    pub events: BTreeMap<(String, String), usize>,
    pub payloads: Vec<Vec<u8>>,
    pub inventory: usize,
    pub dead_letters: usize,
}

impl Delivered {
    /// Asserts that every event of `truth` arrived exactly once and nothing else did.
    #[track_caller]
    pub fn assert_each_once(&self, truth: &BTreeSet<(String, String)>, what: &str) {
        let missing = truth
            .iter()
            .filter(|k| !self.events.contains_key(*k))
            .count();
        let duplicated: usize = self.events.values().map(|n| n - 1).sum();
        let foreign = self.events.keys().filter(|k| !truth.contains(*k)).count();
        assert!(
            missing == 0 && duplicated == 0 && foreign == 0 && self.dead_letters == 0,
            "{what}: {} expected, {missing} missing, {duplicated} duplicated, {foreign} unexpected, {} dead letters",
            truth.len(),
            self.dead_letters
        );
    }

    pub fn records(&self) -> usize {
        self.events.values().sum::<usize>() + self.inventory + self.dead_letters
    }
}

/// `work` on every item, `at_once` items side by side (threads), wave after wave, from inside
/// a multi-threaded tokio test: what bounds a test's "fails within N s" to one process's
/// start-up rather than to how many start at once on 2 shared cores.
pub fn in_waves<'a, T: Sync, R: Send>(
    items: &'a [T],
    at_once: usize,
    work: impl Fn(&'a T) -> R + Sync,
) -> Vec<R> {
    tokio::task::block_in_place(|| {
        items
            .chunks(at_once)
            .flat_map(|wave| {
                std::thread::scope(|scope| {
                    let handles: Vec<_> =
                        wave.iter().map(|item| scope.spawn(|| work(item))).collect();
                    handles
                        .into_iter()
                        .map(|handle| handle.join().expect("a side-by-side case panicked"))
                        .collect::<Vec<_>>()
                })
            })
            .collect()
    })
}

/// Runs `command` until it exits, at most `limit`; returns its output and how long it took.
pub fn run_within(mut command: Command, limit: Duration) -> (Output, Duration) {
    let started = Instant::now();
    let mut child = command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start the binary");
    loop {
        if child.try_wait().expect("wait for the binary").is_some() {
            break;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let output = child.wait_with_output().expect("output");
            panic!(
                "still running after {limit:?} (a hang or a retry loop): {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().expect("output");
    (output, started.elapsed())
}

/// The simulator's events as (organisation, id), those of the backfill range when `backfill`.
pub async fn truth_ids(base_url: &str, backfill: bool) -> BTreeSet<(String, String)> {
    let (from, to) = backfill_range();
    super::ground_truth(base_url, API_KEY)
        .await
        .into_iter()
        .filter(|(_, _, timestamp)| {
            !backfill || {
                let t = chrono::DateTime::parse_from_rfc3339(timestamp)
                    .unwrap()
                    .with_timezone(&chrono::Utc);
                t >= from && t < to
            }
        })
        .map(|(org, id, _)| (org, id))
        .collect()
}

/// Creates the deployments' users, topics and ACLs (every row but `without` of each), as the
/// super user.
pub async fn provision(broker: &SecureBroker, deployments: &[(&Deployment, Option<Row>)]) {
    let admin = broker.admin();
    let passwords: Vec<(String, String)> = deployments
        .iter()
        .map(|(d, _)| (d.user.clone(), d.password()))
        .collect();
    let users: Vec<(&str, &str)> = passwords
        .iter()
        .map(|(u, p)| (u.as_str(), p.as_str()))
        .collect();
    admin.create_users(&users);
    let topics: Vec<(String, i32, bool)> =
        deployments.iter().flat_map(|(d, _)| d.topics()).collect();
    let topic_refs: Vec<(&str, i32, bool)> = topics
        .iter()
        .map(|(name, partitions, compacted)| (name.as_str(), *partitions, *compacted))
        .collect();
    admin.create_topics(&topic_refs).await;
    if let Some((topic, _, _)) = topic_refs.first() {
        tokio::task::block_in_place(|| admin.warm_up(broker, topic));
    }
    let acls: Vec<Acl> = deployments
        .iter()
        .flat_map(|(d, without)| d.acls(*without))
        .collect();
    admin.create_acls(&acls);
}

/// Deletes the deployments' topics (best effort, at the end of a test).
pub async fn clean_up(broker: &SecureBroker, deployments: &[&Deployment]) {
    let topics: Vec<String> = deployments
        .iter()
        .flat_map(|d| d.topics())
        .map(|(name, _, _)| name)
        .collect();
    let names: Vec<&str> = topics.iter().map(String::as_str).collect();
    broker.admin().delete_topics(&names).await;
}
