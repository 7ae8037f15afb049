//! Authentication (`x-api-key`, OAuth Bearer tokens) and organisation selection (`x-org-id`).

use std::sync::Arc;
use std::time::Instant;

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::{Org, SimState, error, lock};

/// Who is calling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    /// The main API key: an administrator with every permission.
    ApiKey,
    /// The second API key: its admin role lacks Directory Insights (403 there).
    ApiKeyWithoutDirectoryInsights,
    /// An OAuth service-account token.
    ServiceAccount,
}

impl Credential {
    /// `auth_method` in events this caller causes.
    pub fn auth_method(self) -> &'static str {
        match self {
            Credential::ServiceAccount => "service account",
            _ => "api key",
        }
    }
}

/// Checks the credentials of a request; `Err` is the 401 to send.
pub fn authenticate(state: &SimState, headers: &HeaderMap) -> Result<Credential, Response> {
    if let Some(key) = headers.get("x-api-key") {
        let key = key.to_str().unwrap_or_default();
        if !key.is_empty() && key == state.config.api_key {
            return Ok(Credential::ApiKey);
        }
        if state
            .config
            .no_di_api_key
            .as_deref()
            .is_some_and(|k| !k.is_empty() && k == key)
        {
            return Ok(Credential::ApiKeyWithoutDirectoryInsights);
        }
        return Err(error(
            StatusCode::UNAUTHORIZED,
            "Unauthorized: invalid API key",
        ));
    }
    if let Some(value) = headers.get(axum::http::header::AUTHORIZATION) {
        let value = value.to_str().unwrap_or_default();
        let Some(token) = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
        else {
            return Err(error(
                StatusCode::UNAUTHORIZED,
                "Unauthorized: unsupported authorization scheme",
            ));
        };
        let mut tokens = lock(&state.tokens);
        return match tokens.get(token.trim()) {
            Some(expiry) if *expiry > Instant::now() => Ok(Credential::ServiceAccount),
            Some(_) => {
                tokens.remove(token.trim());
                Err(error(
                    StatusCode::UNAUTHORIZED,
                    "Unauthorized: access token expired",
                ))
            }
            None => Err(error(
                StatusCode::UNAUTHORIZED,
                "Unauthorized: invalid access token",
            )),
        };
    }
    Err(error(
        StatusCode::UNAUTHORIZED,
        "Unauthorized: missing x-api-key or Authorization header",
    ))
}

/// The organisations a request addresses: every `x-org-id` (repeated or comma-separated), or the
/// home org when none is sent. More than one is refused unless `allow_many`.
pub fn organisations(
    state: &SimState,
    headers: &HeaderMap,
    allow_many: bool,
) -> Result<Vec<Arc<Org>>, Response> {
    let mut wanted = Vec::new();
    for value in headers.get_all("x-org-id") {
        for id in value.to_str().unwrap_or_default().split(',') {
            let id = id.trim();
            if !id.is_empty() && !wanted.contains(&id.to_owned()) {
                wanted.push(id.to_owned());
            }
        }
    }
    if wanted.is_empty() {
        return match state.orgs.first() {
            Some(org) => Ok(vec![Arc::clone(org)]),
            None => Err(error(StatusCode::FORBIDDEN, "no organization")),
        };
    }
    if wanted.len() > 1 && !allow_many {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "only one x-org-id is allowed on this endpoint",
        ));
    }
    wanted
        .iter()
        .map(|id| {
            let joined = state
                .org(id)
                .filter(|org| org.listed.load(std::sync::atomic::Ordering::Relaxed));
            joined.cloned().ok_or_else(|| {
                error(
                    StatusCode::FORBIDDEN,
                    format!(
                        "Forbidden: organization {id} is not accessible with these credentials"
                    ),
                )
            })
        })
        .collect()
}

/// The provider a request names with `x-provider-id` (its own events), `None` without the
/// header; `Err` is the 403 for another provider.
pub fn provider(state: &SimState, headers: &HeaderMap) -> Result<Option<Arc<Org>>, Response> {
    let Some(value) = headers.get("x-provider-id") else {
        return Ok(None);
    };
    let id = value.to_str().unwrap_or_default().trim();
    if id == state.provider.id {
        Ok(Some(Arc::clone(&state.provider)))
    } else {
        Err(error(
            StatusCode::FORBIDDEN,
            format!("Forbidden: provider {id} is not accessible with these credentials"),
        ))
    }
}

/// Authenticates and selects one organisation (console API).
pub fn console_org(
    state: &SimState,
    headers: &HeaderMap,
) -> Result<(Credential, Arc<Org>), Response> {
    let credential = authenticate(state, headers)?;
    let mut orgs = organisations(state, headers, false)?;
    let org = orgs
        .pop()
        .ok_or_else(|| error(StatusCode::FORBIDDEN, "no organization"))?;
    Ok((credential, org))
}
