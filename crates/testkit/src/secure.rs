//! The secured test broker and registry (`scripts/kafka-broker.sh start secure`): Kafka with a
//! SASL_SSL listener (SCRAM-SHA-512), ACLs enforced (nothing allowed without one), a super user;
//! Apicurio over HTTPS with basic authentication. Where they are, the CA and the users' password
//! files come from the variables the script prints (`scripts/test.sh` exports them).
//!
//! [`SecureBroker::admin`] makes what a platform team would: SCRAM users, topics and ACLs,
//! through Kafka's admin API (librdkafka's `AlterUserScramCredentials`, `CreateAcls` and
//! `DescribeAcls`, which the rdkafka crate does not wrap: see [`ffi`]).

use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;

mod ffi;

/// A resource an ACL is bound to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AclResource {
    /// A topic (`prefixed`: every topic whose name starts with it).
    Topic { name: String, prefixed: bool },
    /// A consumer group.
    Group { name: String, prefixed: bool },
    /// A transactional id.
    TransactionalId { name: String, prefixed: bool },
    /// The cluster.
    Cluster,
}

/// An operation an ACL allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AclOperation {
    Read,
    Write,
    Create,
    Describe,
    IdempotentWrite,
}

/// One ALLOW binding: `principal` may do `operation` on `resource`, from any host.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Acl {
    pub principal: String,
    pub resource: AclResource,
    pub operation: AclOperation,
}

/// The TLS registry with basic authentication.
#[derive(Debug, Clone)]
pub struct SecureRegistry {
    /// `https://127.0.0.1:PORT/apis/ccompat/v7`.
    pub url: String,
    /// The basic-auth user.
    pub user: String,
    /// The file holding its password.
    pub password_file: String,
}

/// The secured broker of `scripts/kafka-broker.sh start secure`.
#[derive(Debug, Clone)]
pub struct SecureBroker {
    /// `127.0.0.1:PORT` of its SASL_SSL listener.
    pub bootstrap: String,
    /// The PEM file of the CA that signed the broker's and the registry's certificates.
    pub ca_location: String,
    admin_user: String,
    admin_password: String,
    /// The TLS registry, when its variables are set.
    pub registry: Option<SecureRegistry>,
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: the secured-broker tests need `eval \"$(scripts/kafka-broker.sh start secure)\"` (scripts/test.sh does it)"
        )
    })
}

fn read_secret(path: &str) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
        .trim_end()
        .to_owned()
}

impl SecureBroker {
    /// The broker (and registry) named by the environment; panics with the command to run when
    /// the variables are missing.
    pub fn from_env() -> Self {
        let registry = std::env::var("SCHEMA_REGISTRY_TLS_URL")
            .ok()
            .map(|url| SecureRegistry {
                url,
                user: env("SCHEMA_REGISTRY_TLS_USER"),
                password_file: env("SCHEMA_REGISTRY_TLS_PASSWORD_FILE"),
            });
        Self {
            bootstrap: env("KAFKA_SECURE_BOOTSTRAP_SERVERS"),
            ca_location: env("KAFKA_SECURE_CA_LOCATION"),
            admin_user: env("KAFKA_SECURE_ADMIN_USER"),
            admin_password: read_secret(&env("KAFKA_SECURE_ADMIN_PASSWORD_FILE")),
            registry,
        }
    }

    /// Client settings for `user` with `password` (SASL_SSL, SCRAM-SHA-512, the test CA).
    pub fn client_config(&self, user: &str, password: &str) -> ClientConfig {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", &self.bootstrap)
            .set("security.protocol", "sasl_ssl")
            .set("sasl.mechanism", "SCRAM-SHA-512")
            .set("sasl.username", user)
            .set("sasl.password", password)
            .set("ssl.ca.location", &self.ca_location);
        config
    }

    /// Client settings of the super user.
    pub fn admin_config(&self) -> ClientConfig {
        self.client_config(&self.admin_user, &self.admin_password)
    }

    /// The super user's admin client.
    pub fn admin(&self) -> SecureAdmin {
        let client = self
            .admin_config()
            .create::<AdminClient<DefaultClientContext>>()
            .expect("the admin client");
        SecureAdmin { client }
    }
}

/// The super user's admin client: users, topics, ACLs.
pub struct SecureAdmin {
    client: AdminClient<DefaultClientContext>,
}

const ADMIN_TIMEOUT: Duration = Duration::from_secs(30);

impl SecureAdmin {
    /// Creates (or updates) SCRAM-SHA-512 users.
    pub fn create_users(&self, users: &[(&str, &str)]) {
        ffi::alter_scram_users(&self.client, users, ADMIN_TIMEOUT)
            .unwrap_or_else(|e| panic!("creating the users: {e}"));
    }

    /// Creates topics: (name, partitions, compacted). Existing ones are left as they are.
    pub async fn create_topics(&self, topics: &[(&str, i32, bool)]) {
        let new_topics: Vec<NewTopic<'_>> = topics
            .iter()
            .map(|(name, partitions, compacted)| {
                let topic = NewTopic::new(name, *partitions, TopicReplication::Fixed(1));
                if *compacted {
                    topic.set("cleanup.policy", "compact")
                } else {
                    topic
                }
            })
            .collect();
        let options = AdminOptions::new().operation_timeout(Some(ADMIN_TIMEOUT));
        for result in self
            .client
            .create_topics(new_topics.iter(), &options)
            .await
            .expect("create the topics")
        {
            match result {
                Ok(_) | Err((_, rdkafka::types::RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((name, code)) => panic!("creating the topic {name}: {code}"),
            }
        }
    }

    /// Makes a new broker's group and transaction coordinators (their internal topics are
    /// created at the first request for them), so that the tests' first calls do not wait for
    /// that. Quick once done.
    pub fn warm_up(&self, broker: &SecureBroker, topic: &str) {
        use rdkafka::consumer::{BaseConsumer, Consumer};
        use rdkafka::producer::{BaseProducer, Producer};
        let consumer: BaseConsumer = broker
            .admin_config()
            .set("group.id", "testkit-warm-up")
            .create()
            .expect("the warm-up consumer");
        let mut partitions = rdkafka::TopicPartitionList::new();
        partitions.add_partition(topic, 0);
        consumer
            .committed_offsets(partitions, ADMIN_TIMEOUT)
            .expect("the group coordinator answers");
        let producer: BaseProducer = broker
            .admin_config()
            .set("transactional.id", "testkit-warm-up")
            .create()
            .expect("the warm-up producer");
        producer
            .init_transactions(ADMIN_TIMEOUT)
            .expect("the transaction coordinator answers");
    }

    /// Deletes topics (the end of a test: the broker stays small). Failures are ignored.
    pub async fn delete_topics(&self, topics: &[&str]) {
        let options = AdminOptions::new().operation_timeout(Some(ADMIN_TIMEOUT));
        let _ = self.client.delete_topics(topics, &options).await;
    }

    /// Creates ALLOW bindings, then waits until the broker's authorizer holds each principal's
    /// bindings (what `DescribeAcls` answers is what the authorizer decides with).
    pub fn create_acls(&self, acls: &[Acl]) {
        ffi::create_acls(&self.client, acls, ADMIN_TIMEOUT)
            .unwrap_or_else(|e| panic!("creating the ACLs: {e}"));
        let mut principals: Vec<&str> = acls.iter().map(|a| a.principal.as_str()).collect();
        principals.sort_unstable();
        principals.dedup();
        for principal in principals {
            let expected = acls.iter().filter(|a| a.principal == principal).count();
            let started = std::time::Instant::now();
            loop {
                let found = ffi::count_acls(&self.client, principal, ADMIN_TIMEOUT)
                    .unwrap_or_else(|e| panic!("describing the ACLs of {principal}: {e}"));
                if found >= expected {
                    break;
                }
                assert!(
                    started.elapsed() < ADMIN_TIMEOUT,
                    "the broker shows {found} of {expected} ACLs of {principal}"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}
