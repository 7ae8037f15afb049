//! What the project's delivery guarantees stand on, checked on the real broker the tests use:
//! transactions (aborted records invisible to `read_committed`, committed ones visible), a
//! consumer group resuming exactly after its committed offset, and a restart that keeps topics,
//! records and committed offsets.

use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use testkit::{Isolation, PrivateBroker, brokers, consume_with, unique_name};

fn create_topic(bootstrap: &str, topic: &str, partitions: i32) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .expect("admin client");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let results = runtime
        .block_on(admin.create_topics(
            &[NewTopic::new(topic, partitions, TopicReplication::Fixed(1))],
            &AdminOptions::new(),
        ))
        .expect("create topics");
    for result in results {
        result.expect("topic created");
    }
}

fn producer(
    bootstrap: &str,
    transactional_id: Option<&str>,
) -> ThreadedProducer<DefaultProducerContext> {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", bootstrap)
        .set("enable.idempotence", "true")
        .set("linger.ms", "5");
    if let Some(id) = transactional_id {
        config.set("transactional.id", id);
    }
    config.create().expect("producer")
}

fn send(producer: &ThreadedProducer<DefaultProducerContext>, topic: &str, values: &[&str]) {
    for value in values {
        producer
            .send(BaseRecord::<(), str>::to(topic).payload(value))
            .expect("enqueue");
    }
}

fn values(records: &[testkit::Consumed]) -> Vec<String> {
    records
        .iter()
        .map(|r| String::from_utf8_lossy(&r.payload).into_owned())
        .collect()
}

#[test]
fn aborted_transactions_are_invisible_to_read_committed_and_committed_ones_visible() {
    let bootstrap = brokers();
    let topic = unique_name("txn");
    create_topic(&bootstrap, &topic, 1);
    let producer = producer(&bootstrap, Some(&unique_name("txn-id")));
    let timeout = Duration::from_secs(30);
    producer
        .init_transactions(timeout)
        .expect("init transactions");

    producer.begin_transaction().expect("begin");
    send(&producer, &topic, &["committed-1", "committed-2"]);
    producer.commit_transaction(timeout).expect("commit");

    producer.begin_transaction().expect("begin");
    send(&producer, &topic, &["aborted-1", "aborted-2"]);
    producer
        .flush(timeout)
        .expect("flush: the aborted records reached the log");
    producer.abort_transaction(timeout).expect("abort");

    producer.begin_transaction().expect("begin");
    send(&producer, &topic, &["committed-3"]);
    producer.commit_transaction(timeout).expect("commit");

    let topics = [topic.clone()];
    let committed = consume_with(
        &bootstrap,
        &unique_name("committed"),
        Isolation::ReadCommitted,
        &topics,
        3,
        Duration::from_secs(30),
    );
    assert_eq!(
        values(&committed),
        ["committed-1", "committed-2", "committed-3"]
    );
    let everything = consume_with(
        &bootstrap,
        &unique_name("uncommitted"),
        Isolation::ReadUncommitted,
        &topics,
        5,
        Duration::from_secs(30),
    );
    assert_eq!(
        values(&everything),
        [
            "committed-1",
            "committed-2",
            "aborted-1",
            "aborted-2",
            "committed-3"
        ],
        "read_uncommitted sees the aborted records: they were written and only hidden"
    );
}

#[test]
fn a_restart_keeps_topics_records_and_committed_offsets() {
    let broker = PrivateBroker::start();
    let bootstrap = broker.bootstrap();
    let topic = unique_name("restart");
    create_topic(&bootstrap, &topic, 2);
    let producer = producer(&bootstrap, None);
    let first: Vec<String> = (0..50).map(|i| format!("first-{i}")).collect();
    send(
        &producer,
        &topic,
        &first.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    producer.flush(Duration::from_secs(30)).expect("flush");
    drop(producer);

    // A group reads the first 50 and commits its offsets.
    let group = unique_name("group");
    let topics = [topic.clone()];
    let read = consume_with(
        &bootstrap,
        &group,
        Isolation::ReadCommitted,
        &topics,
        50,
        Duration::from_secs(30),
    );
    assert_eq!(read.len(), 50);

    broker.stop();
    broker.restart();

    // The records are still there, and more arrive after the restart.
    let producer = self::producer(&bootstrap, None);
    let second: Vec<String> = (0..20).map(|i| format!("second-{i}")).collect();
    send(
        &producer,
        &topic,
        &second.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    producer.flush(Duration::from_secs(30)).expect("flush");

    // The same group resumes after its committed offsets: exactly the 20 new records.
    let resumed = consume_with(
        &bootstrap,
        &group,
        Isolation::ReadCommitted,
        &topics,
        20,
        Duration::from_secs(30),
    );
    let mut resumed = values(&resumed);
    resumed.sort();
    let mut expected = second.clone();
    expected.sort();
    assert_eq!(
        resumed, expected,
        "the group resumed at its committed offsets"
    );

    // A new group reads all 70: the topic and its records survived the restart.
    let all = consume_with(
        &bootstrap,
        &unique_name("fresh"),
        Isolation::ReadCommitted,
        &topics,
        70,
        Duration::from_secs(30),
    );
    assert_eq!(all.len(), 70);
}
