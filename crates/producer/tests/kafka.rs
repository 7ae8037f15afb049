//! The producer against the real broker (Apache Kafka at `KAFKA_BOOTSTRAP_SERVERS`, default
//! 127.0.0.1:9092) and the real schema registry (Apicurio's Confluent-compatible API at
//! `SCHEMA_REGISTRY_URL`).

mod common;

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::process::Command;
use std::time::Duration;

use bytes::Bytes;
use common::*;
use futures::future::join_all;
use producer::{
    DeadLetter, DeliveryListener, Format, KeyStrategy, OcsfProducer, ProduceError, ProducerConfig,
    ProducerError, RegistryClient, RegistryConfig, RegistryError, Stage, TopicConfig,
};
use serde_json::Value;

/// How long a test reads back what it sent: the read ends as soon as every record is there; a
/// group joining 20 new topics beside another test binary took over 30 s for one partition.
const CONSUME_DEADLINE: Duration = Duration::from_secs(90);

fn test_config(prefix: &str) -> ProducerConfig {
    ProducerConfig {
        brokers: brokers(),
        linger_ms: 5,
        topic: TopicConfig {
            template: format!("{prefix}.{{class_name}}"),
            dead_letter: format!("{prefix}.dead_letter"),
            partitions: 3,
            ..TopicConfig::default()
        },
        ..ProducerConfig::default()
    }
}

fn expected_key(record: &mapper::OcsfRecord) -> Vec<u8> {
    record
        .subject_user_uid
        .clone()
        .or(record.tenant_uid.clone())
        .unwrap_or(record.uid.clone())
        .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_records_arrive_with_topics_keys_and_headers() {
    let prefix = unique_prefix();
    let producer = OcsfProducer::new(test_config(&prefix)).await.unwrap();
    let created = producer.ensure_topics().await.unwrap();
    assert_eq!(
        created.len(),
        producer::avro::CLASS_SCHEMA_FILES.len() + 1,
        "a topic per class and the dead-letter topic: {created:?}"
    );
    let records = example_records();
    let deliveries = join_all(records.iter().map(|r| producer.send(r))).await;
    let deliveries: Vec<_> = deliveries.into_iter().map(Result::unwrap).collect();
    for (record, delivery) in records.iter().zip(&deliveries) {
        assert_eq!(delivery.topic, format!("{prefix}.{}", record.class_name));
        assert!(delivery.offset >= 0);
    }
    producer.flush(Duration::from_secs(10)).unwrap();

    let topics: Vec<String> = producer.topics();
    let consumed = consume(&topics, records.len(), CONSUME_DEADLINE);
    assert_eq!(consumed.len(), records.len());
    let by_uid: HashMap<String, &Consumed> = consumed
        .iter()
        .map(|c| {
            let event: Value = serde_json::from_slice(&c.payload).unwrap();
            (event["metadata"]["uid"].as_str().unwrap().to_owned(), c)
        })
        .collect();
    assert_eq!(by_uid.len(), records.len(), "no duplicates");
    for record in &records {
        let message = by_uid[&record.uid];
        assert_eq!(message.payload, record.json);
        assert_eq!(message.topic, format!("{prefix}.{}", record.class_name));
        assert_eq!(message.key.as_deref(), Some(&expected_key(record)[..]));
        let h = &message.headers;
        assert_eq!(h["ocsf_class_uid"], record.class_uid.to_string());
        assert_eq!(h["ocsf_version"], "1.8.0");
        assert_eq!(h["content-type"], "application/json");
        assert_eq!(h.get("event_code"), record.event_code.as_ref());
        assert_eq!(h.get("tenant_uid"), record.tenant_uid.as_ref());
        assert_eq!(
            h.get("original_event_uid"),
            record.original_event_uid.as_ref()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_topic_with_org_keys_and_ordered_enqueue() {
    let prefix = unique_prefix();
    let config = ProducerConfig {
        key: KeyStrategy::Org,
        topic: TopicConfig {
            single_topic: Some(format!("{prefix}.all")),
            ..test_config(&prefix).topic
        },
        ..test_config(&prefix)
    };
    let producer = OcsfProducer::new(config).await.unwrap();
    producer.ensure_topics().await.unwrap();
    assert_eq!(
        producer.topics(),
        vec![format!("{prefix}.all"), format!("{prefix}.dead_letter")]
    );
    let records = example_records();
    let mut pending = Vec::new();
    for record in &records {
        pending.push(producer.enqueue(record).await.unwrap());
    }
    for delivery in join_all(pending).await {
        assert_eq!(delivery.unwrap().topic, format!("{prefix}.all"));
    }
    let consumed = consume(&[format!("{prefix}.all")], records.len(), CONSUME_DEADLINE);
    assert_eq!(consumed.len(), records.len());
    // Per key (organisation), records keep the order they were sent in.
    let mut sent_by_key: BTreeMap<Vec<u8>, Vec<Vec<u8>>> = BTreeMap::new();
    for record in &records {
        let key = record
            .tenant_uid
            .clone()
            .unwrap_or(record.uid.clone())
            .into_bytes();
        sent_by_key
            .entry(key)
            .or_default()
            .push(record.json.clone());
    }
    let mut consumed_by_key: BTreeMap<Vec<u8>, Vec<(i64, Vec<u8>)>> = BTreeMap::new();
    for message in &consumed {
        consumed_by_key
            .entry(message.key.clone().unwrap())
            .or_default()
            .push((message.offset, message.payload.clone()));
    }
    for (key, mut values) in consumed_by_key {
        values.sort();
        let values: Vec<Vec<u8>> = values.into_iter().map(|(_, v)| v).collect();
        assert_eq!(values, sent_by_key[&key]);
    }
}

/// Counts each index's verdicts (the listener must hear about every record exactly once).
#[derive(Default)]
struct VerdictLog(std::sync::Mutex<BTreeMap<u32, Vec<bool>>>);

impl DeliveryListener for VerdictLog {
    fn delivered(&self, index: u32, result: Result<(), ProduceError>) {
        self.0
            .lock()
            .unwrap()
            .entry(index)
            .or_default()
            .push(result.is_ok());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tracked_records_report_once_each_through_a_full_queue() {
    let prefix = unique_prefix();
    // A queue of 20 records: most sends wait for room, woken by delivery reports.
    let config = ProducerConfig {
        queue_max_messages: 20,
        ..test_config(&prefix)
    };
    let producer = OcsfProducer::new(config).await.unwrap();
    producer.ensure_topics().await.unwrap();
    let examples = example_records();
    let records: Vec<_> = examples.iter().cycle().take(600).collect();
    let log = std::sync::Arc::new(VerdictLog::default());
    let listener: std::sync::Arc<dyn DeliveryListener> = log.clone();
    for (index, record) in records.iter().enumerate() {
        producer
            .enqueue_tracked(record, &listener, index as u32)
            .await
            .unwrap();
    }
    producer.flush(Duration::from_secs(30)).unwrap();
    let verdicts = log.0.lock().unwrap().clone();
    assert_eq!(verdicts.len(), records.len(), "one verdict per index");
    assert!(
        verdicts.values().all(|v| v == &[true]),
        "each delivered exactly once: {verdicts:?}"
    );
    let consumed = consume(&producer.topics(), records.len(), CONSUME_DEADLINE);
    assert_eq!(consumed.len(), records.len());
    let mut sent: Vec<&[u8]> = records.iter().map(|r| &r.json[..]).collect();
    let mut received: Vec<&[u8]> = consumed.iter().map(|c| &c.payload[..]).collect();
    sent.sort();
    received.sort();
    assert_eq!(received, sent, "the same records arrived");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_carry_raw_bytes_reason_stage_and_org() {
    let prefix = unique_prefix();
    let config = ProducerConfig {
        message_max_bytes: 100_000,
        ..test_config(&prefix)
    };
    let producer = OcsfProducer::new(config).await.unwrap();
    producer.ensure_topics().await.unwrap();
    let letter = DeadLetter {
        raw: Bytes::from_static(b"{\"id\": \"abc\", \"event_type\": broken"),
        reason: "event is not JSON: expected value at line 1 column 31".into(),
        stage: Stage::Map,
        org_id: Some("org-1".into()),
        event_id: Some("abc".into()),
    };
    let big = DeadLetter {
        raw: Bytes::from(vec![b'x'; 200_000]),
        reason: "too big".into(),
        stage: Stage::Produce,
        org_id: None,
        event_id: None,
    };
    producer.send_dead_letter(letter.clone()).await.unwrap();
    let delivery = producer.send_dead_letter(big).await.unwrap();
    assert_eq!(delivery.topic, format!("{prefix}.dead_letter"));
    let consumed = consume(&[format!("{prefix}.dead_letter")], 2, CONSUME_DEADLINE);
    assert_eq!(consumed.len(), 2);
    let first = consumed
        .iter()
        .find(|c| c.headers["dlq_stage"] == "map")
        .unwrap();
    assert_eq!(first.payload, letter.raw.to_vec());
    assert_eq!(first.headers["dlq_reason"], letter.reason);
    assert_eq!(first.headers["tenant_uid"], "org-1");
    assert_eq!(first.headers["original_event_uid"], "abc");
    assert_eq!(first.key.as_deref(), Some(&b"org-1"[..]));
    let second = consumed
        .iter()
        .find(|c| c.headers["dlq_stage"] == "produce")
        .unwrap();
    assert_eq!(second.headers["dlq_original_size"], "200000");
    assert!(second.payload.len() < 100_000 && second.payload.iter().all(|b| *b == b'x'));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_record_is_a_record_fault_and_nothing_is_sent() {
    let prefix = unique_prefix();
    let config = ProducerConfig {
        message_max_bytes: 20_000,
        ..test_config(&prefix)
    };
    let producer = OcsfProducer::new(config).await.unwrap();
    let mut record = example_records().remove(0);
    record.json = format!("{{\"message\":\"{}\"}}", "y".repeat(30_000)).into_bytes();
    let error = producer.send(&record).await.unwrap_err();
    assert!(matches!(error, ProduceError::TooLarge { size, limit: 20_000 } if size > 30_000));
    assert!(error.is_record_fault());
    assert_eq!(producer.in_flight(), 0);
}

async fn avro_producer(prefix: &str, registry_url: &str) -> OcsfProducer {
    let config = ProducerConfig {
        format: Format::Avro,
        schema_registry: Some(RegistryConfig::new(registry_url)),
        ..test_config(prefix)
    };
    OcsfProducer::new(config).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn avro_records_decode_independently_to_the_json_content() {
    let registry_url = registry();
    let prefix = unique_prefix();
    let producer = avro_producer(&prefix, &registry_url).await;
    producer.ensure_topics().await.unwrap();
    let records = example_records();
    for delivery in join_all(records.iter().map(|r| producer.send(r))).await {
        delivery.unwrap();
    }
    let consumed = consume(&producer.topics(), records.len(), CONSUME_DEADLINE);
    assert_eq!(consumed.len(), records.len());

    // Wire format: magic 0 + the class's registered schema id; subject per topic.
    let registry = RegistryClient::new(&RegistryConfig::new(&registry_url)).unwrap();
    for message in &consumed {
        assert_eq!(message.payload[0], 0);
        let id = u32::from_be_bytes(message.payload[1..5].try_into().unwrap());
        let class_uid: u32 = message.headers["ocsf_class_uid"].parse().unwrap();
        let (subject, expected_id) = producer.schema_for(class_uid).unwrap();
        assert_eq!(id, expected_id);
        assert_eq!(subject, format!("{}-value", message.topic));
        assert_eq!(
            message.headers["content-type"],
            "application/vnd.apache.avro+binary"
        );
        // The registry may return the schema in another but equivalent form (Apicurio moves
        // the namespace out of the name): compare the parsed full name.
        let schema = registry.schema_by_id(id).await.unwrap();
        let schema = apache_avro::Schema::parse_str(&schema).unwrap();
        let name = schema.name().expect("a named record schema");
        assert_eq!(
            name.fullname(None),
            format!(
                "ocsf.v1_8_0.{}",
                producer::avro::camel_case(class_name(class_uid))
            )
        );
    }

    // Decode with Python fastavro (schemas fetched from the registry by id).
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("avro.ndjson");
    let mut file = std::fs::File::create(&input).unwrap();
    for message in &consumed {
        use base64::Engine;
        let value_b64 = base64::engine::general_purpose::STANDARD.encode(&message.payload);
        writeln!(file, "{}", serde_json::json!({"value_b64": value_b64})).unwrap();
    }
    drop(file);
    let output = Command::new("python3")
        .args([DECODER, "--registry", &registry_url, "--input"])
        .arg(&input)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "decoder: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let decoded_text = String::from_utf8(output.stdout).unwrap();
    let decoded: Vec<Value> = decoded_text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(decoded.len(), records.len());
    let originals: HashMap<String, Value> = records
        .iter()
        .map(|r| {
            (
                r.uid.clone(),
                without_nulls(&serde_json::from_slice(&r.json).unwrap()),
            )
        })
        .collect();
    for event in &decoded {
        let uid = event["metadata"]["uid"].as_str().unwrap();
        assert!(
            same_content(event, &originals[uid]),
            "decoded {event}\noriginal {}",
            originals[uid]
        );
    }

    // The decoder's Kafka mode (confluent-kafka, a consumer group from offset 0) reads the same events.
    let mut from_kafka = Command::new("python3");
    from_kafka.args([
        DECODER,
        "--registry",
        &registry_url,
        "--bootstrap",
        &brokers(),
    ]);
    for topic in producer.topics() {
        from_kafka.args(["--topic", &topic]);
    }
    let from_kafka = from_kafka
        .args(["--count", &records.len().to_string(), "--timeout", "30"])
        .output()
        .unwrap();
    assert!(
        from_kafka.status.success(),
        "decoder: {}",
        String::from_utf8_lossy(&from_kafka.stderr)
    );
    let mut kafka_uids: Vec<String> = String::from_utf8(from_kafka.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["metadata"]["uid"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    kafka_uids.sort();
    let mut expected_uids: Vec<String> = originals.keys().cloned().collect();
    expected_uids.sort();
    assert_eq!(kafka_uids, expected_uids);

    // The decoded events pass the OCSF 1.8.0 validator.
    let validator = ocsf_schema::Validator::ocsf_1_8_0();
    let findings: Vec<String> = decoded_text
        .lines()
        .enumerate()
        .flat_map(|(index, line)| {
            validator
                .validate_json(line.as_bytes())
                .into_iter()
                .map(move |finding| format!("decoded event {}: {finding}", index + 1))
        })
        .collect();
    assert_eq!(decoded_text.lines().count(), records.len());
    assert!(findings.is_empty(), "{}", findings.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn avro_encode_failure_is_distinct_and_sends_nothing() {
    let registry_url = registry();
    let prefix = unique_prefix();
    let producer = avro_producer(&prefix, &registry_url).await;
    let mut record = example_records().remove(0);
    let mut event: Value = serde_json::from_slice(&record.json).unwrap();
    event["not_an_ocsf_attribute"] = Value::from(1);
    record.json = event.to_string().into_bytes();
    let error = producer.send(&record).await.unwrap_err();
    assert!(
        matches!(&error, ProduceError::Encode(producer::avro::EncodeError::UnknownField { path }) if path == "not_an_ocsf_attribute"),
        "{error:?}"
    );
    assert!(error.is_record_fault());
    record.json = b"not json".to_vec();
    assert!(matches!(
        producer.send(&record).await.unwrap_err(),
        ProduceError::Encode(producer::avro::EncodeError::InvalidJson(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schema_the_registry_rejects_stops_start_up() {
    let registry_url = registry();
    let prefix = unique_prefix();
    let subject = format!("{prefix}.authentication-value");
    let registry = RegistryClient::new(&RegistryConfig::new(&registry_url)).unwrap();
    // An existing version the generated schema cannot read (a required field it lacks).
    let earlier = serde_json::json!({
        "type": "record", "name": "ocsf.v1_8_0.Authentication",
        "fields": [{"name": "legacy_required", "type": "string"}]
    })
    .to_string();
    registry.register(&subject, &earlier).await.unwrap();
    // The subject checks BACKWARD compatibility (Confluent's default; Apicurio's is NONE).
    let compatibility = reqwest::Client::new()
        .put(format!("{registry_url}/config/{subject}"))
        .json(&serde_json::json!({"compatibility": "BACKWARD"}))
        .send()
        .await
        .unwrap();
    assert!(compatibility.status().is_success(), "{compatibility:?}");
    let config = ProducerConfig {
        format: Format::Avro,
        schema_registry: Some(RegistryConfig::new(&registry_url)),
        ..test_config(&prefix)
    };
    let error = OcsfProducer::new(config).await.unwrap_err();
    match &error {
        ProducerError::Registry(RegistryError::Incompatible { subject: s, .. }) => {
            assert_eq!(s, &subject)
        }
        other => panic!("expected an incompatible-schema error, got {other:?}"),
    }
    assert!(error.to_string().contains("incompatible"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn avro_without_registry_is_a_config_error() {
    let config = ProducerConfig {
        format: Format::Avro,
        ..test_config(&unique_prefix())
    };
    assert!(matches!(
        OcsfProducer::new(config).await,
        Err(ProducerError::Config(_))
    ));
}

/// Instances of one deployment started at the same moment all create the coordination topic:
/// one wins, the others are told it exists (possibly before the broker's metadata shows it);
/// every one of them joins, and the group shares the shards among them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_started_at_once_all_join_and_share_the_shards() {
    use producer::{MembershipConfig, ShardChange, ShardMembership};
    use std::collections::BTreeSet;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    const INSTANCES: usize = 3;
    const SHARDS: i32 = 6;
    for round in 0..3 {
        let prefix = unique_prefix();
        let kafka = test_config(&prefix);
        let membership = MembershipConfig {
            group_id: format!("{prefix}.group"),
            topic: format!("{prefix}.shards"),
            shards: SHARDS,
            session_timeout: Duration::from_secs(6),
            revoke_timeout: Duration::from_secs(10),
        };
        let (senders, mut changes): (Vec<_>, Vec<_>) = (0..INSTANCES)
            .map(|_| tokio::sync::mpsc::unbounded_channel())
            .unzip();
        // What each instance owns, as its changes say; revocations answered at once (leaving
        // blocks until its revocation is answered).
        let owned = Arc::new(Mutex::new(vec![BTreeSet::new(); INSTANCES]));
        let stop = Arc::new(AtomicBool::new(false));
        let answering = {
            let (owned, stop) = (Arc::clone(&owned), Arc::clone(&stop));
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    for (i, rx) in changes.iter_mut().enumerate() {
                        while let Ok(change) = rx.try_recv() {
                            let mut owned = owned.lock().unwrap();
                            match change {
                                ShardChange::Assigned(shards) => owned[i].extend(shards),
                                ShardChange::Revoked { shards, done, .. } => {
                                    for shard in shards {
                                        owned[i].remove(&shard);
                                    }
                                    let _ = done.send(());
                                }
                            }
                        }
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            })
        };
        let joins = senders
            .into_iter()
            .map(|tx| ShardMembership::join(&kafka, &membership, tx));
        let members: Vec<ShardMembership> = join_all(joins)
            .await
            .into_iter()
            .enumerate()
            .map(|(i, joined)| {
                joined.unwrap_or_else(|e| panic!("round {round}: instance {i} did not join: {e}"))
            })
            .collect();
        for member in &members {
            assert_eq!(member.shard_count(), SHARDS);
        }
        // Every shard owned by exactly one instance, each instance owning some.
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            let now = owned.lock().unwrap().clone();
            let total: usize = now.iter().map(BTreeSet::len).sum();
            let union: BTreeSet<i32> = now.iter().flatten().copied().collect();
            if now.iter().all(|o| !o.is_empty()) && total == SHARDS as usize && union.len() == total
            {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "round {round}: shards not shared within 60 s: {now:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        tokio::task::spawn_blocking(move || members.into_iter().for_each(ShardMembership::leave))
            .await
            .unwrap();
        stop.store(true, Ordering::SeqCst);
        answering.join().unwrap();
    }
}
