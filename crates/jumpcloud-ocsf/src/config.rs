//! The configuration file (TOML) and its environment overrides.
//!
//! Each table belongs to the crate that reads it: `[jumpcloud]` and `[events]` to the fetcher,
//! `[mapper]` to the mapper, `[kafka]` to the producer, `[pipeline]` to the delivery engine,
//! `[metrics]`, `[cluster]`, `[inventory]` and `[audit]` to this binary. Unknown keys are errors. Secrets
//! can come from the environment or from files (`NAME_FILE`).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Deserialize;

/// This program's name and version: the `User-Agent` of its JumpCloud requests and the actor
/// of its response-action audit records.
pub const TOOL_NAME: &str = env!("CARGO_PKG_NAME");
/// See [`TOOL_NAME`].
pub const TOOL_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The checkpoint file when `events.checkpoint_path` is unset.
pub const DEFAULT_CHECKPOINT_FILE: &str = "jumpcloud-ocsf-checkpoints.json";

/// The whole configuration.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AppConfig {
    /// Where JumpCloud is and how to authenticate (fetcher).
    pub jumpcloud: fetcher::ClientConfig,
    /// How Directory Insights is polled and checkpointed (fetcher).
    pub events: fetcher::EventsConfig,
    /// How events are mapped to OCSF (mapper).
    pub mapper: MapperConfig,
    /// Where OCSF records go (producer).
    pub kafka: producer::ProducerConfig,
    /// Delivery guarantees and flow control of the delivery engine (pipeline).
    pub pipeline: pipeline::PipelineConfig,
    /// Prometheus metrics and health endpoints.
    pub metrics: MetricsConfig,
    /// Several instances sharing the organisations (off unless `group_id` is set).
    pub cluster: ClusterConfig,
    /// Inventory snapshots inside `run`.
    pub inventory: crate::inventory_settings::InventorySettings,
    /// The audit of delivered counts against Directory Insights' count.
    pub audit: crate::audit_settings::AuditSettings,
    /// Environment variables with invalid values (reported by `validate`).
    #[serde(skip)]
    env_errors: Vec<String>,
}

/// `[metrics]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// Serve `/metrics`, `/healthz` and `/readyz` here (e.g. `127.0.0.1:9464`); off when unset.
    pub listen: Option<std::net::SocketAddr>,
}

/// `[cluster]`: instances with the same `group_id` share the organisations through Kafka's
/// group protocol, one shard of organisations at a time.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterConfig {
    /// The consumer group of the deployment's instances; alone when unset.
    pub group_id: Option<String>,
    /// The coordination topic: one partition per shard. Nothing is written to it.
    pub topic: String,
    /// Shards when the coordination topic is created (an existing topic keeps its count): the
    /// most instances that can share the work. Organisation → shard is FNV-1a of its id modulo
    /// this count, so it is fixed once the topic exists.
    pub shards: i32,
    /// An instance silent for this long loses its shards to the others (Kafka's
    /// `session.timeout.ms`; the broker allows 6 s to 30 min by default).
    #[serde(deserialize_with = "fetcher::duration::deserialize")]
    pub session_timeout: std::time::Duration,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        Self {
            group_id: None,
            topic: "jumpcloud-ocsf.shards".into(),
            shards: 12,
            session_timeout: std::time::Duration::from_secs(30),
        }
    }
}

/// `[mapper]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MapperConfig {
    /// Keep the original event text in `raw_data`.
    pub raw_data: bool,
    /// Directory with mapping tables overriding the compiled-in `mappings/`.
    pub mappings_dir: Option<PathBuf>,
}

impl Default for MapperConfig {
    fn default() -> Self {
        Self {
            raw_data: true,
            mappings_dir: None,
        }
    }
}

/// Reads an environment variable, or the contents of the file named by `NAME_FILE`.
pub fn env_or_file(name: &str) -> Option<String> {
    value_or_file(name, |key| std::env::var(key).ok())
}

/// `name` from `env`, or else the contents of the file named by `env("NAME_FILE")` without its
/// trailing line break.
pub(crate) fn value_or_file(name: &str, env: impl Fn(&str) -> Option<String>) -> Option<String> {
    if let Some(value) = env(name) {
        return Some(value);
    }
    let path = env(&format!("{name}_FILE"))?;
    match std::fs::read_to_string(&path) {
        Ok(contents) => Some(contents.trim_end_matches(['\n', '\r']).to_string()),
        Err(err) => {
            tracing::error!("{name}_FILE={path}: cannot read the file: {err}");
            None
        }
    }
}

impl AppConfig {
    /// Loads `path` (or the defaults when `None`), then applies the environment.
    pub fn load(path: Option<&Path>) -> Result<Self> {
        let mut config = match path {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read the config file {}", path.display()))?;
                Self::parse(&text).with_context(|| format!("config file {}", path.display()))?
            }
            None => Self::default(),
        };
        config.apply_env(env_or_file);
        config.validate()?;
        Ok(config)
    }

    /// Parses TOML text. An error is one line: where, which key, what is expected.
    pub fn parse(text: &str) -> Result<Self> {
        if let Some(moved) = Self::parse_moved_keys(text) {
            return moved;
        }
        toml::from_str(text).map_err(|err| {
            let message = err.message().trim_end().replace('\n', " ");
            match err.span() {
                Some(span) => {
                    let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
                    let source = text.lines().nth(line - 1).unwrap_or_default().trim();
                    anyhow::anyhow!("line {line} (`{source}`): {message}")
                }
                None => anyhow::anyhow!("{message}"),
            }
        })
    }

    /// A file that still sets `delivery` or `state_store` under `[kafka]` (where they were until
    /// they moved to `[pipeline]`, the crate that reads them): read as if they were under
    /// `[pipeline]`, with a warning. `None` for a file without them.
    fn parse_moved_keys(text: &str) -> Option<Result<Self>> {
        const MOVED: [&str; 2] = ["delivery", "state_store"];
        let mut table: toml::Table = toml::from_str(text).ok()?;
        let kafka = table.get_mut("kafka")?.as_table_mut()?;
        let moved: Vec<(String, toml::Value)> = MOVED
            .iter()
            .filter_map(|key| kafka.remove(*key).map(|value| ((*key).to_owned(), value)))
            .collect();
        if moved.is_empty() {
            return None;
        }
        let pipeline = table
            .entry("pipeline")
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        let Some(pipeline) = pipeline.as_table_mut() else {
            return Some(Err(anyhow::anyhow!("[pipeline] must be a table")));
        };
        for (key, value) in moved {
            tracing::warn!(
                key,
                "[kafka] {key} is read as [pipeline] {key}: move it there (it belongs to the delivery engine)"
            );
            if pipeline.contains_key(&key) {
                return Some(Err(anyhow::anyhow!(
                    "{key} is set under both [kafka] and [pipeline]: keep the [pipeline] one"
                )));
            }
            pipeline.insert(key, value);
        }
        Some(
            toml::Value::Table(table)
                .try_into()
                .map_err(|err: toml::de::Error| anyhow::anyhow!("{}", err.message().trim_end())),
        )
    }

    /// Environment overrides: the fetcher's (`JUMPCLOUD_*`), `KAFKA_BROKERS`,
    /// `KAFKA_SASL_USERNAME`, `KAFKA_SASL_PASSWORD`, `SCHEMA_REGISTRY_URL` (the rest of
    /// `[kafka.schema_registry]` kept), `SCHEMA_REGISTRY_USERNAME`, `SCHEMA_REGISTRY_PASSWORD`;
    /// each secret also from the file named by `NAME_FILE`.
    pub fn apply_env(&mut self, lookup: impl Fn(&str) -> Option<String>) {
        self.jumpcloud.apply_env(&lookup);
        if let Some(region) = lookup("JUMPCLOUD_REGION").filter(|v| !v.is_empty()) {
            match region.to_ascii_lowercase().as_str() {
                "us" => self.jumpcloud.region = fetcher::Region::Us,
                "eu" => self.jumpcloud.region = fetcher::Region::Eu,
                "in" => self.jumpcloud.region = fetcher::Region::In,
                _ => self
                    .env_errors
                    .push(format!("JUMPCLOUD_REGION={region}: expected us, eu or in")),
            }
        }
        if let Some(brokers) = lookup("KAFKA_BROKERS").filter(|v| !v.is_empty()) {
            self.kafka.brokers = brokers;
        }
        if let Some(listen) = lookup("METRICS_LISTEN").filter(|v| !v.is_empty()) {
            match listen.parse() {
                Ok(addr) => self.metrics.listen = Some(addr),
                Err(_) => tracing::error!(
                    "METRICS_LISTEN={listen}: expected an address like 127.0.0.1:9464"
                ),
            }
        }
        if let Some(user) = lookup("KAFKA_SASL_USERNAME").filter(|v| !v.is_empty()) {
            self.kafka.sasl_username = Some(user);
        }
        if let Some(password) = lookup("KAFKA_SASL_PASSWORD").filter(|v| !v.is_empty()) {
            self.kafka.sasl_password = Some(password.into());
        }
        if let Some(url) = lookup("SCHEMA_REGISTRY_URL").filter(|v| !v.is_empty()) {
            match &mut self.kafka.schema_registry {
                Some(registry) => registry.url = url,
                None => self.kafka.schema_registry = Some(producer::RegistryConfig::new(url)),
            }
        }
        let registry_user = lookup("SCHEMA_REGISTRY_USERNAME").filter(|v| !v.is_empty());
        let registry_password = lookup("SCHEMA_REGISTRY_PASSWORD").filter(|v| !v.is_empty());
        if let Some(registry) = &mut self.kafka.schema_registry {
            if let Some(user) = registry_user {
                registry.username = Some(user);
            }
            if let Some(password) = registry_password {
                registry.password = Some(password.into());
            }
        }
    }

    /// The checkpoint file: `events.checkpoint_path`, or [`DEFAULT_CHECKPOINT_FILE`].
    pub fn checkpoint_path(&self) -> &Path {
        self.events
            .checkpoint_path
            .as_deref()
            .unwrap_or(Path::new(DEFAULT_CHECKPOINT_FILE))
    }

    /// The JumpCloud client of `[jumpcloud]`, introducing itself as this program.
    pub fn jumpcloud_client(&self) -> Result<fetcher::JumpCloudClient, fetcher::FetchError> {
        let mut config = self.jumpcloud.clone();
        config.user_agent = Some(format!("{TOOL_NAME}/{TOOL_VERSION}"));
        fetcher::JumpCloudClient::new(config)
    }

    /// Checks values the crates cannot check alone.
    pub fn validate(&self) -> Result<()> {
        if let Some(error) = self.env_errors.first() {
            bail!("{error}");
        }
        if let Err(reason) = self.events.validate() {
            bail!("invalid [events]: {reason}");
        }
        if self.pipeline.max_in_flight_events == 0 {
            bail!("pipeline.max_in_flight_events must be at least 1");
        }
        if self.cluster.group_id.is_some() {
            if self.pipeline.state_store != pipeline::StateStore::Kafka {
                bail!(
                    "[cluster] keeps every cursor in Kafka, where any instance can read it: set [pipeline] state_store = \"kafka\""
                );
            }
            if !(1..=10_000).contains(&self.cluster.shards) {
                bail!("cluster.shards must be between 1 and 10000");
            }
        }
        self.inventory
            .validate(self.jumpcloud.max_requests_per_sec)?;
        self.audit.validate()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivery_settings_under_kafka_are_read_as_the_pipelines() {
        let config = AppConfig::parse(
            "[kafka]\nbrokers = \"k:9092\"\ndelivery = \"at-least-once\"\nstate_store = \"file\"\n",
        )
        .unwrap();
        assert_eq!(
            config.pipeline.delivery,
            pipeline::DeliveryGuarantee::AtLeastOnce
        );
        assert_eq!(config.pipeline.state_store, pipeline::StateStore::File);
        assert_eq!(config.kafka.brokers, "k:9092");
        let both = AppConfig::parse(
            "[kafka]\ndelivery = \"at-least-once\"\n[pipeline]\ndelivery = \"exactly-once\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(both.contains("under both [kafka] and [pipeline]"), "{both}");
        let current = AppConfig::parse("[pipeline]\ndelivery = \"at-least-once\"\n").unwrap();
        assert_eq!(
            current.pipeline.delivery,
            pipeline::DeliveryGuarantee::AtLeastOnce
        );
    }

    #[test]
    fn unknown_key_is_one_line_naming_it_and_the_expected_keys() {
        let err = AppConfig::parse("[events]\nlagg = \"2m\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("line 2 (`lagg = \"2m\"`): unknown field `lagg`, expected one of"),
            "{err}"
        );
        assert!(err.contains("`lag`"), "{err}");
        assert!(!err.contains('\n'), "{err}");
    }

    #[test]
    fn bad_value_is_one_line_naming_the_key_and_the_expectation() {
        let err = AppConfig::parse("[kafka]\nformat = \"xml\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(
                "line 2 (`format = \"xml\"`): unknown variant `xml`, expected `json` or `avro`"
            ),
            "{err}"
        );
        let err = AppConfig::parse("[events]\nlag = \"soon\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("line 2 (`lag = \"soon\"`)"), "{err}");
        assert!(!err.contains('\n'), "{err}");
    }

    #[test]
    fn env_overrides_brokers_and_registry() {
        let mut config = AppConfig::parse("[kafka]\nbrokers = \"a:9092\"\n").unwrap();
        config.apply_env(|name| match name {
            "KAFKA_BROKERS" => Some("b:9092".into()),
            "SCHEMA_REGISTRY_URL" => Some("http://registry:8081".into()),
            _ => None,
        });
        assert_eq!(config.kafka.brokers, "b:9092");
        assert_eq!(
            config.kafka.schema_registry.map(|r| r.url),
            Some("http://registry:8081".to_string())
        );
    }

    #[test]
    fn region_from_the_environment_and_bad_values_named() {
        let mut config = AppConfig::default();
        config.apply_env(|name| (name == "JUMPCLOUD_REGION").then(|| "EU".to_string()));
        assert_eq!(config.jumpcloud.region, fetcher::Region::Eu);
        config.validate().unwrap();
        let mut config = AppConfig::default();
        config.apply_env(|name| (name == "JUMPCLOUD_REGION").then(|| "mars".to_string()));
        let err = config.validate().unwrap_err().to_string();
        assert_eq!(err, "JUMPCLOUD_REGION=mars: expected us, eu or in");
    }

    #[test]
    fn max_in_flight_zero_is_rejected() {
        let config = AppConfig::parse("[pipeline]\nmax_in_flight_events = 0\n").unwrap();
        assert!(
            config
                .validate()
                .unwrap_err()
                .to_string()
                .contains("max_in_flight_events")
        );
    }
}

#[cfg(test)]
mod example_tests {
    use super::*;

    /// The annotated example in `config/` is a valid configuration whose values are the defaults.
    #[test]
    fn the_example_config_parses_and_matches_the_defaults() {
        let text = include_str!("../../../config/jumpcloud-ocsf.example.toml");
        let config = AppConfig::parse(text).expect("the example config parses");
        config.validate().expect("the example config is valid");
        let defaults = AppConfig::default();
        assert_eq!(config.checkpoint_path(), defaults.checkpoint_path());
        let events = fetcher::EventsConfig {
            checkpoint_path: None,
            ..config.events.clone()
        };
        assert_eq!(events, defaults.events);
        // ProducerConfig has no `PartialEq` (its secrets have none); its Debug shows every
        // setting, secrets as `[REDACTED]` or `None`.
        assert_eq!(
            format!("{:?}", config.kafka),
            format!("{:?}", defaults.kafka)
        );
        assert_eq!(config.jumpcloud.retry, defaults.jumpcloud.retry);
        assert_eq!(config.inventory, defaults.inventory);
        assert_eq!(config.audit, defaults.audit);
        assert_eq!(
            format!("{:?}", config.cluster),
            format!("{:?}", defaults.cluster)
        );
        assert_eq!(
            config.jumpcloud.max_requests_per_sec,
            defaults.jumpcloud.max_requests_per_sec
        );
        assert_eq!(config.jumpcloud.provider_id, defaults.jumpcloud.provider_id);
        assert_eq!(
            config.jumpcloud.provider_events,
            defaults.jumpcloud.provider_events
        );
        assert_eq!(
            config.jumpcloud.org_refresh_interval,
            defaults.jumpcloud.org_refresh_interval
        );
    }

    /// The commented security examples (`# key = value  # example...`) are valid keys and
    /// values: uncommented, the example parses and sets them.
    #[test]
    fn the_commented_security_examples_parse_when_uncommented() {
        let text = include_str!("../../../config/jumpcloud-ocsf.example.toml");
        let keys = [
            "security_protocol",
            "sasl_mechanism",
            "sasl_username",
            "sasl_password",
            "ssl_ca_location",
            "[kafka.schema_registry]",
            "url",
            "username",
            "password",
            "ca_location",
        ];
        let uncommented: String = text
            .lines()
            .map(|line| match line.strip_prefix("# ") {
                Some(rest) if keys.iter().any(|key| rest.starts_with(key)) => rest,
                _ => line,
            })
            .collect::<Vec<_>>()
            .join("\n");
        let config = AppConfig::parse(&uncommented).expect("the uncommented example parses");
        assert_eq!(config.kafka.security_protocol.as_deref(), Some("sasl_ssl"));
        assert_eq!(
            config.kafka.sasl_mechanism.as_deref(),
            Some("SCRAM-SHA-512")
        );
        assert!(config.kafka.ssl_ca_location.is_some());
        let registry = config.kafka.schema_registry.expect("the registry example");
        assert!(registry.url.starts_with("https://") && registry.ca_location.is_some());
    }

    #[test]
    fn org_ids_all_selects_discovery_and_another_word_is_an_error() {
        let config = AppConfig::parse(
            "[jumpcloud]\norg_ids = \"all\"\nprovider_id = \"abc123\"\norg_refresh_interval = \"2m\"\n",
        )
        .unwrap();
        assert!(config.jumpcloud.discovers_orgs());
        assert_eq!(
            config.jumpcloud.org_refresh_interval,
            std::time::Duration::from_secs(120)
        );
        let listed = AppConfig::parse("[jumpcloud]\norg_ids = [\"a\", \"b\"]\n").unwrap();
        assert!(!listed.jumpcloud.discovers_orgs());
        let error = AppConfig::parse("[jumpcloud]\norg_ids = \"some\"\n").unwrap_err();
        assert!(format!("{error:#}").contains("\"all\""), "{error:#}");
    }
}

#[cfg(test)]
mod secret_tests {
    use secrecy::ExposeSecret;

    use super::*;

    /// Every secret the configuration can hold is redacted in `Debug` output.
    #[test]
    fn debug_output_never_contains_a_secret() {
        let text = r#"
[jumpcloud.auth]
type = "oauth"
client_id = "client-id-visible"
client_secret = "s3cret-client-secret"

[kafka]
sasl_username = "user-visible"
sasl_password = "s3cret-sasl-password"

[kafka.properties]
"ssl.key.password" = "s3cret-key-password"

[kafka.schema_registry]
url = "http://registry:8081"
username = "registry-user"
password = "s3cret-registry-password"
"#;
        let mut config = AppConfig::parse(text).unwrap();
        let debug = format!("{config:?}");
        for secret in [
            "s3cret-client-secret",
            "s3cret-sasl-password",
            "s3cret-key-password",
            "s3cret-registry-password",
        ] {
            assert!(!debug.contains(secret), "{secret} leaked: {debug}");
        }
        assert!(debug.contains("client-id-visible") && debug.contains("[REDACTED]"));
        config
            .apply_env(|name| (name == "JUMPCLOUD_API_KEY").then(|| "s3cret-api-key".to_string()));
        assert!(!format!("{config:?}").contains("s3cret-api-key"));
    }

    /// The Kafka SASL password and the registry's come from files as the JumpCloud secrets do;
    /// `SCHEMA_REGISTRY_URL` replaces the URL only, not the rest of `[kafka.schema_registry]`.
    #[test]
    fn kafka_and_registry_secrets_come_from_files() {
        let dir = tempfile::tempdir().unwrap();
        let sasl = dir.path().join("kafka-password");
        std::fs::write(&sasl, "s3cret-sasl\n").unwrap();
        let registry = dir.path().join("registry-password");
        std::fs::write(&registry, "s3cret-registry\n").unwrap();
        let env = |name: &str| match name {
            "KAFKA_SASL_USERNAME" => Some("collector".to_string()),
            "KAFKA_SASL_PASSWORD_FILE" => Some(sasl.display().to_string()),
            "SCHEMA_REGISTRY_URL" => Some("https://registry-2:8081".to_string()),
            "SCHEMA_REGISTRY_PASSWORD_FILE" => Some(registry.display().to_string()),
            _ => None,
        };
        let mut config = AppConfig::parse(
            "[kafka.schema_registry]\nurl = \"https://registry-1:8081\"\nusername = \"ocsf\"\nca_location = \"/ca.pem\"\n",
        )
        .unwrap();
        config.apply_env(|name| value_or_file(name, env));
        assert_eq!(config.kafka.sasl_username.as_deref(), Some("collector"));
        let password = config.kafka.sasl_password.as_ref().unwrap();
        assert_eq!(password.expose_secret(), "s3cret-sasl");
        let registry = config.kafka.schema_registry.as_ref().unwrap();
        assert_eq!(registry.url, "https://registry-2:8081");
        assert_eq!(registry.username.as_deref(), Some("ocsf"));
        assert_eq!(registry.ca_location.as_deref(), Some("/ca.pem"));
        assert_eq!(
            registry.password.as_ref().unwrap().expose_secret(),
            "s3cret-registry"
        );
        let debug = format!("{config:?}");
        assert!(!debug.contains("s3cret-sasl") && !debug.contains("s3cret-registry"));
    }

    /// `NAME_FILE` names a file holding the secret (Docker and systemd credentials); the
    /// variable itself wins when both are set.
    #[test]
    fn secrets_come_from_the_files_named_by_name_file() {
        let dir = tempfile::tempdir().unwrap();
        let key_file = dir.path().join("api-key");
        std::fs::write(&key_file, "s3cret-from-file\n").unwrap();
        let secret_file = dir.path().join("client-secret");
        std::fs::write(&secret_file, "client-s3cret\r\n").unwrap();
        let env = |name: &str| match name {
            "JUMPCLOUD_API_KEY_FILE" => Some(key_file.display().to_string()),
            "JUMPCLOUD_CLIENT_ID" => Some("client-id".to_string()),
            "JUMPCLOUD_CLIENT_SECRET_FILE" => Some(secret_file.display().to_string()),
            _ => None,
        };
        let mut config = AppConfig::default();
        config.apply_env(|name| value_or_file(name, env));
        let fetcher::AuthConfig::Oauth { client_secret, .. } = &config.jumpcloud.auth else {
            panic!(
                "client id and secret select OAuth: {:?}",
                config.jumpcloud.auth
            );
        };
        assert_eq!(client_secret.expose_secret(), "client-s3cret");
        assert!(!format!("{config:?}").contains("client-s3cret"));

        let api_key = |config: &AppConfig| match &config.jumpcloud.auth {
            fetcher::AuthConfig::ApiKey { api_key } => api_key.expose_secret().to_owned(),
            other => panic!("expected an API key: {other:?}"),
        };
        let mut config = AppConfig::default();
        config.apply_env(|name| {
            value_or_file(name, |key| {
                env(key).filter(|_| key != "JUMPCLOUD_CLIENT_ID")
            })
        });
        assert_eq!(api_key(&config), "s3cret-from-file");

        let both = |key: &str| match key {
            "JUMPCLOUD_API_KEY" => Some("from-the-variable".to_string()),
            key => env(key).filter(|_| key != "JUMPCLOUD_CLIENT_ID"),
        };
        let mut config = AppConfig::default();
        config.apply_env(|name| value_or_file(name, both));
        assert_eq!(api_key(&config), "from-the-variable");

        let missing = |key: &str| {
            (key == "JUMPCLOUD_API_KEY_FILE")
                .then(|| dir.path().join("absent").display().to_string())
        };
        assert_eq!(value_or_file("JUMPCLOUD_API_KEY", missing), None);
    }
}
