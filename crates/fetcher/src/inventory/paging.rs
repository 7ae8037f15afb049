//! `limit`/`skip`/`sort=_id` paging that survives data changing between pages.

use std::collections::HashSet;

use serde_json::Value;

use super::InventoryConfig;
use crate::client::{FetchError, JsonResponse, JumpCloudClient};

/// Times a list may step back after detecting a possible gap before it gives up.
const MAX_STEP_BACKS: usize = 1000;

/// The two list shapes of the console API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListShape {
    /// v1: `{"totalCount": N, "results": [...]}`.
    V1,
    /// v2: a bare array and an `x-total-count` header.
    V2,
}

fn split(shape: ListShape, response: JsonResponse) -> Result<(Vec<Value>, Option<u64>), String> {
    match shape {
        ListShape::V1 => {
            let total = response.body.get("totalCount").and_then(Value::as_u64);
            match response.body {
                Value::Object(mut map) => match map.remove("results") {
                    Some(Value::Array(rows)) => Ok((rows, total)),
                    _ => Err("v1 list without a results array".to_owned()),
                },
                _ => Err("v1 list that is not an object".to_owned()),
            }
        }
        ListShape::V2 => {
            let total = response
                .headers
                .get("x-total-count")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse().ok());
            match response.body {
                Value::Array(rows) => Ok((rows, total)),
                _ => Err("v2 list that is not an array".to_owned()),
            }
        }
    }
}

/// Every row of a list, in server order, each once.
///
/// `key` gives a row's identity (rows without one are a protocol error). When `ordered_by_key`
/// (the list is sorted by that key, as `sort=_id` gives), a page whose first row sorts after
/// every row seen means more rows were deleted than the overlap re-reads, and the page is
/// fetched again from further back.
pub async fn list_all(
    client: &JumpCloudClient,
    org: Option<&str>,
    path: &str,
    shape: ListShape,
    config: &InventoryConfig,
    ordered_by_key: bool,
    key: fn(&Value) -> Option<String>,
) -> Result<Vec<Value>, FetchError> {
    let limit = config.page_size.max(1);
    let overlap = config.page_overlap.min(limit.saturating_sub(1));
    let protocol = |reason: String| FetchError::Protocol {
        path: path.to_owned(),
        reason,
    };
    let mut seen: HashSet<String> = HashSet::new();
    let mut rows_out = Vec::new();
    let mut greatest_key: Option<String> = None;
    let mut skip = 0usize;
    let mut step_backs = 0usize;
    loop {
        let query = [
            ("limit", limit.to_string()),
            ("skip", skip.to_string()),
            ("sort", "_id".to_owned()),
        ];
        config.pace.wait().await;
        let response = client.get_json(org, path, &query).await?;
        let (rows, total) = split(shape, response).map_err(protocol)?;
        let received = rows.len();
        if received == 0 {
            break;
        }
        if ordered_by_key
            && overlap > 0
            && skip > 0
            && step_backs < MAX_STEP_BACKS
            && let (Some(first), Some(greatest)) =
                (rows.first().and_then(key), greatest_key.as_ref())
            && first.as_str() > greatest.as_str()
        {
            step_backs += 1;
            tracing::debug!(
                path,
                skip,
                "rows deleted while paging: re-reading from further back"
            );
            skip = skip.saturating_sub(limit);
            continue;
        }
        for row in rows {
            let id = key(&row).ok_or_else(|| protocol("a row without an id".to_owned()))?;
            if greatest_key.as_deref().is_none_or(|g| id.as_str() > g) {
                greatest_key = Some(id.clone());
            }
            if seen.insert(id) {
                rows_out.push(row);
            }
        }
        let short_page = received < limit;
        let reached_total = total.is_none_or(|t| seen.len() as u64 >= t);
        if short_page && reached_total {
            break;
        }
        skip += received - overlap.min(received);
        if total.is_some_and(|t| skip as u64 > t + limit as u64) {
            // Past the end by more than a page: the server ignores `skip`; stop.
            break;
        }
        if overlap >= received {
            // A page no longer than the overlap (server cap below `limit`): move on anyway.
            skip += 1;
        }
    }
    Ok(rows_out)
}

impl JumpCloudClient {
    /// Every element of a v1 list (`{totalCount, results}`), paged with `limit`/`skip`/`sort=_id`
    /// by [`list_all`] (rows told apart by their whole JSON).
    pub async fn list_v1(
        &self,
        org: Option<&str>,
        path: &str,
        page_size: usize,
    ) -> Result<Vec<serde_json::Value>, FetchError> {
        self.list_rows(org, path, ListShape::V1, page_size).await
    }

    /// Every element of a v2 list (bare array + `x-total-count`), as [`Self::list_v1`].
    pub async fn list_v2(
        &self,
        org: Option<&str>,
        path: &str,
        page_size: usize,
    ) -> Result<Vec<serde_json::Value>, FetchError> {
        self.list_rows(org, path, ListShape::V2, page_size).await
    }

    async fn list_rows(
        &self,
        org: Option<&str>,
        path: &str,
        shape: ListShape,
        page_size: usize,
    ) -> Result<Vec<serde_json::Value>, FetchError> {
        let config = InventoryConfig {
            page_size,
            ..InventoryConfig::default()
        };
        list_all(self, org, path, shape, &config, false, |row| {
            Some(row.to_string())
        })
        .await
    }
}
