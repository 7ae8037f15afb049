//! What the configured principal may do, asked of the broker before anything is written.
//!
//! Kafka tells a client which operations it may perform on a topic or group it may describe
//! (KIP-430, "authorized operations"), so start-up fails with one line naming the missing ACL
//! and the `kafka-acls` command that grants it, instead of failing on the first write and
//! rewinding forever. These describe calls are also a process's first contact with the broker:
//! an authentication or TLS failure (which librdkafka reports as an error event while it keeps
//! reconnecting) ends them at once, with librdkafka's own words and the remedy.
//!
//! The rdkafka crate does not wrap `DescribeTopics` and `DescribeConsumerGroups`: [`ffi`] calls
//! librdkafka's C API (`rdkafka::bindings`), nothing else in the crate does.

use std::fmt;
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::error::RDKafkaErrorCode;

use crate::config::ProducerConfig;
use crate::error::ProducerError;

mod ffi;

/// An operation on a Kafka resource, as ACLs name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Operation {
    /// Produce to a topic; use a transactional id.
    Write,
    /// Consume a topic; join or commit in a group.
    Read,
    /// Create a topic.
    Create,
    /// See a topic's or group's metadata (implied by Read and Write).
    Describe,
}

impl Operation {
    /// The name `kafka-acls --operation` takes.
    pub fn acl_name(self) -> &'static str {
        match self {
            Self::Write => "Write",
            Self::Read => "Read",
            Self::Create => "Create",
            Self::Describe => "Describe",
        }
    }
}

/// What a topic looks like to the configured principal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TopicState {
    /// The topic exists. `operations`: what the principal may do on it (`None` when the broker
    /// does not say, before Kafka 2.3).
    Exists {
        /// Its partitions.
        partitions: usize,
        /// The authorized operations (implied ones included: Write brings Describe).
        operations: Option<Vec<Operation>>,
    },
    /// The topic does not exist (the principal may describe it).
    Missing,
    /// The broker does not describe it to this principal: no ACL grants anything on it (Kafka
    /// then does not say whether it exists).
    NotAuthorized,
}

/// One topic as the broker describes it to the configured principal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicAccess {
    /// The topic.
    pub name: String,
    /// Whether it exists and what the principal may do on it.
    pub state: TopicState,
}

impl TopicAccess {
    /// Which of `needs` the principal may not do on this topic (nothing when the broker does
    /// not report operations, or the topic is missing).
    pub fn lacks(&self, needs: &[Operation]) -> Vec<Operation> {
        match &self.state {
            TopicState::Exists {
                operations: Some(granted),
                ..
            } => needs
                .iter()
                .copied()
                .filter(|op| !granted.contains(op))
                .collect(),
            TopicState::NotAuthorized => needs.to_vec(),
            _ => Vec::new(),
        }
    }
}

/// What the configured principal may do in a consumer group: `None` when the broker does not
/// describe the group to it (no ACL on it) or does not report operations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupAccess {
    /// The group.
    pub name: String,
    /// Whether the broker describes the group to the principal at all.
    pub authorized: bool,
    /// The authorized operations, when reported.
    pub operations: Option<Vec<Operation>>,
    /// Its members now.
    pub members: usize,
    /// Its state as the broker names it (`Stable`, `Empty`, `Dead`, ...).
    pub state: String,
}

impl GroupAccess {
    /// Which of `needs` the principal may not do in this group.
    pub fn lacks(&self, needs: &[Operation]) -> Vec<Operation> {
        match (&self.operations, self.authorized) {
            (_, false) => needs.to_vec(),
            (Some(granted), true) => needs
                .iter()
                .copied()
                .filter(|op| !granted.contains(op))
                .collect(),
            (None, true) => Vec::new(),
        }
    }
}

/// The kind of resource an ACL is bound to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceKind {
    /// A topic.
    Topic,
    /// A consumer group.
    Group,
    /// A transactional id.
    TransactionalId,
}

impl ResourceKind {
    fn noun(self) -> &'static str {
        match self {
            Self::Topic => "topic",
            Self::Group => "group",
            Self::TransactionalId => "transactional id",
        }
    }

    fn flag(self) -> &'static str {
        match self {
            Self::Topic => "--topic",
            Self::Group => "--group",
            Self::TransactionalId => "--transactional-id",
        }
    }
}

/// A permission the configured principal lacks, said in one line with the `kafka-acls` command
/// that grants it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct MissingAcl {
    /// `User:<sasl_username>`, or a placeholder when the principal is not a SASL user.
    pub principal: String,
    /// The operations it lacks.
    pub operations: Vec<Operation>,
    /// What they are on.
    pub kind: ResourceKind,
    /// The resources.
    pub names: Vec<String>,
    /// The first bootstrap server (for the command).
    pub bootstrap: String,
    /// What needs it, e.g. "the records" (said before the command).
    pub purpose: String,
}

impl MissingAcl {
    /// The ACL `operations` on `names` for the principal of `config`.
    pub fn new(
        config: &ProducerConfig,
        operations: Vec<Operation>,
        kind: ResourceKind,
        names: Vec<String>,
        purpose: impl Into<String>,
    ) -> Self {
        Self {
            principal: principal(config),
            operations,
            kind,
            names,
            bootstrap: config
                .brokers
                .split(',')
                .next()
                .unwrap_or_default()
                .trim()
                .to_owned(),
            purpose: purpose.into(),
        }
    }
}

/// How every [`MissingAcl`] message starts.
pub const MISSING_ACL: &str = "Kafka ACL missing:";

impl fmt::Display for MissingAcl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let operations: Vec<&str> = self.operations.iter().map(|op| op.acl_name()).collect();
        write!(
            f,
            "{MISSING_ACL} {} may not {} {} {} ({}); grant it: kafka-acls.sh --bootstrap-server {} --command-config admin.properties --add --allow-principal {}",
            self.principal,
            operations.join(" and "),
            self.kind.noun(),
            self.names.join(", "),
            self.purpose,
            self.bootstrap,
            self.principal,
        )?;
        for operation in &self.operations {
            write!(f, " --operation {}", operation.acl_name())?;
        }
        for name in &self.names {
            write!(f, " {} {name}", self.kind.flag())?;
        }
        Ok(())
    }
}

/// What the record topics (each class's and the dead-letter topic) need, and why.
pub const RECORD_TOPICS: (&[Operation], &str) =
    (&[Operation::Write], "the OCSF records and dead letters");
/// What a compacted state topic (cursors, inventory state) needs, and why.
pub const STATE_TOPIC: (&[Operation], &str) = (
    &[Operation::Write, Operation::Read],
    "written with each unit, read back at start-up",
);
/// What the coordination topic of `[cluster]` needs, and why.
pub const COORDINATION_TOPIC: (&[Operation], &str) = (
    &[Operation::Describe],
    "the coordination topic of [cluster]",
);
/// What the group the state topics are read with needs, and why: the reader assigns the
/// partitions itself and commits nothing, but librdkafka looks its group's coordinator up,
/// which needs Describe (without it: an error logged at every start).
pub const STATE_READER_GROUP: (&[Operation], &str) = (
    &[Operation::Describe],
    "the group the state topics are read back with at start-up (no offsets committed)",
);
/// What the group of `[cluster]` needs, and why.
pub const CLUSTER_GROUP: (&[Operation], &str) = (
    &[Operation::Read],
    "[cluster]: the instances share the shards through this group",
);

/// The group the state topics are read back with: `<deployment_id>-state-reader`.
pub fn state_reader_group(config: &ProducerConfig) -> String {
    format!("{}-state-reader", config.deployment_id)
}

/// Fails with one line unless the principal may do what `needs` says in `group`.
pub async fn require_group(
    config: &ProducerConfig,
    group: &str,
    (needs, purpose): (&[Operation], &str),
) -> Result<(), ProducerError> {
    let access = describe_group_async(config, group, GROUP_DESCRIBE_TIMEOUT).await?;
    let lacks = access.lacks(needs);
    if lacks.is_empty() {
        return Ok(());
    }
    Err(MissingAcl::new(
        config,
        lacks,
        ResourceKind::Group,
        vec![group.to_owned()],
        purpose,
    )
    .into())
}

/// The principal ACLs name for `config`: `User:<sasl_username>` for SASL PLAIN and SCRAM.
pub fn principal(config: &ProducerConfig) -> String {
    match &config.sasl_username {
        Some(user) => format!("User:{user}"),
        None => "User:<this client's principal>".to_owned(),
    }
}

/// How long a describe call waits for the broker when no failure is reported sooner.
pub const DESCRIBE_TIMEOUT: Duration = Duration::from_secs(30);

/// How long start-up waits for a group's description before going on without it.
pub const GROUP_DESCRIBE_TIMEOUT: Duration = Duration::from_secs(10);

/// Describes `names` to the configured principal: existence, partitions and authorized
/// operations. Blocks (call it off the async workers). An authentication or TLS failure ends
/// it at once.
pub fn describe_topics(
    config: &ProducerConfig,
    names: &[String],
    timeout: Duration,
) -> Result<Vec<TopicAccess>, ProducerError> {
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let client = ffi::DescribeClient::new(&admin_config(config))?;
    let described = client.describe_topics(names, timeout);
    let described = described.map_err(|failure| failure.into_error(config))?;
    described
        .into_iter()
        .map(|(name, code, message, partitions, operations)| {
            let state = match code {
                RDKafkaErrorCode::NoError => TopicState::Exists {
                    partitions,
                    operations,
                },
                RDKafkaErrorCode::UnknownTopicOrPartition | RDKafkaErrorCode::UnknownTopic => {
                    TopicState::Missing
                }
                RDKafkaErrorCode::TopicAuthorizationFailed => TopicState::NotAuthorized,
                other => {
                    return Err(ProducerError::Kafka(format!(
                        "describing the topic {name}: {other} ({message})"
                    )));
                }
            };
            Ok(TopicAccess { name, state })
        })
        .collect()
}

/// Describes the consumer group `group` to the configured principal. Blocks.
pub fn describe_group(
    config: &ProducerConfig,
    group: &str,
    timeout: Duration,
) -> Result<GroupAccess, ProducerError> {
    let client = ffi::DescribeClient::new(&admin_config(config))?;
    let (code, message, operations, members, state) = client
        .describe_group(group, timeout)
        .map_err(|failure| failure.into_error(config))?;
    match code {
        RDKafkaErrorCode::GroupAuthorizationFailed => Ok(GroupAccess {
            name: group.to_owned(),
            authorized: false,
            operations: None,
            members: 0,
            state,
        }),
        // A group nobody joined yet: described (the principal may), no operations reported.
        RDKafkaErrorCode::NoError | RDKafkaErrorCode::GroupIdNotFound => Ok(GroupAccess {
            name: group.to_owned(),
            authorized: true,
            operations,
            members,
            state,
        }),
        // The group coordinator is not there yet (a new cluster creating its offsets topic, a
        // broker moving): nothing is known; the group's own calls will tell.
        RDKafkaErrorCode::CoordinatorNotAvailable
        | RDKafkaErrorCode::CoordinatorLoadInProgress
        | RDKafkaErrorCode::NotCoordinator
        | RDKafkaErrorCode::OperationTimedOut
        | RDKafkaErrorCode::RequestTimedOut => {
            tracing::warn!(group, error = %format!("{other} ({message})", other = code), "cannot describe the group now; its ACLs are not checked ahead");
            Ok(GroupAccess {
                name: group.to_owned(),
                authorized: true,
                operations: None,
                members: 0,
                state,
            })
        }
        other => Err(ProducerError::Kafka(format!(
            "describing the group {group}: {other} ({message})"
        ))),
    }
}

/// [`describe_topics`] off the async workers; a TLS failure gets its cause (see
/// [`tls_diagnosis`]).
pub async fn describe_topics_async(
    config: &ProducerConfig,
    names: &[String],
    timeout: Duration,
) -> Result<Vec<TopicAccess>, ProducerError> {
    let (owned, names) = (config.clone(), names.to_vec());
    let described = tokio::task::spawn_blocking(move || describe_topics(&owned, &names, timeout))
        .await
        .map_err(|e| ProducerError::Kafka(format!("describing the topics: {e}")))?;
    diagnosed(config, described).await
}

/// [`describe_group`] off the async workers; a TLS failure gets its cause.
pub async fn describe_group_async(
    config: &ProducerConfig,
    group: &str,
    timeout: Duration,
) -> Result<GroupAccess, ProducerError> {
    let (owned, name) = (config.clone(), group.to_owned());
    let described = tokio::task::spawn_blocking(move || describe_group(&owned, &name, timeout))
        .await
        .map_err(|e| ProducerError::Kafka(format!("describing the group {group}: {e}")))?;
    diagnosed(config, described).await
}

async fn diagnosed<T>(
    config: &ProducerConfig,
    result: Result<T, ProducerError>,
) -> Result<T, ProducerError> {
    match result {
        Err(ProducerError::Tls(message)) => {
            Err(ProducerError::Tls(match tls_diagnosis(config).await {
                Some(cause) => format!("{message} (the cause: {cause})"),
                None => message,
            }))
        }
        other => other,
    }
}

/// Why the first broker's certificate is refused, as rustls says it: librdkafka only passes on
/// OpenSSL's "certificate verify failed", the same words for an unknown CA and for a
/// certificate of another host. One TLS handshake with the configured CA (or the built-in
/// roots), nothing sent after it.
pub async fn tls_diagnosis(config: &ProducerConfig) -> Option<String> {
    let first = config.brokers.split(',').next()?.trim();
    let mut builder = reqwest::Client::builder().timeout(Duration::from_secs(3));
    if let Some(path) = &config.ssl_ca_location {
        let pem = std::fs::read(path).ok()?;
        for certificate in reqwest::Certificate::from_pem_bundle(&pem).ok()? {
            builder = builder.add_root_certificate(certificate);
        }
    }
    let error = builder
        .build()
        .ok()?
        .head(format!("https://{first}/"))
        .send()
        .await
        .err()?;
    let message = match crate::registry::transport(error) {
        crate::registry::RegistryError::Tls(message) => message,
        _ => return None,
    };
    let start = message.find("invalid peer certificate")?;
    Some(message[start..].to_owned())
}

/// Fails with one line when the principal lacks one of `needs` on one of `topics` (the topics
/// lacking the same operations named together).
pub fn require_topic_access(
    config: &ProducerConfig,
    topics: &[TopicAccess],
    needs: &[Operation],
    purpose: &str,
) -> Result<(), Box<MissingAcl>> {
    let mut lacking = topics
        .iter()
        .map(|topic| (topic, topic.lacks(needs)))
        .filter(|(_, lacks)| !lacks.is_empty());
    let Some((_, first)) = lacking.next() else {
        return Ok(());
    };
    let names: Vec<String> = topics
        .iter()
        .filter(|topic| topic.lacks(needs) == first)
        .map(|topic| topic.name.clone())
        .collect();
    Err(Box::new(MissingAcl::new(
        config,
        first,
        ResourceKind::Topic,
        names,
        purpose,
    )))
}

/// The client settings of the describe calls: the connection and security settings, and no
/// topic auto-creation by a metadata request.
fn admin_config(config: &ProducerConfig) -> ClientConfig {
    let mut client = super::consumer_config(config);
    client.set("allow.auto.create.topics", "false");
    client
}

/// Why a describe call did not answer.
enum Failure {
    /// librdkafka could not authenticate (SASL) or set up TLS: waiting does not help.
    Security {
        code: RDKafkaErrorCode,
        reason: String,
    },
    /// No answer within the timeout; the last transport error librdkafka reported, if any.
    Timeout {
        after: Duration,
        last_error: Option<String>,
    },
    /// The call itself failed.
    Call(String),
}

impl Failure {
    fn into_error(self, config: &ProducerConfig) -> ProducerError {
        ProducerError::Kafka(match self {
            Self::Security { code, reason } if is_tls(code, &reason) => {
                return ProducerError::Tls(security_remedy(config, code, &reason));
            }
            Self::Security { code, reason } => security_remedy(config, code, &reason),
            Self::Timeout { after, last_error } => format!(
                "broker unreachable: no answer from {} within {after:?}{}: check kafka.brokers / KAFKA_BROKERS, the network path and kafka.security_protocol",
                config.brokers,
                last_error
                    .map(|e| format!(" (last error: {e})"))
                    .unwrap_or_default()
            ),
            Self::Call(message) => message,
        })
    }
}

fn is_tls(code: RDKafkaErrorCode, reason: &str) -> bool {
    code == RDKafkaErrorCode::SSL || reason.contains("SSL handshake")
}

/// librdkafka's words for an authentication or TLS failure, and what to check.
pub fn security_remedy(config: &ProducerConfig, code: RDKafkaErrorCode, reason: &str) -> String {
    if is_tls(code, reason) {
        format!(
            "TLS with the Kafka brokers {} failed: {reason}; check kafka.ssl_ca_location (the CA that signed the broker's certificate) and that kafka.brokers names a host the certificate is for",
            config.brokers
        )
    } else {
        format!(
            "Kafka authentication of {} failed: {reason}; check kafka.sasl_mechanism, kafka.sasl_username and the password (kafka.sasl_password, KAFKA_SASL_PASSWORD or KAFKA_SASL_PASSWORD_FILE)",
            principal(config)
        )
    }
}

#[cfg(test)]
mod tests;
