//! The Multi-Tenant Portal: the organisations of a provider (console API v2, paged).

use super::{FetchError, JumpCloudClient};

/// Page size of the provider organisations list (the API's maximum).
const PAGE: usize = 100;

impl JumpCloudClient {
    /// Every organisation id of `provider_id`
    /// (`GET /api/v2/providers/{provider_id}/organizations`, paged with `limit`/`skip`; no
    /// `x-org-id`: the list is the provider's), in the order listed.
    pub async fn provider_organizations(
        &self,
        provider_id: &str,
    ) -> Result<Vec<String>, FetchError> {
        if provider_id.is_empty() || !provider_id.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(FetchError::Config(format!(
                "jumpcloud.provider_id must be the provider's id (letters and digits), got {provider_id:?}"
            )));
        }
        let path = format!("/api/v2/providers/{provider_id}/organizations");
        let mut ids = Vec::new();
        loop {
            let query = [
                ("limit", PAGE.to_string()),
                ("skip", ids.len().to_string()),
                ("fields", "id".to_owned()),
            ];
            let response = self.get_json(None, &path, &query).await?;
            let results = response
                .body
                .get("results")
                .and_then(serde_json::Value::as_array)
                .ok_or_else(|| FetchError::Protocol {
                    path: path.clone(),
                    reason: "expected an object with a `results` array".into(),
                })?;
            let received = results.len();
            for org in results {
                match org.get("id").and_then(serde_json::Value::as_str) {
                    Some(id) if !id.is_empty() => ids.push(id.to_owned()),
                    _ => {
                        return Err(FetchError::Protocol {
                            path: path.clone(),
                            reason: "an organisation without a string `id`".into(),
                        });
                    }
                }
            }
            let total = response
                .body
                .get("totalCount")
                .and_then(serde_json::Value::as_u64)
                .and_then(|n| usize::try_from(n).ok());
            let done = received < PAGE || total.is_some_and(|total| ids.len() >= total);
            if done || received == 0 {
                break;
            }
        }
        ids.dedup();
        Ok(ids)
    }
}
