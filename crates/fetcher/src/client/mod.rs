//! The JumpCloud HTTP client: auth (API key or OAuth service account), regions, `x-org-id`,
//! timeouts, rate cap, backoff. Directory Insights paging lives in [`crate::events`]; the
//! generic [`JumpCloudClient::get_json`] / [`JumpCloudClient::post_json`] serve inventory and
//! response actions.

pub mod auth;
pub mod config;
pub mod error;
mod events;
mod page;
mod provider;
pub mod retry;
mod scope;
#[cfg(test)]
mod tests;

use crate::stats::FetchStats;
use auth::{AccessToken, DEFAULT_TOKEN_LIFETIME};
use backon::Retryable;
use bytes::Bytes;
pub use config::{AuthConfig, ClientConfig, Region, RetryConfig};
pub use error::FetchError;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
pub use page::{PageEvent, split_page};
use reqwest::Method;
use reqwest::header::HeaderMap;
use retry::AttemptError;
pub use scope::Scope;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Path of the Directory Insights events endpoint.
pub const EVENTS_PATH: &str = "/insights/directory/v1/events";
/// Path of the Directory Insights count endpoint.
pub const EVENTS_COUNT_PATH: &str = "/insights/directory/v1/events/count";

/// A decoded JSON response.
#[derive(Debug)]
pub struct JsonResponse {
    /// HTTP status (2xx).
    pub status: u16,
    /// Response headers (e.g. `x-total-count`).
    pub headers: HeaderMap,
    /// Body; `Null` for an empty body (e.g. 204).
    pub body: serde_json::Value,
}

/// One page of Directory Insights events, each element's JSON kept verbatim.
#[derive(Debug)]
pub struct EventsPage {
    /// The events as received: each the exact JSON text of one element, a slice of the
    /// response body (no copy), with its `id` and `timestamp` read in the same pass.
    pub events: Vec<PageEvent>,
    /// `X-Search_after` (JSON array) to request the next page.
    pub search_after: Option<Box<RawValue>>,
    /// `X-Limit`: the page size the server applied.
    pub limit: Option<usize>,
}

/// The Directory Insights query body (`EventQuery`).
#[derive(Debug, serde::Serialize)]
pub struct EventQuery {
    /// Services, e.g. `["all"]`.
    pub service: Vec<String>,
    /// Inclusive start, RFC 3339.
    pub start_time: String,
    /// Exclusive end, RFC 3339.
    pub end_time: String,
    /// Page size (max 10000).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
    /// `ASC`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sort: Option<&'static str>,
    /// The previous page's `X-Search_after`, passed through unchanged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub search_after: Option<Box<RawValue>>,
}

struct Response {
    status: u16,
    headers: HeaderMap,
    body: Bytes,
}

/// Largest `Content-Length` taken as the size to reserve up front (a bigger body still reads).
const MAX_RESERVED_BODY: u64 = 64 * 1024 * 1024;

/// Reads a response body into one buffer, copying each chunk as it arrives and dropping it:
/// an events page (about 9 MB) is held once, not twice as when the chunks are collected first
/// and joined at the end. The events are then slices of this buffer.
async fn read_body(mut response: reqwest::Response) -> Result<Bytes, reqwest::Error> {
    let expected = response
        .content_length()
        .unwrap_or(0)
        .min(MAX_RESERVED_BODY);
    let mut body = bytes::BytesMut::with_capacity(usize::try_from(expected).unwrap_or(0));
    while let Some(chunk) = response.chunk().await? {
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

struct ClientInner {
    http: reqwest::Client,
    config: ClientConfig,
    api_base: String,
    console_base: String,
    token_url: String,
    limiter: DefaultDirectRateLimiter,
    token: tokio::sync::Mutex<Option<AccessToken>>,
    stats: Arc<FetchStats>,
}

/// The JumpCloud client. Cheap to clone; clones share the rate cap, token and stats.
#[derive(Clone)]
pub struct JumpCloudClient {
    inner: Arc<ClientInner>,
}

impl std::fmt::Debug for JumpCloudClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JumpCloudClient")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

fn error_message(body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct ErrorBody {
        message: String,
    }
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(parsed) => parsed.message,
        Err(_) => String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned(),
    }
}

fn describe_transport_error(error: &reqwest::Error) -> String {
    use std::error::Error;
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

impl JumpCloudClient {
    /// Builds the client; fails on missing credentials or an invalid rate cap.
    pub fn new(config: ClientConfig) -> Result<Self, FetchError> {
        match &config.auth {
            AuthConfig::ApiKey { api_key } if api_key.expose_secret().is_empty() => {
                return Err(FetchError::Config(
                    "no API key: set jumpcloud.auth.api_key or JUMPCLOUD_API_KEY".into(),
                ));
            }
            AuthConfig::Oauth {
                client_id,
                client_secret,
                ..
            } if client_id.is_empty() || client_secret.expose_secret().is_empty() => {
                return Err(FetchError::Config(
                    "OAuth needs client_id and client_secret (JUMPCLOUD_CLIENT_ID / JUMPCLOUD_CLIENT_SECRET)".into(),
                ));
            }
            _ => {}
        }
        let rate = NonZeroU32::new(config.max_requests_per_sec).ok_or_else(|| {
            FetchError::Config("jumpcloud.max_requests_per_sec must be at least 1".into())
        })?;
        let mut http = reqwest::Client::builder()
            .use_rustls_tls()
            .timeout(config.request_timeout)
            .connect_timeout(config.connect_timeout);
        if let Some(user_agent) = &config.user_agent {
            http = http.user_agent(user_agent);
        }
        let http = http
            .build()
            .map_err(|e| FetchError::Config(format!("HTTP client: {e}")))?;
        Ok(Self {
            inner: Arc::new(ClientInner {
                http,
                api_base: config.api_base(),
                console_base: config.console_base(),
                token_url: config.token_url(),
                limiter: RateLimiter::direct(Quota::per_second(rate)),
                token: tokio::sync::Mutex::new(None),
                stats: Arc::new(FetchStats::default()),
                config,
            }),
        })
    }

    /// The configuration in use.
    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// Request counters shared by every clone.
    pub fn stats(&self) -> Arc<FetchStats> {
        Arc::clone(&self.inner.stats)
    }

    /// `GET` a JSON document (console API: `path` like `/api/systemusers`, `/api/v2/usergroups`).
    pub async fn get_json(
        &self,
        org: Option<&str>,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<JsonResponse, FetchError> {
        self.json_request(
            Method::GET,
            Scope::Org(org.unwrap_or("")),
            path,
            query,
            None,
        )
        .await
    }

    /// `POST` a JSON body (or none) and decode the JSON answer (`Null` when empty).
    pub async fn post_json(
        &self,
        org: Option<&str>,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<JsonResponse, FetchError> {
        let body = body.map(|b| Bytes::from(b.to_string()));
        self.json_request(Method::POST, Scope::Org(org.unwrap_or("")), path, &[], body)
            .await
    }

    /// Generic request with a JSON answer; any method.
    pub async fn json_request(
        &self,
        method: Method,
        scope: Scope<'_>,
        path: &str,
        query: &[(&str, String)],
        body: Option<Bytes>,
    ) -> Result<JsonResponse, FetchError> {
        self.request(method, scope, path, query, body, |response| {
            let body = if response.body.iter().all(u8::is_ascii_whitespace) {
                serde_json::Value::Null
            } else {
                serde_json::from_slice(&response.body)
                    .map_err(|e| format!("invalid or truncated JSON body: {e}"))?
            };
            Ok(JsonResponse {
                status: response.status,
                headers: response.headers.clone(),
                body,
            })
        })
        .await
    }

    /// Sends with rate cap and backoff; on 401 with OAuth, refreshes the token and retries once.
    async fn request<T>(
        &self,
        method: Method,
        scope: Scope<'_>,
        path: &str,
        query: &[(&str, String)],
        body: Option<Bytes>,
        parse: impl Fn(&Response) -> Result<T, String>,
    ) -> Result<T, FetchError> {
        let is_oauth = matches!(self.inner.config.auth, AuthConfig::Oauth { .. });
        let mut refreshed_after_401 = false;
        loop {
            let result = self
                .request_with_retries(&method, scope, path, query, &body, &parse)
                .await;
            match result {
                Err(FetchError::Unauthorized { .. }) if is_oauth && !refreshed_after_401 => {
                    tracing::info!(
                        path,
                        "401 with an OAuth token: refreshing the token and retrying once"
                    );
                    refreshed_after_401 = true;
                    *self.inner.token.lock().await = None;
                }
                other => return other,
            }
        }
    }

    async fn request_with_retries<T>(
        &self,
        method: &Method,
        scope: Scope<'_>,
        path: &str,
        query: &[(&str, String)],
        body: &Option<Bytes>,
        parse: &impl Fn(&Response) -> Result<T, String>,
    ) -> Result<T, FetchError> {
        let attempts = AtomicUsize::new(0);
        let cap = self.inner.config.retry.max_retry_after;
        let stats = &self.inner.stats;
        let result = (|| async {
            attempts.fetch_add(1, Ordering::Relaxed);
            self.attempt(method, scope, path, query, body, parse).await
        })
        .retry(retry::backoff(&self.inner.config.retry))
        .when(|e| matches!(e, AttemptError::Retryable { .. }))
        .adjust(|e, delay| match e {
            AttemptError::Retryable { retry_after, .. } => retry::next_delay(delay, *retry_after, cap),
            AttemptError::Fatal(_) => delay,
        })
        .notify(|e, delay| {
            stats.retries.fetch_add(1, Ordering::Relaxed);
            if let AttemptError::Retryable { reason, .. } = e {
                tracing::warn!(%method, path, org = %scope.name(), ?delay, reason, "retrying JumpCloud request");
            }
        })
        .await;
        result.map_err(|e| match e {
            AttemptError::Fatal(error) => error,
            AttemptError::Retryable { reason, .. } => FetchError::RetriesExhausted {
                method: method.to_string(),
                path: path.to_string(),
                attempts: attempts.load(Ordering::Relaxed),
                reason,
            },
        })
    }

    async fn attempt<T>(
        &self,
        method: &Method,
        scope: Scope<'_>,
        path: &str,
        query: &[(&str, String)],
        body: &Option<Bytes>,
        parse: &impl Fn(&Response) -> Result<T, String>,
    ) -> Result<T, AttemptError> {
        let inner = &self.inner;
        let base = if path.starts_with("/insights") {
            &inner.api_base
        } else {
            &inner.console_base
        };
        let url = format!("{base}{path}");
        let mut request = inner.http.request(method.clone(), &url);
        if !query.is_empty() {
            request = request.query(query);
        }
        request = match &inner.config.auth {
            AuthConfig::ApiKey { api_key } => request.header("x-api-key", api_key.expose_secret()),
            AuthConfig::Oauth { .. } => {
                let token = self.access_token().await.map_err(AttemptError::Fatal)?;
                request.bearer_auth(token.expose_secret())
            }
        };
        match scope {
            Scope::Org(org) if !org.is_empty() => request = request.header("x-org-id", org),
            Scope::Org(_) => {}
            Scope::Orgs(orgs) => {
                for org in orgs {
                    request = request.header("x-org-id", &**org);
                }
            }
            Scope::Provider(id) => request = request.header("x-provider-id", id),
        }
        if let Some(body) = body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.clone());
        }
        inner.limiter.until_ready().await;
        let response = request.send().await.map_err(|e| {
            inner.stats.transport_errors.fetch_add(1, Ordering::Relaxed);
            AttemptError::Retryable {
                reason: describe_transport_error(&e),
                retry_after: None,
            }
        })?;
        let status = response.status().as_u16();
        inner.stats.count_status(status);
        let headers = response.headers().clone();
        let body = read_body(response).await.map_err(|e| {
            inner.stats.transport_errors.fetch_add(1, Ordering::Relaxed);
            AttemptError::Retryable {
                reason: format!(
                    "HTTP {status}, body not fully received: {}",
                    describe_transport_error(&e)
                ),
                retry_after: None,
            }
        })?;
        let org_name = scope.name();
        match status {
            200..=299 => {
                let response = Response {
                    status,
                    headers,
                    body,
                };
                parse(&response).map_err(|reason| {
                    inner.stats.transport_errors.fetch_add(1, Ordering::Relaxed);
                    AttemptError::Retryable {
                        reason,
                        retry_after: None,
                    }
                })
            }
            401 => Err(AttemptError::Fatal(FetchError::Unauthorized {
                org: org_name,
            })),
            402 => Err(AttemptError::Fatal(FetchError::DirectoryInsightsDisabled {
                org: org_name,
            })),
            403 => Err(AttemptError::Fatal(FetchError::Forbidden {
                org: org_name,
                path: path.into(),
            })),
            status if retry::is_retryable_status(status) => Err(AttemptError::Retryable {
                reason: format!("HTTP {status}: {}", error_message(&body)),
                retry_after: retry::retry_after(&headers),
            }),
            status => Err(AttemptError::Fatal(FetchError::Rejected {
                method: method.to_string(),
                path: path.to_string(),
                status,
                message: error_message(&body),
            })),
        }
    }

    /// The current OAuth token, refreshed when it is within the margin of expiry.
    async fn access_token(&self) -> Result<SecretString, FetchError> {
        let AuthConfig::Oauth {
            client_id,
            client_secret,
            refresh_margin,
            ..
        } = &self.inner.config.auth
        else {
            return Err(FetchError::Config(
                "access_token called without OAuth".into(),
            ));
        };
        let mut cached = self.inner.token.lock().await;
        if let Some(token) = cached.as_ref()
            && !token.needs_refresh(Instant::now(), *refresh_margin)
        {
            return Ok(token.token.clone());
        }
        let token = self.fetch_token(client_id, client_secret).await?;
        let secret = token.token.clone();
        *cached = Some(token);
        Ok(secret)
    }

    async fn fetch_token(
        &self,
        client_id: &str,
        client_secret: &SecretString,
    ) -> Result<AccessToken, FetchError> {
        #[derive(Deserialize)]
        struct TokenResponse {
            access_token: String,
            expires_in: Option<f64>,
        }
        let inner = &self.inner;
        let token_url = inner.token_url.clone();
        let oauth_error = |reason: String| FetchError::OAuth {
            token_url: token_url.clone(),
            reason,
        };
        let attempt = || async {
            inner.limiter.until_ready().await;
            let obtained_at = Instant::now();
            let response = inner
                .http
                .post(&inner.token_url)
                .basic_auth(client_id, Some(client_secret.expose_secret()))
                .header(
                    reqwest::header::CONTENT_TYPE,
                    "application/x-www-form-urlencoded",
                )
                .body("grant_type=client_credentials&scope=api")
                .send()
                .await
                .map_err(|e| AttemptError::Retryable {
                    reason: describe_transport_error(&e),
                    retry_after: None,
                })?;
            let status = response.status().as_u16();
            inner.stats.count_status(status);
            let headers = response.headers().clone();
            let body = response
                .bytes()
                .await
                .map_err(|e| AttemptError::Retryable {
                    reason: describe_transport_error(&e),
                    retry_after: None,
                })?;
            match status {
                200..=299 => {
                    let parsed: TokenResponse =
                        serde_json::from_slice(&body).map_err(|e| AttemptError::Retryable {
                            reason: format!("invalid token response: {e}"),
                            retry_after: None,
                        })?;
                    let lifetime = parsed
                        .expires_in
                        .and_then(|s| Duration::try_from_secs_f64(s).ok())
                        .filter(|d| !d.is_zero())
                        .unwrap_or(DEFAULT_TOKEN_LIFETIME);
                    Ok(AccessToken {
                        token: SecretString::from(parsed.access_token),
                        obtained_at,
                        lifetime,
                    })
                }
                status if retry::is_retryable_status(status) => Err(AttemptError::Retryable {
                    reason: format!("HTTP {status}"),
                    retry_after: retry::retry_after(&headers),
                }),
                status => Err(AttemptError::Fatal(oauth_error(format!(
                    "HTTP {status}: {}; check the service account's client id and secret (regenerate the secret if it expired)",
                    error_message(&body)
                )))),
            }
        };
        let cap = inner.config.retry.max_retry_after;
        let token = attempt
            .retry(retry::backoff(&inner.config.retry))
            .when(|e| matches!(e, AttemptError::Retryable { .. }))
            .adjust(|e, delay| match e {
                AttemptError::Retryable { retry_after, .. } => {
                    retry::next_delay(delay, *retry_after, cap)
                }
                AttemptError::Fatal(_) => delay,
            })
            .notify(|_, _| {
                inner.stats.retries.fetch_add(1, Ordering::Relaxed);
            })
            .await
            .map_err(|e| match e {
                AttemptError::Fatal(error) => error,
                AttemptError::Retryable { reason, .. } => oauth_error(reason),
            })?;
        inner.stats.token_refreshes.fetch_add(1, Ordering::Relaxed);
        tracing::info!(lifetime = ?token.lifetime, "obtained an OAuth access token");
        Ok(token)
    }
}
