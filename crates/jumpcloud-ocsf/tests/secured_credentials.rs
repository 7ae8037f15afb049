//! Credentials against the secured broker and the TLS registry (`scripts/kafka-broker.sh start
//! secure`): a wrong SCRAM password, an unknown CA, a certificate for another host (for Kafka
//! and for the registry), and a registry password it refuses. Each makes `run` exit non-zero
//! with one `error:` line naming the cause (librdkafka's words kept) and `check` print a FAIL
//! with the remedy, both within 10 s; no password ever appears in their output. With the right
//! settings `check` passes; with one ACL missing it names it.

mod common;

use std::path::Path;
use std::time::Duration;

use common::secure::*;
use simulator::SimConfig;
use testkit::SecureBroker;

/// Cases whose commands run side by side.
const CASES_AT_ONCE: usize = 2;

/// One way of getting the credentials wrong.
struct Case {
    name: &'static str,
    /// (from, to) replacements in the configuration file.
    edit: Option<(String, String)>,
    /// Environment set for the commands.
    env: Vec<(&'static str, String)>,
    /// The `check` item that fails.
    item: &'static str,
    /// Words the error line and the FAIL line must hold.
    words: Vec<String>,
}

fn write_variant(deployment: &Deployment, case: &Case, dir: &Path) -> std::path::PathBuf {
    let mut text = std::fs::read_to_string(&deployment.config).unwrap();
    if let Some((from, to)) = &case.edit {
        assert!(text.contains(from.as_str()), "{from} in the config");
        text = text.replace(from.as_str(), to);
    }
    let path = dir.join(format!("{}.toml", case.name));
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_unknown_ca_and_wrong_host_each_fail_fast_naming_the_cause() {
    let broker = SecureBroker::from_env();
    let registry = broker
        .registry
        .clone()
        .expect("the TLS registry (SCHEMA_REGISTRY_TLS_URL)");
    let sim = simulator::start(
        SimConfig {
            seed: 2502,
            api_key: API_KEY.to_string(),
            orgs: 1,
            history_events: 50,
            history_days: 1,
            ..SimConfig::default()
        },
        ([127, 0, 0, 1], 0).into(),
    )
    .await
    .unwrap();
    let org = sim.org_ids()[0].clone();
    let dir = tempfile::tempdir().unwrap();
    let deployment = Deployment::new(
        Kind::ExactlyOnceAvro,
        "creds",
        dir.path(),
        &broker,
        &sim.base_url(),
        &org,
    );
    let lacking = Deployment::new(
        Kind::ExactlyOnceAvro,
        "creds-acl",
        dir.path(),
        &broker,
        &sim.base_url(),
        &org,
    );
    provision(
        &broker,
        &[(&deployment, None), (&lacking, Some(Row::StateRead))],
    )
    .await;
    let password = deployment.password();
    let registry_password = std::fs::read_to_string(&registry.password_file).unwrap();
    let registry_password = registry_password.trim_end();
    let wrong = format!("wrong-{}", uuid::Uuid::new_v4().simple());
    let wrong_file = dir.path().join("wrong.password");
    std::fs::write(&wrong_file, &wrong).unwrap();
    let port = broker.bootstrap.rsplit(':').next().unwrap().to_owned();
    let ca_line = format!("ssl_ca_location = \"{}\"\n", broker.ca_location);
    let registry_ca_line = format!("ca_location = \"{}\"\n", broker.ca_location);

    let cases = [
        Case {
            name: "wrong-password",
            edit: None,
            env: vec![("KAFKA_SASL_PASSWORD_FILE", wrong_file.display().to_string())],
            item: "Kafka brokers",
            words: vec![
                format!("Kafka authentication of {} failed", deployment.principal()),
                "SASL authentication error".into(),
                "KAFKA_SASL_PASSWORD_FILE".into(),
            ],
        },
        Case {
            name: "unknown-ca",
            edit: Some((ca_line.clone(), String::new())),
            env: vec![],
            item: "Kafka brokers",
            words: vec![
                "certificate verify failed".into(),
                "UnknownIssuer".into(),
                "kafka.ssl_ca_location".into(),
            ],
        },
        Case {
            name: "wrong-host",
            edit: Some((
                format!("brokers = \"{}\"", broker.bootstrap),
                format!("brokers = \"localhost:{port}\""),
            )),
            env: vec![],
            item: "Kafka brokers",
            words: vec![
                "certificate verify failed".into(),
                "not valid for name \"localhost\"".into(),
            ],
        },
        Case {
            name: "registry-wrong-password",
            edit: None,
            env: vec![("SCHEMA_REGISTRY_PASSWORD", wrong.clone())],
            item: "schema registry",
            words: vec![
                "schema registry answered 401".into(),
                "SCHEMA_REGISTRY_PASSWORD_FILE".into(),
            ],
        },
        Case {
            name: "registry-unknown-ca",
            edit: Some((format!("\n{registry_ca_line}"), "\n".into())),
            env: vec![],
            item: "schema registry",
            words: vec![
                "schema registry TLS failed".into(),
                "UnknownIssuer".into(),
                "kafka.schema_registry.ca_location".into(),
            ],
        },
        Case {
            name: "registry-wrong-host",
            edit: Some((
                registry.url.clone(),
                registry.url.replace("127.0.0.1", "localhost"),
            )),
            env: vec![],
            item: "schema registry",
            words: vec![
                "schema registry TLS failed".into(),
                "not valid for name \"localhost\"".into(),
            ],
        },
    ];

    let started = std::time::Instant::now();
    let results: Vec<(
        &Case,
        std::process::Output,
        Duration,
        std::process::Output,
        Duration,
    )> = {
        // Two at a time: the 10 s bound is on one process's start-up (1.1-2.8 s each here);
        // twelve debug processes at once beside another test binary took 10.2 s in CI.
        let configs: Vec<(&Case, std::path::PathBuf)> = cases
            .iter()
            .map(|case| (case, write_variant(&deployment, case, dir.path())))
            .collect();
        in_waves(&configs, CASES_AT_ONCE, |(case, config)| {
            let command = |args: &[&str]| {
                let mut command = deployment.bare_command(&broker);
                command
                    .args(args)
                    .arg(config)
                    .envs(case.env.iter().map(|(k, v)| (k, v)));
                command
            };
            let (run, run_took) = run_within(
                command(&["run", "--once", "--config"]),
                Duration::from_secs(30),
            );
            let (check, check_took) =
                run_within(command(&["check", "--config"]), Duration::from_secs(30));
            (*case, run, run_took, check, check_took)
        })
    };
    println!(
        "{} credential cases (run and check each) in {:.1} s",
        results.len(),
        started.elapsed().as_secs_f64()
    );

    let mut failures = Vec::new();
    for (case, run, run_took, check, check_took) in &results {
        let run_err = String::from_utf8_lossy(&run.stderr);
        let check_out = String::from_utf8_lossy(&check.stdout);
        let check_err = String::from_utf8_lossy(&check.stderr);
        let errors: Vec<&str> = run_err
            .lines()
            .filter(|l| l.starts_with("error:"))
            .collect();
        let fail = check_out
            .lines()
            .find(|l| l.starts_with(&format!("FAIL  {}", case.item)))
            .unwrap_or_default();
        println!(
            "{} run ({:.1} s): {}",
            case.name,
            run_took.as_secs_f64(),
            errors.join(" | ")
        );
        println!(
            "{} check ({:.1} s): {fail}",
            case.name,
            check_took.as_secs_f64()
        );
        for secret in [password.as_str(), registry_password, wrong.as_str()] {
            for (what, text) in [
                ("run", &run_err),
                ("check", &check_out),
                ("check stderr", &check_err),
            ] {
                if text.contains(secret) {
                    failures.push(format!(
                        "{}: a password appears in the {what} output",
                        case.name
                    ));
                }
            }
        }
        let named = |line: &str| case.words.iter().all(|w| line.contains(w.as_str()));
        if run.status.success()
            || errors.len() != 1
            || !named(errors[0])
            || *run_took > Duration::from_secs(10)
        {
            failures.push(format!(
                "{}: run exit {:?} after {run_took:?}: {run_err}",
                case.name,
                run.status.code()
            ));
        }
        if check.status.success() || !named(fail) || *check_took > Duration::from_secs(10) {
            failures.push(format!(
                "{}: check exit {:?} after {check_took:?}: {check_out}",
                case.name,
                check.status.code()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // The right settings: every check passes (the topics exist, the ACLs are there, the TLS
    // registry accepts the credentials); one ACL missing is named with its command.
    let check_of = |deployment: &Deployment| {
        let mut command = deployment.bare_command(&broker);
        command.args(["check", "--config"]).arg(&deployment.config);
        tokio::task::block_in_place(|| run_within(command, Duration::from_secs(30))).0
    };
    let check = check_of(&deployment);
    let out = String::from_utf8_lossy(&check.stdout);
    assert!(check.status.success(), "{out}");
    assert!(
        out.contains(&format!(
            "PASS  Kafka brokers {}: reachable, as {}",
            broker.bootstrap,
            deployment.principal()
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "PASS  Kafka state topic {}: exists",
            deployment.state_topic()
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!("PASS  schema registry {}", registry.url)),
        "{out}"
    );
    assert!(!out.contains(&password) && !out.contains(registry_password));

    let check = check_of(&lacking);
    let out = String::from_utf8_lossy(&check.stdout);
    assert!(!check.status.success(), "{out}");
    let state = lacking.state_topic();
    assert!(
        out.contains(&format!(
            "FAIL  Kafka state topic {state}: Kafka ACL missing: {} may not Read topic {state}",
            lacking.principal()
        )) && out.contains(&format!("--operation Read --topic {state}")),
        "{out}"
    );
    assert!(
        out.contains(" 1 failed"),
        "only the missing ACL fails: {out}"
    );
    clean_up(&broker, &[&deployment, &lacking]).await;
    sim.shutdown().await;
}
