//! Crash safety: the running pipeline is killed with SIGKILL at random moments 10 times and
//! restarted from its checkpoint; afterwards every simulator event is in Kafka (duplicates are
//! allowed by at-least-once and reported, losses are not).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_at_random_moments_loses_nothing() {
    let config = SimConfig {
        seed: 303,
        api_key: API_KEY.to_string(),
        orgs: 3,
        history_events: 30_000,
        history_days: 3,
        late_max_secs: 1.5,
        live_events_per_sec: 50.0,
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
        "[pipeline]\nmax_in_flight_events = 3000\n",
    );
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("[events]\n", "[events]\npage_limit = 500\n");
    std::fs::write(&config, text).unwrap();

    let seed = uuid::Uuid::new_v4().as_u64_pair().0 | 1;
    println!("kill delays seed {seed}");
    let mut delays = Delays(seed);
    for round in 0..10 {
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
        println!("round {round}: killed after {delay} ms");
    }
    // Stop the live events, let them all become visible and older than the lag, then catch up.
    sim.set_live_rate(0.0);
    tokio::time::sleep(Duration::from_secs(5)).await;
    let output = Command::new(binary())
        .args(["run", "--once", "--config"])
        .arg(&config)
        .output()
        .expect("final catch-up run");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let truth = ground_truth(&sim.base_url(), API_KEY).await;
    let records = consume(&topics(&prefix), usize::MAX, Duration::from_secs(20));
    let mut seen: BTreeMap<EventKey, usize> = BTreeMap::new();
    for record in &records {
        let event: serde_json::Value =
            serde_json::from_slice(&record.payload).expect("JSON record");
        *seen.entry(ocsf_key(&event)).or_default() += 1;
    }
    let delivered: BTreeSet<EventKey> = seen.keys().cloned().collect();
    let missing: Vec<_> = truth.difference(&delivered).collect();
    let duplicates: usize = seen.values().map(|n| n - 1).sum();
    println!(
        "ground truth {}; records {}; missing {}; duplicates {duplicates} (at-least-once after 10 kills)",
        truth.len(),
        records.len(),
        missing.len()
    );
    assert!(
        missing.is_empty(),
        "{} events lost, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    assert!(
        delivered.is_subset(&truth),
        "records that are not simulator events"
    );
    sim.shutdown().await;
}
