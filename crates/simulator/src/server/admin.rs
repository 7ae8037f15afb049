//! Test-only admin endpoints under `/__sim` (same auth as the API; never faulted).

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::faults::{FaultKind, FaultRule, RandomFaults};
use super::{SimState, auth, error, lock, read, write};
use crate::events::StoredEvent;

const GROUND_TRUTH_CHUNK: usize = 2_000;

/// `GET /__sim/events[?org=ID]`: every event held (visible or not), NDJSON, exactly as served.
pub async fn ground_truth(
    State(state): State<Arc<SimState>>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    if let Err(response) = auth::authenticate(&state, &headers) {
        return response;
    }
    let wanted = params.get("org");
    if let Some(id) = wanted {
        if state.org_or_provider(id).is_none() {
            return error(StatusCode::NOT_FOUND, format!("unknown organization {id}"));
        }
    }
    // Snapshot the (cheap, shared) event handles, then stream the JSON in chunks so a
    // million-event dump never sits in memory twice.
    let mut events: Vec<Arc<StoredEvent>> = Vec::new();
    for org in state
        .orgs
        .iter()
        .chain(wanted.is_some().then_some(&state.provider))
        .filter(|o| wanted.is_none_or(|id| *id == o.id))
    {
        let index = read(&org.events);
        events.reserve(index.len());
        events.extend(index.iter().cloned());
    }
    let total = events.len();
    let events = Arc::new(events);
    let chunks = total.div_ceil(GROUND_TRUTH_CHUNK);
    let stream = futures::stream::iter((0..chunks).map(move |chunk| {
        let start = chunk * GROUND_TRUTH_CHUNK;
        let slice = events
            .get(start..(start + GROUND_TRUTH_CHUNK).min(events.len()))
            .unwrap_or_default();
        let mut text = String::with_capacity(slice.iter().map(|e| e.json.len() + 1).sum());
        for event in slice {
            text.push_str(&event.json);
            text.push('\n');
        }
        Ok::<_, Infallible>(Bytes::from(text))
    }));
    let mut response = (StatusCode::OK, Body::from_stream(stream)).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-ndjson"),
    );
    response
        .headers_mut()
        .insert("x-total-count", HeaderValue::from(total));
    response
}

/// `GET /__sim/orgs`: `[{"id", "directory_insights"}]`.
pub async fn orgs(State(state): State<Arc<SimState>>, headers: HeaderMap) -> Response {
    if let Err(response) = auth::authenticate(&state, &headers) {
        return response;
    }
    let list: Vec<Value> = state
        .orgs
        .iter()
        .map(|o| {
            json!({
                "id": o.id,
                "directory_insights": o.di_enabled,
                "listed": o.listed.load(std::sync::atomic::Ordering::Relaxed),
            })
        })
        .collect();
    Json(list).into_response()
}

/// `POST /__sim/orgs/{id}/join`: the organisation joins the provider (listed, accessible).
pub async fn join_org(
    State(state): State<Arc<SimState>>,
    headers: HeaderMap,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Response {
    set_listed(&state, &headers, &id, true)
}

/// `POST /__sim/orgs/{id}/leave`: the organisation leaves the provider (not listed, 403).
pub async fn leave_org(
    State(state): State<Arc<SimState>>,
    headers: HeaderMap,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Response {
    set_listed(&state, &headers, &id, false)
}

fn set_listed(state: &SimState, headers: &HeaderMap, id: &str, listed: bool) -> Response {
    if let Err(response) = auth::authenticate(state, headers) {
        return response;
    }
    match state.org(id) {
        Some(org) => {
            org.listed
                .store(listed, std::sync::atomic::Ordering::Relaxed);
            Json(json!({"id": id, "listed": listed})).into_response()
        }
        None => error(StatusCode::NOT_FOUND, format!("unknown organization {id}")),
    }
}

/// `POST /__sim/live {"events_per_sec": x}`.
pub async fn live(State(state): State<Arc<SimState>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(response) = auth::authenticate(&state, &headers) {
        return response;
    }
    let rate = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v.get("events_per_sec").and_then(Value::as_f64));
    match rate {
        Some(rate) if rate >= 0.0 => {
            state.set_live_rate(rate);
            Json(json!({"events_per_sec": state.live_rate()})).into_response()
        }
        _ => error(
            StatusCode::BAD_REQUEST,
            "expected {\"events_per_sec\": <number >= 0>}",
        ),
    }
}

/// `POST /__sim/faults`: queue a fault for the next `count` matching requests.
pub async fn add_fault(
    State(state): State<Arc<SimState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(response) = auth::authenticate(&state, &headers) {
        return response;
    }
    let rule: FaultRule = match serde_json::from_slice(&body) {
        Ok(rule) => rule,
        Err(err) => return error(StatusCode::BAD_REQUEST, format!("invalid fault: {err}")),
    };
    if let Some(status) = rule.status {
        if rule.kind == FaultKind::ServerError && !(500..=599).contains(&status) {
            return error(StatusCode::BAD_REQUEST, "status must be 5xx");
        }
    }
    let reply = json!({"queued": rule.kind.as_str(), "count": rule.count});
    if rule.count > 0 {
        lock(&state.faults).rules.push(rule);
    }
    (StatusCode::CREATED, Json(reply)).into_response()
}

/// `POST /__sim/faults/random {"probability", "kinds"}`.
pub async fn random_faults(
    State(state): State<Arc<SimState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(response) = auth::authenticate(&state, &headers) {
        return response;
    }
    let random: RandomFaults = match serde_json::from_slice(&body) {
        Ok(random) => random,
        Err(err) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("invalid random faults: {err}"),
            );
        }
    };
    if !(0.0..=1.0).contains(&random.probability) || random.kinds.is_empty() {
        return error(
            StatusCode::BAD_REQUEST,
            "probability must be in [0, 1] and kinds non-empty",
        );
    }
    let reply = json!({"probability": random.probability, "kinds": random.kinds});
    lock(&state.faults).random = (random.probability > 0.0).then_some(random);
    Json(reply).into_response()
}

/// `DELETE /__sim/faults`: clears queued and random faults.
pub async fn clear_faults(State(state): State<Arc<SimState>>, headers: HeaderMap) -> Response {
    if let Err(response) = auth::authenticate(&state, &headers) {
        return response;
    }
    let mut plan = lock(&state.faults);
    plan.rules.clear();
    plan.random = None;
    StatusCode::NO_CONTENT.into_response()
}

/// `POST /__sim/orgs/{id}/hold {"next": n, "delay_secs": s}`: the organisation's next `n` events
/// become visible only `s` seconds after their timestamp (a gap beyond a collector's lag and
/// overlap, with the ground truth unchanged).
pub async fn hold(
    State(state): State<Arc<SimState>>,
    headers: HeaderMap,
    axum::extract::Path(id): axum::extract::Path<String>,
    body: Bytes,
) -> Response {
    if let Err(response) = auth::authenticate(&state, &headers) {
        return response;
    }
    let Some(org) = state.org_or_provider(&id) else {
        return error(StatusCode::NOT_FOUND, format!("unknown organization {id}"));
    };
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let (Some(next), Some(delay)) = (
        body.get("next").and_then(Value::as_u64),
        body.get("delay_secs").and_then(Value::as_f64),
    ) else {
        return error(
            StatusCode::BAD_REQUEST,
            "expected {\"next\": <events>, \"delay_secs\": <seconds>}",
        );
    };
    let count = usize::try_from(next).unwrap_or(usize::MAX);
    write(&org.events).hold_next(count, (delay.max(0.0) * 1e9) as i64);
    Json(json!({"id": id, "next": next, "delay_secs": delay})).into_response()
}

/// `POST /__sim/orgs/{id}/hide {"start", "end", "count", "for_secs"}`: the first `count` events
/// with `start <= timestamp < end` (RFC 3339) are not visible for the next `for_secs` seconds.
pub async fn hide(
    State(state): State<Arc<SimState>>,
    headers: HeaderMap,
    axum::extract::Path(id): axum::extract::Path<String>,
    body: Bytes,
) -> Response {
    if let Err(response) = auth::authenticate(&state, &headers) {
        return response;
    }
    let Some(org) = state.org_or_provider(&id) else {
        return error(StatusCode::NOT_FOUND, format!("unknown organization {id}"));
    };
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let time = |name: &str| {
        body.get(name)
            .and_then(Value::as_str)
            .and_then(crate::ids::parse_rfc3339_ns)
    };
    let (Some(start), Some(end), Some(count), Some(seconds)) = (
        time("start"),
        time("end"),
        body.get("count").and_then(Value::as_u64),
        body.get("for_secs").and_then(Value::as_f64),
    ) else {
        return error(
            StatusCode::BAD_REQUEST,
            "expected {\"start\", \"end\" (RFC 3339), \"count\", \"for_secs\"}",
        );
    };
    let until = crate::ids::now_ns() + (seconds.max(0.0) * 1e9) as i64;
    let hidden = write(&org.events).hide(
        start,
        end,
        usize::try_from(count).unwrap_or(usize::MAX),
        until,
    );
    Json(json!({"id": id, "hidden": hidden})).into_response()
}

/// `GET /__sim/held`: every event a hold or a hide made visible late, as
/// `[{"organization", "id", "timestamp", "visible_at"}]`.
pub async fn held(State(state): State<Arc<SimState>>, headers: HeaderMap) -> Response {
    if let Err(response) = auth::authenticate(&state, &headers) {
        return response;
    }
    let list: Vec<Value> = held_events(&state)
        .into_iter()
        .map(|e| {
            json!({
                "organization": e.org,
                "id": e.id,
                "timestamp": e.timestamp,
                "visible_at": crate::ids::rfc3339(e.visible_at_ns),
            })
        })
        .collect();
    Json(list).into_response()
}

/// An event a hold or a hide made visible late.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldEvent {
    /// Its organisation.
    pub org: String,
    /// Its `id`.
    pub id: String,
    /// Its `timestamp` as served.
    pub timestamp: String,
    /// When it becomes visible, epoch ns.
    pub visible_at_ns: i64,
}

/// Every held event, organisation by organisation.
pub fn held_events(state: &SimState) -> Vec<HeldEvent> {
    state
        .orgs
        .iter()
        .chain(std::iter::once(&state.provider))
        .flat_map(|org| {
            read(&org.events)
                .held()
                .into_iter()
                .map(|event| {
                    let timestamp = serde_json::from_str::<Value>(&event.json)
                        .ok()
                        .and_then(|v| {
                            v.get("timestamp")
                                .and_then(Value::as_str)
                                .map(str::to_owned)
                        })
                        .unwrap_or_default();
                    HeldEvent {
                        org: org.id.clone(),
                        id: event.id.clone(),
                        timestamp,
                        visible_at_ns: event.visible_at_ns,
                    }
                })
                .collect::<Vec<_>>()
        })
        .collect()
}
