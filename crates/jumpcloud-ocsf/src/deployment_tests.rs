//! The deployment files against the binary (no Docker engine or systemd here to run them):
//! the commands they run parse with the binary's CLI, every environment variable they set is
//! one the binary reads, and the configuration they give reaches the services they start.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

use clap::{CommandFactory, Parser, ValueEnum};
use secrecy::ExposeSecret;
use serde_yaml_ng::Value;

use crate::config::{AppConfig, value_or_file};
use crate::logging::LogFormat;
use crate::{Cli, Command};

const COMPOSE: &str = include_str!("../../../docker-compose.yml");
const COMPOSE_CONFIG: &str = include_str!("../../../deploy/compose.toml");
const SYSTEMD_UNIT: &str = include_str!("../../../deploy/jumpcloud-ocsf.service");

fn service<'a>(compose: &'a Value, name: &str) -> &'a Value {
    compose
        .get("services")
        .and_then(|services| services.get(name))
        .unwrap_or_else(|| panic!("service {name} is missing"))
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_sequence()
        .unwrap_or_else(|| panic!("not a list: {value:?}"))
        .iter()
        .map(|item| item.as_str().expect("a string").to_owned())
        .collect()
}

/// A service's `environment` mapping, values as the container sees them.
fn environment(service: &Value) -> BTreeMap<String, String> {
    let Some(Value::Mapping(map)) = service.get("environment") else {
        return BTreeMap::new();
    };
    map.iter()
        .map(|(name, value)| {
            let value = match value {
                Value::String(text) => text.clone(),
                Value::Number(number) => number.to_string(),
                Value::Bool(flag) => flag.to_string(),
                other => panic!("unexpected environment value {other:?}"),
            };
            (name.as_str().expect("a name").to_owned(), value)
        })
        .collect()
}

/// The binary's command line for `args` (the program name first).
fn parse(args: impl IntoIterator<Item = String>) -> Cli {
    let line: Vec<String> = std::iter::once("jumpcloud-ocsf".to_owned())
        .chain(args)
        .collect();
    Cli::try_parse_from(&line).unwrap_or_else(|error| panic!("{line:?}: {error}"))
}

/// Every environment variable the binary reads: its CLI's, and its configuration's (each also
/// as `NAME_FILE`).
fn variables_read() -> BTreeSet<String> {
    fn cli(command: &clap::Command, names: &mut BTreeSet<String>) {
        for arg in command.get_arguments() {
            if let Some(name) = arg.get_env() {
                names.insert(name.to_string_lossy().into_owned());
            }
        }
        for subcommand in command.get_subcommands() {
            cli(subcommand, names);
        }
    }
    let asked = RefCell::new(BTreeSet::new());
    AppConfig::default().apply_env(|name| {
        value_or_file(name, |key| {
            asked.borrow_mut().insert(key.to_owned());
            None
        })
    });
    let mut names = asked.into_inner();
    cli(&Cli::command(), &mut names);
    names
}

#[test]
fn variables_read_are_the_cli_and_configuration_ones() {
    let read = variables_read();
    for name in [
        "JUMPCLOUD_OCSF_CONFIG",
        "JUMPCLOUD_API_KEY",
        "JUMPCLOUD_API_KEY_FILE",
        "KAFKA_BROKERS_FILE",
    ] {
        assert!(read.contains(name), "{name}: {read:?}");
    }
    assert!(!read.contains("JUMPCLOUD_APIKEY"));
}

#[test]
fn compose_runs_commands_the_binary_accepts_and_the_pipeline_reaches_its_services() {
    let compose: Value = serde_yaml_ng::from_str(COMPOSE).expect("docker-compose.yml is YAML");
    let simulator = service(&compose, "simulator");
    let Command::Simulate(simulate) = parse(strings(&simulator["command"])).command else {
        panic!("the simulator service does not run `simulate`");
    };
    let pipeline = service(&compose, "pipeline");
    assert!(matches!(
        parse(strings(&pipeline["command"])).command,
        Command::Run(_)
    ));

    let env = environment(pipeline);
    let read = variables_read();
    for name in env.keys() {
        assert!(read.contains(name), "the binary reads no {name}");
    }
    let config_path = &env["JUMPCLOUD_OCSF_CONFIG"];
    assert!(
        strings(&pipeline["volumes"]).contains(&format!("./deploy/compose.toml:{config_path}:ro")),
        "deploy/compose.toml is the configuration file the pipeline reads"
    );
    let mut config = AppConfig::parse(COMPOSE_CONFIG).expect("deploy/compose.toml parses");
    config.apply_env(|name| env.get(name).cloned());
    config.validate().expect("valid");

    assert_eq!(
        config.jumpcloud.api_base(),
        format!("http://simulator:{}", simulate.options.listen.port())
    );
    match &config.jumpcloud.auth {
        fetcher::AuthConfig::ApiKey { api_key } => {
            assert_eq!(api_key.expose_secret(), simulate.options.api_key);
        }
        other => panic!("expected the simulator's API key, got {other:?}"),
    }
    assert!(
        config.events.lag.as_secs_f64() > simulate.options.late_max_secs,
        "the lag covers the simulator's late arrival"
    );

    let kafka = environment(service(&compose, "kafka"));
    let advertised = kafka["KAFKA_ADVERTISED_LISTENERS"]
        .strip_prefix("PLAINTEXT://")
        .expect("a PLAINTEXT listener");
    assert_eq!(config.kafka.brokers, advertised);
    let registry = environment(service(&compose, "schema-registry"));
    assert_eq!(
        registry["SCHEMA_REGISTRY_KAFKASTORE_BOOTSTRAP_SERVERS"],
        format!("PLAINTEXT://{advertised}")
    );
    let registry_port = registry["SCHEMA_REGISTRY_LISTENERS"]
        .rsplit(':')
        .next()
        .expect("a port");
    assert_eq!(config.kafka.format, producer::Format::Avro);
    assert_eq!(
        config.kafka.schema_registry.map(|registry| registry.url),
        Some(format!("http://schema-registry:{registry_port}"))
    );
}

/// `key=value` lines of a systemd unit, in order.
fn unit_entries(unit: &str) -> Vec<(&str, &str)> {
    unit.lines()
        .map(str::trim)
        .filter(|line| !line.starts_with('#') && !line.starts_with('['))
        .filter_map(|line| line.split_once('='))
        .collect()
}

#[test]
fn systemd_unit_runs_the_pipeline_with_secrets_from_files_in_a_writable_directory() {
    let entries = unit_entries(SYSTEMD_UNIT);
    let value = |key: &str| {
        entries
            .iter()
            .find(|(name, _)| *name == key)
            .map(|(_, value)| *value)
            .unwrap_or_else(|| panic!("{key} is missing"))
    };
    let mut exec = value("ExecStart").split_whitespace();
    assert!(
        exec.next()
            .is_some_and(|program| program.ends_with("/jumpcloud-ocsf"))
    );
    let Command::Run(run) = parse(exec.map(str::to_owned)).command else {
        panic!("ExecStart does not run `run`");
    };
    assert!(run.config.is_some(), "a configuration file");

    // Every variable is one the binary reads; a `_FILE` one hands it the secret in the file.
    let env: BTreeMap<&str, &str> = entries
        .iter()
        .filter(|(key, _)| *key == "Environment")
        .filter_map(|(_, assignment)| assignment.split_once('='))
        .collect();
    let read = variables_read();
    for name in env.keys() {
        assert!(read.contains(*name), "the binary reads no {name}");
    }
    assert!(
        env.contains_key("JUMPCLOUD_API_KEY_FILE"),
        "the API key from a file"
    );
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("api-key.secret");
    std::fs::write(&secret, "key-from-the-file\n").unwrap();
    let mut config = AppConfig::default();
    config.apply_env(|name| {
        value_or_file(name, |key| match key {
            "JUMPCLOUD_API_KEY_FILE" => Some(secret.display().to_string()),
            key => env.get(key).map(|value| (*value).to_owned()),
        })
    });
    match &config.jumpcloud.auth {
        fetcher::AuthConfig::ApiKey { api_key } => {
            assert_eq!(api_key.expose_secret(), "key-from-the-file");
        }
        other => panic!("expected an API key, got {other:?}"),
    }
    if let Some(format) = env.get("JUMPCLOUD_OCSF_LOG_FORMAT") {
        assert!(LogFormat::from_str(format, false).is_ok(), "{format}");
    }

    // The default checkpoint file is relative: it lands in the working directory, which must
    // be the unit's writable state directory.
    assert!(std::path::Path::new(crate::config::DEFAULT_CHECKPOINT_FILE).is_relative());
    let state = format!("/var/lib/{}", value("StateDirectory"));
    assert_eq!(value("WorkingDirectory"), state);
    assert!(
        value("ReadWritePaths")
            .split_whitespace()
            .any(|path| path == state)
    );
}

#[test]
fn cargo_run_at_the_root_runs_the_product_binary() {
    // What cargo itself takes as the workspace's default members.
    let output = std::process::Command::new(std::env::var("CARGO").unwrap_or("cargo".into()))
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--manifest-path",
        ])
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.toml"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let binary = metadata["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|package| package["name"] == env!("CARGO_PKG_NAME"))
        .expect("this package");
    assert_eq!(
        metadata["workspace_default_members"],
        serde_json::json!([binary["id"]]),
        "`cargo run -- demo` at the root must run this binary, unambiguously"
    );
}

const KUBERNETES: &str = include_str!("../../../deploy/kubernetes.yaml");

#[test]
fn kubernetes_replicas_share_the_work_with_no_volume_but_config_and_secret() {
    use serde::Deserialize;
    let documents: Vec<Value> = serde_yaml_ng::Deserializer::from_str(KUBERNETES)
        .map(|document| Value::deserialize(document).expect("deploy/kubernetes.yaml is YAML"))
        .collect();
    let kind = |kind: &str| {
        documents
            .iter()
            .find(|d| d["kind"].as_str() == Some(kind))
            .unwrap_or_else(|| panic!("no {kind}"))
    };
    let config_map = kind("ConfigMap");
    let deployment = kind("Deployment");
    let spec = &deployment["spec"];
    let pod = &spec["template"]["spec"];
    let container = &pod["containers"][0];
    assert!(matches!(
        parse(strings(&container["args"])).command,
        Command::Run(ref args) if !args.once
    ));
    let read = variables_read();
    let mut env = BTreeMap::new();
    for variable in container["env"].as_sequence().expect("env") {
        let name = variable["name"].as_str().expect("name").to_owned();
        assert!(read.contains(&name), "the binary reads no {name}");
        env.insert(
            name,
            variable["value"].as_str().unwrap_or_default().to_owned(),
        );
    }
    let text = config_map["data"]["config.toml"]
        .as_str()
        .expect("config.toml");
    let mut config = AppConfig::parse(text).expect("the ConfigMap's config parses");
    config.apply_env(|name| env.get(name).cloned());
    config.validate().expect("valid");
    assert!(
        config.cluster.group_id.is_some(),
        "the replicas join one group"
    );
    assert_eq!(config.pipeline.state_store, pipeline::StateStore::Kafka);
    let replicas = spec["replicas"].as_i64().expect("replicas");
    assert!(
        (2..=i64::from(config.cluster.shards)).contains(&replicas),
        "{replicas} replicas for {} shards",
        config.cluster.shards
    );
    // No state on disk: only the configuration and the secret are mounted, read-only.
    for volume in pod["volumes"].as_sequence().expect("volumes") {
        assert!(
            volume.get("configMap").is_some() || volume.get("secret").is_some(),
            "a volume that is neither configuration nor secret: {volume:?}"
        );
    }
    // Secured Kafka with the secrets as files in the secret's mount: the password only through
    // KAFKA_SASL_PASSWORD_FILE, the CA file there too.
    let secret_mount = container["volumeMounts"]
        .as_sequence()
        .expect("volumeMounts")
        .iter()
        .find(|mount| {
            let name = mount["name"].as_str();
            pod["volumes"]
                .as_sequence()
                .expect("volumes")
                .iter()
                .any(|v| v["name"].as_str() == name && v.get("secret").is_some())
        })
        .and_then(|mount| mount["mountPath"].as_str())
        .expect("the secret is mounted");
    for (name, value) in &env {
        if name.ends_with("_FILE") {
            assert!(
                value.starts_with(secret_mount),
                "{name}={value} is not in the secret"
            );
        }
        assert!(
            !name.ends_with("PASSWORD") && !name.ends_with("API_KEY") && !name.ends_with("SECRET"),
            "{name}: a secret in an environment variable"
        );
    }
    assert_eq!(config.kafka.security_protocol.as_deref(), Some("sasl_ssl"));
    assert!(config.kafka.sasl_username.is_some() && config.kafka.sasl_password.is_none());
    assert!(env.contains_key("KAFKA_SASL_PASSWORD_FILE"));
    assert!(
        config
            .kafka
            .ssl_ca_location
            .as_deref()
            .is_some_and(|ca| ca.starts_with(secret_mount))
    );
    let port = config.metrics.listen.expect("metrics listen").port();
    assert_eq!(
        container["ports"][0]["containerPort"].as_u64(),
        Some(u64::from(port))
    );
    assert_eq!(
        container["readinessProbe"]["httpGet"]["path"].as_str(),
        Some("/readyz")
    );
    let mounted_config = strings(&container["args"])
        .last()
        .cloned()
        .expect("a config path");
    assert!(
        mounted_config.starts_with(
            container["volumeMounts"][0]["mountPath"]
                .as_str()
                .expect("mount")
        ),
        "the config path is in the ConfigMap's mount"
    );
}
