//! Faults on demand: 429 bursts (with or without `Retry-After`), 5xx, slow responses, truncated
//! bodies and connection resets, queued through `POST /__sim/faults` or drawn at random.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rand::Rng;
use rand::seq::IndexedRandom;
use serde::{Deserialize, Serialize};

use super::{ConnectionKill, SimState, error, lock};

/// A kind of fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// 429 Too Many Requests.
    RateLimit,
    /// 500/502/503/504.
    ServerError,
    /// The response is delayed.
    Slow,
    /// 200 with the body cut in the middle.
    Truncate,
    /// The connection is closed without a response.
    Reset,
}

impl FaultKind {
    /// Every kind.
    pub const ALL: [FaultKind; 5] = [
        FaultKind::RateLimit,
        FaultKind::ServerError,
        FaultKind::Slow,
        FaultKind::Truncate,
        FaultKind::Reset,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            FaultKind::RateLimit => "rate_limit",
            FaultKind::ServerError => "server_error",
            FaultKind::Slow => "slow",
            FaultKind::Truncate => "truncate",
            FaultKind::Reset => "reset",
        }
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for FaultKind {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        FaultKind::ALL
            .into_iter()
            .find(|k| k.as_str() == text.trim())
            .ok_or_else(|| format!("unknown fault kind {text:?}: expected one of rate_limit, server_error, slow, truncate, reset"))
    }
}

/// One queued fault (`POST /__sim/faults`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultRule {
    /// What to do.
    pub kind: FaultKind,
    /// How many matching requests get it.
    #[serde(default = "one")]
    pub count: u32,
    /// `rate_limit` only: the `Retry-After` seconds; absent = no header.
    #[serde(default)]
    pub retry_after_secs: Option<u64>,
    /// `server_error` only: 500, 502, 503 or 504 (default 503).
    #[serde(default)]
    pub status: Option<u16>,
    /// `slow` only: the delay (default 1000 ms).
    #[serde(default)]
    pub delay_ms: Option<u64>,
    /// Only requests whose path starts with this.
    #[serde(default)]
    pub path_prefix: Option<String>,
}

fn one() -> u32 {
    1
}

/// Random faults (`POST /__sim/faults/random`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RandomFaults {
    /// Probability per request.
    pub probability: f64,
    /// Kinds drawn from (uniformly).
    #[serde(default = "all_kinds")]
    pub kinds: Vec<FaultKind>,
}

fn all_kinds() -> Vec<FaultKind> {
    FaultKind::ALL.to_vec()
}

/// The faults in force.
#[derive(Debug, Default)]
pub struct FaultPlan {
    /// Queued faults, first match wins.
    pub rules: Vec<FaultRule>,
    /// Random faults, when on.
    pub random: Option<RandomFaults>,
}

impl FaultPlan {
    /// The fault for a request to `path`, if any (consumes one use of a queued rule).
    fn take(&mut self, path: &str, slow_default_ms: u64) -> Option<FaultRule> {
        if let Some(position) = self.rules.iter().position(|r| {
            r.count > 0 && r.path_prefix.as_deref().is_none_or(|p| path.starts_with(p))
        }) {
            let rule = &mut self.rules[position];
            rule.count -= 1;
            let taken = rule.clone();
            if rule.count == 0 {
                self.rules.remove(position);
            }
            return Some(taken);
        }
        let random = self.random.as_ref()?;
        let mut rng = rand::rng();
        if random.probability <= 0.0 || !rng.random_bool(random.probability.min(1.0)) {
            return None;
        }
        let kind = *random.kinds.choose(&mut rng)?;
        Some(FaultRule {
            kind,
            count: 1,
            retry_after_secs: (kind == FaultKind::RateLimit && rng.random_bool(0.5)).then_some(1),
            status: [500, 502, 503, 504].choose(&mut rng).copied(),
            delay_ms: Some(slow_default_ms),
            path_prefix: None,
        })
    }
}

/// Middleware: applies a due fault to any request outside `/__sim`.
pub async fn apply(State(state): State<Arc<SimState>>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    if path.starts_with("/__sim") {
        return next.run(request).await;
    }
    let fault = lock(&state.faults).take(&path, state.config.slow_fault_delay_ms);
    let Some(fault) = fault else {
        return next.run(request).await;
    };
    tracing::debug!(kind = %fault.kind, path, "injecting fault");
    match fault.kind {
        FaultKind::RateLimit => {
            let mut response = error(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests");
            if let Some(secs) = fault.retry_after_secs {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            }
            response
        }
        FaultKind::ServerError => {
            let status = fault
                .status
                .and_then(|s| StatusCode::from_u16(s).ok())
                .filter(StatusCode::is_server_error)
                .unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            error(status, status.canonical_reason().unwrap_or("Server Error"))
        }
        FaultKind::Slow => {
            tokio::time::sleep(Duration::from_millis(fault.delay_ms.unwrap_or(1_000))).await;
            next.run(request).await
        }
        FaultKind::Truncate => {
            let response = next.run(request).await;
            let (mut parts, body) = response.into_parts();
            let bytes = match axum::body::to_bytes(body, usize::MAX).await {
                Ok(bytes) => bytes,
                Err(err) => {
                    return error(StatusCode::INTERNAL_SERVER_ERROR, format!("body: {err}"));
                }
            };
            let cut = bytes.slice(..bytes.len() / 2);
            parts.status = StatusCode::OK;
            parts.headers.remove(header::CONTENT_LENGTH);
            Response::from_parts(parts, Body::from(cut))
        }
        FaultKind::Reset => {
            match request.extensions().get::<ConnectInfo<ConnectionKill>>() {
                Some(ConnectInfo(connection)) => connection.kill(),
                None => tracing::warn!("reset fault without a killable connection"),
            }
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queued_rules_match_by_prefix_and_run_out() {
        let mut plan = FaultPlan::default();
        plan.rules.push(FaultRule {
            kind: FaultKind::RateLimit,
            count: 2,
            retry_after_secs: None,
            status: None,
            delay_ms: None,
            path_prefix: Some("/insights".into()),
        });
        assert!(plan.take("/api/systemusers", 0).is_none());
        assert_eq!(
            plan.take("/insights/directory/v1/events", 0)
                .map(|r| r.kind),
            Some(FaultKind::RateLimit)
        );
        assert!(plan.take("/insights/x", 0).is_some());
        assert!(plan.take("/insights/x", 0).is_none());
    }

    #[test]
    fn kinds_parse_from_their_wire_names() {
        for kind in FaultKind::ALL {
            assert_eq!(kind.as_str().parse::<FaultKind>(), Ok(kind));
        }
        assert!("explode".parse::<FaultKind>().is_err());
    }
}
