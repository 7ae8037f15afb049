//! Response actions on a JumpCloud user: suspend, activate, unlock, expire the password, reset
//! MFA, remove from a user group.
//!
//! Flow: [`resolve_user`] (id, username or email) -> [`plan`] (reads the current state, says
//! what will change or that nothing needs to) -> [`execute`]. Every action is idempotent: a
//! user already in the wanted state is a success without a request, and a 409 (conflicting
//! state) is re-checked against the user's state and is a success when the state is the wanted
//! one.

#[cfg(test)]
mod tests;

use bytes::Bytes;
use reqwest::Method;
use serde_json::{Value, json};

use console_model::record_id;

use crate::client::{FetchError, JumpCloudClient};
use crate::inventory::{InventoryConfig, ListShape, list_all};

/// One response action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResponseAction {
    /// `POST /api/systemusers/{id}/state/suspend`.
    Suspend,
    /// STAGED: `POST /api/systemusers/{id}/state/activate`; SUSPENDED:
    /// `PUT /api/systemusers/{id}` `{"state":"ACTIVATED"}`.
    Activate,
    /// `POST /api/systemusers/{id}/unlock`.
    Unlock,
    /// `POST /api/systemusers/{id}/expire`.
    ExpirePassword,
    /// `POST /api/systemusers/{id}/resetmfa`.
    ResetMfa,
    /// `POST /api/v2/usergroups/{group}/members` `{"op":"remove","type":"user","id":...}`.
    RemoveFromGroup,
}

impl ResponseAction {
    /// Every action.
    pub const ALL: [ResponseAction; 6] = [
        ResponseAction::Suspend,
        ResponseAction::Activate,
        ResponseAction::Unlock,
        ResponseAction::ExpirePassword,
        ResponseAction::ResetMfa,
        ResponseAction::RemoveFromGroup,
    ];

    /// The command-line name (`expire-password`).
    pub fn name(self) -> &'static str {
        match self {
            ResponseAction::Suspend => "suspend",
            ResponseAction::Activate => "activate",
            ResponseAction::Unlock => "unlock",
            ResponseAction::ExpirePassword => "expire-password",
            ResponseAction::ResetMfa => "reset-mfa",
            ResponseAction::RemoveFromGroup => "remove-from-group",
        }
    }

    /// The JumpCloud API scope the action needs.
    pub fn scope(self) -> &'static str {
        match self {
            ResponseAction::Suspend => "users.state.suspend",
            ResponseAction::Activate => {
                "users.state.activate (STAGED) / users.properties.update (SUSPENDED)"
            }
            ResponseAction::Unlock => "users.state.unlock",
            ResponseAction::ExpirePassword => "users.password.expire",
            ResponseAction::ResetMfa => "users.mfa.reset",
            ResponseAction::RemoveFromGroup => "groups",
        }
    }

    /// Whether the action needs a group.
    pub fn needs_group(self) -> bool {
        self == ResponseAction::RemoveFromGroup
    }
}

/// Why an action could not be carried out.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    /// No user or group matches.
    #[error("no {what} matches {needle:?} in organisation {org:?}")]
    NotFound {
        /// `user` or `group`.
        what: &'static str,
        /// What was looked for.
        needle: String,
        /// Organisation.
        org: String,
    },
    /// Several match (e.g. a group name used twice).
    #[error("{count} {what}s match {needle:?} in organisation {org:?}: use the id")]
    Ambiguous {
        /// `user` or `group`.
        what: &'static str,
        /// What was looked for.
        needle: String,
        /// Organisation.
        org: String,
        /// How many matched.
        count: usize,
    },
    /// `remove-from-group` without `--group`.
    #[error("{0} needs a group (--group <id | name>)")]
    GroupRequired(&'static str),
    /// The user's state forbids the action (e.g. suspending a STAGED user).
    #[error("JumpCloud refused {action} for user {user_id}: {message}")]
    Conflict {
        /// The action.
        action: &'static str,
        /// The user.
        user_id: String,
        /// JumpCloud's message.
        message: String,
    },
    /// The request failed.
    #[error(transparent)]
    Fetch(#[from] FetchError),
}

/// The identity of the user acted on, as the console returned it.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetUser {
    /// `_id`.
    pub id: String,
    /// `username`.
    pub username: String,
    /// `email`.
    pub email: String,
    /// The full `systemuser` record.
    pub record: Value,
}

/// The user group of `remove-from-group`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetGroup {
    /// `id`.
    pub id: String,
    /// `name`.
    pub name: String,
}

/// What an action will do to a user, decided from the user's current state.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionPlan {
    /// The action.
    pub action: ResponseAction,
    /// Organisation (`""` = the credential's own).
    pub org: String,
    /// The user.
    pub user: TargetUser,
    /// The group (`remove-from-group`).
    pub group: Option<TargetGroup>,
    /// The change, e.g. `state: ACTIVATED -> SUSPENDED`.
    pub change: String,
    /// The user is already in the wanted state: nothing will be sent.
    pub already_done: bool,
}

/// The result of [`execute`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionOutcome {
    /// JumpCloud applied the change.
    Applied,
    /// The user already was in the wanted state (no request, or a 409 re-checked).
    AlreadyInState,
}

impl ActionOutcome {
    /// `applied` / `already_in_state`.
    pub fn as_str(self) -> &'static str {
        match self {
            ActionOutcome::Applied => "applied",
            ActionOutcome::AlreadyInState => "already_in_state",
        }
    }
}

fn org_header(org: &str) -> Option<&str> {
    Some(org).filter(|o| !o.is_empty())
}

fn is_object_id(text: &str) -> bool {
    text.len() == 24 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

fn target_user(record: Value) -> Option<TargetUser> {
    let id = record_id(&record)?;
    let text = |field: &str| {
        record
            .get(field)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    Some(TargetUser {
        username: text("username"),
        email: text("email"),
        id,
        record,
    })
}

fn lookup_config() -> InventoryConfig {
    InventoryConfig {
        page_size: 100,
        ..InventoryConfig::default()
    }
}

/// Finds the user by id (24 hex), username or email (exact, case-insensitive).
pub async fn resolve_user(
    client: &JumpCloudClient,
    org: &str,
    needle: &str,
) -> Result<TargetUser, ActionError> {
    let needle = needle.trim();
    let not_found = || ActionError::NotFound {
        what: "user",
        needle: needle.to_owned(),
        org: org.to_owned(),
    };
    if needle.is_empty() {
        return Err(not_found());
    }
    if is_object_id(needle) {
        let path = format!("/api/systemusers/{needle}");
        match client.get_json(org_header(org), &path, &[]).await {
            Ok(response) => return target_user(response.body).ok_or_else(not_found),
            Err(FetchError::Rejected { status: 404, .. }) => {}
            Err(other) => return Err(other.into()),
        }
    }
    let field = if needle.contains('@') {
        "email"
    } else {
        "username"
    };
    let query = [
        ("filter", format!("{field}:$eq:{needle}")),
        ("limit", "2".to_owned()),
    ];
    let response = client
        .get_json(org_header(org), "/api/systemusers", &query)
        .await?;
    let rows: Vec<Value> = response
        .body
        .get("results")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|row| {
            row.get(field)
                .and_then(Value::as_str)
                .is_some_and(|v| v.eq_ignore_ascii_case(needle))
        })
        .collect();
    match rows.len() {
        0 => Err(not_found()),
        1 => rows
            .into_iter()
            .next()
            .and_then(target_user)
            .ok_or_else(not_found),
        count => Err(ActionError::Ambiguous {
            what: "user",
            needle: needle.to_owned(),
            org: org.to_owned(),
            count,
        }),
    }
}

/// Finds the user group by id or exact name.
pub async fn resolve_group(
    client: &JumpCloudClient,
    org: &str,
    needle: &str,
) -> Result<TargetGroup, ActionError> {
    let needle = needle.trim();
    let groups = list_all(
        client,
        org_header(org),
        "/api/v2/usergroups",
        ListShape::V2,
        &lookup_config(),
        true,
        record_id,
    )
    .await?;
    let name_of = |g: &Value| {
        g.get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    if let Some(group) = groups
        .iter()
        .find(|g| record_id(g).as_deref() == Some(needle))
    {
        return Ok(TargetGroup {
            id: needle.to_owned(),
            name: name_of(group),
        });
    }
    let matches: Vec<&Value> = groups.iter().filter(|g| name_of(g) == needle).collect();
    match matches.as_slice() {
        [] => Err(ActionError::NotFound {
            what: "group",
            needle: needle.to_owned(),
            org: org.to_owned(),
        }),
        [group] => Ok(TargetGroup {
            id: record_id(group).unwrap_or_default(),
            name: name_of(group),
        }),
        many => Err(ActionError::Ambiguous {
            what: "group",
            needle: needle.to_owned(),
            org: org.to_owned(),
            count: many.len(),
        }),
    }
}

/// Whether `user_id` is a direct member of `group_id`.
pub async fn is_group_member(
    client: &JumpCloudClient,
    org: &str,
    user_id: &str,
    group_id: &str,
) -> Result<bool, ActionError> {
    let path = format!("/api/v2/users/{user_id}/memberof");
    let groups = list_all(
        client,
        org_header(org),
        &path,
        ListShape::V2,
        &lookup_config(),
        false,
        record_id,
    )
    .await?;
    Ok(groups
        .iter()
        .any(|g| record_id(g).as_deref() == Some(group_id)))
}

fn text_field<'a>(record: &'a Value, field: &str) -> &'a str {
    record
        .get(field)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

fn flag(record: &Value, field: &str) -> bool {
    record.get(field).and_then(Value::as_bool).unwrap_or(false)
}

/// Whether the user record already is in the state the action produces, and the change text.
pub fn desired_state(
    action: ResponseAction,
    record: &Value,
    is_member: Option<bool>,
) -> (bool, String) {
    let state = text_field(record, "state");
    match action {
        ResponseAction::Suspend => (
            state == "SUSPENDED" || flag(record, "suspended"),
            format!("state: {state} -> SUSPENDED"),
        ),
        ResponseAction::Activate => (
            state == "ACTIVATED" && !flag(record, "suspended"),
            format!("state: {state} -> ACTIVATED"),
        ),
        ResponseAction::Unlock => (
            !flag(record, "account_locked"),
            format!(
                "account_locked: {} -> false",
                flag(record, "account_locked")
            ),
        ),
        ResponseAction::ExpirePassword => (
            flag(record, "password_expired"),
            format!(
                "password_expired: {} -> true",
                flag(record, "password_expired")
            ),
        ),
        ResponseAction::ResetMfa => (
            !flag(record, "totp_enabled"),
            format!(
                "totp_enabled: {} -> false (MFA re-enrolment required)",
                flag(record, "totp_enabled")
            ),
        ),
        ResponseAction::RemoveFromGroup => {
            let member = is_member.unwrap_or(true);
            (!member, format!("group member: {member} -> false"))
        }
    }
}

/// Reads the user's current state and decides what the action changes.
pub async fn plan(
    client: &JumpCloudClient,
    org: &str,
    action: ResponseAction,
    user: TargetUser,
    group: Option<TargetGroup>,
) -> Result<ActionPlan, ActionError> {
    let is_member = match (&group, action.needs_group()) {
        (Some(group), true) => Some(is_group_member(client, org, &user.id, &group.id).await?),
        (None, true) => return Err(ActionError::GroupRequired(action.name())),
        _ => None,
    };
    let (already_done, change) = desired_state(action, &user.record, is_member);
    Ok(ActionPlan {
        action,
        org: org.to_owned(),
        user,
        group,
        change,
        already_done,
    })
}

/// Carries out a plan (nothing is sent when it is already done).
pub async fn execute(
    client: &JumpCloudClient,
    plan: &ActionPlan,
) -> Result<ActionOutcome, ActionError> {
    if plan.already_done {
        return Ok(ActionOutcome::AlreadyInState);
    }
    let org = org_header(&plan.org);
    let id = &plan.user.id;
    let result = match plan.action {
        ResponseAction::Suspend => {
            let path = format!("/api/systemusers/{id}/state/suspend");
            client.post_json(org, &path, None).await
        }
        ResponseAction::Activate => {
            if text_field(&plan.user.record, "state") == "STAGED" {
                let path = format!("/api/systemusers/{id}/state/activate");
                client.post_json(org, &path, Some(&json!({}))).await
            } else {
                let path = format!("/api/systemusers/{id}");
                let body = Bytes::from(json!({"state": "ACTIVATED"}).to_string());
                client
                    .json_request(
                        Method::PUT,
                        crate::client::Scope::Org(org.unwrap_or("")),
                        &path,
                        &[],
                        Some(body),
                    )
                    .await
            }
        }
        ResponseAction::Unlock => {
            let path = format!("/api/systemusers/{id}/unlock");
            client.post_json(org, &path, None).await
        }
        ResponseAction::ExpirePassword => {
            let path = format!("/api/systemusers/{id}/expire");
            client.post_json(org, &path, None).await
        }
        ResponseAction::ResetMfa => {
            let path = format!("/api/systemusers/{id}/resetmfa");
            client.post_json(org, &path, Some(&json!({}))).await
        }
        ResponseAction::RemoveFromGroup => {
            let group = plan
                .group
                .as_ref()
                .ok_or(ActionError::GroupRequired(plan.action.name()))?;
            let path = format!("/api/v2/usergroups/{}/members", group.id);
            let body = json!({"op": "remove", "type": "user", "id": id});
            client.post_json(org, &path, Some(&body)).await
        }
    };
    match result {
        Ok(_) => Ok(ActionOutcome::Applied),
        Err(FetchError::Rejected {
            status: status @ (404 | 409),
            message,
            ..
        }) => {
            // Re-read the state: a concurrent change or a repeated request is a success when
            // the user now is where the action would put them.
            let refreshed = resolve_user(client, &plan.org, id).await?;
            let is_member = match &plan.group {
                Some(group) if plan.action.needs_group() => {
                    Some(is_group_member(client, &plan.org, id, &group.id).await?)
                }
                _ => None,
            };
            let (done, _) = desired_state(plan.action, &refreshed.record, is_member);
            if done {
                Ok(ActionOutcome::AlreadyInState)
            } else {
                Err(ActionError::Conflict {
                    action: plan.action.name(),
                    user_id: id.clone(),
                    message: format!("HTTP {status}: {message}"),
                })
            }
        }
        Err(other) => Err(other.into()),
    }
}
