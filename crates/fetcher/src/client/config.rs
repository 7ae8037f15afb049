//! Configuration of the JumpCloud client: where, who, how fast.

use secrecy::SecretString;
use serde::Deserialize;
use std::time::Duration;

/// JumpCloud region; picks the API, console and OAuth hosts.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Region {
    /// `api.jumpcloud.com`.
    #[default]
    Us,
    /// `api.eu.jumpcloud.com`.
    Eu,
    /// `api.in.jumpcloud.com`.
    In,
}

impl Region {
    /// Base of the Directory Insights API (`/insights/directory/v1/...` is appended).
    pub fn api_base(self) -> &'static str {
        match self {
            Region::Us => "https://api.jumpcloud.com",
            Region::Eu => "https://api.eu.jumpcloud.com",
            Region::In => "https://api.in.jumpcloud.com",
        }
    }

    /// Base of the console API (`/api/...`, `/api/v2/...` is appended).
    pub fn console_base(self) -> &'static str {
        match self {
            Region::Us => "https://console.jumpcloud.com",
            Region::Eu => "https://console.eu.jumpcloud.com",
            Region::In => "https://console.in.jumpcloud.com",
        }
    }

    /// OAuth 2.0 token endpoint of the service accounts.
    pub fn token_url(self) -> &'static str {
        match self {
            Region::Us => "https://admin-oauth.id.jumpcloud.com/oauth2/token",
            Region::Eu => "https://admin-oauth.id.eu.jumpcloud.com/oauth2/token",
            Region::In => "https://admin-oauth.id.in.jumpcloud.com/oauth2/token",
        }
    }
}

/// How the client authenticates.
#[derive(Clone, Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum AuthConfig {
    /// Admin API key, sent as `x-api-key`.
    ApiKey {
        /// The key (env `JUMPCLOUD_API_KEY`).
        api_key: SecretString,
    },
    /// OAuth 2.0 service account (client credentials); the token is refreshed before expiry.
    Oauth {
        /// Service-account client id (env `JUMPCLOUD_CLIENT_ID`).
        client_id: String,
        /// Service-account client secret (env `JUMPCLOUD_CLIENT_SECRET`).
        client_secret: SecretString,
        /// Token endpoint; default: the region's, or `{base_url}/oauth2/token` with `base_url`.
        #[serde(default)]
        token_url: Option<String>,
        /// Refresh this long before the token expires (capped at half its lifetime).
        #[serde(
            default = "default_refresh_margin",
            deserialize_with = "crate::duration::deserialize"
        )]
        refresh_margin: Duration,
    },
}

fn default_refresh_margin() -> Duration {
    Duration::from_secs(30)
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig::ApiKey {
            api_key: SecretString::default(),
        }
    }
}

/// Retry policy for 429, 5xx, timeouts, resets and truncated bodies (exponential with jitter).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct RetryConfig {
    /// Retries after the first attempt before the error is returned.
    pub max_retries: usize,
    /// First backoff delay.
    #[serde(deserialize_with = "crate::duration::deserialize")]
    pub min_delay: Duration,
    /// Longest backoff delay.
    #[serde(deserialize_with = "crate::duration::deserialize")]
    pub max_delay: Duration,
    /// Longest `Retry-After` honoured; longer values are capped to this.
    #[serde(deserialize_with = "crate::duration::deserialize")]
    pub max_retry_after: Duration,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            max_retries: 8,
            min_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(120),
        }
    }
}

/// The JumpCloud client configuration (TOML table `[jumpcloud]`).
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClientConfig {
    /// `us`, `eu` or `in`.
    pub region: Region,
    /// Overrides the region's hosts (e.g. the simulator); env `JUMPCLOUD_BASE_URL`.
    pub base_url: Option<String>,
    /// Credentials.
    pub auth: AuthConfig,
    /// Organisations (`x-org-id`), one cursor each; empty = the credential's own organisation;
    /// `"all"` = every organisation of `provider_id`, listed at start-up and every
    /// `org_refresh_interval` ([`ClientConfig::discovers_orgs`]).
    #[serde(deserialize_with = "org_ids_or_all")]
    pub org_ids: Vec<String>,
    /// The Multi-Tenant Portal's provider id: where `org_ids = "all"` lists the organisations,
    /// and whose own events `provider_events` polls. Env `JUMPCLOUD_PROVIDER_ID`.
    pub provider_id: Option<String>,
    /// Also poll the provider's own events (`x-provider-id`) as a source of their own.
    pub provider_events: bool,
    /// With `org_ids = "all"`: how often the provider's organisations are listed again (new
    /// ones start from `events.initial_lookback`, removed ones stop).
    #[serde(deserialize_with = "crate::duration::deserialize")]
    pub org_refresh_interval: Duration,
    /// Whole-request timeout (connect + headers + body).
    #[serde(deserialize_with = "crate::duration::deserialize")]
    pub request_timeout: Duration,
    /// TCP/TLS connect timeout.
    #[serde(deserialize_with = "crate::duration::deserialize")]
    pub connect_timeout: Duration,
    /// Request-rate cap for the whole instance, shared by all organisations.
    pub max_requests_per_sec: u32,
    /// Backoff policy.
    pub retry: RetryConfig,
    /// `User-Agent` of every request (the calling program's name and version); none when
    /// unset. Given by the program, not read from the configuration file.
    #[serde(skip)]
    pub user_agent: Option<String>,
}

/// The `org_ids` value that selects every organisation of the provider.
pub const ORG_IDS_ALL: &str = "all";

/// `org_ids`: a list, or the string `"all"` (kept as `["all"]`).
fn org_ids_or_all<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OrgIds {
        List(Vec<String>),
        Word(String),
    }
    match OrgIds::deserialize(deserializer)? {
        OrgIds::List(ids) => Ok(ids),
        OrgIds::Word(word) if word == ORG_IDS_ALL => Ok(vec![word]),
        OrgIds::Word(word) => Err(serde::de::Error::custom(format!(
            "org_ids must be a list of organisation ids or \"all\", got {word:?}"
        ))),
    }
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            region: Region::Us,
            base_url: None,
            auth: AuthConfig::default(),
            org_ids: Vec::new(),
            provider_id: None,
            provider_events: false,
            org_refresh_interval: Duration::from_secs(600),
            request_timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(10),
            max_requests_per_sec: 10,
            retry: RetryConfig::default(),
            user_agent: None,
        }
    }
}

impl ClientConfig {
    /// Applies `JUMPCLOUD_BASE_URL`, `JUMPCLOUD_API_KEY`, `JUMPCLOUD_CLIENT_ID`,
    /// `JUMPCLOUD_CLIENT_SECRET` and `JUMPCLOUD_ORG_IDS` (comma-separated) from `lookup`
    /// (e.g. `|name| std::env::var(name).ok()`). Client id + secret select OAuth.
    pub fn apply_env(&mut self, lookup: impl Fn(&str) -> Option<String>) {
        if let Some(base_url) = lookup("JUMPCLOUD_BASE_URL").filter(|v| !v.is_empty()) {
            self.base_url = Some(base_url);
        }
        if let Some(api_key) = lookup("JUMPCLOUD_API_KEY").filter(|v| !v.is_empty()) {
            self.auth = AuthConfig::ApiKey {
                api_key: SecretString::from(api_key),
            };
        }
        let client_id = lookup("JUMPCLOUD_CLIENT_ID").filter(|v| !v.is_empty());
        let client_secret = lookup("JUMPCLOUD_CLIENT_SECRET").filter(|v| !v.is_empty());
        if let (Some(client_id), Some(client_secret)) = (client_id, client_secret) {
            let (token_url, refresh_margin) = match &self.auth {
                AuthConfig::Oauth {
                    token_url,
                    refresh_margin,
                    ..
                } => (token_url.clone(), *refresh_margin),
                AuthConfig::ApiKey { .. } => (None, default_refresh_margin()),
            };
            self.auth = AuthConfig::Oauth {
                client_id,
                client_secret: SecretString::from(client_secret),
                token_url,
                refresh_margin,
            };
        }
        if let Some(provider_id) = lookup("JUMPCLOUD_PROVIDER_ID").filter(|v| !v.is_empty()) {
            self.provider_id = Some(provider_id);
        }
        if let Some(org_ids) = lookup("JUMPCLOUD_ORG_IDS") {
            self.org_ids = org_ids
                .split(',')
                .map(str::trim)
                .filter(|id| !id.is_empty())
                .map(String::from)
                .collect();
        }
    }

    /// True with `org_ids = "all"`: the organisations are those the provider lists.
    pub fn discovers_orgs(&self) -> bool {
        matches!(self.org_ids.as_slice(), [all] if all == ORG_IDS_ALL)
    }

    /// Base for Directory Insights requests.
    pub fn api_base(&self) -> String {
        match &self.base_url {
            Some(base) => base.trim_end_matches('/').to_string(),
            None => self.region.api_base().to_string(),
        }
    }

    /// Base for console (`/api/...`) requests.
    pub fn console_base(&self) -> String {
        match &self.base_url {
            Some(base) => base.trim_end_matches('/').to_string(),
            None => self.region.console_base().to_string(),
        }
    }

    /// The OAuth token endpoint in effect.
    pub fn token_url(&self) -> String {
        if let AuthConfig::Oauth {
            token_url: Some(url),
            ..
        } = &self.auth
        {
            return url.clone();
        }
        match &self.base_url {
            Some(base) => format!("{}/oauth2/token", base.trim_end_matches('/')),
            None => self.region.token_url().to_string(),
        }
    }
}
