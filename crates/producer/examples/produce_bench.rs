//! Producer benchmark: N OCSF records (cycled from an NDJSON file of mapped output, or by
//! default from the records the project maps from its own fixtures, see
//! `tests/common/ocsf_records.rs`) to a real broker through `OcsfProducer`, with every
//! acknowledgement awaited. Prints events/s and peak RSS. Compare with
//! `benches/baseline_confluent_kafka.py` (same input, same settings), or run both with
//! `benches/producer_vs_baseline.sh`.
//!
//! ```sh
//! cargo run --release -p producer --example produce_bench -- \
//!     --events 1000000 [--input FILE] [--format json|avro] [--prefix bench-x] \
//!     [--queue-max-messages N] [--queue-max-kbytes N]
//! cargo run --release -p producer --example produce_bench -- --dump-input FILE
//!     # writes the default records as NDJSON (the baseline's input) and exits
//! ```

use std::time::Instant;

use mapper::OcsfRecord;
use producer::{Format, OcsfProducer, ProducerConfig, RegistryConfig, TopicConfig};
use serde_json::Value;
use tokio::sync::mpsc;

#[path = "../tests/common/ocsf_records.rs"]
mod ocsf_records;

fn class_name(class_uid: u32) -> &'static str {
    match class_uid {
        3001 => "account_change",
        3002 => "authentication",
        3004 => "entity_management",
        3005 => "user_access",
        3006 => "group_management",
        5001 => "inventory_info",
        5003 => "user_inventory",
        _ => "base_event",
    }
}

fn record_from_line(line: &str) -> Option<OcsfRecord> {
    let event: Value = serde_json::from_str(line).ok()?;
    let text = |v: &Value| v.as_str().map(str::to_owned);
    let class_uid = u32::try_from(event["class_uid"].as_u64()?).ok()?;
    Some(OcsfRecord {
        class_uid,
        class_name: class_name(class_uid),
        activity_id: i32::try_from(event["activity_id"].as_i64().unwrap_or(0)).ok()?,
        uid: text(&event["metadata"]["uid"]).unwrap_or_default(),
        tenant_uid: text(&event["metadata"]["tenant_uid"]),
        event_code: text(&event["metadata"]["event_code"]),
        original_event_uid: text(&event["metadata"]["original_event_uid"]),
        subject_user_uid: text(&event["user"]["uid"]),
        json: line.as_bytes().to_vec(),
    })
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| {
                    l.split_whitespace()
                        .nth(1)
                        .and_then(|kb| kb.parse::<f64>().ok())
                })
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

struct Args {
    events: u64,
    input: Option<String>,
    dump_input: Option<String>,
    format: Format,
    prefix: String,
    brokers: String,
    queue_max_messages: Option<u32>,
    queue_max_kbytes: Option<u32>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        events: 100_000,
        input: None,
        dump_input: None,
        format: Format::Json,
        prefix: format!("bench-{}", std::process::id()),
        brokers: std::env::var("KAFKA_BOOTSTRAP_SERVERS")
            .unwrap_or_else(|_| "127.0.0.1:9092".into()),
        queue_max_messages: None,
        queue_max_kbytes: None,
    };
    let mut iter = std::env::args().skip(1);
    while let Some(flag) = iter.next() {
        let mut value = || iter.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--events" => args.events = value()?.parse().map_err(|e| format!("--events: {e}"))?,
            "--input" => args.input = Some(value()?),
            "--dump-input" => args.dump_input = Some(value()?),
            "--prefix" => args.prefix = value()?,
            "--brokers" => args.brokers = value()?,
            "--queue-max-messages" => {
                args.queue_max_messages =
                    Some(value()?.parse().map_err(|e| format!("{flag}: {e}"))?)
            }
            "--queue-max-kbytes" => {
                args.queue_max_kbytes = Some(value()?.parse().map_err(|e| format!("{flag}: {e}"))?)
            }
            "--format" => {
                args.format = match value()?.as_str() {
                    "json" => Format::Json,
                    "avro" => Format::Avro,
                    other => return Err(format!("--format {other}: json or avro")),
                }
            }
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Ok(args)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args()?;
    let lines: Vec<String> = match &args.input {
        Some(path) => std::fs::read_to_string(path)?
            .lines()
            .map(str::to_owned)
            .collect(),
        None => ocsf_records::mapped_examples(),
    };
    if let Some(path) = &args.dump_input {
        std::fs::write(path, lines.join("\n") + "\n")?;
        println!("wrote {} OCSF records to {path}", lines.len());
        return Ok(());
    }
    let records: Vec<OcsfRecord> = lines.iter().filter_map(|l| record_from_line(l)).collect();
    if records.is_empty() {
        return Err(format!("no OCSF events in {:?}", args.input).into());
    }
    let schema_registry = match args.format {
        Format::Json => None,
        Format::Avro => {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let address = listener.local_addr()?;
            tokio::spawn(async move { axum::serve(listener, simulator::registry::router()).await });
            Some(RegistryConfig::new(format!("http://{address}")))
        }
    };
    let defaults = ProducerConfig::default();
    let config = ProducerConfig {
        brokers: args.brokers.clone(),
        queue_max_messages: args
            .queue_max_messages
            .unwrap_or(defaults.queue_max_messages),
        queue_max_kbytes: args.queue_max_kbytes.unwrap_or(defaults.queue_max_kbytes),
        format: args.format,
        schema_registry,
        topic: TopicConfig {
            template: format!("{}.{{class_name}}", args.prefix),
            dead_letter: format!("{}.dead_letter", args.prefix),
            ..TopicConfig::default()
        },
        ..ProducerConfig::default()
    };
    let producer = OcsfProducer::new(config).await?;
    producer.ensure_topics().await?;

    // Acknowledgements are awaited in send order by a second task, as the pipeline does.
    let (pending_tx, mut pending_rx) = mpsc::channel(10_000);
    let acker = tokio::spawn(async move {
        let (mut acked, mut failed) = (0_u64, 0_u64);
        while let Some(pending) = pending_rx.recv().await {
            match pending {
                Ok(delivery) => match delivery.await {
                    Ok(_) => acked += 1,
                    Err(_) => failed += 1,
                },
                Err(_) => failed += 1,
            }
        }
        (acked, failed)
    });
    let started = Instant::now();
    for record in records.iter().cycle().take(args.events as usize) {
        let pending = producer.enqueue(record).await;
        if pending_tx.send(pending).await.is_err() {
            break;
        }
    }
    drop(pending_tx);
    let (acked, failed) = acker.await?;
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "producer (rust, {:?}): {acked} acked, {failed} failed in {seconds:.2} s = {:.0} events/s; peak RSS {:.1} MiB",
        args.format,
        acked as f64 / seconds,
        peak_rss_mib()
    );
    Ok(())
}
