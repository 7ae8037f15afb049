//! `jumpcloud-ocsf check`: tests each connection the configuration names and prints pass/fail
//! per item, with the remedy for each failure. Exit 0 only when every check passed. Read-only:
//! it creates no topic and registers no schema.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use fetcher::EventQuery;
use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use secrecy::ExposeSecret;

use crate::commands::run::block_on;
use crate::config::AppConfig;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Configuration file (TOML); environment variables override it.
    #[arg(long, short, env = "JUMPCLOUD_OCSF_CONFIG")]
    pub config: Option<PathBuf>,
    /// Seconds to wait for each network answer.
    #[arg(long, default_value_t = 10)]
    pub timeout_secs: u64,
}

/// The result of one check.
struct Check {
    item: String,
    result: std::result::Result<String, String>,
}

pub fn run(args: Args) -> ExitCode {
    block_on(async {
        let checks = match check(args).await {
            Ok(checks) => checks,
            Err(err) => {
                println!("FAIL  configuration: {err:#}");
                return Ok(false);
            }
        };
        let failed = checks.iter().filter(|c| c.result.is_err()).count();
        for check in &checks {
            match &check.result {
                Ok(detail) => println!("PASS  {}: {detail}", check.item),
                Err(remedy) => println!("FAIL  {}: {remedy}", check.item),
            }
        }
        println!("checks: {} passed, {failed} failed", checks.len() - failed);
        Ok(failed == 0)
    })
}

async fn check(args: Args) -> Result<Vec<Check>> {
    let mut config = AppConfig::load(args.config.as_deref())?;
    let timeout = Duration::from_secs(args.timeout_secs.max(1));
    // A check should answer quickly: one retry, short timeouts.
    config.jumpcloud.retry.max_retries = 1;
    config.jumpcloud.request_timeout = timeout;
    config.jumpcloud.connect_timeout = timeout;
    let mut checks = Vec::new();
    checks.extend(check_jumpcloud(&config).await);
    checks.extend(check_kafka(&config, timeout));
    if let Some(registry) = &config.kafka.schema_registry {
        checks.push(check_registry(registry, timeout).await);
    } else if config.kafka.format == producer::Format::Avro {
        checks.push(Check {
            item: "schema registry".into(),
            result: Err("kafka.format = \"avro\" needs [kafka.schema_registry] url (or SCHEMA_REGISTRY_URL)".into()),
        });
    }
    Ok(checks)
}

async fn check_jumpcloud(config: &AppConfig) -> Vec<Check> {
    let client = match config.jumpcloud_client() {
        Ok(client) => client,
        Err(err) => {
            return vec![Check {
                item: "JumpCloud credentials".into(),
                result: Err(err.to_string()),
            }];
        }
    };
    let org_ids = match super::orgs::resolve_org_ids(config, &client).await {
        Ok(ids) => ids,
        Err(err) => {
            return vec![Check {
                item: "the provider's organisations".into(),
                result: Err(format!("{err:#}")),
            }];
        }
    };
    let now = chrono::Utc::now();
    let query = EventQuery {
        service: config.events.services.clone(),
        start_time: fetcher::timestamp::format_timestamp(now - chrono::Duration::hours(1)),
        end_time: fetcher::timestamp::format_timestamp(now),
        limit: None,
        sort: None,
        search_after: None,
    };
    let mut checks = Vec::new();
    for org_id in &org_ids {
        let label = if org_id.is_empty() {
            "the credential's organisation".to_string()
        } else {
            format!("organisation {org_id}")
        };
        let events = client.events_count(org_id, &query).await;
        checks.push(Check {
            item: format!("JumpCloud Directory Insights API, {label}"),
            result: events
                .map(|n| format!("{n} events in the last hour"))
                .map_err(|e| e.to_string()),
        });
        let org = (!org_id.is_empty()).then_some(org_id.as_str());
        let users = client
            .get_json(org, "/api/systemusers", &[("limit", "1".to_string())])
            .await;
        checks.push(Check {
            item: format!("JumpCloud console API (inventory), {label}"),
            result: users
                .map(
                    |r| match r.body.get("totalCount").and_then(|t| t.as_u64()) {
                        Some(total) => format!("{total} users"),
                        None => "reachable".to_string(),
                    },
                )
                .map_err(|e| e.to_string()),
        });
    }
    checks
}

fn check_kafka(config: &AppConfig, timeout: Duration) -> Vec<Check> {
    let mut client = ClientConfig::new();
    for (name, value) in config.kafka.librdkafka_properties() {
        // Producer-only properties are ignored by the consumer used for metadata.
        if !matches!(
            name.as_str(),
            "acks"
                | "enable.idempotence"
                | "compression.codec"
                | "compression.type"
                | "linger.ms"
                | "batch.num.messages"
                | "batch.size"
                | "queue.buffering.max.messages"
                | "queue.buffering.max.kbytes"
                | "delivery.timeout.ms"
                | "message.timeout.ms"
        ) {
            client.set(name, value);
        }
    }
    client.set("group.id", "jumpcloud-ocsf-check");
    let brokers = config.kafka.brokers.clone();
    let consumer: BaseConsumer = match client.create() {
        Ok(consumer) => consumer,
        Err(err) => {
            return vec![Check {
                item: format!("Kafka brokers {brokers}"),
                result: Err(format!("invalid Kafka settings: {err}")),
            }];
        }
    };
    let metadata = match consumer.fetch_metadata(None, timeout) {
        Ok(metadata) => metadata,
        Err(err) => {
            return vec![Check {
                item: format!("Kafka brokers {brokers}"),
                result: Err(format!(
                    "broker unreachable ({err}): check kafka.brokers / KAFKA_BROKERS, the network path, and the TLS/SASL settings"
                )),
            }];
        }
    };
    let mut checks = vec![Check {
        item: format!("Kafka brokers {brokers}"),
        result: Ok(format!(
            "{} broker(s), {} topic(s)",
            metadata.brokers().len(),
            metadata.topics().len()
        )),
    }];
    let existing: Vec<&str> = metadata.topics().iter().map(|t| t.name()).collect();
    // One topic per class the producer writes (its committed Avro class schemas).
    let mut topics: Vec<String> = producer::avro::CLASS_SCHEMA_FILES
        .iter()
        .map(|file| {
            config
                .kafka
                .topic
                .topic_for(file.class_uid, file.class_name)
        })
        .collect();
    topics.push(config.kafka.topic.dead_letter.clone());
    topics.sort();
    topics.dedup();
    for topic in topics {
        let result = if existing.contains(&topic.as_str()) {
            Ok("exists".to_string())
        } else {
            Err(format!(
                "missing: `run` creates it at start (kafka.topic.partitions/replication_factor); if the cluster forbids topic creation (auto-create off, no CreateTopics ACL), create {topic} first"
            ))
        };
        checks.push(Check {
            item: format!("Kafka topic {topic}"),
            result,
        });
    }
    if let Some(group) = &config.cluster.group_id {
        checks.extend(check_cluster(&consumer, &metadata, config, group, timeout));
    }
    checks
}

/// `[cluster]`: the coordination topic (its partitions are the shards) and the group's members.
fn check_cluster(
    consumer: &BaseConsumer,
    metadata: &rdkafka::metadata::Metadata,
    config: &AppConfig,
    group: &str,
    timeout: Duration,
) -> Vec<Check> {
    let topic = &config.cluster.topic;
    let partitions = metadata
        .topics()
        .iter()
        .find(|t| t.name() == topic)
        .map(|t| t.partitions().len());
    let topic_check = Check {
        item: format!("Kafka coordination topic {topic}"),
        result: match partitions {
            Some(n) if n == usize::try_from(config.cluster.shards).unwrap_or(0) => {
                Ok(format!("{n} shards"))
            }
            Some(n) => Ok(format!(
                "{n} shards (cluster.shards = {} is only read when the topic is created; {n} applies)",
                config.cluster.shards
            )),
            None => Err(format!(
                "missing: the first instance creates it with cluster.shards = {} partitions; if the cluster forbids topic creation, create {topic} with that many partitions first",
                config.cluster.shards
            )),
        },
    };
    let group_check = Check {
        item: format!("Kafka group {group}"),
        result: match consumer.fetch_group_list(Some(group), timeout) {
            Ok(list) => Ok(match list.groups().iter().find(|g| g.name() == group) {
                Some(found) if !found.members().is_empty() => format!(
                    "{} instance(s), state {}",
                    found.members().len(),
                    found.state()
                ),
                _ => "no instance running yet".to_string(),
            }),
            Err(err) => Err(format!(
                "cannot describe the group ({err}): the instances need Read and Describe on group {group} (docs/permissions.md)"
            )),
        },
    };
    vec![topic_check, group_check]
}

async fn check_registry(registry: &producer::RegistryConfig, timeout: Duration) -> Check {
    let url = &registry.url;
    let item = format!("schema registry {url}");
    let client = match reqwest::Client::builder().timeout(timeout).build() {
        Ok(client) => client,
        Err(err) => {
            return Check {
                item,
                result: Err(err.to_string()),
            };
        }
    };
    let mut request = client.get(format!("{}/subjects", url.trim_end_matches('/')));
    if let Some(username) = &registry.username {
        request = request.basic_auth(
            username,
            registry
                .password
                .as_ref()
                .map(|p| p.expose_secret().to_string()),
        );
    }
    let result = match request.send().await {
        Ok(response) if response.status().is_success() => {
            match response.json::<Vec<String>>().await {
                Ok(subjects) => Ok(format!("{} subject(s)", subjects.len())),
                Err(err) => Err(format!(
                    "not a Confluent-compatible registry (GET /subjects: {err})"
                )),
            }
        }
        Ok(response) if response.status().as_u16() == 401 || response.status().as_u16() == 403 => {
            Err(format!(
                "HTTP {}: check kafka.schema_registry username/password",
                response.status()
            ))
        }
        Ok(response) => Err(format!("HTTP {} from GET /subjects", response.status())),
        Err(err) => Err(format!(
            "registry unreachable ({err}): check kafka.schema_registry.url / SCHEMA_REGISTRY_URL"
        )),
    };
    Check { item, result }
}
