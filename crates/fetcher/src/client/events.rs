//! Directory Insights requests: one page of events, a count.

use super::{
    EVENTS_COUNT_PATH, EVENTS_PATH, EventQuery, EventsPage, FetchError, JumpCloudClient, Scope,
    page,
};
use bytes::Bytes;
use reqwest::Method;
use serde::Deserialize;
use serde_json::value::RawValue;

impl JumpCloudClient {
    /// One page of Directory Insights events for `org` (empty = the credential's own org).
    pub async fn events_page(
        &self,
        org: &str,
        query: &EventQuery,
    ) -> Result<EventsPage, FetchError> {
        self.events_page_for(Scope::Org(org), query).await
    }

    /// One page of Directory Insights events for `scope`: one organisation, several at once
    /// (the page mixes them in time order; each event's `organization` says whose it is), or
    /// the provider's own events.
    pub async fn events_page_for(
        &self,
        scope: Scope<'_>,
        query: &EventQuery,
    ) -> Result<EventsPage, FetchError> {
        let body = Bytes::from(serde_json::to_vec(query).map_err(|e| FetchError::Protocol {
            path: EVENTS_PATH.into(),
            reason: format!("could not encode the query: {e}"),
        })?);
        self.request(
            Method::POST,
            scope,
            EVENTS_PATH,
            &[],
            Some(body),
            |response| {
                let events = page::split_page(&response.body)
                    .map_err(|e| format!("invalid or truncated events array: {e}"))?;
                let search_after = match response.headers.get("x-search_after") {
                    Some(value) => {
                        let text = value.to_str().map_err(|e| format!("X-Search_after: {e}"))?;
                        Some(
                            RawValue::from_string(text.to_string())
                                .map_err(|e| format!("X-Search_after is not JSON: {e}"))?,
                        )
                    }
                    None => None,
                };
                let limit = response
                    .headers
                    .get("x-limit")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse().ok());
                Ok(EventsPage {
                    events,
                    search_after,
                    limit,
                })
            },
        )
        .await
    }

    /// `/events/count` for a query (its `limit`, `sort`, `search_after` are ignored).
    pub async fn events_count(&self, org: &str, query: &EventQuery) -> Result<u64, FetchError> {
        self.events_count_for(Scope::Org(org), query).await
    }

    /// `/events/count` for `scope` (several organisations: their sum).
    pub async fn events_count_for(
        &self,
        scope: Scope<'_>,
        query: &EventQuery,
    ) -> Result<u64, FetchError> {
        #[derive(Deserialize)]
        struct Count {
            count: u64,
        }
        let body = serde_json::json!({
            "service": query.service,
            "start_time": query.start_time,
            "end_time": query.end_time,
        });
        self.request(
            Method::POST,
            scope,
            EVENTS_COUNT_PATH,
            &[],
            Some(Bytes::from(body.to_string())),
            |response| {
                serde_json::from_slice::<Count>(&response.body)
                    .map(|c| c.count)
                    .map_err(|e| format!("invalid count body: {e}"))
            },
        )
        .await
    }
}
