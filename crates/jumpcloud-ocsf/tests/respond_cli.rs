//! `jumpcloud-ocsf respond`: each action changes the simulator's state, the next Directory
//! Insights poll sees the matching event, running it twice is harmless, and every run writes a
//! valid OCSF audit event.

mod common;

use std::process::{Command, Stdio};

use common::*;
use fetcher::{AuthConfig, ClientConfig, EventQuery, JumpCloudClient};
use secrecy::SecretString;
use serde_json::Value;
use simulator::SimConfig;

const API_KEY: &str = "respond-test-key";

struct Run {
    ok: bool,
    audit: Value,
    stderr: String,
}

fn respond(base_url: &str, org: &str, args: &[&str]) -> Run {
    let output = Command::new(binary())
        .arg("respond")
        .args(args)
        .args(["--reason", "INC-1234 test", "--operator", "analyst"])
        .env("JUMPCLOUD_BASE_URL", base_url)
        .env("JUMPCLOUD_API_KEY", API_KEY)
        .env("JUMPCLOUD_ORG_IDS", org)
        .env_remove("JUMPCLOUD_OCSF_CONFIG")
        .env_remove("JUMPCLOUD_OCSF_AUDIT_TOPIC")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let audit = stdout
        .lines()
        .next()
        .map(|line| serde_json::from_str(line).unwrap())
        .unwrap_or(Value::Null);
    Run {
        ok: output.status.success(),
        audit,
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn client(base_url: &str) -> JumpCloudClient {
    JumpCloudClient::new(ClientConfig {
        base_url: Some(base_url.to_owned()),
        auth: AuthConfig::ApiKey {
            api_key: SecretString::from(API_KEY.to_owned()),
        },
        ..ClientConfig::default()
    })
    .unwrap()
}

async fn users(client: &JumpCloudClient, org: &str) -> Vec<Value> {
    client
        .list_v1(Some(org), "/api/systemusers", 100)
        .await
        .unwrap()
}

async fn user(client: &JumpCloudClient, org: &str, id: &str) -> Value {
    client
        .get_json(Some(org), &format!("/api/systemusers/{id}"), &[])
        .await
        .unwrap()
        .body
}

/// Directory Insights events since `since` about the user `id` (resource or association target).
async fn di_events_about(client: &JumpCloudClient, org: &str, since: &str, id: &str) -> Vec<Value> {
    let query = EventQuery {
        service: vec!["all".into()],
        start_time: since.to_owned(),
        end_time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
        limit: Some(10_000),
        sort: Some("ASC"),
        search_after: None,
    };
    let page = client.events_page(org, &query).await.unwrap();
    page.events
        .iter()
        .map(|event| serde_json::from_slice::<Value>(&event.bytes).unwrap())
        .filter(|event| {
            event["resource"]["id"] == id
                || event["association"]["connection"]["to"]["object_id"] == id
        })
        .collect()
}

fn now_text() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

fn validate_audits(audits: &[Value]) {
    // They fit the committed Avro schemas too (for `kafka.format = "avro"`).
    let encoders = producer::avro::ClassEncoders::from_committed_schemas().unwrap();
    for audit in audits {
        let class_uid = audit["class_uid"].as_u64().unwrap() as u32;
        let mut datum = Vec::new();
        encoders
            .get(class_uid)
            .unwrap()
            .encode_datum(audit, &mut datum)
            .unwrap_or_else(|e| panic!("{e}: {audit}"));
    }
    assert_valid_ocsf_values(audits);
}

fn find(users: &[Value], wanted: impl Fn(&Value) -> bool) -> &Value {
    users.iter().find(|u| wanted(u)).expect("a suitable user")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_action_changes_state_emits_the_di_event_and_is_idempotent() {
    let sim = simulator::start(
        SimConfig {
            seed: 5150,
            api_key: API_KEY.into(),
            history_events: 0,
            users_per_org: 60,
            systems_per_org: 5,
            groups_per_org: 4,
            applications_per_org: 2,
            ..SimConfig::default()
        },
        ([127, 0, 0, 1], 0).into(),
    )
    .await
    .unwrap();
    let base = sim.base_url();
    let org = sim.org_ids()[0].clone();
    let client = client(&base);
    let all = users(&client, &org).await;
    let mut audits = Vec::new();

    // (action, how the user is named, the user, the check on the new record, the DI event type)
    let active = |u: &Value| u["state"] == "ACTIVATED" && u["admin"].is_null();
    let suspend_target = find(&all, |u| active(u)).clone();
    let locked = find(&all, |u| u["account_locked"] == true).clone();
    let unexpired = find(&all, |u| {
        active(u) && u["password_expired"] == false && u["_id"] != suspend_target["_id"]
    })
    .clone();
    let mfa = find(&all, |u| {
        u["totp_enabled"] == true && u["_id"] != suspend_target["_id"]
    })
    .clone();

    type Check = fn(&Value) -> bool;
    let cases: Vec<(&str, String, &Value, Check, &str)> = vec![
        (
            "suspend",
            suspend_target["username"].as_str().unwrap().to_owned(),
            &suspend_target,
            |u| u["state"] == "SUSPENDED",
            "user_suspended",
        ),
        (
            "activate",
            suspend_target["email"].as_str().unwrap().to_owned(),
            &suspend_target,
            |u| u["state"] == "ACTIVATED",
            "user_update",
        ),
        (
            "unlock",
            locked["_id"].as_str().unwrap().to_owned(),
            &locked,
            |u| u["account_locked"] == false,
            "user_unlocked",
        ),
        (
            "expire-password",
            unexpired["username"].as_str().unwrap().to_owned(),
            &unexpired,
            |u| u["password_expired"] == true,
            "user_password_expired",
        ),
        (
            "reset-mfa",
            mfa["email"].as_str().unwrap().to_owned(),
            &mfa,
            |u| u["totp_enabled"] == false,
            "totp_delete_enrollment",
        ),
    ];
    for (action, needle, target, check, event_type) in cases {
        let id = target["_id"].as_str().unwrap();
        let since = now_text();
        let first = respond(&base, &org, &[action, "--user", &needle, "--yes"]);
        assert!(first.ok, "{action}: {}", first.stderr);
        assert_eq!(
            first.audit["unmapped"]["jumpcloud"]["outcome"], "applied",
            "{action}"
        );
        assert_eq!(first.audit["user"]["uid"], id);
        assert_eq!(first.audit["actor"]["user"]["name"], "analyst");
        assert!(
            first.audit["message"]
                .as_str()
                .unwrap()
                .contains("INC-1234")
        );
        let now = user(&client, &org, id).await;
        assert!(check(&now), "{action} did not change the user: {now}");
        let events = di_events_about(&client, &org, &since, id).await;
        assert_eq!(events.len(), 1, "{action}: {events:?}");
        assert_eq!(events[0]["event_type"], event_type, "{action}");

        // Twice: success, nothing sent, no new event, same state.
        let second = respond(&base, &org, &[action, "--user", &needle, "--yes"]);
        assert!(second.ok, "{action} twice: {}", second.stderr);
        assert_eq!(
            second.audit["unmapped"]["jumpcloud"]["outcome"], "already_in_state",
            "{action}"
        );
        assert_eq!(di_events_about(&client, &org, &since, id).await.len(), 1);
        assert!(check(&user(&client, &org, id).await));
        audits.push(first.audit);
        audits.push(second.audit);
    }

    // remove-from-group, by group name.
    let groups = client
        .list_v2(Some(&org), "/api/v2/usergroups", 100)
        .await
        .unwrap();
    let group = groups.iter().find(|g| g["name"] != "All Users").unwrap();
    let group_id = group["id"].as_str().unwrap();
    let members = client
        .list_v2(
            Some(&org),
            &format!("/api/v2/usergroups/{group_id}/members"),
            100,
        )
        .await
        .unwrap();
    let member = members[0]["to"]["id"].as_str().unwrap().to_owned();
    let since = now_text();
    let group_name = group["name"].as_str().unwrap();
    let args = [
        "remove-from-group",
        "--user",
        &member,
        "--group",
        group_name,
        "--yes",
    ];
    let first = respond(&base, &org, &args);
    assert!(first.ok, "{}", first.stderr);
    assert_eq!(first.audit["class_uid"], 3006);
    assert_eq!(first.audit["group"]["uid"], group_id);
    let member_of = client
        .list_v2(Some(&org), &format!("/api/v2/users/{member}/memberof"), 100)
        .await
        .unwrap();
    assert!(member_of.iter().all(|g| g["id"] != group_id));
    let events = di_events_about(&client, &org, &since, &member).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["event_type"], "association_change");
    assert_eq!(events[0]["association"]["op"], "remove");
    let second = respond(&base, &org, &args);
    assert!(second.ok, "{}", second.stderr);
    assert_eq!(
        second.audit["unmapped"]["jumpcloud"]["outcome"],
        "already_in_state"
    );
    assert_eq!(
        di_events_about(&client, &org, &since, &member).await.len(),
        1
    );
    audits.push(first.audit);
    audits.push(second.audit);

    // A STAGED user cannot be suspended (409, re-checked: a failure with JumpCloud's reason,
    // recorded in the audit event); activating it works and emits `user_activated`.
    let staged = find(&all, |u| u["state"] == "STAGED");
    let staged_id = staged["_id"].as_str().unwrap();
    let refused = respond(&base, &org, &["suspend", "--user", staged_id, "--yes"]);
    assert!(!refused.ok);
    assert!(refused.stderr.contains("409"), "{}", refused.stderr);
    assert_eq!(refused.audit["unmapped"]["jumpcloud"]["outcome"], "failed");
    assert_eq!(refused.audit["status_id"], 2);
    assert_eq!(user(&client, &org, staged_id).await["state"], "STAGED");
    let since = now_text();
    let activated = respond(&base, &org, &["activate", "--user", staged_id, "--yes"]);
    assert!(activated.ok, "{}", activated.stderr);
    assert_eq!(user(&client, &org, staged_id).await["state"], "ACTIVATED");
    let events = di_events_about(&client, &org, &since, staged_id).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["event_type"], "user_activated");
    audits.push(refused.audit);
    audits.push(activated.audit);

    validate_audits(&audits);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_and_missing_confirmation_change_nothing() {
    let sim = simulator::start(
        SimConfig {
            seed: 5151,
            api_key: API_KEY.into(),
            history_events: 0,
            users_per_org: 20,
            systems_per_org: 2,
            groups_per_org: 2,
            applications_per_org: 1,
            ..SimConfig::default()
        },
        ([127, 0, 0, 1], 0).into(),
    )
    .await
    .unwrap();
    let base = sim.base_url();
    let org = sim.org_ids()[0].clone();
    let client = client(&base);
    let all = users(&client, &org).await;
    let target = find(&all, |u| u["state"] == "ACTIVATED");
    let id = target["_id"].as_str().unwrap();
    let since = now_text();

    let dry = respond(&base, &org, &["suspend", "--user", id, "--dry-run"]);
    assert!(dry.ok, "{}", dry.stderr);
    assert!(
        dry.stderr.contains("state: ACTIVATED -> SUSPENDED"),
        "{}",
        dry.stderr
    );
    assert_eq!(dry.audit["unmapped"]["jumpcloud"]["outcome"], "dry_run");
    assert_eq!(dry.audit["status_id"], 99);

    // stdin is not a terminal and there is no --yes: refuse.
    let refused = respond(&base, &org, &["suspend", "--user", id]);
    assert!(!refused.ok);
    assert!(refused.stderr.contains("--yes"), "{}", refused.stderr);
    assert_eq!(refused.audit, Value::Null);

    assert_eq!(user(&client, &org, id).await["state"], "ACTIVATED");
    assert!(di_events_about(&client, &org, &since, id).await.is_empty());

    let unknown = respond(
        &base,
        &org,
        &["unlock", "--user", "nobody@nowhere.invalid", "--yes"],
    );
    assert!(!unknown.ok);
    assert!(
        unknown.stderr.contains("no user matches"),
        "{}",
        unknown.stderr
    );

    let no_group = respond(&base, &org, &["remove-from-group", "--user", id, "--yes"]);
    assert!(!no_group.ok);
    assert!(no_group.stderr.contains("--group"), "{}", no_group.stderr);
    validate_audits(&[dry.audit]);
    sim.shutdown().await;
}

/// `--audit-topic`: the audit event also goes to Kafka, keyed by the user id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_event_is_produced_to_the_audit_topic() {
    let sim = simulator::start(
        SimConfig {
            seed: 5152,
            api_key: API_KEY.into(),
            history_events: 0,
            users_per_org: 10,
            systems_per_org: 1,
            groups_per_org: 1,
            applications_per_org: 1,
            ..SimConfig::default()
        },
        ([127, 0, 0, 1], 0).into(),
    )
    .await
    .unwrap();
    let base = sim.base_url();
    let orgs = sim.org_ids();
    let client = client(&base);
    let all = users(&client, &orgs[0]).await;
    let target = find(&all, |u| u["account_locked"] == true);
    let id = target["_id"].as_str().unwrap().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_prefix("respond");
    let config = write_config(dir.path(), &base, API_KEY, &orgs, &prefix, "");
    let topic = format!("{prefix}.audit");
    let output = Command::new(binary())
        .args([
            "respond", "unlock", "--user", &id, "--yes", "--reason", "INC-9",
        ])
        .arg("--audit-topic")
        .arg(&topic)
        .arg("--config")
        .arg(&config)
        .env_remove("JUMPCLOUD_OCSF_AUDIT_TOPIC")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let printed: Value = serde_json::from_slice(
        output
            .stdout
            .split(|b| *b == b'\n')
            .next()
            .unwrap_or_default(),
    )
    .unwrap();
    let consumed = tokio::task::spawn_blocking(move || {
        consume(&[topic], 1, std::time::Duration::from_secs(20))
    })
    .await
    .unwrap();
    assert_eq!(consumed.len(), 1);
    assert_eq!(consumed[0].key.as_deref(), Some(id.as_bytes()));
    let produced: Value = serde_json::from_slice(&consumed[0].payload).unwrap();
    assert_eq!(produced, printed);
    assert_eq!(produced["unmapped"]["jumpcloud"]["outcome"], "applied");
    sim.shutdown().await;
}
