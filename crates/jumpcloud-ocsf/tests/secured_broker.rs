//! Least privilege, proven on the secured broker (`scripts/kafka-broker.sh start secure`:
//! SASL_SSL, SCRAM-SHA-512 users, ACLs enforced, nothing allowed without one). The topics exist
//! (made by the "platform team", the super user); each deployment's user gets exactly the rows
//! of the ACL table in `docs/permissions.md`, no Create, no Describe, no IdempotentWrite:
//!
//! - with all of them, `run --once` exactly-once (with `[inventory]` and Avro through the TLS
//!   registry with basic auth), `run --once` at-least-once, `backfill` and a `[cluster]` `run`
//!   each deliver every simulator event once to a `read_committed` consumer;
//! - the removed-ACL cases write JSON (the rows do not depend on the format; the registry's
//!   credentials are `secured_credentials.rs`'s);
//! - with any one of them removed, the same command fails within seconds with one `error:` line
//!   naming the operation, the resource and the `kafka-acls` command, and writes nothing.
//!
//! Every case runs side by side (a user, topics and ACLs of its own).

mod common;

use std::time::Duration;

use common::secure::*;
use simulator::SimConfig;
use testkit::{Isolation, SecureBroker};

async fn simulator() -> simulator::SimHandle {
    let config = SimConfig {
        seed: 2501,
        api_key: API_KEY.to_string(),
        orgs: 1,
        history_events: 300,
        history_days: 1,
        late_max_secs: 0.0,
        live_events_per_sec: 0.0,
        users_per_org: 8,
        systems_per_org: 4,
        groups_per_org: 2,
        applications_per_org: 2,
        ..SimConfig::default()
    };
    simulator::start(config, ([127, 0, 0, 1], 0).into())
        .await
        .expect("simulator starts")
}

fn stderr_of(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Runs a `[cluster]` instance until every event of `expected` was delivered, then stops it
/// with SIGTERM; it must exit 0.
fn run_cluster_until_delivered(
    deployment: &Deployment,
    broker: &SecureBroker,
    expected: usize,
) -> String {
    let mut child = deployment
        .command(broker)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start the cluster instance");
    let started = std::time::Instant::now();
    loop {
        let delivered = deployment.delivered(broker, Isolation::ReadCommitted);
        if delivered.events.len() >= expected {
            break;
        }
        if let Ok(Some(status)) = child.try_wait() {
            let output = child.wait_with_output().unwrap();
            panic!(
                "the cluster instance exited ({status}): {}",
                stderr_of(&output)
            );
        }
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "the cluster instance delivered {} of {expected} in 90 s",
            delivered.events.len()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let pid = child.id().to_string();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let stderr = stderr_of(&output);
    assert!(
        output.status.success(),
        "the cluster instance on SIGTERM: {stderr}"
    );
    stderr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documented_acls_suffice_and_every_event_arrives_once() {
    let broker = SecureBroker::from_env();
    let sim = simulator().await;
    let org = sim.org_ids()[0].clone();
    let dir = tempfile::tempdir().unwrap();
    let deployments: Vec<Deployment> = [
        (Kind::ExactlyOnceAvro, "eo"),
        (Kind::AtLeastOnce, "alo"),
        (Kind::Backfill, "backfill"),
        (Kind::Cluster, "cluster"),
    ]
    .into_iter()
    .map(|(kind, case)| Deployment::new(kind, case, dir.path(), &broker, &sim.base_url(), &org))
    .collect();
    let provisioning: Vec<(&Deployment, Option<Row>)> =
        deployments.iter().map(|d| (d, None)).collect();
    provision(&broker, &provisioning).await;
    let all = truth_ids(&sim.base_url(), false).await;
    let in_range = truth_ids(&sim.base_url(), true).await;
    assert!(all.len() >= 300 && !in_range.is_empty());

    let started = std::time::Instant::now();
    let outputs: Vec<(&Deployment, String)> = tokio::task::block_in_place(|| {
        std::thread::scope(|scope| {
            let handles: Vec<_> = deployments
                .iter()
                .map(|deployment| {
                    let broker = &broker;
                    let expected = all.len();
                    scope.spawn(move || {
                        let stderr = if deployment.kind == Kind::Cluster {
                            run_cluster_until_delivered(deployment, broker, expected)
                        } else {
                            let (output, _) =
                                run_within(deployment.command(broker), Duration::from_secs(120));
                            let stderr = stderr_of(&output);
                            assert!(
                                output.status.success(),
                                "{:?} with the documented ACLs: {stderr}",
                                deployment.kind
                            );
                            stderr
                        };
                        (deployment, stderr)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        })
    });
    println!(
        "4 deployments with the documented ACLs ran side by side in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    for (deployment, stderr) in &outputs {
        assert!(
            !stderr.contains(&deployment.password()),
            "{:?}: the SASL password leaked into the output",
            deployment.kind
        );
        // Nothing refused along the way (e.g. fetches from the coordination topic, on which
        // the cluster has Describe only).
        assert!(
            !stderr.to_lowercase().contains("authorization failed"),
            "{:?}: {stderr}",
            deployment.kind
        );
        let delivered =
            tokio::task::block_in_place(|| deployment.delivered(&broker, Isolation::ReadCommitted));
        let truth = if deployment.kind == Kind::Backfill {
            &in_range
        } else {
            &all
        };
        delivered.assert_each_once(truth, &format!("{:?}", deployment.kind));
        if deployment.kind == Kind::ExactlyOnceAvro {
            assert!(
                delivered.inventory > 0,
                "the inventory snapshot was written"
            );
            // Avro in the Confluent wire format: magic byte 0, then the schema id the TLS
            // registry gave (registration needed the basic credentials).
            assert!(delivered.payloads.iter().all(|p| p.len() > 5 && p[0] == 0));
            assert!(
                stderr.contains("registered Avro schema"),
                "the schemas went to the TLS registry: {stderr}"
            );
        }
    }
    clean_up(&broker, &deployments.iter().collect::<Vec<_>>()).await;
    sim.shutdown().await;
}

/// Removed-ACL cases run side by side.
const CASES_AT_ONCE: usize = 2;

/// The `error:` lines of a failed run.
fn error_lines(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|line| line.starts_with("error:"))
        .collect()
}

/// What the one error line must name for a removed row: the operation, the resource and the
/// resource flag of the `kafka-acls` command.
fn expected_words(deployment: &Deployment, row: Row) -> (&'static str, String, &'static str) {
    match row {
        Row::RecordsWrite => (
            "Write",
            format!("{}authentication", deployment.records_prefix()),
            "--topic",
        ),
        Row::StateWrite => ("Write", deployment.state_topic(), "--topic"),
        Row::StateRead => ("Read", deployment.state_topic(), "--topic"),
        Row::StateReaderGroupDescribe => (
            "Describe",
            format!("{}-state-reader", deployment.prefix),
            "--group",
        ),
        Row::TransactionalIdWrite => ("Write", deployment.prefix.clone(), "--transactional-id"),
        Row::InventoryStateWrite => ("Write", deployment.inventory_state_topic(), "--topic"),
        Row::InventoryStateRead => ("Read", deployment.inventory_state_topic(), "--topic"),
        Row::ClusterGroupRead => ("Read", deployment.prefix.clone(), "--group"),
        Row::CoordinationTopicDescribe => ("Describe", deployment.coordination_topic(), "--topic"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_documented_acl_removed_fails_at_start_with_one_line_naming_it() {
    let broker = SecureBroker::from_env();
    let sim = simulator().await;
    let org = sim.org_ids()[0].clone();
    let dir = tempfile::tempdir().unwrap();
    // Every row of each kind of deployment, removed alone (the rows two kinds share are removed
    // once, from the kind that exercises them first; the transactional id also from backfill and
    // cluster, whose ids differ).
    let mut cases: Vec<(Deployment, Row)> = Vec::new();
    for (kind, rows) in [
        (
            Kind::ExactlyOnce,
            vec![
                Row::RecordsWrite,
                Row::StateWrite,
                Row::StateRead,
                Row::StateReaderGroupDescribe,
                Row::TransactionalIdWrite,
                Row::InventoryStateWrite,
                Row::InventoryStateRead,
            ],
        ),
        (Kind::AtLeastOnce, vec![Row::StateWrite, Row::StateRead]),
        (Kind::Backfill, vec![Row::TransactionalIdWrite]),
        (
            Kind::Cluster,
            vec![
                Row::ClusterGroupRead,
                Row::CoordinationTopicDescribe,
                Row::TransactionalIdWrite,
            ],
        ),
    ] {
        for row in rows {
            let case = format!("{kind:?}-{row:?}").to_lowercase();
            let deployment =
                Deployment::new(kind, &case, dir.path(), &broker, &sim.base_url(), &org);
            cases.push((deployment, row));
        }
    }
    let provisioning: Vec<(&Deployment, Option<Row>)> =
        cases.iter().map(|(d, row)| (d, Some(*row))).collect();
    provision(&broker, &provisioning).await;

    // Two at a time: each must fail within 10 s of its start, on 2 cores shared with another
    // test binary (four at a time, the inventory-state cases took 10.1-10.3 s in CI).
    let started = std::time::Instant::now();
    let results: Vec<(&Deployment, Row, std::process::Output, Duration)> =
        in_waves(&cases, CASES_AT_ONCE, |(deployment, row)| {
            let (output, took) = run_within(deployment.command(&broker), Duration::from_secs(30));
            (deployment, *row, output, took)
        });
    println!(
        "{} removed-ACL cases ran side by side in {:.1} s",
        results.len(),
        started.elapsed().as_secs_f64()
    );

    let mut failures = Vec::new();
    for (deployment, row, output, took) in &results {
        let stderr = stderr_of(output);
        let errors = error_lines(&stderr);
        let (operation, resource, flag) = expected_words(deployment, *row);
        let line = errors.first().copied().unwrap_or_default();
        println!(
            "{:?} without {row:?} ({:.1} s): {line}",
            deployment.kind,
            took.as_secs_f64()
        );
        let named = line.contains("Kafka ACL missing")
            && line.contains(&format!("may not {operation}"))
            && line.contains(&resource)
            && line.contains(&format!("--operation {operation}"))
            && line.contains(&format!("{flag} {resource}"))
            && line.contains("kafka-acls.sh");
        if output.status.success() || errors.len() != 1 || !named || *took > Duration::from_secs(10)
        {
            failures.push(format!(
                "{:?} without {row:?}: exit {:?} after {took:?}, {} error line(s): {stderr}",
                deployment.kind,
                output.status.code(),
                errors.len()
            ));
            continue;
        }
        assert!(
            !stderr.contains(&deployment.password()),
            "the password leaked"
        );
        // Nothing written, not even an aborted record.
        let written = tokio::task::block_in_place(|| {
            deployment.delivered(&broker, Isolation::ReadUncommitted)
        });
        if written.records() > 0 {
            failures.push(format!(
                "{:?} without {row:?}: {} record(s) written",
                deployment.kind,
                written.records()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    clean_up(&broker, &cases.iter().map(|(d, _)| d).collect::<Vec<_>>()).await;
    sim.shutdown().await;
}
