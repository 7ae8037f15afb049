//! The console inventory API: v1 lists (`{"totalCount", "results"}`) and v2 lists (bare arrays
//! with `x-total-count`), with `limit`/`skip`/`sort`/`filter`.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{SimState, auth, error, read};

const DEFAULT_LIMIT: usize = 10;
const MAX_LIMIT: usize = 100;

type Params = HashMap<String, String>;

fn field_text(record: &Value, field: &str) -> String {
    let value = record.get(field).or_else(|| {
        if field == "_id" {
            record.get("id")
        } else {
            None
        }
    });
    match value {
        Some(Value::String(s)) => s.to_lowercase(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

fn parse_number(params: &Params, name: &str, default: usize) -> Result<usize, Response> {
    match params.get(name) {
        None => Ok(default),
        Some(text) => text.trim().parse::<usize>().map_err(|_| {
            error(
                StatusCode::BAD_REQUEST,
                format!("invalid {name} \"{text}\": must be a non-negative integer"),
            )
        }),
    }
}

/// Applies `filter`, `sort`, `skip` and `limit`; returns the total after filtering and the page.
fn page(mut records: Vec<Value>, params: &Params) -> Result<(usize, Vec<Value>), Response> {
    if let Some(filter) = params.get("filter") {
        let parts: Vec<&str> = filter.splitn(3, ':').collect();
        let [field, operator, value] = parts.as_slice() else {
            return Err(error(
                StatusCode::BAD_REQUEST,
                format!("invalid filter \"{filter}\": use field:eq:value"),
            ));
        };
        let operator = operator.trim_start_matches('$');
        let wanted: Vec<String> = value.split('|').map(str::to_lowercase).collect();
        let keep = |record: &Value| {
            let found = field_text(record, field);
            match operator {
                "eq" => found == value.to_lowercase(),
                "ne" => found != value.to_lowercase(),
                "in" => wanted.contains(&found),
                "search" => found.contains(&value.to_lowercase()),
                _ => false,
            }
        };
        if !matches!(operator, "eq" | "ne" | "in" | "search") {
            return Err(error(
                StatusCode::BAD_REQUEST,
                format!("unsupported filter operator \"{operator}\""),
            ));
        }
        records.retain(keep);
    }
    if let Some(sort) = params.get("sort") {
        let keys: Vec<(bool, String)> = sort
            .split([',', ' '])
            .filter(|s| !s.is_empty())
            .map(|s| match s.strip_prefix('-') {
                Some(field) => (true, field.to_owned()),
                None => (false, s.to_owned()),
            })
            .collect();
        records.sort_by(|a, b| {
            for (descending, field) in &keys {
                let ordering = field_text(a, field).cmp(&field_text(b, field));
                let ordering = if *descending {
                    ordering.reverse()
                } else {
                    ordering
                };
                if ordering != Ordering::Equal {
                    return ordering;
                }
            }
            Ordering::Equal
        });
    }
    let limit = parse_number(params, "limit", DEFAULT_LIMIT)?;
    let limit = if limit == 0 {
        DEFAULT_LIMIT
    } else {
        limit.min(MAX_LIMIT)
    };
    let skip = parse_number(params, "skip", 0)?;
    let total = records.len();
    let results = records.into_iter().skip(skip).take(limit).collect();
    Ok((total, results))
}

fn v1_list(records: Vec<Value>, params: &Params) -> Response {
    match page(records, params) {
        Ok((total, results)) => {
            Json(json!({"totalCount": total, "results": results})).into_response()
        }
        Err(response) => response,
    }
}

fn v2_list(records: Vec<Value>, params: &Params) -> Response {
    match page(records, params) {
        Ok((total, results)) => {
            let mut response = Json(Value::Array(results)).into_response();
            response
                .headers_mut()
                .insert("x-total-count", HeaderValue::from(total));
            response
        }
        Err(response) => response,
    }
}

macro_rules! with_org {
    ($state:expr, $headers:expr) => {
        match auth::console_org(&$state, &$headers) {
            Ok((_, org)) => org,
            Err(response) => return response,
        }
    };
}

fn not_found(what: &str, id: &str) -> Response {
    error(StatusCode::NOT_FOUND, format!("{what} {id} not found"))
}

/// `GET /api/organizations` (no `x-org-id`: every organisation the credentials reach).
pub async fn organizations(
    State(state): State<Arc<SimState>>,
    headers: HeaderMap,
    Query(params): Query<Params>,
) -> Response {
    if let Err(response) = auth::authenticate(&state, &headers) {
        return response;
    }
    let records = state
        .orgs
        .iter()
        .map(|o| read(&o.inventory).org_record.clone())
        .collect();
    v1_list(records, &params)
}

/// `GET /api/v2/providers/{id}/organizations`: the provider's organisations (those that have
/// joined), `{"results": [...], "totalCount": N}`, paged with `limit`/`skip`.
pub async fn provider_organizations(
    State(state): State<Arc<SimState>>,
    headers: HeaderMap,
    Path(provider_id): Path<String>,
    Query(params): Query<Params>,
) -> Response {
    if let Err(response) = auth::authenticate(&state, &headers) {
        return response;
    }
    if provider_id != state.provider.id {
        return not_found("provider", &provider_id);
    }
    let records = state
        .orgs
        .iter()
        .filter(|o| o.listed.load(std::sync::atomic::Ordering::Relaxed))
        .map(|o| read(&o.inventory).org_record.clone())
        .collect();
    v1_list(records, &params)
}

/// `GET /api/systemusers`.
pub async fn users(
    State(state): State<Arc<SimState>>,
    headers: HeaderMap,
    Query(params): Query<Params>,
) -> Response {
    let org = with_org!(state, headers);
    let records = read(&org.inventory)
        .users
        .iter()
        .map(|u| u.to_json())
        .collect();
    v1_list(records, &params)
}

/// `GET /api/systemusers/{id}`.
pub async fn user(
    State(state): State<Arc<SimState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let org = with_org!(state, headers);
    let inventory = read(&org.inventory);
    match inventory.user(&id) {
        Some(user) => Json(user.to_json()).into_response(),
        None => not_found("user", &id),
    }
}

/// `GET /api/systems`.
pub async fn systems(
    State(state): State<Arc<SimState>>,
    headers: HeaderMap,
    Query(params): Query<Params>,
) -> Response {
    let org = with_org!(state, headers);
    let records = read(&org.inventory)
        .systems
        .iter()
        .map(|s| s.record.clone())
        .collect();
    v1_list(records, &params)
}

/// `GET /api/applications`.
pub async fn applications(
    State(state): State<Arc<SimState>>,
    headers: HeaderMap,
    Query(mut params): Query<Params>,
) -> Response {
    let org = with_org!(state, headers);
    let records = read(&org.inventory)
        .applications
        .iter()
        .map(|a| a.record.clone())
        .collect();
    params
        .entry("sort".to_owned())
        .or_insert_with(|| "name".to_owned());
    v1_list(records, &params)
}

/// `GET /api/v2/usergroups`.
pub async fn user_groups(
    State(state): State<Arc<SimState>>,
    headers: HeaderMap,
    Query(params): Query<Params>,
) -> Response {
    let org = with_org!(state, headers);
    let records = read(&org.inventory)
        .groups
        .iter()
        .map(|g| g.to_json())
        .collect();
    v2_list(records, &params)
}

fn graph_edge(id: &str, kind: &str) -> Value {
    json!({"to": {"id": id, "type": kind}, "attributes": Value::Null})
}

fn path_step(id: &str, kind: &str) -> Value {
    json!({"attributes": Value::Null, "to": {"attributes": Value::Null, "id": id, "type": kind}})
}

/// `GET /api/v2/usergroups/{id}/members`: GraphConnections to users.
pub async fn group_members(
    State(state): State<Arc<SimState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(params): Query<Params>,
) -> Response {
    let org = with_org!(state, headers);
    let inventory = read(&org.inventory);
    let Some(group) = inventory.group(&id) else {
        return not_found("user group", &id);
    };
    let records = group
        .members
        .iter()
        .map(|m| graph_edge(m, "user"))
        .collect();
    v2_list(records, &params)
}

/// `GET /api/v2/users/{id}/memberof`: the user's groups.
pub async fn user_member_of(
    State(state): State<Arc<SimState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(params): Query<Params>,
) -> Response {
    let org = with_org!(state, headers);
    let inventory = read(&org.inventory);
    if inventory.user(&id).is_none() {
        return not_found("user", &id);
    }
    let records = inventory
        .groups
        .iter()
        .filter(|g| g.members.contains(&id))
        .map(|g| json!({"id": g.id, "type": "user_group", "compiledAttributes": Value::Null, "paths": [[path_step(&g.id, "user_group")]]}))
        .collect();
    v2_list(records, &params)
}

/// `GET /api/v2/applications/{id}/users`: users bound through groups, with their paths.
pub async fn application_users(
    State(state): State<Arc<SimState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(params): Query<Params>,
) -> Response {
    let org = with_org!(state, headers);
    let inventory = read(&org.inventory);
    let Some(app) = inventory.applications.iter().find(|a| a.id == id) else {
        return not_found("application", &id);
    };
    let mut paths: Vec<(String, Vec<Value>)> = Vec::new();
    for group_id in &app.group_ids {
        let Some(group) = inventory.group(group_id) else {
            continue;
        };
        for member in &group.members {
            let path = json!([
                path_step(&group.id, "user_group"),
                path_step(member, "user")
            ]);
            match paths.iter_mut().find(|(user, _)| user == member) {
                Some((_, list)) => list.push(path),
                None => paths.push((member.clone(), vec![path])),
            }
        }
    }
    let records = paths
        .into_iter()
        .map(|(user, list)| json!({"id": user, "type": "user", "compiledAttributes": Value::Null, "paths": list}))
        .collect();
    v2_list(records, &params)
}

/// `GET /api/v2/applications/{id}/usergroups`.
pub async fn application_groups(
    State(state): State<Arc<SimState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(params): Query<Params>,
) -> Response {
    let org = with_org!(state, headers);
    let inventory = read(&org.inventory);
    let Some(app) = inventory.applications.iter().find(|a| a.id == id) else {
        return not_found("application", &id);
    };
    let records = app
        .group_ids
        .iter()
        .map(|g| json!({"id": g, "type": "user_group", "compiledAttributes": Value::Null, "paths": [[path_step(g, "user_group")]]}))
        .collect();
    v2_list(records, &params)
}

/// `GET /api/v2/applemdms` (default limit 1).
pub async fn apple_mdms(
    State(state): State<Arc<SimState>>,
    headers: HeaderMap,
    Query(mut params): Query<Params>,
) -> Response {
    let org = with_org!(state, headers);
    let records = read(&org.inventory).apple_mdms.clone();
    params
        .entry("limit".to_owned())
        .or_insert_with(|| "1".to_owned());
    v2_list(records, &params)
}

/// `GET /api/v2/applemdms/{id}/devices`.
pub async fn apple_mdm_devices(
    State(state): State<Arc<SimState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(params): Query<Params>,
) -> Response {
    let org = with_org!(state, headers);
    let inventory = read(&org.inventory);
    match inventory
        .apple_mdm_devices
        .iter()
        .find(|(mdm, _)| *mdm == id)
    {
        Some((_, devices)) => v2_list(devices.clone(), &params),
        None => not_found("apple mdm", &id),
    }
}

/// `GET /api/v2/users/{id}/systems`: the systems bound to a user.
pub async fn user_systems(
    State(state): State<Arc<SimState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(params): Query<Params>,
) -> Response {
    let org = with_org!(state, headers);
    let inventory = read(&org.inventory);
    if inventory.user(&id).is_none() {
        return not_found("user", &id);
    }
    let records = inventory
        .systems
        .iter()
        .filter(|s| s.owner_id.as_deref() == Some(id.as_str()))
        .map(|s| json!({"id": s.id, "type": "system", "compiledAttributes": Value::Null, "paths": [[path_step(&s.id, "system")]]}))
        .collect();
    v2_list(records, &params)
}

/// `GET /api/v2/usergroups/{id}/membership`: the group's users, resolved (GraphObjectWithPaths).
pub async fn group_membership(
    State(state): State<Arc<SimState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(params): Query<Params>,
) -> Response {
    let org = with_org!(state, headers);
    let inventory = read(&org.inventory);
    let Some(group) = inventory.group(&id) else {
        return not_found("user group", &id);
    };
    let records = group
        .members
        .iter()
        .map(|m| json!({"id": m, "type": "user", "compiledAttributes": Value::Null, "paths": [[path_step(m, "user")]]}))
        .collect();
    v2_list(records, &params)
}
