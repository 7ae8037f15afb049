//! The console inventory of one organisation: users, systems, user groups and their direct
//! members, SSO applications and their group/user bindings, Apple MDM servers and devices, and
//! device -> user bindings.
//!
//! Every list is paged with `limit`/`skip`/`sort=_id` through the same client as the events
//! (auth, regions, `x-org-id`, rate cap, backoff). Paging tolerates data changing between pages:
//! each page re-reads [`InventoryConfig::page_overlap`] rows, rows are deduplicated by id, and a
//! page whose first row is past everything seen so far (more rows deleted than the overlap)
//! is re-read from further back, so there are no gaps and no duplicates.
//!
//! Nothing is dropped silently: a failed request fails the organisation's snapshot.
//!
//! The records are collected into an [`InventoryInput`] (crate `console-model`); the caller hands
//! it to the mapper.

pub mod config;
pub mod paging;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use console_model::{ApplicationBinding, InventoryInput, record_id};
use futures::{StreamExt, TryStreamExt};
use serde_json::Value;

pub use config::{InventoryConfig, RequestPace};
pub use paging::{ListShape, list_all};

use crate::client::{FetchError, JumpCloudClient};

/// Users: v1 list.
pub const USERS_PATH: &str = "/api/systemusers";
/// Systems (devices with the agent): v1 list.
pub const SYSTEMS_PATH: &str = "/api/systems";
/// User groups: v2 list.
pub const USER_GROUPS_PATH: &str = "/api/v2/usergroups";
/// SSO applications: v1 list.
pub const APPLICATIONS_PATH: &str = "/api/applications";
/// Apple MDM servers: v2 list.
pub const APPLE_MDMS_PATH: &str = "/api/v2/applemdms";
/// Organisations the credential reaches (sent without `x-org-id`).
pub const ORGANIZATIONS_PATH: &str = "/api/organizations";

fn graph_target_id(record: &Value) -> Option<String> {
    record
        .pointer("/to/id")
        .or_else(|| record.get("id"))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

fn require_ids(records: &[Value], path: &str) -> Result<Vec<String>, FetchError> {
    records
        .iter()
        .map(|record| {
            record_id(record).ok_or_else(|| FetchError::Protocol {
                path: path.to_owned(),
                reason: "a record without _id/id".to_owned(),
            })
        })
        .collect()
}

/// Collects the inventory of one organisation (`org` empty = the credential's own).
pub async fn collect_org(
    client: &JumpCloudClient,
    org: &str,
    config: &InventoryConfig,
) -> Result<InventoryInput, FetchError> {
    let collected_at_ms = chrono::Utc::now().timestamp_millis();
    let org_header = Some(org).filter(|o| !o.is_empty());
    let list = |path: String, shape: ListShape, ordered: bool| async move {
        list_all(client, org_header, &path, shape, config, ordered, record_id).await
    };
    // Graph traversals (v2 bare arrays of `{to: {id, type}}` or `{id, type}`), keyed by target id.
    let list_edges = move |path: String| async move {
        list_all(
            client,
            org_header,
            &path,
            ListShape::V2,
            config,
            false,
            graph_target_id,
        )
        .await
    };

    let users = list(USERS_PATH.into(), ListShape::V1, true).await?;
    let systems = list(SYSTEMS_PATH.into(), ListShape::V1, true).await?;
    let groups = list(USER_GROUPS_PATH.into(), ListShape::V2, true).await?;
    let applications = list(APPLICATIONS_PATH.into(), ListShape::V1, true).await?;
    let concurrency = config.concurrency.max(1);

    let group_ids = require_ids(&groups, USER_GROUPS_PATH)?;
    let group_members: BTreeMap<String, Vec<String>> = futures::stream::iter(group_ids)
        .map(|group_id| async move {
            let path = format!("{USER_GROUPS_PATH}/{group_id}/members");
            let edges = list_edges(path).await?;
            let members = edges
                .iter()
                .filter(|edge| {
                    edge.pointer("/to/type")
                        .and_then(Value::as_str)
                        .is_none_or(|t| t == "user")
                })
                .filter_map(graph_target_id)
                .collect::<Vec<_>>();
            Ok::<_, FetchError>((group_id, members))
        })
        .buffer_unordered(concurrency)
        .try_collect()
        .await?;

    let app_ids = require_ids(&applications, APPLICATIONS_PATH)?;
    let app_bindings: Vec<(String, Vec<String>, Vec<ApplicationBinding>)> =
        futures::stream::iter(app_ids)
            .map(|app_id| async move {
                let groups_path = format!("/api/v2/applications/{app_id}/usergroups");
                let bound_groups = list_edges(groups_path)
                    .await?
                    .iter()
                    .filter_map(graph_target_id)
                    .collect::<Vec<_>>();
                let users_path = format!("/api/v2/applications/{app_id}/users");
                let users = list_edges(users_path)
                    .await?
                    .iter()
                    .filter_map(application_user)
                    .collect::<Vec<_>>();
                Ok::<_, FetchError>((app_id, bound_groups, users))
            })
            .buffer_unordered(concurrency)
            .try_collect()
            .await?;
    let mut application_groups = BTreeMap::new();
    let mut application_users = BTreeMap::new();
    for (app_id, groups, users) in app_bindings {
        application_groups.insert(app_id.clone(), groups);
        application_users.insert(app_id, users);
    }

    let (apple_mdms, mdm_devices) = if config.apple_mdm {
        let mdms = list(APPLE_MDMS_PATH.into(), ListShape::V2, true).await?;
        let mut devices = Vec::new();
        for mdm_id in require_ids(&mdms, APPLE_MDMS_PATH)? {
            let path = format!("{APPLE_MDMS_PATH}/{mdm_id}/devices");
            let mut found = list(path, ListShape::V2, true).await?;
            for device in &mut found {
                if let Value::Object(map) = device
                    && !map.contains_key("appleMdmId")
                {
                    map.insert("appleMdmId".into(), Value::String(mdm_id.clone()));
                }
            }
            devices.extend(found);
        }
        (mdms, devices)
    } else {
        (Vec::new(), Vec::new())
    };

    let mut system_users: BTreeMap<String, Vec<String>> = BTreeMap::new();
    if config.device_owners {
        let user_ids = require_ids(&users, USERS_PATH)?;
        let bindings: Vec<(String, Vec<String>)> = futures::stream::iter(user_ids)
            .map(|user_id| async move {
                let path = format!("/api/v2/users/{user_id}/systems");
                let systems = list_edges(path)
                    .await?
                    .iter()
                    .filter_map(graph_target_id)
                    .collect::<Vec<_>>();
                Ok::<_, FetchError>((user_id, systems))
            })
            .buffer_unordered(concurrency)
            .try_collect()
            .await?;
        for (user_id, systems) in bindings {
            for system_id in systems {
                system_users
                    .entry(system_id)
                    .or_default()
                    .push(user_id.clone());
            }
        }
        for owners in system_users.values_mut() {
            owners.sort();
            owners.dedup();
        }
    }

    let tenant_uid = match org_header {
        Some(org) => Some(org.to_owned()),
        None => own_organization(client, config).await,
    };

    Ok(InventoryInput {
        tenant_uid,
        collected_at_ms,
        users,
        systems,
        groups,
        group_members,
        applications,
        application_groups,
        application_users,
        apple_mdms,
        mdm_devices,
        system_users,
    })
}

/// The organisation id when the credential reaches exactly one (no `x-org-id` given).
async fn own_organization(client: &JumpCloudClient, config: &InventoryConfig) -> Option<String> {
    match list_all(
        client,
        None,
        ORGANIZATIONS_PATH,
        ListShape::V1,
        config,
        true,
        record_id,
    )
    .await
    {
        Ok(orgs) if orgs.len() == 1 => orgs.first().and_then(record_id),
        Ok(_) => None,
        Err(error) => {
            tracing::warn!(%error, "could not resolve the organisation id; tenant_uid left out");
            None
        }
    }
}

/// One row of `/api/v2/applications/{id}/users`: the user and the paths that bind it.
fn application_user(row: &Value) -> Option<ApplicationBinding> {
    let user_id = row.get("id").and_then(Value::as_str)?.to_owned();
    let mut direct = false;
    let mut via_group_ids = Vec::new();
    match row.get("paths").and_then(Value::as_array) {
        Some(paths) => {
            for path in paths {
                let steps = path.as_array().map(Vec::as_slice).unwrap_or_default();
                let group = steps.iter().find_map(|step| {
                    (step.pointer("/to/type").and_then(Value::as_str) == Some("user_group"))
                        .then(|| step.pointer("/to/id").and_then(Value::as_str))
                        .flatten()
                });
                match group {
                    Some(group) => via_group_ids.push(group.to_owned()),
                    None => direct = true,
                }
            }
        }
        None => direct = true,
    }
    via_group_ids.sort();
    via_group_ids.dedup();
    Some(ApplicationBinding {
        user_id,
        direct,
        via_group_ids,
    })
}
