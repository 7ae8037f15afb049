//! Producer settings (`[producer]` in the pipeline's TOML), with defaults.

use std::collections::BTreeMap;
use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// Extra librdkafka properties passed through as is. `Debug` redacts the values of keys that
/// look secret (`password`, `secret`, `token`, `key`, `sasl.oauthbearer.config`, `.pem`).
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct KafkaProperties(pub BTreeMap<String, String>);

/// Whether a librdkafka property name carries a secret.
pub fn is_secret_property(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    [
        "password",
        "secret",
        "token",
        "key",
        "oauthbearer.config",
        "pem",
        "jaas",
    ]
    .iter()
    .any(|marker| name.contains(marker))
        && !name.ends_with(".location")
}

impl fmt::Debug for KafkaProperties {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        for (name, value) in &self.0 {
            if is_secret_property(name) {
                map.entry(name, &"[REDACTED]");
            } else {
                map.entry(name, value);
            }
        }
        map.finish()
    }
}

/// Record value format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// OCSF JSON (`application/json`).
    #[default]
    Json,
    /// Avro binary in the Confluent wire format (`application/vnd.apache.avro+binary`); needs
    /// `schema_registry`.
    Avro,
}

impl Format {
    /// The `content-type` header value.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Json => "application/json",
            Self::Avro => "application/vnd.apache.avro+binary",
        }
    }
}

/// What the Kafka key of a record is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyStrategy {
    /// The subject user's uid (each user's events in one partition, in order); falls back to
    /// the organisation, then to the event's `metadata.uid`.
    #[default]
    User,
    /// The event's `metadata.uid` (spread evenly, no ordering).
    Event,
    /// The organisation (`metadata.tenant_uid`); falls back to `metadata.uid`.
    Org,
}

/// Compression codec.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Compression {
    /// No compression.
    None,
    /// gzip.
    Gzip,
    /// snappy.
    Snappy,
    /// lz4.
    Lz4,
    /// zstd (default).
    #[default]
    Zstd,
}

impl Compression {
    /// The librdkafka `compression.codec` value.
    pub fn librdkafka_name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Gzip => "gzip",
            Self::Snappy => "snappy",
            Self::Lz4 => "lz4",
            Self::Zstd => "zstd",
        }
    }
}

/// Where records go.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TopicConfig {
    /// Topic name per class; `{class_name}` (e.g. `authentication`) and `{class_uid}` are
    /// replaced. Default `ocsf.{class_name}`.
    pub template: String,
    /// When set, every record goes to this one topic instead (Avro subjects then use the
    /// record name strategy: `<topic>-<record full name>`).
    pub single_topic: Option<String>,
    /// The dead-letter topic. Default `ocsf.dead_letter`.
    pub dead_letter: String,
    /// Partitions for topics created by `ensure_topics`. Default 3.
    pub partitions: i32,
    /// Replication factor for topics created by `ensure_topics`. Default 1.
    pub replication_factor: i32,
    /// Create the topics that do not exist at start-up (default). Topics that exist are only
    /// described, never created again, so the principal needs no Create ACL for them; `false`
    /// makes a missing topic a start-up error naming it (topics are made by the platform team).
    pub create: bool,
}

impl Default for TopicConfig {
    fn default() -> Self {
        Self {
            template: "ocsf.{class_name}".into(),
            single_topic: None,
            dead_letter: "ocsf.dead_letter".into(),
            partitions: 3,
            replication_factor: 1,
            create: true,
        }
    }
}

impl TopicConfig {
    /// The topic of one class.
    pub fn topic_for(&self, class_uid: u32, class_name: &str) -> String {
        match &self.single_topic {
            Some(topic) => topic.clone(),
            None => self
                .template
                .replace("{class_name}", class_name)
                .replace("{class_uid}", &class_uid.to_string()),
        }
    }
}

/// The schema registry (Confluent REST API; Confluent, Karapace, Apicurio or the simulator's).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryConfig {
    /// Base URL, e.g. `http://127.0.0.1:8081`.
    pub url: String,
    /// Basic-auth user name.
    #[serde(default)]
    pub username: Option<String>,
    /// Basic-auth password.
    #[serde(default)]
    pub password: Option<SecretString>,
    /// A PEM file of the CA(s) that signed the registry's TLS certificate, trusted besides the
    /// built-in roots (an `https://` URL with a private CA).
    #[serde(default)]
    pub ca_location: Option<String>,
    /// Request timeout in milliseconds. Default 10000.
    #[serde(default = "default_registry_timeout_ms")]
    pub timeout_ms: u64,
    /// Retries of a request that failed in transport or with a 5xx answer (exponential
    /// backoff, 100 ms to 2 s). Default 5.
    #[serde(default = "default_registry_max_retries")]
    pub max_retries: usize,
}

fn default_registry_max_retries() -> usize {
    5
}

fn default_registry_timeout_ms() -> u64 {
    10_000
}

impl RegistryConfig {
    /// A registry at `url`, no authentication.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            username: None,
            password: None,
            ca_location: None,
            timeout_ms: default_registry_timeout_ms(),
            max_retries: default_registry_max_retries(),
        }
    }
}

/// Producer settings. `acks=all` and idempotence are fixed (not settable).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProducerConfig {
    /// `bootstrap.servers`. Default `127.0.0.1:9092`.
    pub brokers: String,
    /// `client.id`. Default `jumpcloud-ocsf`.
    pub client_id: String,
    /// `compression.codec`. Default zstd.
    pub compression: Compression,
    /// `linger.ms`. Default 5 (librdkafka's own): with a topic per class and a 4 MiB queue, batches
    /// rarely fill `batch_size`, so a longer linger only leaves the queue idle.
    pub linger_ms: u32,
    /// `batch.num.messages`. Default 10000.
    pub batch_num_messages: u32,
    /// `batch.size` in bytes. Default 1000000.
    pub batch_size: u32,
    /// `message.max.bytes`. Default 1000000.
    pub message_max_bytes: u32,
    /// `queue.buffering.max.messages`: the in-flight bound (memory); further sends wait.
    /// Default 10000.
    pub queue_max_messages: u32,
    /// `queue.buffering.max.kbytes`: the in-flight bound in KiB (the main memory knob: about
    /// 2x this in peak RSS). Default 4096.
    pub queue_max_kbytes: u32,
    /// `delivery.timeout.ms` (`message.timeout.ms`): how long librdkafka retries one record
    /// before its send fails. Default 300000; 0 = retry forever.
    pub delivery_timeout_ms: u32,
    /// `security.protocol` (`plaintext`, `ssl`, `sasl_plaintext`, `sasl_ssl`).
    pub security_protocol: Option<String>,
    /// `sasl.mechanism` (`PLAIN`, `SCRAM-SHA-256`, `SCRAM-SHA-512`).
    pub sasl_mechanism: Option<String>,
    /// `sasl.username`.
    pub sasl_username: Option<String>,
    /// `sasl.password`.
    pub sasl_password: Option<SecretString>,
    /// `ssl.ca.location`.
    pub ssl_ca_location: Option<String>,
    /// Any other librdkafka properties, passed through (`ssl.certificate.location`, ...).
    /// `acks` and `enable.idempotence` cannot be overridden.
    pub properties: KafkaProperties,
    /// Topics.
    pub topic: TopicConfig,
    /// Kafka key.
    pub key: KeyStrategy,
    /// Value format.
    pub format: Format,
    /// The schema registry, required for `format = "avro"`.
    pub schema_registry: Option<RegistryConfig>,
    /// The compacted topic holding each source's cursor. Default `jumpcloud-ocsf.state`.
    pub state_topic: String,
    /// This deployment's identity: the transactional id is derived from it, so a second process
    /// with the same identity fences the first. Default `jumpcloud-ocsf`.
    pub deployment_id: String,
    /// The transactional id of this producer; set by the pipeline from `deployment_id` (and, when
    /// sharded, the shard). `None`: no transactions.
    #[serde(skip)]
    pub transactional_id: Option<String>,
}

impl Default for ProducerConfig {
    fn default() -> Self {
        Self {
            brokers: "127.0.0.1:9092".into(),
            client_id: "jumpcloud-ocsf".into(),
            compression: Compression::Zstd,
            linger_ms: 5,
            batch_num_messages: 10_000,
            batch_size: 1_000_000,
            message_max_bytes: 1_000_000,
            queue_max_messages: 10_000,
            queue_max_kbytes: 4_096,
            delivery_timeout_ms: 300_000,
            security_protocol: None,
            sasl_mechanism: None,
            sasl_username: None,
            sasl_password: None,
            ssl_ca_location: None,
            properties: KafkaProperties::default(),
            topic: TopicConfig::default(),
            key: KeyStrategy::User,
            format: Format::Json,
            schema_registry: None,
            state_topic: "jumpcloud-ocsf.state".into(),
            deployment_id: "jumpcloud-ocsf".into(),
            transactional_id: None,
        }
    }
}

/// `transaction.timeout.ms` unless `[kafka.properties]` sets it: a transaction left open by a
/// crashed process is aborted by the broker after this long (or at once when the same
/// transactional id starts again). Longer than a unit stays open while its process lives and
/// the broker answers (records time out after at most 60 s). A broker away for longer ends the
/// open transaction itself when it is back, which fences the live process's producer: the
/// engine tells that apart from a newer process by the transaction's age and takes its
/// transactional id again.
pub const TRANSACTION_TIMEOUT_MS: u32 = 300_000;

/// The longest a record may wait for the broker inside a transaction: a unit fails (and is
/// rewound) after this, well before the broker would abort its transaction.
pub const TRANSACTION_RECORD_TIMEOUT_MS: u32 = 60_000;

impl ProducerConfig {
    /// `transaction.timeout.ms`: [`TRANSACTION_TIMEOUT_MS`], or the value `[kafka.properties]`
    /// sets (a cluster whose `transaction.max.timeout.ms` is lower needs it).
    pub fn transaction_timeout(&self) -> std::time::Duration {
        let ms = self
            .properties
            .0
            .get("transaction.timeout.ms")
            .and_then(|value| value.trim().parse::<u32>().ok())
            .unwrap_or(TRANSACTION_TIMEOUT_MS);
        std::time::Duration::from_millis(u64::from(ms))
    }
}

/// Properties the producer always sets itself (delivery guarantees).
pub const FIXED_PROPERTIES: [(&str, &str); 3] = [
    ("acks", "all"),
    ("enable.idempotence", "true"),
    ("max.in.flight.requests.per.connection", "5"),
];

impl ProducerConfig {
    /// Every librdkafka property this configuration sets, secrets included (for the client only;
    /// never log this).
    pub fn librdkafka_properties(&self) -> Vec<(String, String)> {
        let mut properties: BTreeMap<String, String> = self.properties.0.clone();
        let mut set = |name: &str, value: String| {
            properties.insert(name.to_owned(), value);
        };
        set("bootstrap.servers", self.brokers.clone());
        set("client.id", self.client_id.clone());
        set(
            "compression.codec",
            self.compression.librdkafka_name().into(),
        );
        set("linger.ms", self.linger_ms.to_string());
        set("batch.num.messages", self.batch_num_messages.to_string());
        set("batch.size", self.batch_size.to_string());
        set("message.max.bytes", self.message_max_bytes.to_string());
        set(
            "queue.buffering.max.messages",
            self.queue_max_messages.to_string(),
        );
        set(
            "queue.buffering.max.kbytes",
            self.queue_max_kbytes.to_string(),
        );
        set("message.timeout.ms", self.delivery_timeout_ms.to_string());
        if let Some(value) = &self.security_protocol {
            set("security.protocol", value.clone());
        }
        if let Some(value) = &self.sasl_mechanism {
            set("sasl.mechanism", value.clone());
        }
        if let Some(value) = &self.sasl_username {
            set("sasl.username", value.clone());
        }
        if let Some(value) = &self.sasl_password {
            set("sasl.password", value.expose_secret().to_owned());
        }
        if let Some(value) = &self.ssl_ca_location {
            set("ssl.ca.location", value.clone());
        }
        if let Some(id) = &self.transactional_id {
            set("transactional.id", id.clone());
            set(
                "transaction.timeout.ms",
                self.transaction_timeout().as_millis().to_string(),
            );
            // librdkafka requires a record's delivery timeout within its transaction's.
            let most = u32::try_from(self.transaction_timeout().as_millis())
                .unwrap_or(u32::MAX)
                .min(TRANSACTION_RECORD_TIMEOUT_MS);
            let delivery = match self.delivery_timeout_ms {
                0 => most,
                ms => ms.min(most),
            };
            set("message.timeout.ms", delivery.to_string());
        }
        for (name, value) in FIXED_PROPERTIES {
            set(name, value.to_owned());
        }
        properties.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_in_debug_and_display() {
        let config: ProducerConfig = serde_json::from_value(serde_json::json!({
            "brokers": "kafka-1:9093",
            "security_protocol": "sasl_ssl",
            "sasl_mechanism": "SCRAM-SHA-512",
            "sasl_username": "pipeline",
            "sasl_password": "hunter2",
            "properties": {"ssl.key.password": "s3cret", "ssl.key.location": "/etc/key.pem"},
            "schema_registry": {"url": "https://registry:8081", "username": "u", "password": "regpass"}
        }))
        .unwrap();
        let debug = format!("{config:?}");
        for secret in ["hunter2", "s3cret", "regpass"] {
            assert!(!debug.contains(secret), "{secret} leaked: {debug}");
        }
        assert!(
            debug.contains("/etc/key.pem"),
            "non-secret paths stay visible"
        );
        assert!(
            debug.contains("[REDACTED]"),
            "secrets are there, redacted: {debug}"
        );
        // The client gets the real values.
        let properties: BTreeMap<String, String> =
            config.librdkafka_properties().into_iter().collect();
        assert_eq!(properties["sasl.password"], "hunter2");
        assert_eq!(properties["sasl.mechanism"], "SCRAM-SHA-512");
        assert_eq!(properties["security.protocol"], "sasl_ssl");
        assert_eq!(properties["ssl.key.password"], "s3cret");
        assert_eq!(properties["bootstrap.servers"], "kafka-1:9093");
    }

    #[test]
    fn defaults_and_fixed_delivery_guarantees() {
        let config: ProducerConfig = serde_json::from_value(serde_json::json!({
            "properties": {"acks": "1", "enable.idempotence": "false"}
        }))
        .unwrap();
        assert_eq!(config.compression, Compression::Zstd);
        assert_eq!(config.format, Format::Json);
        assert_eq!(config.key, KeyStrategy::User);
        let properties: BTreeMap<String, String> =
            config.librdkafka_properties().into_iter().collect();
        assert_eq!(properties["acks"], "all");
        assert_eq!(properties["enable.idempotence"], "true");
        assert_eq!(properties["compression.codec"], "zstd");
        assert_eq!(properties["queue.buffering.max.kbytes"], "4096");
    }

    #[test]
    fn topic_template_and_single_topic() {
        let topics = TopicConfig::default();
        assert_eq!(
            topics.topic_for(3002, "authentication"),
            "ocsf.authentication"
        );
        let by_uid = TopicConfig {
            template: "ocsf-{class_uid}-{class_name}".into(),
            ..TopicConfig::default()
        };
        assert_eq!(
            by_uid.topic_for(3005, "user_access"),
            "ocsf-3005-user_access"
        );
        let single = TopicConfig {
            single_topic: Some("ocsf.all".into()),
            ..TopicConfig::default()
        };
        assert_eq!(single.topic_for(0, "base_event"), "ocsf.all");
        let unknown = serde_json::from_value::<ProducerConfig>(
            serde_json::json!({"topic": {"templat": "x"}}),
        );
        assert!(unknown.is_err(), "typos in keys are errors");
        let format: Format = serde_json::from_value(serde_json::json!("avro")).unwrap();
        assert_eq!(format.content_type(), "application/vnd.apache.avro+binary");
        let key: KeyStrategy = serde_json::from_value(serde_json::json!("org")).unwrap();
        assert_eq!(key, KeyStrategy::Org);
    }
}
