//! Structure checks of the deployment files (no Docker engine is available to run them):
//! `docker-compose.yml`, `Dockerfile`, `deploy/compose.toml`, the systemd unit.

use serde_yaml_ng::Value;

use crate::config::AppConfig;

const COMPOSE: &str = include_str!("../../../docker-compose.yml");
const DOCKERFILE: &str = include_str!("../../../Dockerfile");
const COMPOSE_CONFIG: &str = include_str!("../../../deploy/compose.toml");
const SYSTEMD_UNIT: &str = include_str!("../../../deploy/jumpcloud-ocsf.service");

fn service<'a>(compose: &'a Value, name: &str) -> &'a Value {
    compose
        .get("services")
        .and_then(|services| services.get(name))
        .unwrap_or_else(|| panic!("service {name} is missing"))
}

fn env<'a>(service: &'a Value, name: &str) -> Option<&'a str> {
    service.get("environment")?.get(name)?.as_str()
}

#[test]
fn compose_runs_kafka_kraft_registry_simulator_and_pipeline() {
    let compose: Value = serde_yaml_ng::from_str(COMPOSE).expect("docker-compose.yml is YAML");
    let kafka = service(&compose, "kafka");
    assert!(
        kafka["image"]
            .as_str()
            .unwrap()
            .starts_with("apache/kafka:"),
        "official Apache Kafka image"
    );
    assert_eq!(
        env(kafka, "KAFKA_PROCESS_ROLES"),
        Some("broker,controller"),
        "KRaft, no ZooKeeper"
    );
    assert!(compose["services"].get("zookeeper").is_none());

    let registry = service(&compose, "schema-registry");
    assert!(
        registry["image"]
            .as_str()
            .unwrap()
            .contains("schema-registry")
    );
    assert_eq!(
        env(registry, "SCHEMA_REGISTRY_KAFKASTORE_BOOTSTRAP_SERVERS"),
        Some("PLAINTEXT://kafka:9092")
    );

    let simulator = service(&compose, "simulator");
    assert_eq!(simulator["build"].as_str(), Some("."));
    let command: Vec<&str> = simulator["command"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(command[0], "simulate");
    let listen = command[command.iter().position(|a| *a == "--listen").unwrap() + 1];
    let key = command[command.iter().position(|a| *a == "--api-key").unwrap() + 1];

    let pipeline = service(&compose, "pipeline");
    assert_eq!(pipeline["build"].as_str(), Some("."));
    for dependency in ["kafka", "schema-registry", "simulator"] {
        assert!(
            pipeline["depends_on"].get(dependency).is_some(),
            "pipeline waits for {dependency}"
        );
    }
    let port = listen.rsplit(':').next().unwrap();
    assert_eq!(
        env(pipeline, "JUMPCLOUD_BASE_URL"),
        Some(format!("http://simulator:{port}").as_str())
    );
    assert_eq!(
        env(pipeline, "JUMPCLOUD_API_KEY"),
        Some(key),
        "the pipeline uses the simulator's key"
    );
    assert_eq!(env(pipeline, "KAFKA_BROKERS"), Some("kafka:9092"));
    assert_eq!(
        env(pipeline, "SCHEMA_REGISTRY_URL"),
        Some("http://schema-registry:8081")
    );
    let mounts: Vec<&str> = pipeline["volumes"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let config_mount = mounts
        .iter()
        .find(|m| m.starts_with("./deploy/compose.toml:"))
        .expect("config mounted");
    assert!(config_mount.ends_with(&format!(
        "{}:ro",
        env(pipeline, "JUMPCLOUD_OCSF_CONFIG").unwrap()
    )));
}

#[test]
fn compose_config_is_valid_and_uses_avro_with_the_registry() {
    let mut config = AppConfig::parse(COMPOSE_CONFIG).expect("deploy/compose.toml parses");
    config.apply_env(|name| match name {
        "SCHEMA_REGISTRY_URL" => Some("http://schema-registry:8081".into()),
        "KAFKA_BROKERS" => Some("kafka:9092".into()),
        _ => None,
    });
    config.validate().expect("valid");
    assert_eq!(config.kafka.format, producer::Format::Avro);
    assert!(config.kafka.schema_registry.is_some());
    assert!(
        config.events.lag.as_secs() > 30,
        "lag covers the compose simulator's 30 s late arrival"
    );
}

#[test]
fn dockerfile_is_multi_stage_and_runs_as_non_root() {
    let stages = DOCKERFILE
        .lines()
        .filter(|l| l.starts_with("FROM "))
        .count();
    assert!(stages >= 2, "multi-stage build");
    let user = DOCKERFILE
        .lines()
        .rev()
        .find(|l| l.starts_with("USER "))
        .expect("USER set");
    assert!(
        !user.contains("root") && !user.trim_end().ends_with(" 0"),
        "{user}"
    );
    assert!(
        DOCKERFILE.contains("--locked"),
        "reproducible build from Cargo.lock"
    );
}

#[test]
fn systemd_unit_runs_the_pipeline_with_sigterm_and_restarts() {
    assert!(SYSTEMD_UNIT.contains("ExecStart=/usr/local/bin/jumpcloud-ocsf run --config"));
    assert!(SYSTEMD_UNIT.contains("KillSignal=SIGTERM"));
    assert!(SYSTEMD_UNIT.contains("Restart=on-failure"));
    assert!(
        SYSTEMD_UNIT.contains("_FILE="),
        "secrets from files, not the unit"
    );
}

#[test]
fn cargo_run_at_the_root_runs_the_product_binary() {
    let manifest: toml::Table = toml::from_str(include_str!("../../../Cargo.toml")).unwrap();
    let default_members = manifest["workspace"]["default-members"]
        .as_array()
        .expect("default-members");
    assert_eq!(
        default_members.len(),
        1,
        "`cargo run -- demo` must not be ambiguous"
    );
    assert_eq!(default_members[0].as_str(), Some("crates/jumpcloud-ocsf"));
}
