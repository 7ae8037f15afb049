//! Which organisations the pipelines serve: the configured list, or with
//! `[jumpcloud] org_ids = "all"` every organisation the provider lists (`provider_id`); one
//! live source per organisation, and the provider's own events as a source of their own with
//! `provider_events = true`.

use anyhow::{Context, Result, bail};
use fetcher::{EventSource, JumpCloudClient};
use pipeline::StartingCheckpoints;

use crate::config::AppConfig;

/// The configured organisations, or `[""]` (the credential's own organisation).
pub fn org_ids(config: &AppConfig) -> Vec<String> {
    if config.jumpcloud.org_ids.is_empty() {
        vec![String::new()]
    } else {
        config.jumpcloud.org_ids.clone()
    }
}

/// The organisations to poll: with `org_ids = "all"` those `provider_id` lists now (the
/// supervisor lists them again every `org_refresh_interval`), else the configured ones (or
/// `[""]`, the credential's own organisation).
pub async fn resolve_org_ids(config: &AppConfig, client: &JumpCloudClient) -> Result<Vec<String>> {
    if !config.jumpcloud.discovers_orgs() {
        return Ok(org_ids(config));
    }
    let Some(provider_id) = config.jumpcloud.provider_id.as_deref() else {
        bail!(
            "jumpcloud.org_ids = \"all\" needs jumpcloud.provider_id (or JUMPCLOUD_PROVIDER_ID): the organisations are those the provider lists"
        );
    };
    let ids = client
        .provider_organizations(provider_id)
        .await
        .with_context(|| format!("listing the organisations of provider {provider_id}"))?;
    if ids.is_empty() {
        bail!("provider {provider_id} lists no organisations");
    }
    tracing::info!(
        provider = provider_id,
        organisations = ids.len(),
        "organisations discovered"
    );
    Ok(ids)
}

/// One live source per organisation of `org_ids` (a new one starts from
/// `events.initial_lookback`), and the provider's own events when `with_provider` and
/// `provider_events` are on.
pub fn event_sources(
    config: &AppConfig,
    client: &JumpCloudClient,
    starting: &StartingCheckpoints,
    org_ids: &[String],
    with_provider: bool,
) -> Result<Vec<EventSource>> {
    let mut sources = org_ids
        .iter()
        .map(|org_id| {
            let checkpoint = starting.checkpoint(&fetcher::events::live_checkpoint_key(org_id))?;
            EventSource::new(
                client.clone(),
                org_id.clone(),
                config.events.clone(),
                checkpoint,
            )
            .with_context(|| format!("event source of organisation {org_id:?}"))
        })
        .collect::<Result<Vec<_>>>()?;
    if with_provider && config.jumpcloud.provider_events {
        let Some(provider_id) = config.jumpcloud.provider_id.as_deref() else {
            bail!("jumpcloud.provider_events needs jumpcloud.provider_id");
        };
        let checkpoint =
            starting.checkpoint(&fetcher::events::provider_checkpoint_key(provider_id))?;
        let source = EventSource::provider(
            client.clone(),
            provider_id,
            config.events.clone(),
            checkpoint,
        )
        .with_context(|| format!("event source of provider {provider_id}"))?;
        sources.push(source);
    }
    Ok(sources)
}

/// The client and one live event source per configured organisation (or the credential's own),
/// each starting from its checkpoint in `starting`.
pub fn build_sources(
    config: &AppConfig,
    starting: &StartingCheckpoints,
) -> Result<(JumpCloudClient, Vec<EventSource>)> {
    let client = config.jumpcloud_client()?;
    let sources = event_sources(config, &client, starting, &org_ids(config), true)?;
    Ok((client, sources))
}

/// The name the provider's own events are sharded by in a cluster (like an organisation id).
pub fn provider_shard_key(config: &AppConfig) -> Option<String> {
    config
        .jumpcloud
        .provider_events
        .then_some(config.jumpcloud.provider_id.as_deref())
        .flatten()
        .map(|id| format!("provider/{id}"))
}
