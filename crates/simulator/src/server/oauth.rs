//! OAuth 2.0 client credentials: `POST /oauth2/token`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rand::Rng;
use serde_json::json;

use super::{SimState, lock};

fn oauth_error(status: StatusCode, code: &str, description: &str) -> Response {
    (
        status,
        Json(json!({"error": code, "error_description": description})),
    )
        .into_response()
}

fn form_value<'a>(body: &'a str, key: &str) -> Option<&'a str> {
    body.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == key).then_some(v)
    })
}

/// Issues an access token for `Basic base64(client_id:client_secret)` and
/// `grant_type=client_credentials&scope=api`.
pub async fn token(
    State(state): State<Arc<SimState>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let (Some(id), Some(secret)) = (
        &state.config.oauth_client_id,
        &state.config.oauth_client_secret,
    ) else {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "no service account is configured",
        );
    };
    let credentials = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b64| STANDARD.decode(b64.trim()).ok())
        .and_then(|bytes| String::from_utf8(bytes).ok());
    let Some(credentials) = credentials else {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "missing Basic client authentication",
        );
    };
    if credentials != format!("{id}:{secret}") {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication failed",
        );
    }
    match form_value(&body, "grant_type") {
        Some("client_credentials") => {}
        Some(_) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "only client_credentials is supported",
            );
        }
        None => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "grant_type is required",
            );
        }
    }
    let scope = form_value(&body, "scope")
        .unwrap_or("api")
        .replace("%20", " ")
        .replace('+', " ");
    let bytes: [u8; 32] = rand::rng().random();
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let ttl = state.config.token_ttl_secs;
    {
        let mut tokens = lock(&state.tokens);
        let now = Instant::now();
        tokens.retain(|_, expiry| *expiry > now);
        tokens.insert(token.clone(), now + Duration::from_secs(ttl));
    }
    Json(json!({"access_token": token, "token_type": "Bearer", "expires_in": ttl, "scope": scope}))
        .into_response()
}
