//! A broker outage: a dedicated broker (Tansu, memory storage, own port) is stopped for 60 s
//! while the pipeline runs and events keep arriving, then started again. Nothing may be missing
//! and the pipeline's memory stays bounded. The memory broker forgets everything on restart, so
//! a consumer runs throughout and the outage starts only once it has read everything delivered.

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use rdkafka::ClientConfig;
use rdkafka::Message;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use simulator::SimConfig;

const API_KEY: &str = "outage-test-key";
const PARTITIONS: i32 = 4; // Tansu auto-creates topics with 4 partitions after its restart

fn broker_script(port: u16, state: &std::path::Path, command: &str) -> String {
    let script = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../scripts/kafka-broker.sh"
    ));
    let output = Command::new("bash")
        .arg(script)
        .arg(command)
        .env("KAFKA_PORT", port.to_string())
        .env("JUMPCLOUD_OCSF_STATE", state)
        .output()
        .expect("kafka-broker.sh");
    assert!(
        output.status.success(),
        "kafka-broker.sh {command}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .map(str::to_string)
        })
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_down_for_60_s_loses_nothing_and_memory_stays_bounded() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let state = tempfile::tempdir().unwrap();
    broker_script(port, state.path(), "start");
    let brokers = format!("127.0.0.1:{port}");

    let sim_config = SimConfig {
        seed: 808,
        api_key: API_KEY.to_string(),
        orgs: 2,
        history_events: 4_000,
        history_days: 1,
        late_max_secs: 1.0,
        live_events_per_sec: 40.0,
        ..SimConfig::default()
    };
    let sim = simulator::start(sim_config, ([127, 0, 0, 1], 0).into())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_prefix("outage");
    let config = write_config(
        dir.path(),
        &sim.base_url(),
        API_KEY,
        &sim.org_ids(),
        &prefix,
        "",
    );
    let text = std::fs::read_to_string(&config).unwrap().replace(
        "[kafka.topic]\n",
        &format!("[kafka.topic]\npartitions = {PARTITIONS}\n"),
    );
    std::fs::write(&config, text).unwrap();
    let log_path = dir.path().join("pipeline.log");
    let mut pipeline = Command::new(binary())
        .args(["run", "--config"])
        .arg(&config)
        .env("KAFKA_BROKERS", &brokers)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap();

    // A consumer that runs throughout, across the broker restart.
    let seen: Arc<Mutex<BTreeSet<EventKey>>> = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let consumer_thread = {
        let (seen, stop, brokers, topics) = (
            Arc::clone(&seen),
            Arc::clone(&stop),
            brokers.clone(),
            topics(&prefix),
        );
        std::thread::spawn(move || {
            let consumer: BaseConsumer = ClientConfig::new()
                .set("bootstrap.servers", &brokers)
                .set("group.id", "outage-test")
                .set("enable.auto.commit", "false")
                .set("auto.offset.reset", "earliest")
                .create()
                .unwrap();
            let mut assignment = TopicPartitionList::new();
            for topic in &topics {
                for partition in 0..PARTITIONS {
                    assignment
                        .add_partition_offset(topic, partition, Offset::Beginning)
                        .unwrap();
                }
            }
            consumer.assign(&assignment).unwrap();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                if let Some(Ok(message)) = consumer.poll(Duration::from_millis(200)) {
                    if let Ok(event) = serde_json::from_slice::<serde_json::Value>(
                        message.payload().unwrap_or_default(),
                    ) {
                        seen.lock().unwrap().insert(ocsf_key(&event));
                    }
                }
            }
        })
    };

    // Until the history is through and the consumer has read it.
    let started = Instant::now();
    while seen.lock().unwrap().len() < 4_000 && started.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        seen.lock().unwrap().len() >= 4_000,
        "history delivered before the outage"
    );
    // Let the consumer catch up with everything delivered so far, then take the broker away.
    sim.set_live_rate(0.0);
    tokio::time::sleep(Duration::from_secs(6)).await;
    let rss_before = rss_kib(pipeline.id());
    broker_script(port, state.path(), "stop");
    sim.set_live_rate(40.0);
    let mut rss_peak = rss_before;
    for _ in 0..60 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        rss_peak = rss_peak.max(rss_kib(pipeline.id()));
        assert!(
            pipeline.try_wait().unwrap().is_none(),
            "the pipeline keeps running while the broker is down"
        );
    }
    broker_script(port, state.path(), "start");
    tokio::time::sleep(Duration::from_secs(3)).await;
    sim.set_live_rate(0.0);

    let truth = ground_truth(&sim.base_url(), API_KEY).await;
    let deadline = Instant::now() + Duration::from_secs(90);
    while Instant::now() < deadline && !truth.is_subset(&seen.lock().unwrap()) {
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let missing: Vec<EventKey> = truth.difference(&seen.lock().unwrap()).cloned().collect();
    println!(
        "truth {}; seen {}; missing {}; RSS before the outage {} KiB, peak during it {} KiB",
        truth.len(),
        seen.lock().unwrap().len(),
        missing.len(),
        rss_before,
        rss_peak
    );
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = consumer_thread.join();
    let _ = pipeline.kill();
    let _ = pipeline.wait();
    broker_script(port, state.path(), "stop");
    sim.shutdown().await;
    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
    let tail: Vec<&str> = log.lines().rev().take(30).collect();
    assert!(
        missing.is_empty(),
        "pipeline log (last lines, newest first):\n{}\n{} events missing after the outage, e.g. {:?}",
        tail.join("\n"),
        missing.len(),
        &missing[..missing.len().min(3)]
    );
    assert!(
        rss_peak < rss_before + 64 * 1024,
        "memory bounded during the outage: {rss_before} -> {rss_peak} KiB"
    );
}
