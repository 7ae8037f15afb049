//! Unit tests of the waking of senders waiting for room in librdkafka's queue (the broker
//! tests in `tests/kafka.rs` and `tests/faults.rs` drive full queues end to end).

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::Ordering;
use std::task::{Context, Waker};

use super::{QueueRoom, ReportedRecord};

fn record(topic: &str, partition: i32, offset: i64) -> ReportedRecord {
    ReportedRecord::of(topic, partition, offset)
}

/// Whether a sender that starts waiting now is woken by these delivery callbacks.
fn wakes_a_waiting_sender(room: &QueueRoom, reported: &[ReportedRecord]) -> bool {
    let mut notified = pin!(room.notify.notified());
    notified.as_mut().enable();
    for record in reported {
        room.record_reported(*record);
    }
    notified
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
        .is_ready()
}

#[test]
fn a_record_continues_a_report_only_at_the_next_offset_of_the_same_partition() {
    let previous = record("ocsf.authentication", 1, 41);
    assert!(record("ocsf.authentication", 1, 42).continues(previous));
    assert!(!record("ocsf.authentication", 1, 43).continues(previous));
    assert!(!record("ocsf.authentication", 1, 41).continues(previous));
    assert!(!record("ocsf.authentication", 2, 42).continues(previous));
    assert!(!record("ocsf.account_change", 1, 42).continues(previous));
    // Failed deliveries have no offset: each is taken as a report of its own.
    let failed = record("ocsf.authentication", 1, -1);
    assert!(!record("ocsf.authentication", 1, -1).continues(failed));
    assert!(!record("ocsf.authentication", 1, 0).continues(failed));
}

#[test]
fn waiting_senders_are_woken_once_per_report_at_its_first_record() {
    let room = QueueRoom::default();
    room.waiting.store(1, Ordering::Release);
    assert!(wakes_a_waiting_sender(&room, &[record("t", 0, 10)]));
    // The rest of that report: its room is released only after its last record.
    assert!(!wakes_a_waiting_sender(
        &room,
        &[record("t", 0, 11), record("t", 0, 12)]
    ));
    // The next report (another partition) starts: the one before has released its room.
    assert!(wakes_a_waiting_sender(
        &room,
        &[record("t", 1, 13), record("t", 1, 14)]
    ));
    // The next report of the same partition starts where the last one ended only if the
    // offsets say so; another topic is another report.
    assert!(wakes_a_waiting_sender(&room, &[record("u", 1, 15)]));
    assert!(wakes_a_waiting_sender(&room, &[record("u", 1, 20)]));
    assert!(wakes_a_waiting_sender(&room, &[record("u", 1, -1)]));
    assert!(wakes_a_waiting_sender(&room, &[record("u", 1, -1)]));
}

#[test]
fn nobody_is_woken_when_no_sender_waits() {
    let room = QueueRoom::default();
    assert!(!wakes_a_waiting_sender(
        &room,
        &[record("t", 0, 1), record("t", 1, 1)]
    ));
}

/// The binary is built with OpenSSL (rdkafka's `ssl` feature): librdkafka accepts TLS and the
/// SASL mechanisms the documentation names. Built without it, creating the client fails with
/// `Unsupported value "sasl_ssl" ... OpenSSL not available at build time`.
#[test]
fn the_client_accepts_tls_and_the_documented_sasl_mechanisms() {
    for (protocol, mechanism) in [
        ("ssl", None),
        ("sasl_ssl", Some("SCRAM-SHA-512")),
        ("sasl_ssl", Some("SCRAM-SHA-256")),
        ("sasl_ssl", Some("PLAIN")),
        ("sasl_plaintext", Some("SCRAM-SHA-512")),
    ] {
        let config = crate::ProducerConfig {
            brokers: "127.0.0.1:1".into(),
            security_protocol: Some(protocol.into()),
            sasl_mechanism: mechanism.map(str::to_owned),
            sasl_username: mechanism.map(|_| "collector".to_owned()),
            sasl_password: mechanism.map(|_| "not-a-real-password".into()),
            ..crate::ProducerConfig::default()
        };
        let created: Result<rdkafka::producer::BaseProducer, _> =
            super::client_config(&config).create();
        if let Err(error) = created {
            panic!("{protocol} {mechanism:?}: {error}");
        }
    }
}
