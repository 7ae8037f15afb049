//! Exactly-once delivery on the real broker: dead letters travel in the transaction, a second
//! process with the same identity fences the first, and a broker killed in the middle of a
//! transaction loses and duplicates nothing. Topics are read as a downstream consumer would:
//! a consumer group with `isolation.level=read_committed`.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use simulator::SimConfig;

const API_KEY: &str = "exactly-once-test-key";

/// The warnings and errors of a run's log (librdkafka's own lines left out).
fn warnings(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| (l.contains("WARN") || l.contains("ERROR")) && !l.contains("librdkafka"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn start_run(config: &Path, bootstrap: &str, log: &Path) -> Child {
    Command::new(binary())
        .args(["run", "--config"])
        .arg(config)
        .env("KAFKA_BROKERS", bootstrap)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).expect("log file"))
        .spawn()
        .expect("start the pipeline")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_travel_in_the_transaction_once_each() {
    let sim = simulator::start(
        SimConfig {
            seed: 901,
            api_key: API_KEY.to_string(),
            orgs: 2,
            history_events: 3_000,
            history_days: 1,
            malformed_fraction: 0.02,
            ..SimConfig::default()
        },
        ([127, 0, 0, 1], 0).into(),
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_prefix("dlq");
    let config = write_config(
        dir.path(),
        &sim.base_url(),
        API_KEY,
        &sim.org_ids(),
        &prefix,
        "",
    );
    catch_up(&config, &[("KAFKA_BROKERS", &brokers())]);
    // A second run finds nothing new: nothing is written twice.
    catch_up(&config, &[("KAFKA_BROKERS", &brokers())]);

    let truth = ground_truth(&sim.base_url(), API_KEY).await;
    let topics = Delivered::read(&brokers(), &prefix);
    let dead_ids: Vec<String> = topics
        .dead_letters
        .iter()
        .map(|r| {
            r.headers
                .get("original_event_uid")
                .cloned()
                .unwrap_or_default()
        })
        .collect();
    let unique_dead: BTreeSet<&String> = dead_ids.iter().collect();
    println!(
        "truth {}; records {}; dead letters {}",
        truth.len(),
        topics.events.len(),
        dead_ids.len()
    );
    assert!(
        !dead_ids.is_empty(),
        "the malformed events became dead letters"
    );
    assert_eq!(unique_dead.len(), dead_ids.len(), "each dead letter once");
    for letter in &topics.dead_letters {
        assert_eq!(letter.headers["dlq_stage"], "map");
        assert!(!letter.headers["dlq_reason"].is_empty());
        assert!(!letter.payload.is_empty(), "the raw event travels with it");
    }
    assert_eq!(topics.duplicates(), 0);
    // Every good event once: the truth is the records plus the dead letters.
    assert_eq!(
        topics.events.len() + dead_ids.len(),
        truth.len(),
        "fetched = delivered + dead-lettered"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_instance_fences_the_first_and_nothing_is_duplicated() {
    let sim = simulator::start(
        SimConfig {
            seed: 902,
            api_key: API_KEY.to_string(),
            orgs: 2,
            history_events: 5_000,
            history_days: 1,
            late_max_secs: 1.0,
            live_events_per_sec: 40.0,
            ..SimConfig::default()
        },
        ([127, 0, 0, 1], 0).into(),
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_prefix("fence");
    let config = write_config(
        dir.path(),
        &sim.base_url(),
        API_KEY,
        &sim.org_ids(),
        &prefix,
        "",
    );
    let first_log = dir.path().join("first.log");
    let mut first = start_run(&config, &brokers(), &first_log);
    tokio::time::sleep(Duration::from_secs(4)).await;
    let second_log = dir.path().join("second.log");
    let mut second = start_run(&config, &brokers(), &second_log);

    // The first stops by itself, with a clear error, within a unit or two.
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = first.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the first instance was not fenced"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let first_stderr = std::fs::read_to_string(&first_log).unwrap_or_default();
    assert!(!status.success(), "a fenced instance exits non-zero");
    assert!(
        first_stderr.contains("fenced"),
        "the error says it was fenced: {first_stderr}"
    );
    assert!(
        second.try_wait().unwrap().is_none(),
        "the second instance goes on"
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    sim.set_live_rate(0.0);
    // SIGTERM: the second finishes its unit and exits cleanly.
    let _ = Command::new("kill").arg(second.id().to_string()).status();
    let status = second.wait().unwrap();
    assert!(
        status.success(),
        "{}",
        std::fs::read_to_string(&second_log).unwrap_or_default()
    );
    tokio::time::sleep(Duration::from_secs(4)).await;
    catch_up(&config, &[("KAFKA_BROKERS", &brokers())]);

    let truth = ground_truth(&sim.base_url(), API_KEY).await;
    let topics = Delivered::read(&brokers(), &prefix);
    let missing = topics.missing(&truth);
    println!(
        "truth {}; records {}; missing {}; duplicates {}",
        truth.len(),
        topics.events.len(),
        missing.len(),
        topics.duplicates()
    );
    assert!(
        missing.is_empty(),
        "missing: {:?}\nfirst:\n{}\nsecond:\n{}",
        &missing[..missing.len().min(5)],
        warnings(&first_log),
        warnings(&second_log)
    );
    assert_eq!(
        topics.duplicates(),
        0,
        "the fenced instance's writes are not visible"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_killed_in_the_middle_of_a_transaction_loses_and_duplicates_nothing() {
    let broker = testkit::PrivateBroker::start();
    let bootstrap = broker.bootstrap();
    let sim = simulator::start(
        SimConfig {
            seed: 903,
            api_key: API_KEY.to_string(),
            orgs: 3,
            history_events: 20_000,
            history_days: 2,
            late_max_secs: 1.0,
            live_events_per_sec: 50.0,
            ..SimConfig::default()
        },
        ([127, 0, 0, 1], 0).into(),
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_prefix("broker-kill");
    // Small pages and units: transactions are open most of the time.
    let config = write_config(
        dir.path(),
        &sim.base_url(),
        API_KEY,
        &sim.org_ids(),
        &prefix,
        "[pipeline]\nunit_max_events = 2000\n",
    );
    set_in_config(&config, "events", "page_limit = 500");
    let log = dir.path().join("run.log");
    let mut run = start_run(&config, &bootstrap, &log);
    tokio::time::sleep(Duration::from_secs(3)).await;
    broker.kill();
    tokio::time::sleep(Duration::from_secs(5)).await;
    broker.restart();
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert!(
        run.try_wait().unwrap().is_none(),
        "the pipeline rides out the broker's restart: {}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    sim.set_live_rate(0.0);
    let _ = Command::new("kill").arg(run.id().to_string()).status();
    let _ = run.wait();
    tokio::time::sleep(Duration::from_secs(4)).await;
    catch_up(&config, &[("KAFKA_BROKERS", &bootstrap)]);

    let truth = ground_truth(&sim.base_url(), API_KEY).await;
    let topics = Delivered::read(&bootstrap, &prefix);
    let missing = topics.missing(&truth);
    println!(
        "truth {}; records {}; missing {}; duplicates {}",
        truth.len(),
        topics.events.len(),
        missing.len(),
        topics.duplicates()
    );
    assert!(
        missing.is_empty(),
        "missing: {:?}",
        &missing[..missing.len().min(5)]
    );
    assert_eq!(topics.duplicates(), 0);
    sim.shutdown().await;
}
