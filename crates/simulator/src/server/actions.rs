//! Response actions (docs §3.2): they change the simulated state and emit the matching
//! Directory Insights events, with `initiated_by` the calling key's administrator.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::{Map, Value, json};

use super::auth::{self, Credential};
use super::{ConnectionKill, Org, SimState, error, now_ns, read, write};
use crate::events::catalogue;
use crate::inventory::{SimUser, UserState};

pub(super) type Peer = Option<Extension<ConnectInfo<ConnectionKill>>>;

/// Who did it and from where, for the emitted event.
pub(super) struct Actor {
    credential: Credential,
    client_ip: String,
}

pub(super) fn actor(credential: Credential, peer: &Peer) -> Actor {
    let client_ip = peer
        .as_ref()
        .map(|Extension(ConnectInfo(c))| c.peer.ip().to_string())
        .unwrap_or_else(|| "127.0.0.1".to_owned());
    Actor {
        credential,
        client_ip,
    }
}

/// Emits a `directory` event of `event_type` about `target` (a user).
pub(super) fn emit_user_event(
    state: &SimState,
    org: &Org,
    actor: &Actor,
    event_type: &str,
    target: &SimUser,
    changes: Option<Value>,
) -> Result<(), Response> {
    let kind = catalogue::find("directory", event_type).ok_or_else(|| {
        error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("no catalogue entry for {event_type}"),
        )
    })?;
    let admin = read(&org.inventory).admins.first().cloned();
    let resource = json!({"id": target.id, "type": "user", "username": target.username, "email": target.email});
    org.emit(kind, now_ns(), state.config.late_max_secs, |event| {
        fill_actor(event, actor, admin.as_ref());
        event.insert("resource".into(), resource);
        match changes {
            Some(changes) => {
                event.insert("changes".into(), changes);
            }
            None => {
                event.remove("changes");
            }
        }
    });
    Ok(())
}

fn fill_actor(
    event: &mut Map<String, Value>,
    actor: &Actor,
    admin: Option<&crate::inventory::SimAdmin>,
) {
    let (id, email) = admin
        .map(|a| (a.id.clone(), a.email.clone()))
        .unwrap_or_default();
    event.insert(
        "initiated_by".into(),
        json!({"id": id, "type": "admin", "email": email}),
    );
    event.insert("auth_method".into(), json!(actor.credential.auth_method()));
    event.insert("client_ip".into(), json!(actor.client_ip));
    event.insert("success".into(), json!(true));
    event.insert("useragent".into(), json!({"name": "Other", "os": "Other", "os_name": "Other", "os_full": "Other", "device": "Other"}));
}

/// Shared prologue: auth, org, and the user (404 when unknown).
fn target(
    state: &SimState,
    headers: &HeaderMap,
    id: &str,
) -> Result<(Credential, Arc<Org>), Response> {
    let (credential, org) = auth::console_org(state, headers)?;
    if read(&org.inventory).user(id).is_none() {
        return Err(error(StatusCode::NOT_FOUND, format!("user {id} not found")));
    }
    Ok((credential, org))
}

/// Applies `change` to the user under the write lock; it returns the event to emit (type and
/// changes) or `None` when nothing changed, or an error response (409 ...).
fn act(
    state: &SimState,
    headers: &HeaderMap,
    peer: &Peer,
    id: &str,
    change: impl FnOnce(&mut SimUser) -> Result<Option<(&'static str, Value)>, Response>,
) -> Response {
    let (credential, org) = match target(state, headers, id) {
        Ok(found) => found,
        Err(response) => return response,
    };
    let outcome = {
        let mut inventory = write(&org.inventory);
        let Some(user) = inventory.user_mut(id) else {
            return error(StatusCode::NOT_FOUND, format!("user {id} not found"));
        };
        match change(user) {
            Ok(outcome) => outcome.map(|(event_type, changes)| (event_type, changes, user.clone())),
            Err(response) => return response,
        }
    };
    if let Some((event_type, changes, user)) = outcome {
        if let Err(response) = emit_user_event(
            state,
            &org,
            &actor(credential, peer),
            event_type,
            &user,
            Some(changes),
        ) {
            return response;
        }
    }
    match read(&org.inventory).user(id) {
        Some(user) => Json(user.to_json()).into_response(),
        None => error(StatusCode::NOT_FOUND, format!("user {id} not found")),
    }
}

/// `POST /api/systemusers/{id}/state/suspend` (body must be empty).
pub async fn suspend(
    State(state): State<Arc<SimState>>,
    headers: HeaderMap,
    peer: Peer,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    if !body.iter().all(u8::is_ascii_whitespace) {
        return error(StatusCode::BAD_REQUEST, "Request body must be empty");
    }
    act(&state, &headers, &peer, &id, |user| match user.state {
        UserState::Suspended => Ok(None),
        UserState::Staged => Err(error(
            StatusCode::CONFLICT,
            format!("user {} is STAGED: activate it before suspending", user.id),
        )),
        UserState::Activated => {
            user.state = UserState::Suspended;
            Ok(Some((
                "user_suspended",
                json!([
                    {"field": "state", "from": "ACTIVATED", "to": "SUSPENDED"},
                    {"field": "suspended", "from": false, "to": true},
                ]),
            )))
        }
    })
}

/// `POST /api/systemusers/{id}/state/activate` (STAGED users only; 409 otherwise).
pub async fn activate(
    State(state): State<Arc<SimState>>,
    headers: HeaderMap,
    peer: Peer,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    if !body.iter().all(u8::is_ascii_whitespace)
        && serde_json::from_slice::<Value>(&body)
            .map(|v| !v.is_object())
            .unwrap_or(true)
    {
        return error(
            StatusCode::BAD_REQUEST,
            "body must be {} or {\"email\": ...}",
        );
    }
    act(&state, &headers, &peer, &id, |user| match user.state {
        UserState::Staged => {
            user.state = UserState::Activated;
            Ok(Some((
                "user_activated",
                json!([
                    {"field": "state", "from": "STAGED", "to": "ACTIVATED"},
                    {"field": "activated", "from": false, "to": true},
                ]),
            )))
        }
        other => Err(error(
            StatusCode::CONFLICT,
            format!("user {} is {}, not STAGED", user.id, other.as_str()),
        )),
    })
}

/// `POST /api/systemusers/{id}/unlock`.
pub async fn unlock(
    State(state): State<Arc<SimState>>,
    headers: HeaderMap,
    peer: Peer,
    Path(id): Path<String>,
) -> Response {
    act(&state, &headers, &peer, &id, |user| {
        if !user.account_locked {
            return Ok(None);
        }
        user.account_locked = false;
        user.account_locked_date = None;
        user.bad_login_attempts = 0;
        Ok(Some((
            "user_unlocked",
            json!([{"field": "account_locked", "from": true, "to": false}]),
        )))
    })
}

/// `POST /api/systemusers/{id}/expire`.
pub async fn expire(
    State(state): State<Arc<SimState>>,
    headers: HeaderMap,
    peer: Peer,
    Path(id): Path<String>,
) -> Response {
    act(&state, &headers, &peer, &id, |user| {
        if user.password_expired {
            return Ok(None);
        }
        user.password_expired = true;
        Ok(Some((
            "user_password_expired",
            json!([{"field": "password_expired", "from": false, "to": true}]),
        )))
    })
}

/// `POST /api/systemusers/{id}/resetmfa`: drops the TOTP enrolment.
pub async fn reset_mfa(
    State(state): State<Arc<SimState>>,
    headers: HeaderMap,
    peer: Peer,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    if !body.iter().all(u8::is_ascii_whitespace)
        && serde_json::from_slice::<Value>(&body)
            .map(|v| !v.is_object())
            .unwrap_or(true)
    {
        return error(
            StatusCode::BAD_REQUEST,
            "body must be a JSON object like {\"exclusion\": true, \"exclusionDays\": 7}",
        );
    }
    act(&state, &headers, &peer, &id, |user| {
        if !user.totp_enabled {
            return Ok(None);
        }
        user.totp_enabled = false;
        Ok(Some((
            "totp_delete_enrollment",
            json!([{"field": "totp_enabled", "from": true, "to": false}]),
        )))
    })
}

/// `PUT /api/systemusers/{id}`: `suspended`, `state`, `account_locked`, profile fields;
/// emits `user_update` with the changes.
pub async fn put_user(
    State(state): State<Arc<SimState>>,
    headers: HeaderMap,
    peer: Peer,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let body: Map<String, Value> = match serde_json::from_slice(&body) {
        Ok(Value::Object(map)) => map,
        _ => return error(StatusCode::BAD_REQUEST, "body must be a JSON object"),
    };
    act(&state, &headers, &peer, &id, move |user| {
        let mut changes = Vec::new();
        let mut new_state = user.state;
        if let Some(value) = body.get("suspended") {
            let suspended = value
                .as_bool()
                .ok_or_else(|| error(StatusCode::BAD_REQUEST, "suspended must be a boolean"))?;
            new_state = if suspended {
                UserState::Suspended
            } else {
                UserState::Activated
            };
        }
        if let Some(value) = body.get("state") {
            new_state = match value.as_str() {
                Some("ACTIVATED") => UserState::Activated,
                Some("SUSPENDED") => UserState::Suspended,
                _ => {
                    return Err(error(
                        StatusCode::BAD_REQUEST,
                        "state must be ACTIVATED or SUSPENDED",
                    ));
                }
            };
        }
        if new_state != user.state {
            if user.state == UserState::Staged && new_state == UserState::Suspended {
                return Err(error(
                    StatusCode::CONFLICT,
                    format!("user {} is STAGED: activate it before suspending", user.id),
                ));
            }
            changes.push(
                json!({"field": "state", "from": user.state.as_str(), "to": new_state.as_str()}),
            );
            if user.suspended() != (new_state == UserState::Suspended) {
                changes.push(json!({"field": "suspended", "from": user.suspended(), "to": new_state == UserState::Suspended}));
            }
            user.state = new_state;
        }
        if let Some(value) = body.get("account_locked") {
            let locked = value.as_bool().ok_or_else(|| {
                error(StatusCode::BAD_REQUEST, "account_locked must be a boolean")
            })?;
            if locked != user.account_locked {
                changes.push(
                    json!({"field": "account_locked", "from": user.account_locked, "to": locked}),
                );
                user.account_locked = locked;
            }
        }
        for (field, slot) in [
            ("department", &mut user.department),
            ("firstname", &mut user.firstname),
            ("lastname", &mut user.lastname),
            ("email", &mut user.email),
        ] {
            if let Some(value) = body.get(field) {
                let text = value.as_str().ok_or_else(|| {
                    error(StatusCode::BAD_REQUEST, format!("{field} must be a string"))
                })?;
                if text != slot.as_str() {
                    changes.push(json!({"field": field, "from": slot.clone(), "to": text}));
                    *slot = text.to_owned();
                }
            }
        }
        if body.contains_key("password") {
            changes.push(json!({"field": "password"}));
        }
        Ok((!changes.is_empty()).then_some(("user_update", Value::Array(changes))))
    })
}

/// `POST /api/v2/usergroups/{id}/members` `{"op": "add"|"remove", "type": "user", "id"}` -> 204.
/// Adding a member twice is a 409, removing a non-member a 404; neither changes anything.
pub async fn group_member(
    State(state): State<Arc<SimState>>,
    headers: HeaderMap,
    peer: Peer,
    Path(group_id): Path<String>,
    body: Bytes,
) -> Response {
    let (credential, org) = match auth::console_org(&state, &headers) {
        Ok(found) => found,
        Err(response) => return response,
    };
    let body: Value = match serde_json::from_slice(&body) {
        Ok(value) => value,
        Err(err) => return error(StatusCode::BAD_REQUEST, format!("invalid body: {err}")),
    };
    let op = body
        .get("op")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    if op != "add" && op != "remove" {
        return error(StatusCode::BAD_REQUEST, "op must be \"add\" or \"remove\"");
    }
    if body.get("type").and_then(Value::as_str) != Some("user") {
        return error(StatusCode::BAD_REQUEST, "type must be \"user\"");
    }
    let Some(user_id) = body.get("id").and_then(Value::as_str).map(str::to_owned) else {
        return error(StatusCode::BAD_REQUEST, "id is required");
    };
    let (group_name, user) = {
        let mut inventory = write(&org.inventory);
        let Some(user) = inventory.user(&user_id).cloned() else {
            return error(StatusCode::NOT_FOUND, format!("user {user_id} not found"));
        };
        let Some(group) = inventory.groups.iter_mut().find(|g| g.id == group_id) else {
            return error(
                StatusCode::NOT_FOUND,
                format!("user group {group_id} not found"),
            );
        };
        let position = group.members.iter().position(|m| *m == user_id);
        match (op.as_str(), position) {
            ("add", Some(_)) => return error(StatusCode::CONFLICT, "Already Exists"),
            ("add", None) => group.members.push(user_id.clone()),
            (_, Some(i)) => {
                group.members.remove(i);
            }
            (_, None) => {
                return error(
                    StatusCode::NOT_FOUND,
                    format!("user {user_id} is not a member of user group {group_id}"),
                );
            }
        }
        (group.name.clone(), user)
    };
    let Some(kind) = catalogue::find("directory", "association_change") else {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "no catalogue entry for association_change",
        );
    };
    let admin = read(&org.inventory).admins.first().cloned();
    let actor = actor(credential, &peer);
    org.emit(kind, now_ns(), state.config.late_max_secs, |event| {
        fill_actor(event, &actor, admin.as_ref());
        event.insert(
            "association".into(),
            json!({
                "op": op,
                "action_source": "api",
                "connection": {
                    "from": {"name": group_name, "type": "user_group", "object_id": group_id},
                    "to": {"name": user.username, "type": "user", "object_id": user.id},
                },
                "attributes": Value::Null,
            }),
        );
    });
    StatusCode::NO_CONTENT.into_response()
}

/// `POST /api/systems/{id}/command/builtin/{lock|erase|restart|shutdown}`: queues the command and
/// emits a systems `device_command` event.
pub async fn system_command(
    State(state): State<Arc<SimState>>,
    headers: HeaderMap,
    peer: Peer,
    Path((system_id, command)): Path<(String, String)>,
) -> Response {
    let (credential, org) = match auth::console_org(&state, &headers) {
        Ok(found) => found,
        Err(response) => return response,
    };
    if !matches!(command.as_str(), "lock" | "erase" | "restart" | "shutdown") {
        return error(
            StatusCode::BAD_REQUEST,
            format!("unknown builtin command \"{command}\": lock, erase, restart or shutdown"),
        );
    }
    let (system, admin) = {
        let inventory = read(&org.inventory);
        let Some(system) = inventory.systems.iter().find(|s| s.id == system_id) else {
            return error(
                StatusCode::NOT_FOUND,
                format!("system {system_id} not found"),
            );
        };
        (
            json!({"id": system.id, "hostname": system.hostname, "displayName": system.hostname}),
            inventory.admins.first().cloned(),
        )
    };
    let Some(kind) = catalogue::find("systems", "device_command") else {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "no catalogue entry for device_command",
        );
    };
    let actor = actor(credential, &peer);
    org.emit(kind, now_ns(), state.config.late_max_secs, |event| {
        fill_actor(event, &actor, admin.as_ref());
        event.insert("system".into(), system);
        event.insert(
            "command".into(),
            json!({"type": "builtin", "name": command}),
        );
        event.insert(
            "message".into(),
            json!(format!("builtin command {command} queued")),
        );
        event.remove("username");
        event.remove("resource");
    });
    (StatusCode::OK, Json(json!({}))).into_response()
}
