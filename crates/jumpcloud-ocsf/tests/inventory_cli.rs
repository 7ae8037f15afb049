//! `jumpcloud-ocsf inventory`: one OCSF snapshot on stdout, valid OCSF 1.8.0, with the
//! counts and the membership graph of the simulator's console; and, in process, a collected
//! console mapped at scale.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use common::*;
use fetcher::{AuthConfig, ClientConfig, JumpCloudClient};
use secrecy::SecretString;
use serde_json::Value;
use simulator::SimConfig;

const API_KEY: &str = "inventory-cli-key";

fn inventory(base_url: &str, org_ids: &str, args: &[&str]) -> (bool, Vec<Value>, String) {
    // The default rate cap (JumpCloud's) would make the test wait; the simulator takes more.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(&config, "[jumpcloud]\nmax_requests_per_sec = 2000\n").unwrap();
    let output = Command::new(binary())
        .arg("inventory")
        .args(args)
        .arg("--config")
        .arg(&config)
        .env("JUMPCLOUD_BASE_URL", base_url)
        .env("JUMPCLOUD_API_KEY", API_KEY)
        .env("JUMPCLOUD_ORG_IDS", org_ids)
        .env_remove("JUMPCLOUD_OCSF_CONFIG")
        .output()
        .unwrap();
    let records = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    (
        output.status.success(),
        records,
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_is_valid_ocsf_with_the_simulators_counts_and_graph() {
    let config = SimConfig {
        seed: 77,
        api_key: API_KEY.into(),
        orgs: 2,
        history_events: 0,
        users_per_org: 45,
        systems_per_org: 25,
        groups_per_org: 5,
        applications_per_org: 3,
        ..SimConfig::default()
    };
    let sim = simulator::start(config, ([127, 0, 0, 1], 0).into())
        .await
        .unwrap();
    let base = sim.base_url();
    let orgs = sim.org_ids();
    let client = JumpCloudClient::new(ClientConfig {
        base_url: Some(base.clone()),
        auth: AuthConfig::ApiKey {
            api_key: SecretString::from(API_KEY.to_owned()),
        },
        ..ClientConfig::default()
    })
    .unwrap();

    // One organisation by flag.
    let (ok, records, stderr) = inventory(&base, "", &["--org", &orgs[1], "--format", "json"]);
    assert!(ok, "{stderr}");
    let users: Vec<&Value> = records.iter().filter(|r| r["class_uid"] == 5003).collect();
    let systems: Vec<&Value> = records
        .iter()
        .filter(|r| r["class_uid"] == 5001 && r["metadata"]["event_code"] == "system")
        .collect();
    let mdm: Vec<&Value> = records
        .iter()
        .filter(|r| r["class_uid"] == 5001 && r["metadata"]["event_code"] == "applemdm_device")
        .collect();
    assert_eq!(users.len(), 45);
    assert_eq!(systems.len(), 25);
    // The simulator enrols every macOS system in its Apple MDM.
    let macs = systems
        .iter()
        .filter(|s| s["device"]["os"]["type_id"] == 300)
        .count();
    assert_eq!(mdm.len(), macs);
    assert!(
        records
            .iter()
            .all(|r| r["metadata"]["tenant_uid"] == orgs[1].as_str())
    );
    assert_valid_ocsf_values(&records);

    // user ∈ group, from the records, equals the simulator's resolved membership endpoint.
    let mut from_records: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for user in &users {
        for group in user["user"]["groups"].as_array().into_iter().flatten() {
            from_records
                .entry(group["uid"].as_str().unwrap().to_owned())
                .or_default()
                .insert(user["user"]["uid"].as_str().unwrap().to_owned());
        }
    }
    let groups = client
        .list_v2(Some(&orgs[1]), "/api/v2/usergroups", 100)
        .await
        .unwrap();
    let mut truth: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for group in &groups {
        let id = group["id"].as_str().unwrap();
        let members = client
            .list_v2(
                Some(&orgs[1]),
                &format!("/api/v2/usergroups/{id}/membership"),
                100,
            )
            .await
            .unwrap();
        if !members.is_empty() {
            truth.insert(
                id.to_owned(),
                members
                    .iter()
                    .map(|m| m["id"].as_str().unwrap().to_owned())
                    .collect(),
            );
        }
    }
    assert_eq!(from_records, truth);
    // device -> user: every system has its owner.
    for system in &systems {
        let owner = system["device"]["owner"]["uid"].as_str().unwrap();
        assert!(users.iter().any(|u| u["user"]["uid"] == owner));
    }
    // user -> app: the records' applications equal `/applications/{id}/users`.
    let apps = client
        .list_v1(Some(&orgs[1]), "/api/applications", 100)
        .await
        .unwrap();
    for app in &apps {
        let id = app["_id"].as_str().unwrap();
        let truth: BTreeSet<String> = client
            .list_v2(
                Some(&orgs[1]),
                &format!("/api/v2/applications/{id}/users"),
                100,
            )
            .await
            .unwrap()
            .iter()
            .map(|u| u["id"].as_str().unwrap().to_owned())
            .collect();
        let got: BTreeSet<String> = users
            .iter()
            .filter(|u| {
                u["unmapped"]["jumpcloud"]["applications"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|x| x["uid"] == id))
            })
            .map(|u| u["user"]["uid"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(got, truth, "application {id}");
    }

    // Every configured organisation when no flag is given.
    let (ok, records, stderr) = inventory(&base, &orgs.join(","), &[]);
    assert!(ok, "{stderr}");
    let tenants: BTreeSet<&str> = records
        .iter()
        .filter_map(|r| r["metadata"]["tenant_uid"].as_str())
        .collect();
    assert_eq!(tenants, orgs.iter().map(String::as_str).collect());
    assert_eq!(
        records.iter().filter(|r| r["class_uid"] == 5003).count(),
        90
    );
    sim.shutdown().await;
}

/// Where collection meets the mapper, in process and larger than the snapshots above (1,500
/// users, 600 systems over three organisations): every record of each collected console maps,
/// is valid OCSF 1.8.0, and the membership graph read back from the OCSF records is the
/// collected one (that the collection equals the simulator's state is `fetcher`'s test
/// `three_orgs_inventory_equals_the_simulators_state`, at 5,000 users).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collected_console_maps_to_valid_ocsf_with_its_graph() {
    let sim = simulator::start(
        SimConfig {
            seed: 7,
            api_key: API_KEY.into(),
            orgs: 3,
            history_events: 0,
            users_per_org: 500,
            systems_per_org: 200,
            groups_per_org: 20,
            // The simulator resolves `/applications/{id}/users` in O(members x users) per page;
            // one application per organisation keeps the test fast while covering the edges.
            applications_per_org: 1,
            ..SimConfig::default()
        },
        ([127, 0, 0, 1], 0).into(),
    )
    .await
    .unwrap();
    let client = JumpCloudClient::new(ClientConfig {
        base_url: Some(sim.base_url()),
        auth: AuthConfig::ApiKey {
            api_key: SecretString::from(API_KEY.to_owned()),
        },
        max_requests_per_sec: 100_000,
        ..ClientConfig::default()
    })
    .unwrap();
    let config = fetcher::inventory::InventoryConfig {
        concurrency: 16,
        ..Default::default()
    };
    let mut validated = 0;
    for org in sim.org_ids() {
        let collected = fetcher::inventory::collect_org(&client, &org, &config)
            .await
            .unwrap();
        let mut records = Vec::new();
        let mut ocsf_members: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for result in mapper::inventory::map_snapshot(&collected, collected.collected_at_ms) {
            let record = result.unwrap_or_else(|(error, raw)| panic!("{error}: {raw}"));
            let event: Value = serde_json::from_slice(&record.json).unwrap();
            if record.class_uid == 5003 {
                let user = event["user"]["uid"].as_str().unwrap().to_owned();
                for group in event["user"]["groups"].as_array().into_iter().flatten() {
                    ocsf_members
                        .entry(group["uid"].as_str().unwrap().to_owned())
                        .or_default()
                        .insert(user.clone());
                }
            }
            records.push(event);
        }
        let users = records.iter().filter(|r| r["class_uid"] == 5003).count();
        assert_eq!(users, collected.users.len(), "organisation {org}");
        assert!(records.len() >= collected.users.len() + collected.systems.len());
        assert_valid_ocsf_values(&records);
        let collected_members: BTreeMap<String, BTreeSet<String>> = collected
            .group_members
            .iter()
            .filter(|(_, members)| !members.is_empty())
            .map(|(group, members)| (group.clone(), members.iter().cloned().collect()))
            .collect();
        assert_eq!(ocsf_members, collected_members, "organisation {org}");
        validated += records.len();
    }
    assert!(validated >= 2_100, "{validated} records validated");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_org_fails_with_a_clear_error() {
    let sim = simulator::start(
        SimConfig {
            api_key: API_KEY.into(),
            history_events: 0,
            users_per_org: 3,
            ..SimConfig::default()
        },
        ([127, 0, 0, 1], 0).into(),
    )
    .await
    .unwrap();
    let (ok, records, stderr) =
        inventory(&sim.base_url(), "", &["--org", "000000000000000000000000"]);
    assert!(!ok);
    assert!(records.is_empty());
    assert!(
        stderr.contains("inventory of organisation \"000000000000000000000000\""),
        "{stderr}"
    );
    // No organisation anywhere: the credential's own, its id resolved for tenant_uid.
    let (ok, records, stderr) = inventory(&sim.base_url(), "", &[]);
    assert!(ok, "{stderr}");
    assert_eq!(records.iter().filter(|r| r["class_uid"] == 5003).count(), 3);
    assert!(
        records
            .iter()
            .all(|r| r["metadata"]["tenant_uid"] == sim.org_ids()[0].as_str())
    );
    sim.shutdown().await;
}

/// `--interval`: a second snapshot reports what changed in between (outside Directory
/// Insights' view) as Account Change / Group Management events.
#[test]
fn interval_snapshots_report_the_changes_in_between() {
    use std::io::BufRead;
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let sim = runtime
        .block_on(simulator::start(
            SimConfig {
                seed: 78,
                api_key: API_KEY.into(),
                history_events: 0,
                users_per_org: 30,
                systems_per_org: 5,
                groups_per_org: 3,
                applications_per_org: 1,
                ..SimConfig::default()
            },
            ([127, 0, 0, 1], 0).into(),
        ))
        .unwrap();
    let base = sim.base_url();
    let org = sim.org_ids()[0].clone();
    let client = JumpCloudClient::new(ClientConfig {
        base_url: Some(base.clone()),
        auth: AuthConfig::ApiKey {
            api_key: SecretString::from(API_KEY.to_owned()),
        },
        ..ClientConfig::default()
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(&config, "[jumpcloud]\nmax_requests_per_sec = 2000\n").unwrap();
    let mut child = Command::new(binary())
        .args([
            "inventory",
            "--interval",
            "2s",
            "--snapshots",
            "2",
            "--config",
        ])
        .arg(&config)
        .env("JUMPCLOUD_BASE_URL", &base)
        .env("JUMPCLOUD_API_KEY", API_KEY)
        .env("JUMPCLOUD_ORG_IDS", &org)
        .env("JUMPCLOUD_OCSF_LOG", "info")
        .env_remove("JUMPCLOUD_OCSF_CONFIG")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Read stdout on its own thread so a full pipe never blocks the binary.
    let stdout = child.stdout.take().unwrap();
    let stdout_reader = std::thread::spawn(move || {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::BufReader::new(stdout), &mut text).unwrap();
        text
    });
    let stderr = child.stderr.take().unwrap();
    let mut lines = std::io::BufReader::new(stderr).lines();
    // Wait for the first snapshot.
    for line in lines.by_ref() {
        if line.unwrap().contains("inventory snapshot written") {
            break;
        }
    }
    // Change the directory between the snapshots, through the console API.
    let (suspended, reset, removed, group) = runtime.block_on(async {
        let users = client
            .list_v1(Some(&org), "/api/systemusers", 100)
            .await
            .unwrap();
        let suspended = users
            .iter()
            .find(|u| u["state"] == "ACTIVATED" && u["admin"].is_null())
            .unwrap()["_id"]
            .as_str()
            .unwrap()
            .to_owned();
        let reset = users
            .iter()
            .find(|u| u["totp_enabled"] == true && u["_id"] != suspended.as_str())
            .unwrap()["_id"]
            .as_str()
            .unwrap()
            .to_owned();
        client
            .post_json(
                Some(&org),
                &format!("/api/systemusers/{suspended}/state/suspend"),
                None,
            )
            .await
            .unwrap();
        client
            .post_json(
                Some(&org),
                &format!("/api/systemusers/{reset}/resetmfa"),
                Some(&serde_json::json!({})),
            )
            .await
            .unwrap();
        let groups = client
            .list_v2(Some(&org), "/api/v2/usergroups", 100)
            .await
            .unwrap();
        let group = groups.iter().find(|g| g["name"] != "All Users").unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let members = client
            .list_v2(
                Some(&org),
                &format!("/api/v2/usergroups/{group}/members"),
                100,
            )
            .await
            .unwrap();
        let removed = members[0]["to"]["id"].as_str().unwrap().to_owned();
        client
            .post_json(
                Some(&org),
                &format!("/api/v2/usergroups/{group}/members"),
                Some(&serde_json::json!({"op": "remove", "type": "user", "id": removed})),
            )
            .await
            .unwrap();
        (suspended, reset, removed, group)
    });
    let rest: Vec<String> = lines.map(|l| l.unwrap()).collect();
    let status = child.wait().unwrap();
    assert!(status.success(), "{}", rest.join("\n"));
    let stdout = stdout_reader.join().unwrap();
    let records: Vec<Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(
        records.iter().filter(|r| r["class_uid"] == 5003).count(),
        60,
        "two full snapshots"
    );
    let mut changes: Vec<(i64, i64, String)> = records
        .iter()
        .filter(|r| [3001, 3005, 3006].contains(&r["class_uid"].as_i64().unwrap()))
        .map(|r| {
            (
                r["class_uid"].as_i64().unwrap(),
                r["activity_id"].as_i64().unwrap(),
                r["user"]["uid"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    changes.sort();
    let mut expected = vec![
        (3001, 5, suspended),
        (3001, 11, reset),
        (3006, 4, removed.clone()),
    ];
    expected.sort();
    assert_eq!(changes, expected);
    let group_change = records.iter().find(|r| r["class_uid"] == 3006).unwrap();
    assert_eq!(group_change["group"]["uid"], group.as_str());
    assert_valid_ocsf_values(&records);
    runtime.block_on(sim.shutdown());
}

/// `--kafka-topic`: the snapshot goes to one Kafka topic keyed by the user/device id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_is_produced_to_the_inventory_topic_keyed_by_entity() {
    let sim = simulator::start(
        SimConfig {
            seed: 79,
            api_key: API_KEY.into(),
            history_events: 0,
            users_per_org: 12,
            systems_per_org: 6,
            groups_per_org: 2,
            applications_per_org: 1,
            ..SimConfig::default()
        },
        ([127, 0, 0, 1], 0).into(),
    )
    .await
    .unwrap();
    let base = sim.base_url();
    let orgs = sim.org_ids();
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_prefix("inventory");
    let config = write_config(dir.path(), &base, API_KEY, &orgs, &prefix, "");
    let topic = format!("{prefix}.inventory");
    // The same snapshot on stdout, to compare with.
    let printed = Command::new(binary())
        .args(["inventory", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(printed.status.success());
    let expected = printed
        .stdout
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .count();
    let output = Command::new(binary())
        .args(["inventory", "--kafka-topic", &topic, "--config"])
        .arg(&config)
        .env_remove("JUMPCLOUD_OCSF_INVENTORY_TOPIC")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.stdout.is_empty(), "Kafka mode prints no records");
    let consumed = tokio::task::spawn_blocking(move || {
        consume(&[topic], expected, std::time::Duration::from_secs(20))
    })
    .await
    .unwrap();
    let records: Vec<Value> = consumed
        .iter()
        .map(|c| serde_json::from_slice(&c.payload).unwrap())
        .collect();
    let users = records.iter().filter(|r| r["class_uid"] == 5003).count();
    let systems = records
        .iter()
        .filter(|r| r["metadata"]["event_code"] == "system")
        .count();
    assert_eq!((users, systems), (12, 6));
    assert_eq!(records.len(), expected);
    for (record, message) in records.iter().zip(&consumed) {
        let entity = if record["class_uid"] == 5003 {
            &record["user"]["uid"]
        } else {
            &record["device"]["uid"]
        };
        assert_eq!(
            message.key.as_deref(),
            entity.as_str().map(str::as_bytes),
            "keyed by the entity uid"
        );
    }
    sim.shutdown().await;
}

/// With `kafka.format = "avro"` the records must fit the committed OCSF Avro schemas.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_records_encode_with_the_avro_schemas() {
    let sim = simulator::start(
        SimConfig {
            seed: 80,
            api_key: API_KEY.into(),
            history_events: 0,
            users_per_org: 15,
            systems_per_org: 8,
            groups_per_org: 3,
            applications_per_org: 2,
            ..SimConfig::default()
        },
        ([127, 0, 0, 1], 0).into(),
    )
    .await
    .unwrap();
    let (ok, records, stderr) = inventory(&sim.base_url(), "", &[]);
    assert!(ok, "{stderr}");
    let classes: std::collections::BTreeSet<u64> = records
        .iter()
        .filter_map(|r| r["class_uid"].as_u64())
        .collect();
    assert_eq!(classes, [5001, 5003].into(), "users and systems to encode");
    let encoders = producer::avro::ClassEncoders::from_committed_schemas().unwrap();
    for record in &records {
        let class_uid = record["class_uid"].as_u64().unwrap() as u32;
        let encoder = encoders.get(class_uid).expect("a schema per class");
        let mut datum = Vec::new();
        encoder
            .encode_datum(record, &mut datum)
            .unwrap_or_else(|e| panic!("class {class_uid}: {e}: {record}"));
    }
    sim.shutdown().await;
}
