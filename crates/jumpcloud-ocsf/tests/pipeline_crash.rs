//! Crash safety: the running pipeline is killed with SIGKILL at random moments under load (3
//! organisations, late arrival, API faults) and restarted from its state in Kafka; then it
//! catches up, and a `read_committed` consumer checks the topics against the simulator's ground
//! truth. Exactly-once: 50 kills, every event exactly once. At-least-once: 10 kills, every
//! event at least once (the duplicates are reported).

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use simulator::FaultKind;
use simulator::SimConfig;

const API_KEY: &str = "crash-test-key";

/// Random delays from a seed printed in the output, so a failure can be replayed.
struct Delays(u64);

impl Delays {
    fn next_millis(&mut self, lo: u64, hi: u64) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        lo + self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % (hi - lo)
    }
}

/// What the topics hold after the kills and the final catch-up.
struct Outcome {
    missing: usize,
    duplicates: usize,
    foreign: usize,
}

async fn kill_and_restart(delivery: &str, kills: usize, seed: u64) -> Outcome {
    let config = SimConfig {
        seed,
        api_key: API_KEY.to_string(),
        orgs: 3,
        history_events: 20_000,
        history_days: 3,
        late_max_secs: 1.5,
        live_events_per_sec: 50.0,
        fault_probability: 0.05,
        fault_kinds: vec![
            FaultKind::RateLimit,
            FaultKind::ServerError,
            FaultKind::Reset,
        ],
        ..SimConfig::default()
    };
    let sim = simulator::start(config, ([127, 0, 0, 1], 0).into())
        .await
        .expect("simulator starts");
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_prefix("crash");
    // Small pages: many batches in flight when the kill comes.
    let config = write_config(
        dir.path(),
        &sim.base_url(),
        API_KEY,
        &sim.org_ids(),
        &prefix,
        "[pipeline]\nmax_in_flight_events = 3000\nunit_max_events = 1500\n",
    );
    set_in_config(&config, "events", "page_limit = 500");
    set_in_config(&config, "pipeline", &format!("delivery = \"{delivery}\""));

    let seed = uuid::Uuid::new_v4().as_u64_pair().0 | 1;
    println!("{delivery}: kill delays seed {seed}");
    let mut delays = Delays(seed);
    for round in 0..kills {
        let mut child = Command::new(binary())
            .args(["run", "--config"])
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the pipeline");
        let delay = delays.next_millis(300, 2_500);
        tokio::time::sleep(Duration::from_millis(delay)).await;
        child.kill().expect("SIGKILL");
        let _ = child.wait();
        println!("{delivery}: round {round}: killed after {delay} ms");
    }
    // Stop the live events, let them all become visible and older than the lag, then catch up.
    sim.set_live_rate(0.0);
    tokio::time::sleep(Duration::from_secs(5)).await;
    catch_up(&config, &[]);

    let truth = ground_truth(&sim.base_url(), API_KEY).await;
    let delivered = Delivered::read(&brokers(), &prefix);
    let missing = delivered.missing(&truth);
    let outcome = Outcome {
        missing: missing.len(),
        duplicates: delivered.duplicates(),
        foreign: delivered.foreign(&truth),
    };
    println!(
        "{delivery}: ground truth {}; records {}; missing {}; duplicates {} after {kills} kills",
        truth.len(),
        delivered.values.len(),
        outcome.missing,
        outcome.duplicates
    );
    assert!(
        missing.is_empty(),
        "{delivery}: {} events lost, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    assert_valid_ocsf_values(&delivered.values);
    sim.shutdown().await;
    outcome
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_once_50_kills_every_event_once() {
    let outcome = kill_and_restart("exactly-once", 50, 303).await;
    assert_eq!(outcome.missing, 0);
    assert_eq!(outcome.duplicates, 0, "read_committed sees no duplicate");
    assert_eq!(outcome.foreign, 0, "records that are not simulator events");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_least_once_10_kills_every_event_at_least_once() {
    let outcome = kill_and_restart("at-least-once", 10, 304).await;
    assert_eq!(outcome.missing, 0);
    assert_eq!(outcome.foreign, 0, "records that are not simulator events");
}
