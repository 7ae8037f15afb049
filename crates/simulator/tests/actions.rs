//! Response actions change the simulated state and emit the matching events; running an action
//! twice is harmless.

mod common;

use common::*;
use serde_json::{Value, json};
use simulator::SimHandle;

async fn users(sim: &SimHandle) -> Vec<Value> {
    let body: Value = get_json(sim, "/api/systemusers?limit=100").await;
    body["results"].as_array().unwrap().clone()
}

async fn user(sim: &SimHandle, id: &str) -> Value {
    get_json(sim, &format!("/api/systemusers/{id}")).await
}

async fn post(sim: &SimHandle, path: &str, body: Option<Value>) -> reqwest::Response {
    let mut request = client()
        .post(format!("{}{path}", sim.base_url()))
        .header("x-api-key", KEY);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

/// Events of `event_type` about `user_id` (resource or association target) served now.
async fn events_about(sim: &SimHandle, event_type: &str, user_id: &str) -> Vec<Value> {
    let since = (chrono::Utc::now() - chrono::Duration::minutes(5)).to_rfc3339();
    let events: Vec<Value> = post_events(
        sim,
        &json!({"service": ["directory"], "start_time": since, "limit": 10_000}),
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    events
        .into_iter()
        .filter(|e| e["event_type"] == event_type)
        .filter(|e| {
            e["resource"]["id"] == json!(user_id)
                || e["association"]["connection"]["to"]["object_id"] == json!(user_id)
        })
        .collect()
}

fn pick(users: &[Value], test: impl Fn(&Value) -> bool) -> &Value {
    users
        .iter()
        .find(|u| test(u))
        .expect("a user in that state")
}

#[tokio::test]
async fn each_action_changes_state_and_emits_its_event_once() {
    let sim = start(common::config(0)).await;
    let all = users(&sim).await;
    let admin_email = "admin1@org0.example.com";

    // suspend
    let active = pick(&all, |u| u["state"] == "ACTIVATED")["_id"]
        .as_str()
        .unwrap()
        .to_owned();
    for round in 0..2 {
        let response = post(
            &sim,
            &format!("/api/systemusers/{active}/state/suspend"),
            None,
        )
        .await;
        assert_eq!(response.status(), 200, "round {round}");
    }
    let after = user(&sim, &active).await;
    assert_eq!(after["state"], "SUSPENDED");
    assert_eq!(after["suspended"], true);
    let events = events_about(&sim, "user_suspended", &active).await;
    assert_eq!(events.len(), 1, "twice is harmless: one event");
    assert_eq!(events[0]["initiated_by"]["email"], admin_email);
    assert_eq!(events[0]["initiated_by"]["type"], "admin");
    assert!(
        events[0]["changes"]
            .as_array()
            .unwrap()
            .contains(&json!({"field": "suspended", "from": false, "to": true}))
    );
    assert_eq!(
        post(&sim, "/api/systemusers/x/state/suspend", None)
            .await
            .status(),
        404
    );
    assert_eq!(
        post(
            &sim,
            &format!("/api/systemusers/{active}/state/suspend"),
            Some(json!({"a": 1}))
        )
        .await
        .status(),
        400
    );

    // unsuspend through PUT -> user_update with changes
    let response = client()
        .put(format!("{}/api/systemusers/{active}", sim.base_url()))
        .header("x-api-key", KEY)
        .json(&json!({"suspended": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<Value>().await.unwrap()["state"],
        "ACTIVATED"
    );
    let updates = events_about(&sim, "user_update", &active).await;
    assert_eq!(updates.len(), 1);
    assert!(
        updates[0]["changes"]
            .as_array()
            .unwrap()
            .contains(&json!({"field": "state", "from": "SUSPENDED", "to": "ACTIVATED"}))
    );
    let again = client()
        .put(format!("{}/api/systemusers/{active}", sim.base_url()))
        .header("x-api-key", KEY)
        .json(&json!({"state": "ACTIVATED"}))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 200);
    assert_eq!(
        events_about(&sim, "user_update", &active).await.len(),
        1,
        "no change, no event"
    );

    // activate: STAGED only, 409 otherwise
    let staged = pick(&all, |u| u["state"] == "STAGED")["_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        post(
            &sim,
            &format!("/api/systemusers/{staged}/state/activate"),
            Some(json!({}))
        )
        .await
        .status(),
        200
    );
    assert_eq!(
        post(
            &sim,
            &format!("/api/systemusers/{staged}/state/activate"),
            Some(json!({}))
        )
        .await
        .status(),
        409
    );
    assert_eq!(user(&sim, &staged).await["state"], "ACTIVATED");
    assert_eq!(events_about(&sim, "user_activated", &staged).await.len(), 1);

    // unlock
    let locked = pick(&all, |u| u["account_locked"] == true)["_id"]
        .as_str()
        .unwrap()
        .to_owned();
    for _ in 0..2 {
        assert_eq!(
            post(&sim, &format!("/api/systemusers/{locked}/unlock"), None)
                .await
                .status(),
            200
        );
    }
    assert_eq!(user(&sim, &locked).await["account_locked"], false);
    assert_eq!(events_about(&sim, "user_unlocked", &locked).await.len(), 1);

    // expire password
    let fresh = pick(&all, |u| u["password_expired"] == false)["_id"]
        .as_str()
        .unwrap()
        .to_owned();
    for _ in 0..2 {
        assert_eq!(
            post(&sim, &format!("/api/systemusers/{fresh}/expire"), None)
                .await
                .status(),
            200
        );
    }
    assert_eq!(user(&sim, &fresh).await["password_expired"], true);
    assert_eq!(
        events_about(&sim, "user_password_expired", &fresh)
            .await
            .len(),
        1
    );

    // reset MFA
    let enrolled = pick(&all, |u| u["totp_enabled"] == true)["_id"]
        .as_str()
        .unwrap()
        .to_owned();
    for _ in 0..2 {
        assert_eq!(
            post(
                &sim,
                &format!("/api/systemusers/{enrolled}/resetmfa"),
                Some(json!({"exclusion": true, "exclusionDays": 7}))
            )
            .await
            .status(),
            200
        );
    }
    let reset = user(&sim, &enrolled).await;
    assert_eq!(reset["totp_enabled"], false);
    assert_eq!(reset["mfaEnrollment"]["totpStatus"], "NOT_ENROLLED");
    assert_eq!(
        events_about(&sim, "totp_delete_enrollment", &enrolled)
            .await
            .len(),
        1
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn group_membership_add_and_remove_emit_association_changes() {
    let sim = start(common::config(0)).await;
    let groups: Vec<Value> = get_json(&sim, "/api/v2/usergroups?limit=100").await;
    let group = groups.iter().find(|g| g["name"] != "All Users").unwrap();
    let group_id = group["id"].as_str().unwrap();
    let members_path = format!("/api/v2/usergroups/{group_id}/members?limit=100");
    let members = |list: Vec<Value>| {
        list.iter()
            .map(|m| m["to"]["id"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    let before = members(get_json(&sim, &members_path).await);
    let all = users(&sim).await;
    let outsider = all
        .iter()
        .map(|u| u["_id"].as_str().unwrap().to_owned())
        .find(|id| !before.contains(id))
        .unwrap();

    let path = format!("/api/v2/usergroups/{group_id}/members");
    let add = json!({"op": "add", "type": "user", "id": outsider});
    assert_eq!(post(&sim, &path, Some(add.clone())).await.status(), 204);
    assert_eq!(
        post(&sim, &path, Some(add)).await.status(),
        409,
        "already a member"
    );
    let after = members(get_json(&sim, &members_path).await);
    assert!(after.contains(&outsider));
    assert_eq!(after.len(), before.len() + 1);

    let remove = json!({"op": "remove", "type": "user", "id": outsider});
    assert_eq!(post(&sim, &path, Some(remove.clone())).await.status(), 204);
    assert_eq!(
        post(&sim, &path, Some(remove)).await.status(),
        404,
        "not a member any more"
    );
    let last = members(get_json(&sim, &members_path).await);
    assert_eq!(last, before);

    let events = events_about(&sim, "association_change", &outsider).await;
    let ops: Vec<&str> = events
        .iter()
        .map(|e| e["association"]["op"].as_str().unwrap())
        .collect();
    assert_eq!(ops, ["add", "remove"]);
    for event in &events {
        assert_eq!(
            event["association"]["connection"]["from"],
            json!({"name": group["name"], "type": "user_group", "object_id": group_id})
        );
        assert_eq!(event["association"]["connection"]["to"]["type"], "user");
        assert_eq!(event["initiated_by"]["type"], "admin");
    }
    assert_eq!(
        post(
            &sim,
            &path,
            Some(json!({"op": "merge", "type": "user", "id": outsider}))
        )
        .await
        .status(),
        400
    );
    assert_eq!(
        post(
            &sim,
            "/api/v2/usergroups/ffffffffffffffffffffffff/members",
            Some(json!({"op": "add", "type": "user", "id": outsider}))
        )
        .await
        .status(),
        404
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn device_commands_emit_device_command_events_and_bindings_resolve() {
    let sim = start(common::config(0)).await;
    let systems: Value = get_json(&sim, "/api/systems?limit=100").await;
    let system_id = systems["results"][0]["_id"].as_str().unwrap().to_owned();
    let response = post(
        &sim,
        &format!("/api/systems/{system_id}/command/builtin/lock"),
        None,
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        post(
            &sim,
            &format!("/api/systems/{system_id}/command/builtin/explode"),
            None
        )
        .await
        .status(),
        400
    );
    assert_eq!(
        post(
            &sim,
            "/api/systems/ffffffffffffffffffffffff/command/builtin/lock",
            None
        )
        .await
        .status(),
        404
    );
    let since = (chrono::Utc::now() - chrono::Duration::minutes(5)).to_rfc3339();
    let events: Vec<Value> = post_events(
        &sim,
        &json!({"service": ["systems"], "start_time": since}),
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["event_type"], "device_command");
    assert_eq!(events[0]["system"]["id"], json!(system_id));
    assert_eq!(events[0]["command"]["name"], "lock");

    // user -> systems bindings and resolved group membership
    let all = users(&sim).await;
    let mut bound = 0;
    for user in &all {
        let id = user["_id"].as_str().unwrap();
        let list: Vec<Value> =
            get_json(&sim, &format!("/api/v2/users/{id}/systems?limit=100")).await;
        for system in &list {
            assert_eq!(system["type"], "system");
            assert!(
                systems["results"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|s| s["_id"] == system["id"])
            );
        }
        bound += list.len();
    }
    assert_eq!(
        bound,
        systems["totalCount"].as_u64().unwrap() as usize,
        "every system has one user"
    );
    let groups: Vec<Value> = get_json(&sim, "/api/v2/usergroups?limit=100").await;
    let group_id = groups[1]["id"].as_str().unwrap();
    let members: Vec<Value> = get_json(
        &sim,
        &format!("/api/v2/usergroups/{group_id}/members?limit=100"),
    )
    .await;
    let membership: Vec<Value> = get_json(
        &sim,
        &format!("/api/v2/usergroups/{group_id}/membership?limit=100"),
    )
    .await;
    let direct: Vec<&Value> = members.iter().map(|m| &m["to"]["id"]).collect();
    let resolved: Vec<&Value> = membership.iter().map(|m| &m["id"]).collect();
    assert_eq!(direct, resolved);
    sim.shutdown().await;
}

#[tokio::test]
async fn deleting_a_user_removes_it_and_its_memberships_and_emits_user_delete_once() {
    let sim = start(common::config(0)).await;
    let all = users(&sim).await;
    let groups: Value = get_json(&sim, "/api/v2/usergroups?limit=100").await;
    let group = groups[0]["id"].as_str().unwrap().to_owned();
    let members: Value = get_json(
        &sim,
        &format!("/api/v2/usergroups/{group}/members?limit=100"),
    )
    .await;
    let id = members[0]["to"]["id"].as_str().unwrap().to_owned();
    let delete = || {
        client()
            .delete(format!("{}/api/systemusers/{id}", sim.base_url()))
            .header("x-api-key", KEY)
            .send()
    };
    assert_eq!(delete().await.unwrap().status(), 200);
    assert_eq!(
        delete().await.unwrap().status(),
        404,
        "deleting twice changes nothing"
    );
    let left = users(&sim).await;
    assert_eq!(left.len(), all.len() - 1);
    assert!(left.iter().all(|u| u["_id"] != json!(id)));
    let members: Value = get_json(
        &sim,
        &format!("/api/v2/usergroups/{group}/members?limit=100"),
    )
    .await;
    assert!(
        members
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["to"]["id"] != json!(id))
    );
    assert_eq!(events_about(&sim, "user_delete", &id).await.len(), 1);

    let systems: Value = get_json(&sim, "/api/systems?limit=100").await;
    let system = systems["results"][0]["_id"].as_str().unwrap().to_owned();
    let delete_system = || {
        client()
            .delete(format!("{}/api/systems/{system}", sim.base_url()))
            .header("x-api-key", KEY)
            .send()
    };
    assert_eq!(delete_system().await.unwrap().status(), 200);
    assert_eq!(delete_system().await.unwrap().status(), 404);
    let systems: Value = get_json(&sim, "/api/systems?limit=100").await;
    assert!(
        systems["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["_id"] != json!(system))
    );
}
