//! `jumpcloud-ocsf check`: pass/fail per connection with the remedy, exit code = all passed.

mod common;

use std::process::Command;

use common::*;
use simulator::SimConfig;

const API_KEY: &str = "check-test-key";

fn check(config: &std::path::Path, env: &[(&str, &str)]) -> (bool, String) {
    let output = Command::new(binary())
        .args(["check", "--timeout-secs", "3", "--config"])
        .arg(config)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_reports_each_connection_with_its_remedy() {
    let sim_config = SimConfig {
        seed: 606,
        api_key: API_KEY.to_string(),
        orgs: 2,
        history_events: 500,
        history_days: 1,
        di_disabled_orgs: 1,
        ..SimConfig::default()
    };
    let sim = simulator::start(sim_config, ([127, 0, 0, 1], 0).into())
        .await
        .unwrap();
    let orgs = sim.org_ids();
    let registry = registry_url();
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_prefix("check");
    let config = write_config(
        dir.path(),
        &sim.base_url(),
        API_KEY,
        &orgs,
        &prefix,
        &format!("[kafka.schema_registry]\nurl = \"{registry}\"\n"),
    );

    let (ok, out) = check(&config, &[]);
    assert!(!ok, "{out}");
    assert!(
        out.contains(&format!(
            "PASS  JumpCloud Directory Insights API, organisation {}",
            orgs[0]
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "FAIL  JumpCloud Directory Insights API, organisation {}",
            orgs[1]
        )),
        "{out}"
    );
    assert!(
        out.contains("enable Directory Insights"),
        "the 402 remedy: {out}"
    );
    assert!(
        out.contains(&format!(
            "PASS  JumpCloud console API (inventory), organisation {}",
            orgs[0]
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!("PASS  Kafka brokers {}", brokers())),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "FAIL  Kafka topic {prefix}.authentication: missing"
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!("PASS  schema registry {registry}")),
        "{out}"
    );
    assert!(!out.contains(API_KEY));

    // A wrong key: 401 with the remedy, and the key never printed.
    let (ok, out) = check(&config, &[("JUMPCLOUD_API_KEY", "not-the-key-42")]);
    assert!(!ok);
    assert!(out.contains("401") && out.contains("regenerate"), "{out}");
    assert!(!out.contains("not-the-key-42"), "{out}");

    // An unreachable broker.
    let (ok, out) = check(&config, &[("KAFKA_BROKERS", "127.0.0.1:1")]);
    assert!(!ok);
    assert!(
        out.contains("FAIL  Kafka brokers 127.0.0.1:1: broker unreachable"),
        "{out}"
    );

    // Only the healthy organisation, topics created by a run: everything passes.
    let healthy_only = write_config(
        dir.path(),
        &sim.base_url(),
        API_KEY,
        &orgs[..1],
        &prefix,
        &format!("[kafka.schema_registry]\nurl = \"{registry}\"\n"),
    );
    let run = Command::new(binary())
        .args(["run", "--once", "--config"])
        .arg(&healthy_only)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let (ok, out) = check(&healthy_only, &[]);
    assert!(ok, "{out}");
    assert!(out.contains(" 0 failed"), "{out}");

    // [cluster]: the coordination topic and the group, before and while an instance runs.
    let mut text = std::fs::read_to_string(&healthy_only).unwrap();
    text.push_str(&format!(
        "\n[cluster]\ngroup_id = \"{prefix}\"\ntopic = \"{prefix}.shards\"\nshards = 4\nsession_timeout = \"6s\"\n"
    ));
    std::fs::write(&healthy_only, text).unwrap();
    let (ok, out) = check(&healthy_only, &[]);
    assert!(!ok, "{out}");
    assert!(
        out.contains(&format!(
            "FAIL  Kafka coordination topic {prefix}.shards: missing"
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "PASS  Kafka group {prefix}: no instance running yet"
        )),
        "{out}"
    );
    let mut instance = Command::new(binary())
        .args(["run", "--config"])
        .arg(&healthy_only)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    let out = loop {
        let (ok, out) = check(&healthy_only, &[]);
        if ok && out.contains("1 instance(s)") {
            break out;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "the instance never showed: {out}"
        );
        std::thread::sleep(std::time::Duration::from_millis(500));
    };
    assert!(
        out.contains(&format!(
            "PASS  Kafka coordination topic {prefix}.shards: 4 shards"
        )),
        "{out}"
    );
    instance.kill().unwrap();
    let _ = instance.wait();
    sim.shutdown().await;
}
