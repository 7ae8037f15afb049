//! Fault injection a real broker cannot give on demand: rdkafka's in-process `MockCluster`.

mod common;

use std::time::Duration;

use common::example_records;
use producer::{OcsfProducer, ProduceError, ProducerConfig, TopicConfig};
use rdkafka::mocking::MockCluster;
use rdkafka::types::{RDKafkaApiKey, RDKafkaErrorCode, RDKafkaRespErr};

fn mock_config(bootstrap: String) -> ProducerConfig {
    ProducerConfig {
        brokers: bootstrap,
        linger_ms: 1,
        delivery_timeout_ms: 1_500,
        properties: producer::KafkaProperties(
            [("reconnect.backoff.max.ms".to_owned(), "200".to_owned())]
                .into_iter()
                .collect(),
        ),
        topic: TopicConfig {
            template: "mock.{class_name}".into(),
            ..TopicConfig::default()
        },
        ..ProducerConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_down_fails_delivery_after_the_delivery_timeout() {
    let cluster = MockCluster::new(1).unwrap();
    cluster.create_topic("mock.authentication", 1, 1).unwrap();
    let producer = OcsfProducer::new(mock_config(cluster.bootstrap_servers()))
        .await
        .unwrap();
    let record = example_records()
        .into_iter()
        .find(|r| r.class_uid == 3002)
        .unwrap();
    // Up: delivered.
    let delivery = producer.send(&record).await.unwrap();
    assert_eq!(delivery.topic, "mock.authentication");
    // Down: the send resolves to a Kafka error (not a hang, not a success).
    cluster.broker_down(1).unwrap();
    let error = producer.send(&record).await.unwrap_err();
    match &error {
        ProduceError::Kafka { topic, code, .. } => {
            assert_eq!(topic, "mock.authentication");
            assert_eq!(*code, Some(RDKafkaErrorCode::MessageTimedOut));
        }
        other => panic!("expected a Kafka delivery error, got {other:?}"),
    }
    assert!(
        !error.is_record_fault(),
        "a transport failure is retried, not dead-lettered"
    );
    // Back up: a retry (what the pipeline does with a transport failure) is delivered.
    cluster.broker_up(1).unwrap();
    let mut attempts = 0;
    loop {
        attempts += 1;
        match producer.send(&record).await {
            Ok(delivery) => {
                assert_eq!(delivery.topic, "mock.authentication");
                break;
            }
            Err(error) if attempts < 10 => assert!(!error.is_record_fault(), "{error:?}"),
            Err(error) => panic!("not delivered after the broker came back: {error:?}"),
        }
    }
    producer.flush(Duration::from_secs(5)).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_rejection_surfaces_as_a_delivery_error() {
    let cluster = MockCluster::new(1).unwrap();
    cluster.create_topic("mock.authentication", 1, 1).unwrap();
    let producer = OcsfProducer::new(mock_config(cluster.bootstrap_servers()))
        .await
        .unwrap();
    let record = example_records()
        .into_iter()
        .find(|r| r.class_uid == 3002)
        .unwrap();
    cluster.request_errors(
        RDKafkaApiKey::Produce,
        &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE],
    );
    let error = producer.send(&record).await.unwrap_err();
    assert!(
        matches!(
            error,
            ProduceError::Kafka {
                code: Some(RDKafkaErrorCode::MessageSizeTooLarge),
                ..
            }
        ),
        "{error:?}"
    );
    assert!(
        error.is_record_fault(),
        "the broker will never take this record"
    );
}

#[test]
fn a_send_future_owns_what_it_needs_and_delivers_after_its_record_is_gone() {
    // Compile-time: the future can be spawned on another task.
    fn assert_send<T: Send + 'static>(_: &T) {}
    let cluster = MockCluster::new(1).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let producer = runtime
        .block_on(OcsfProducer::new(mock_config(cluster.bootstrap_servers())))
        .unwrap();
    let record = example_records().remove(0);
    let expected_topic = format!("mock.{}", record.class_name);
    let send = producer.send(&record);
    assert_send(&send);
    // The future owns everything it needs: it outlives the record it was made from.
    drop(record);
    let delivery = runtime.block_on(send).unwrap();
    assert_eq!(delivery.topic, expected_topic);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_beyond_a_full_queue_wait_and_are_all_delivered() {
    let cluster = MockCluster::new(1).unwrap();
    cluster.create_topic("mock.authentication", 1, 1).unwrap();
    let config = ProducerConfig {
        queue_max_messages: 5,
        ..mock_config(cluster.bootstrap_servers())
    };
    let producer = OcsfProducer::new(config).await.unwrap();
    let template = example_records()
        .into_iter()
        .find(|r| r.class_uid == 3002)
        .unwrap();
    let records: Vec<_> = (0..40)
        .map(|n| {
            let mut record = template.clone();
            record.uid = format!("uid-{n}");
            record
        })
        .collect();
    // Most of these find the queue full and must keep their own copy of the record.
    let sends: Vec<_> = records.iter().map(|r| producer.send(r)).collect();
    drop(records);
    let deliveries = futures::future::join_all(sends).await;
    let mut offsets: Vec<i64> = deliveries.into_iter().map(|d| d.unwrap().offset).collect();
    offsets.sort_unstable();
    offsets.dedup();
    assert_eq!(
        offsets.len(),
        40,
        "40 distinct offsets: every record delivered once"
    );
}
