//! Console inventory over real HTTP: shapes, v1/v2 envelopes, skip/limit/sort paging.

mod common;

use std::collections::HashSet;

use common::*;
use serde_json::{Value, json};
use simulator::SimConfig;

async fn get(sim: &simulator::SimHandle, path: &str, org: Option<&str>) -> reqwest::Response {
    let mut request = client()
        .get(format!("{}{path}", sim.base_url()))
        .header("x-api-key", KEY);
    if let Some(org) = org {
        request = request.header("x-org-id", org);
    }
    request.send().await.unwrap()
}

/// Pages a v1 list with skip/limit/sort and returns every record's id.
async fn page_v1(
    sim: &simulator::SimHandle,
    path: &str,
    sort: &str,
    limit: usize,
) -> (usize, Vec<String>) {
    let mut ids = Vec::new();
    loop {
        let response = get(
            sim,
            &format!("{path}?limit={limit}&skip={}&sort={sort}", ids.len()),
            None,
        )
        .await;
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        let total = body["totalCount"].as_u64().unwrap() as usize;
        let results = body["results"].as_array().unwrap();
        ids.extend(
            results
                .iter()
                .map(|r| r["_id"].as_str().unwrap().to_owned()),
        );
        if results.len() < limit {
            return (total, ids);
        }
        assert!(ids.len() <= total);
    }
}

#[tokio::test]
async fn inventory_paging_with_skip_limit_sort_covers_each_record_once() {
    let sim = start(SimConfig {
        users_per_org: 137,
        systems_per_org: 41,
        ..config(10)
    })
    .await;
    for (path, expected) in [("/api/systemusers", 137), ("/api/systems", 41)] {
        let (total, ids) = page_v1(&sim, path, "_id", 10).await;
        assert_eq!(total, expected);
        assert_eq!(ids.len(), expected);
        assert_eq!(
            ids.iter().collect::<HashSet<_>>().len(),
            expected,
            "each record once"
        );
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted, "sort=_id ascending");
        let (_, desc) = page_v1(&sim, path, "-_id", 25).await;
        sorted.reverse();
        assert_eq!(desc, sorted, "sort=-_id descending");
    }
    let response = get(&sim, "/api/systemusers", None).await;
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["results"].as_array().unwrap().len(),
        10,
        "default limit 10"
    );
    assert_eq!(
        get(&sim, "/api/systemusers?limit=abc", None).await.status(),
        400
    );

    // v2: bare arrays with x-total-count
    let response = get(&sim, "/api/v2/usergroups?limit=2&skip=1&sort=name", None).await;
    assert_eq!(header(&response, "x-total-count"), "5", "All Users + 4");
    let groups: Vec<Value> = response.json().await.unwrap();
    assert_eq!(groups.len(), 2);
    assert!(groups.iter().all(|g| g["type"] == "user_group"));
    sim.shutdown().await;
}

#[tokio::test]
async fn inventory_records_are_shaped_like_the_real_ones() {
    let sim = start(SimConfig {
        orgs: 2,
        ..config(10)
    })
    .await;
    let users: Value = get(&sim, "/api/systemusers?limit=100", None)
        .await
        .json()
        .await
        .unwrap();
    let user = &users["results"][0];
    for field in [
        "_id",
        "id",
        "username",
        "email",
        "state",
        "activated",
        "suspended",
        "account_locked",
        "password_expired",
        "mfa",
        "mfaEnrollment",
        "totp_enabled",
        "created",
        "badLoginAttempts",
    ] {
        assert!(user.get(field).is_some(), "user.{field}");
    }
    assert!(user["mfa"]["configured"].is_boolean());
    let systems: Value = get(&sim, "/api/systems", None).await.json().await.unwrap();
    for field in [
        "hostname",
        "os",
        "osFamily",
        "version",
        "agentVersion",
        "lastContact",
        "serialNumber",
        "fde",
        "remoteIP",
    ] {
        assert!(systems["results"][0].get(field).is_some(), "system.{field}");
    }
    let apps: Value = get(&sim, "/api/applications", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(apps["totalCount"], 4);
    let app = &apps["results"][0];
    assert_eq!(app["sso"]["type"], "saml");
    let app_id = app["_id"].as_str().unwrap();

    let groups: Vec<Value> = get(&sim, "/api/v2/usergroups?limit=100", None)
        .await
        .json()
        .await
        .unwrap();
    let all_users = groups.iter().find(|g| g["name"] == "All Users").unwrap();
    let members: Vec<Value> = get(
        &sim,
        &format!(
            "/api/v2/usergroups/{}/members?limit=100",
            all_users["id"].as_str().unwrap()
        ),
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(members.len(), 30);
    assert_eq!(members[0]["to"]["type"], "user");
    assert_eq!(members[0]["attributes"], Value::Null);

    let user_id = user["_id"].as_str().unwrap();
    let member_of: Vec<Value> = get(
        &sim,
        &format!("/api/v2/users/{user_id}/memberof?limit=100"),
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    assert!(member_of.iter().any(|g| g["id"] == all_users["id"]));

    let app_users = get(
        &sim,
        &format!("/api/v2/applications/{app_id}/users?limit=100"),
        None,
    )
    .await;
    assert_eq!(app_users.status(), 200);
    let app_users: Vec<Value> = app_users.json().await.unwrap();
    let app_groups: Vec<Value> = get(
        &sim,
        &format!("/api/v2/applications/{app_id}/usergroups"),
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    for bound in &app_users {
        assert_eq!(bound["type"], "user");
        let via = &bound["paths"][0][0]["to"]["id"];
        assert!(
            app_groups.iter().any(|g| &g["id"] == via),
            "user bound through one of the app's groups"
        );
    }

    let mdms = get(&sim, "/api/v2/applemdms", None).await;
    assert_eq!(header(&mdms, "x-total-count"), "1");
    let mdms: Vec<Value> = mdms.json().await.unwrap();
    let devices = get(
        &sim,
        &format!(
            "/api/v2/applemdms/{}/devices?limit=100",
            mdms[0]["id"].as_str().unwrap()
        ),
        None,
    )
    .await;
    assert_eq!(devices.status(), 200);
    let devices: Vec<Value> = devices.json().await.unwrap();
    for device in &devices {
        assert!(
            device["serialNumber"].is_string()
                && device["udid"].is_string()
                && device["deviceInformation"].is_object()
        );
    }

    let orgs: Value = get(&sim, "/api/organizations", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(orgs["totalCount"], 2);
    let other: Value = get(&sim, "/api/systemusers?limit=1", Some(&sim.org_ids()[1]))
        .await
        .json()
        .await
        .unwrap();
    assert_ne!(
        other["results"][0]["_id"],
        json!(user_id),
        "each org has its own data"
    );
    assert_eq!(
        get(&sim, "/api/systemusers/ffffffffffffffffffffffff", None)
            .await
            .status(),
        404
    );
    let unauthorised = client()
        .get(format!("{}/api/systemusers", sim.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthorised.status(), 401);
    sim.shutdown().await;
}
