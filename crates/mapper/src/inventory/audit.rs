//! The OCSF audit event of a response action (the program's `respond`): Account Change
//! (3001) for user actions, Group Management (3006) for group removal, with `actor` = the tool's
//! identity and the operator's reason.

use serde_json::{Map, Value, json};

use super::common::{self, ClassHeader, SnapshotMeta};
use super::user::user_object;

/// Who acted: the tool and the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditActor {
    /// The tool's name: `metadata.product.name` and `vendor_name`, and with its version
    /// `actor.app_name` (`name/version`).
    pub tool_name: String,
    /// The tool's version.
    pub tool_version: String,
    /// The operator (local login name), `actor.user.name` when known.
    pub operator: Option<String>,
}

/// Everything an audit record says.
#[derive(Debug, Clone)]
pub struct AuditRecordInput<'a> {
    /// `suspend`, `activate`, `unlock`, `expire-password`, `reset-mfa`, `remove-from-group`.
    pub action: &'a str,
    /// Organisation.
    pub tenant_uid: Option<&'a str>,
    /// The user record before the action.
    pub user: &'a Value,
    /// The user id.
    pub user_id: &'a str,
    /// The group (`remove-from-group`): id and name.
    pub group: Option<(&'a str, &'a str)>,
    /// `applied`, `already_in_state`, `dry_run` or `failed`.
    pub outcome: &'a str,
    /// The change text (`state: ACTIVATED -> SUSPENDED`).
    pub change: &'a str,
    /// The error, when the action failed.
    pub error: Option<&'a str>,
    /// The operator's reason (`--reason`).
    pub reason: Option<&'a str>,
    /// Who acted.
    pub actor: &'a AuditActor,
    /// When, epoch ms.
    pub time_ms: i64,
}

fn header(action: &str) -> ClassHeader {
    match action {
        "suspend" => common::account_change(5, "Disable"),
        "activate" => common::account_change(2, "Enable"),
        "unlock" => common::account_change(12, "Unlock"),
        "reset-mfa" => common::account_change(11, "MFA Factor Disable"),
        "remove-from-group" => common::group_management(4, "Remove User"),
        "expire-password" => common::account_change(99, "Password Expired"),
        _ => common::account_change(99, "Response Action"),
    }
}

/// The audit event of one response action, keyed by the user id.
pub fn audit_record(input: &AuditRecordInput<'_>) -> crate::OcsfRecord {
    let header = header(input.action);
    // The record is made when the action is taken: one instant for both times.
    let meta = SnapshotMeta {
        tenant_uid: input.tenant_uid,
        time_ms: input.time_ms,
        processed_ms: input.time_ms,
    };
    let tenant = input.tenant_uid.unwrap_or_default();
    let code = format!("response_action_{}", input.action.replace('-', "_"));
    let uid = common::uid_of(&format!(
        "jumpcloud:response:{tenant}:{}:{}:{}:{}",
        input.action, input.user_id, input.outcome, input.time_ms
    ));
    let mut event = common::skeleton(header, &meta, &uid, &code, "response_actions", 1);
    if let Some(Value::Object(metadata)) = event.get_mut("metadata") {
        metadata.insert(
            "product".into(),
            json!({"name": input.actor.tool_name, "vendor_name": input.actor.tool_name, "feature": {"name": "respond"}}),
        );
    }
    let (status_id, status) = match input.outcome {
        "applied" | "already_in_state" => (1, "Success"),
        "failed" => (2, "Failure"),
        _ => (99, "Dry Run"),
    };
    event.insert("status_id".into(), json!(status_id));
    event.insert("status".into(), json!(status));
    let mut detail = format!("{} ({})", input.outcome, input.change);
    if let Some(error) = input.error {
        detail.push_str(&format!(": {error}"));
    }
    event.insert("status_detail".into(), json!(detail));
    let mut actor = Map::new();
    let app_name = format!("{}/{}", input.actor.tool_name, input.actor.tool_version);
    actor.insert("app_name".into(), json!(app_name));
    if let Some(operator) = &input.actor.operator {
        actor.insert(
            "user".into(),
            json!({"name": operator, "type_id": 1, "type": "User"}),
        );
    }
    event.insert("actor".into(), Value::Object(actor));
    event.insert(
        "user".into(),
        Value::Object(user_object(input.user, input.user_id, input.tenant_uid)),
    );
    if let Some((group_id, group_name)) = input.group {
        let mut group = Map::new();
        group.insert("uid".into(), json!(group_id));
        if !group_name.is_empty() {
            group.insert("name".into(), json!(group_name));
        }
        event.insert("group".into(), Value::Object(group));
    }
    let username = input
        .user
        .get("username")
        .and_then(Value::as_str)
        .unwrap_or(input.user_id);
    let mut message = format!(
        "response action {} on user {username}: {}",
        input.action, input.outcome
    );
    if let Some(reason) = input.reason {
        message.push_str(&format!("; reason: {reason}"));
    }
    event.insert("message".into(), json!(message));
    event.insert(
        "unmapped".into(),
        json!({"jumpcloud": {"action": input.action, "outcome": input.outcome,
            "change": input.change, "reason": input.reason, "error": input.error}}),
    );
    common::record(
        header,
        uid,
        input.tenant_uid,
        &code,
        Some(input.user_id.to_owned()),
        event,
    )
}
