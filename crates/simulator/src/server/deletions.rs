//! Deleting users and systems (`DELETE /api/systemusers/{id}`, `DELETE /api/systems/{id}`):
//! the record goes, with its group memberships and device bindings; a user deletion emits
//! `user_delete`. Deleting what is not there is a 404 and changes nothing.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::actions::{Peer, actor, emit_user_event};
use super::{SimState, auth, error, write};

/// `DELETE /api/systemusers/{id}` -> 200 with the deleted user's record.
pub async fn delete_user(
    State(state): State<Arc<SimState>>,
    headers: HeaderMap,
    peer: Peer,
    Path(id): Path<String>,
) -> Response {
    let (credential, org) = match auth::console_org(&state, &headers) {
        Ok(found) => found,
        Err(response) => return response,
    };
    let removed = {
        let mut inventory = write(&org.inventory);
        let Some(position) = inventory.users.iter().position(|u| u.id == id) else {
            return error(StatusCode::NOT_FOUND, format!("user {id} not found"));
        };
        let user = inventory.users.remove(position);
        for group in &mut inventory.groups {
            group.members.retain(|member| *member != id);
        }
        for system in &mut inventory.systems {
            if system.owner_id.as_deref() == Some(id.as_str()) {
                system.owner_id = None;
            }
        }
        user
    };
    if let Err(response) = emit_user_event(
        &state,
        &org,
        &actor(credential, &peer),
        "user_delete",
        &removed,
        None,
    ) {
        return response;
    }
    Json(removed.to_json()).into_response()
}

/// `DELETE /api/systems/{id}` -> 200 with the deleted system's record.
pub async fn delete_system(
    State(state): State<Arc<SimState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let (_, org) = match auth::console_org(&state, &headers) {
        Ok(found) => found,
        Err(response) => return response,
    };
    let mut inventory = write(&org.inventory);
    let Some(position) = inventory.systems.iter().position(|s| s.id == id) else {
        return error(StatusCode::NOT_FOUND, format!("system {id} not found"));
    };
    let system = inventory.systems.remove(position);
    Json(system.record).into_response()
}
