//! Test support shared by the workspace's integration tests: where the real Apache Kafka broker
//! and the real schema registry (Apicurio Registry, Confluent-compatible API) answer, a reader
//! that consumes topics the way a downstream consumer does (a consumer group, `read_committed`,
//! committed offsets), [`PrivateBroker`], a broker of a test's own that it may stop and start,
//! and [`SecureBroker`], the secured broker (TLS, SCRAM, ACLs) with an admin for users and ACLs.
//!
//! `scripts/kafka-broker.sh` installs and starts both services; `scripts/test.sh` runs it before
//! `cargo test` and exports `KAFKA_BOOTSTRAP_SERVERS` and `SCHEMA_REGISTRY_URL`.

mod broker;
mod consume;
mod secure;

pub use broker::{PrivateBroker, reserved_port};
pub use consume::{Consumed, Isolation, consume, consume_from, consume_with, consume_with_config};
pub use secure::{Acl, AclOperation, AclResource, SecureAdmin, SecureBroker, SecureRegistry};

/// The shared test broker (`KAFKA_BOOTSTRAP_SERVERS`, default `127.0.0.1:9092`).
pub fn brokers() -> String {
    std::env::var("KAFKA_BOOTSTRAP_SERVERS").unwrap_or_else(|_| "127.0.0.1:9092".to_string())
}

/// The shared schema registry's Confluent-compatible base URL (`SCHEMA_REGISTRY_URL`, default
/// Apicurio's `http://127.0.0.1:8081/apis/ccompat/v7`).
pub fn registry_url() -> String {
    std::env::var("SCHEMA_REGISTRY_URL")
        .unwrap_or_else(|_| "http://127.0.0.1:8081/apis/ccompat/v7".to_string())
}

/// A name unique to one test run, for topics, groups and transactional ids.
pub fn unique_name(test: &str) -> String {
    format!(
        "t{}-{test}",
        &uuid::Uuid::new_v4().simple().to_string()[..10]
    )
}
