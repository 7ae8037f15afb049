//! `check`, the Kafka part: the brokers (reached, TLS and SASL accepted), every topic the
//! configuration uses (exists, and the principal may do what the pipeline does on it), and with
//! `[cluster]` the group. Read-only: the broker describes the topics and the group to the
//! configured principal (their authorized operations), nothing is created or written. The
//! transactional id's ACL cannot be checked without fencing a running pipeline: `run` checks it
//! at start-up.

use std::time::Duration;

use producer::ProducerError;
use producer::access::{self, Operation, ResourceKind, TopicAccess, TopicState};

use super::check::Check;
use crate::config::AppConfig;

/// One topic the configuration uses: its name, what the pipeline does on it, why, and what
/// `check` calls it.
struct UsedTopic {
    name: String,
    needs: &'static [Operation],
    purpose: &'static str,
    label: &'static str,
}

fn used_topics(config: &AppConfig) -> Vec<UsedTopic> {
    let (needs, purpose) = access::RECORD_TOPICS;
    let mut topics: Vec<UsedTopic> = producer::record_topics(&config.kafka)
        .into_iter()
        .map(|name| UsedTopic {
            name,
            needs,
            purpose,
            label: "topic",
        })
        .collect();
    let (needs, purpose) = access::STATE_TOPIC;
    if config.pipeline.state_store == pipeline::StateStore::Kafka {
        topics.push(UsedTopic {
            name: config.kafka.state_topic.clone(),
            needs,
            purpose,
            label: "state topic",
        });
    }
    if config.inventory.enabled {
        topics.push(UsedTopic {
            name: config.inventory.state_topic.clone(),
            needs,
            purpose,
            label: "inventory state topic",
        });
    }
    if config.cluster.group_id.is_some() {
        let (needs, purpose) = access::COORDINATION_TOPIC;
        topics.push(UsedTopic {
            name: config.cluster.topic.clone(),
            needs,
            purpose,
            label: "coordination topic",
        });
    }
    topics
}

/// The words of a producer error without its "Kafka client: " prefix.
fn words(error: ProducerError) -> String {
    match error {
        ProducerError::Kafka(message) | ProducerError::Tls(message) => message,
        other => other.to_string(),
    }
}

pub(super) async fn check_kafka(config: &AppConfig, timeout: Duration) -> Vec<Check> {
    let kafka = &config.kafka;
    let brokers = format!("Kafka brokers {}", kafka.brokers);
    let used = used_topics(config);
    let names: Vec<String> = used.iter().map(|t| t.name.clone()).collect();
    let described = match access::describe_topics_async(kafka, &names, timeout).await {
        Ok(described) => described,
        Err(error) => {
            return vec![Check {
                item: brokers,
                result: Err(words(error)),
            }];
        }
    };
    let mut checks = vec![Check {
        item: brokers,
        result: Ok(format!("reachable, as {}", access::principal(kafka))),
    }];
    for topic in &used {
        let Some(found) = described.iter().find(|d| d.name == topic.name) else {
            continue;
        };
        checks.push(Check {
            item: format!("Kafka {} {}", topic.label, topic.name),
            result: topic_result(config, topic, found),
        });
    }
    if let Some(group) = &config.cluster.group_id {
        checks.push(check_group(config, group, timeout).await);
    }
    checks
}

fn topic_result(
    config: &AppConfig,
    topic: &UsedTopic,
    found: &TopicAccess,
) -> Result<String, String> {
    let lacks = found.lacks(topic.needs);
    if !lacks.is_empty() {
        let missing = access::MissingAcl::new(
            &config.kafka,
            lacks,
            ResourceKind::Topic,
            vec![topic.name.clone()],
            topic.purpose,
        );
        return Err(missing.to_string());
    }
    let shards = usize::try_from(config.cluster.shards).unwrap_or(0);
    match (&found.state, topic.label) {
        (TopicState::Exists { partitions, .. }, "coordination topic") if *partitions == shards => {
            Ok(format!("{partitions} shards"))
        }
        (TopicState::Exists { partitions, .. }, "coordination topic") => Ok(format!(
            "{partitions} shards (cluster.shards = {} is only read when the topic is created; {partitions} applies)",
            config.cluster.shards
        )),
        (TopicState::Exists { .. }, _) => Ok("exists".into()),
        (_, "coordination topic") => Err(format!(
            "missing: the first instance creates it with cluster.shards = {} partitions (Create ACL); or create {} with that many partitions first",
            config.cluster.shards, topic.name
        )),
        _ if config.kafka.topic.create => Err(format!(
            "missing: `run` creates it at start (kafka.topic.partitions/replication_factor; needs Create on it); or create {} first",
            topic.name
        )),
        _ => Err(format!(
            "missing, and kafka.topic.create = false: create {} first",
            topic.name
        )),
    }
}

/// `[cluster]`: the principal may join the group; how many instances are in it.
async fn check_group(config: &AppConfig, group: &str, timeout: Duration) -> Check {
    let item = format!("Kafka group {group}");
    let described = match access::describe_group_async(&config.kafka, group, timeout).await {
        Ok(described) => described,
        Err(error) => {
            return Check {
                item,
                result: Err(words(error)),
            };
        }
    };
    let (needs, purpose) = access::CLUSTER_GROUP;
    let lacks = described.lacks(needs);
    let result = if !lacks.is_empty() {
        Err(access::MissingAcl::new(
            &config.kafka,
            lacks,
            ResourceKind::Group,
            vec![group.to_owned()],
            purpose,
        )
        .to_string())
    } else if described.members == 0 {
        Ok("no instance running yet".to_string())
    } else {
        Ok(format!(
            "{} instance(s), state {}",
            described.members, described.state
        ))
    };
    Check { item, result }
}
