//! `jumpcloud-ocsf check`: tests each connection the configuration names and prints pass/fail
//! per item, with the remedy for each failure. Exit 0 only when every check passed. Read-only:
//! it creates no topic and registers no schema. The Kafka part: [`super::check_kafka`].

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use fetcher::EventQuery;

use crate::config::AppConfig;
use crate::runtime::block_on;
use crate::wiring::resolve_org_ids;

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
pub(super) struct Check {
    pub(super) item: String,
    pub(super) result: std::result::Result<String, String>,
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
    checks.extend(super::check_kafka::check_kafka(&config, timeout).await);
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
    let org_ids = match resolve_org_ids(config, &client).await {
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

async fn check_registry(registry: &producer::RegistryConfig, timeout: Duration) -> Check {
    let item = format!("schema registry {}", registry.url);
    let config = producer::RegistryConfig {
        timeout_ms: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
        max_retries: 0,
        ..registry.clone()
    };
    let result = match producer::RegistryClient::new(&config) {
        Ok(client) => client
            .subjects()
            .await
            .map(|subjects| format!("{} subject(s)", subjects.len()))
            .map_err(|err| match err {
                producer::RegistryError::Transport(message) => format!(
                    "registry unreachable ({message}): check kafka.schema_registry.url / SCHEMA_REGISTRY_URL"
                ),
                producer::RegistryError::BadAnswer(message) => {
                    format!("not a Confluent-compatible registry (GET /subjects: {message})")
                }
                other => other.to_string(),
            }),
        Err(err) => Err(err.to_string()),
    };
    Check { item, result }
}
