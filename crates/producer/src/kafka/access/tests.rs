//! Unit tests of the missing-ACL lines and the security remedies (the broker tests are
//! `crates/jumpcloud-ocsf/tests/secured_*.rs`).
use super::*;

fn config() -> ProducerConfig {
    ProducerConfig {
        brokers: "kafka-1:9093,kafka-2:9093".into(),
        sasl_username: Some("collector".into()),
        ..ProducerConfig::default()
    }
}

#[test]
fn a_missing_acl_is_one_line_with_the_command_that_grants_it() {
    let missing = MissingAcl::new(
        &config(),
        vec![Operation::Write],
        ResourceKind::Topic,
        vec!["ocsf.authentication".into(), "ocsf.base_event".into()],
        "the OCSF records",
    );
    assert_eq!(
        missing.to_string(),
        "Kafka ACL missing: User:collector may not Write topic ocsf.authentication, ocsf.base_event (the OCSF records); grant it: kafka-acls.sh --bootstrap-server kafka-1:9093 --command-config admin.properties --add --allow-principal User:collector --operation Write --topic ocsf.authentication --topic ocsf.base_event"
    );
}

#[test]
fn the_topics_lacking_the_same_operations_are_named_together() {
    let granted = |ops: &[Operation]| TopicState::Exists {
        partitions: 3,
        operations: Some(ops.to_vec()),
    };
    let topics = [
        TopicAccess {
            name: "a".into(),
            state: granted(&[Operation::Write, Operation::Read, Operation::Describe]),
        },
        TopicAccess {
            name: "state".into(),
            state: granted(&[Operation::Read, Operation::Describe]),
        },
        TopicAccess {
            name: "b".into(),
            state: TopicState::Missing,
        },
        TopicAccess {
            name: "state2".into(),
            state: granted(&[Operation::Describe, Operation::Read]),
        },
    ];
    let needs = [Operation::Write, Operation::Read];
    let missing = require_topic_access(&config(), &topics, &needs, "cursors").unwrap_err();
    assert_eq!(missing.operations, vec![Operation::Write]);
    assert_eq!(
        missing.names,
        vec!["state".to_string(), "state2".to_string()]
    );
    let hidden = [TopicAccess {
        name: "c".into(),
        state: TopicState::NotAuthorized,
    }];
    let missing = require_topic_access(&config(), &hidden, &needs, "cursors").unwrap_err();
    assert_eq!(missing.operations, needs.to_vec());
    assert!(
        missing
            .to_string()
            .ends_with("--operation Write --operation Read --topic c"),
        "{missing}"
    );
    require_topic_access(&config(), &topics[..1], &[Operation::Write], "records").unwrap();
}

#[test]
fn a_security_failure_says_what_to_check() {
    let tls = security_remedy(
        &config(),
        RDKafkaErrorCode::SSL,
        "ssl://kafka-1:9093/bootstrap: SSL handshake failed: error:0A000086:SSL routines::certificate verify failed",
    );
    assert!(tls.contains("kafka.ssl_ca_location"), "{tls}");
    let sasl = security_remedy(
        &config(),
        RDKafkaErrorCode::Authentication,
        "SASL authentication error: Authentication failed",
    );
    assert!(
        sasl.starts_with(
            "Kafka authentication of User:collector failed: SASL authentication error"
        ),
        "{sasl}"
    );
    assert!(sasl.contains("KAFKA_SASL_PASSWORD_FILE"), "{sasl}");
}
