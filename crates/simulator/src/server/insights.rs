//! The Directory Insights events API: `POST /insights/directory/v1/events` and its `count`,
//! `distinct` and `interval` siblings.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::auth::{self, Credential};
use super::{Org, SimState, error, now_ns, read};
use crate::events::catalogue::SERVICES;
use crate::events::search::{self, Term};
use crate::events::{ScanFilter, SortKey, SortOrder, StoredEvent};
use crate::ids::{self, decode_tiebreak, encode_tiebreak};

const DEFAULT_LIMIT: usize = 1000;
const MAX_LIMIT: usize = 10_000;

/// A parsed events query.
#[derive(Debug)]
struct EventQuery {
    filter: ScanFilter,
    order: SortOrder,
    limit: usize,
    skip: usize,
    search_after: Option<SortKey>,
    search_term: Option<Term>,
    /// `q`: case-insensitive full-text match on the event's JSON.
    text: Option<String>,
    fields: Option<Vec<String>>,
    body: Value,
}

fn bad_request(message: impl Into<String>) -> Response {
    error(StatusCode::BAD_REQUEST, message)
}

fn parse_services(value: Option<&Value>) -> Result<Option<Vec<&'static str>>, Response> {
    let list: Vec<&str> = match value {
        None | Some(Value::Null) => return Err(bad_request("service is required")),
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().unwrap_or("<non-string>"))
            .collect(),
        Some(_) => return Err(bad_request("service must be an array of strings")),
    };
    if list.is_empty() {
        return Err(bad_request("service is required"));
    }
    let mut services = Vec::new();
    for name in list {
        match SERVICES.iter().find(|s| **s == name) {
            Some(&"all") => return Ok(None),
            Some(service) => {
                if !services.contains(service) {
                    services.push(*service);
                }
            }
            None => {
                return Err(bad_request(format!(
                    "invalid service \"{name}\": must be one of [{}]",
                    SERVICES.join(", ")
                )));
            }
        }
    }
    Ok(Some(services))
}

fn parse_time(value: Option<&Value>, name: &str) -> Result<Option<i64>, Response> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => ids::parse_rfc3339_ns(text)
            .map(Some)
            .ok_or_else(|| bad_request(format!("invalid {name} \"{text}\": must be an RFC 3339 date-time (e.g. 2020-01-01T14:00:00Z)"))),
        Some(other) => Err(bad_request(format!("invalid {name} {other}: must be an RFC 3339 date-time string"))),
    }
}

/// `limit`: default 1000, at most 10000; nonsensical values fall back to the default.
fn parse_limit(value: Option<&Value>) -> usize {
    let number = match value {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.trim().parse::<i64>().ok(),
        _ => None,
    };
    match number {
        Some(n) if n > 0 => usize::try_from(n).map_or(MAX_LIMIT, |n| n.min(MAX_LIMIT)),
        _ => DEFAULT_LIMIT,
    }
}

fn parse_search_after(value: Option<&Value>) -> Result<Option<SortKey>, Response> {
    let items = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(items)) if items.is_empty() => return Ok(None),
        Some(Value::Array(items)) => items,
        Some(other) => {
            return Err(bad_request(format!(
                "invalid search_after {other}: pass the X-Search_after header value unchanged"
            )));
        }
    };
    let epoch_ms = match items.first() {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.parse::<i64>().ok(),
        _ => None,
    };
    let tiebreak = items
        .get(1)
        .and_then(Value::as_str)
        .and_then(decode_tiebreak);
    match (epoch_ms, tiebreak, items.len()) {
        (Some(epoch_ms), Some(tiebreak), 2) => Ok(Some(SortKey { epoch_ms, tiebreak })),
        _ => Err(bad_request(format!(
            "invalid search_after {}: pass the X-Search_after header value unchanged",
            Value::Array(items.clone())
        ))),
    }
}

fn parse_query(body: &Bytes, now: i64) -> Result<EventQuery, Response> {
    let body: Value = serde_json::from_slice(body)
        .map_err(|e| bad_request(format!("invalid request body: {e}")))?;
    if !body.is_object() {
        return Err(bad_request("invalid request body: expected a JSON object"));
    }
    let services = parse_services(body.get("service"))?;
    let start_ns = parse_time(body.get("start_time"), "start_time")?
        .ok_or_else(|| bad_request("start_time is required"))?;
    let end_ns = parse_time(body.get("end_time"), "end_time")?;
    let shown = |name: &str, ns: i64| {
        body.get(name)
            .and_then(Value::as_str)
            .and_then(ids::normalize_rfc3339)
            .unwrap_or_else(|| ids::rfc3339(ns))
    };
    if start_ns > now {
        return Err(bad_request(format!(
            "Start Time cannot be in the future {} > {}",
            shown("start_time", start_ns),
            ids::rfc3339(now)
        )));
    }
    if let Some(end) = end_ns {
        if start_ns > end {
            return Err(bad_request(format!(
                "Start Time not after End Time {} > {}",
                shown("start_time", start_ns),
                shown("end_time", end)
            )));
        }
    }
    let order = match body.get("sort").and_then(Value::as_str) {
        Some(s) if s.eq_ignore_ascii_case("desc") => SortOrder::Desc,
        _ => SortOrder::Asc,
    };
    let search_term = match body.get("search_term") {
        None | Some(Value::Null) => None,
        Some(term) => Some(search::parse(term).map_err(bad_request)?),
    };
    let fields = match body.get("fields") {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) => {
            let fields: Vec<String> = items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect();
            search::check_fields(&fields).map_err(bad_request)?;
            Some(fields)
        }
        Some(_) => return Err(bad_request("fields must be an array of strings")),
    };
    Ok(EventQuery {
        filter: ScanFilter {
            services,
            start_ns,
            end_ns,
            visible_at_ns: Some(now),
        },
        order,
        limit: parse_limit(body.get("limit")),
        skip: body
            .get("skip")
            .and_then(Value::as_u64)
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(0),
        search_after: parse_search_after(body.get("search_after"))?,
        search_term,
        text: body
            .get("q")
            .and_then(Value::as_str)
            .filter(|q| !q.is_empty())
            .map(str::to_lowercase),
        fields,
        body,
    })
}

/// Authenticates, checks Directory Insights access for every addressed org, parses the body.
fn prepare(
    state: &SimState,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<(Vec<Arc<Org>>, EventQuery), Response> {
    let credential = auth::authenticate(state, headers)?;
    if credential == Credential::ApiKeyWithoutDirectoryInsights {
        return Err(error(
            StatusCode::FORBIDDEN,
            "Forbidden: the administrator role of this API key does not include Directory Insights",
        ));
    }
    let orgs = match auth::provider(state, headers)? {
        Some(provider) if headers.get("x-org-id").is_none() => vec![provider],
        Some(_) => {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "send either x-provider-id or x-org-id, not both",
            ));
        }
        None => auth::organisations(state, headers, true)?,
    };
    if orgs.iter().any(|o| !o.di_enabled) {
        return Err(error(
            StatusCode::PAYMENT_REQUIRED,
            "Directory Insights is not enabled for your organization",
        ));
    }
    let query = parse_query(body, now_ns())?;
    Ok((orgs, query))
}

/// Events of `org` matching the query, in order, after the query's `search_after`.
fn matching<'a>(
    index: &'a crate::events::EventIndex,
    query: &'a EventQuery,
) -> impl Iterator<Item = &'a Arc<StoredEvent>> + 'a {
    index
        .scan(&query.filter, query.order, query.search_after)
        .filter(move |event| match &query.text {
            None => true,
            Some(text) => event.json.to_lowercase().contains(text.as_str()),
        })
        .filter(move |event| match &query.search_term {
            None => true,
            Some(term) => {
                serde_json::from_str::<Value>(&event.json).is_ok_and(|v| term.matches(&v))
            }
        })
}

fn request_id() -> HeaderValue {
    HeaderValue::from_str(&uuid::Uuid::new_v4().to_string())
        .unwrap_or(HeaderValue::from_static("0"))
}

fn json_response(body: String, headers: &[(&'static str, String)]) -> Response {
    let mut response = (StatusCode::OK, body).into_response();
    let map = response.headers_mut();
    map.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    map.insert("x-request-id", request_id());
    for (name, value) in headers {
        if let Ok(value) = HeaderValue::from_str(value) {
            map.insert(*name, value);
        }
    }
    response
}

/// `POST /insights/directory/v1/events`: one page, a bare JSON array.
pub async fn events(
    State(state): State<Arc<SimState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (orgs, query) = match prepare(&state, &headers, &body) {
        Ok(prepared) => prepared,
        Err(response) => return response,
    };
    let mut page: Vec<Arc<StoredEvent>> = Vec::with_capacity(query.limit.min(1024));
    for org in &orgs {
        let index = read(&org.events);
        if orgs.len() == 1 {
            page.extend(
                matching(&index, &query)
                    .skip(query.skip)
                    .take(query.limit)
                    .cloned(),
            );
        } else {
            // The merged page can only come from each org's first skip + limit rows.
            page.extend(
                matching(&index, &query)
                    .take(query.skip.saturating_add(query.limit))
                    .cloned(),
            );
        }
    }
    if orgs.len() > 1 {
        page.sort_by_key(|e| e.key);
        if query.order == SortOrder::Desc {
            page.reverse();
        }
        page = page
            .into_iter()
            .skip(query.skip)
            .take(query.limit)
            .collect();
    }
    let mut body = String::with_capacity(page.iter().map(|e| e.json.len() + 1).sum::<usize>() + 2);
    body.push('[');
    for (i, event) in page.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        match &query.fields {
            None => body.push_str(&event.json),
            Some(fields) => {
                let value: Value = serde_json::from_str(&event.json).unwrap_or(Value::Null);
                body.push_str(&search::project(&value, fields).to_string());
            }
        }
    }
    body.push(']');
    let search_after = match page.last() {
        Some(last) => json!([last.key.epoch_ms, encode_tiebreak(last.key.tiebreak)]).to_string(),
        None => query
            .body
            .get("search_after")
            .filter(|v| !v.is_null())
            .map_or_else(|| "[]".to_owned(), Value::to_string),
    };
    json_response(
        body,
        &[
            ("x-result-count", page.len().to_string()),
            ("x-limit", query.limit.to_string()),
            ("x-sort", query.order.as_str().to_owned()),
            ("x-search_after", search_after),
        ],
    )
}

/// `POST /insights/directory/v1/events/count`: `{"count": N}`.
pub async fn count(
    State(state): State<Arc<SimState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (orgs, query) = match prepare(&state, &headers, &body) {
        Ok(prepared) => prepared,
        Err(response) => return response,
    };
    let total: usize = orgs
        .iter()
        .map(|org| matching(&read(&org.events), &query).count())
        .sum();
    json_response(json!({ "count": total }).to_string(), &[])
}

fn field_text(event: &StoredEvent, field: &str) -> Option<String> {
    match field {
        "event_type" => Some(event.event_type.to_owned()),
        "service" => Some(event.service.to_owned()),
        _ => {
            let value: Value = serde_json::from_str(&event.json).ok()?;
            let mut current = &value;
            for segment in field.split('.') {
                current = current.get(segment)?;
            }
            match current {
                Value::String(s) => Some(s.to_lowercase()),
                Value::Null => None,
                other => Some(other.to_string()),
            }
        }
    }
}

/// `POST /insights/directory/v1/events/distinct`: buckets of a field's values.
pub async fn distinct(
    State(state): State<Arc<SimState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (orgs, query) = match prepare(&state, &headers, &body) {
        Ok(prepared) => prepared,
        Err(response) => return response,
    };
    let Some(field) = query
        .body
        .get("field")
        .and_then(Value::as_str)
        .map(str::to_owned)
    else {
        return bad_request("field is required");
    };
    let mut counts: HashMap<String, u64> = HashMap::new();
    for org in &orgs {
        let index = read(&org.events);
        for event in matching(&index, &query) {
            if let Some(key) = field_text(event, &field) {
                *counts.entry(key).or_default() += 1;
            }
        }
    }
    let mut buckets: Vec<(String, u64)> = counts.into_iter().collect();
    buckets.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let buckets: Vec<Value> = buckets
        .into_iter()
        .map(|(key, n)| json!({"key": key, "doc_count": n}))
        .collect();
    json_response(
        json!({"buckets": buckets, "doc_count_error_upper_bound": 0, "sum_other_doc_count": 0})
            .to_string(),
        &[],
    )
}

fn parse_timezone(text: &str) -> Option<i64> {
    let (sign, digits) = match text.as_bytes().first()? {
        b'+' => (1, &text[1..]),
        b'-' => (-1, &text[1..]),
        _ => (1, text),
    };
    let digits: String = digits.chars().filter(char::is_ascii_digit).collect();
    if digits.len() != 4 {
        return None;
    }
    let hours: i64 = digits[..2].parse().ok()?;
    let minutes: i64 = digits[2..].parse().ok()?;
    Some(sign * (hours * 3600 + minutes * 60) * 1000)
}

/// `POST /insights/directory/v1/events/interval`: a histogram.
pub async fn interval(
    State(state): State<Arc<SimState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (orgs, query) = match prepare(&state, &headers, &body) {
        Ok(prepared) => prepared,
        Err(response) => return response,
    };
    let unit_ms: i64 = match query.body.get("interval_unit").and_then(Value::as_str) {
        Some("s") => 1_000,
        Some("m") => 60_000,
        Some("h") => 3_600_000,
        Some("d") => 86_400_000,
        Some("w") => 604_800_000,
        Some(other) => {
            return bad_request(format!(
                "invalid interval_unit \"{other}\": must be one of s, m, h, d, w"
            ));
        }
        None => return bad_request("interval_unit is required"),
    };
    let value: i64 = match query.body.get("interval_value") {
        None | Some(Value::Null) => 1,
        Some(Value::Number(n)) => n.as_i64().unwrap_or(0),
        Some(Value::String(s)) => s.parse().unwrap_or(0),
        Some(_) => 0,
    };
    if value <= 0 {
        return bad_request("invalid interval_value: must be a positive integer");
    }
    let offset_ms = match query.body.get("timezone").and_then(Value::as_str) {
        None => 0,
        Some(tz) => match parse_timezone(tz) {
            Some(offset) => offset,
            None => {
                return bad_request(format!(
                    "invalid timezone \"{tz}\": use an offset like -0500"
                ));
            }
        },
    };
    let width = unit_ms * value;
    let mut buckets: std::collections::BTreeMap<i64, u64> = std::collections::BTreeMap::new();
    for org in &orgs {
        let index = read(&org.events);
        for event in matching(&index, &query) {
            let local = event.key.epoch_ms + offset_ms;
            let key = local.div_euclid(width) * width - offset_ms;
            *buckets.entry(key).or_default() += 1;
        }
    }
    let buckets: Vec<Value> = buckets
        .into_iter()
        .map(|(key, n)| json!({"key": key, "key_as_string": ids::rfc3339_millis(key * 1_000_000), "doc_count": n}))
        .collect();
    json_response(json!({ "buckets": buckets }).to_string(), &[])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_falls_back_to_the_default_and_caps_at_the_max() {
        assert_eq!(parse_limit(None), 1000);
        assert_eq!(parse_limit(Some(&json!(-5))), 1000);
        assert_eq!(parse_limit(Some(&json!("abc"))), 1000);
        assert_eq!(parse_limit(Some(&json!(1.5))), 1000);
        assert_eq!(parse_limit(Some(&json!(250))), 250);
        assert_eq!(parse_limit(Some(&json!("250"))), 250);
        assert_eq!(parse_limit(Some(&json!(50_000))), 10_000);
    }

    #[test]
    fn timezone_offsets_parse() {
        assert_eq!(parse_timezone("-0500"), Some(-5 * 3_600_000));
        assert_eq!(parse_timezone("+0130"), Some(90 * 60_000));
        assert_eq!(parse_timezone("EST"), None);
    }
}
