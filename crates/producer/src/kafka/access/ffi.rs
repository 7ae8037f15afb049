//! librdkafka's `DescribeTopics` and `DescribeConsumerGroups`, with authorized operations, through
//! its C API: the only unsafe code of the crate. Every pointer read here is owned by an event or
//! a queue this module holds and destroys (RAII wrappers below); strings are copied out before
//! the event is destroyed.
#![allow(unsafe_code)]

use std::ffi::{CStr, CString, c_char};
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::admin::AdminClient;
use rdkafka::bindings as rd;
use rdkafka::client::DefaultClientContext;
use rdkafka::error::RDKafkaErrorCode;

use super::{Failure, Operation};
use crate::error::ProducerError;

/// One described topic: name, error code (`NoError` when it exists), error text, partitions,
/// authorized operations.
pub(super) type TopicRow = (
    String,
    RDKafkaErrorCode,
    String,
    usize,
    Option<Vec<Operation>>,
);

/// One described group: error code, error text, authorized operations, members, state.
pub(super) type GroupRow = (
    RDKafkaErrorCode,
    String,
    Option<Vec<Operation>>,
    usize,
    String,
);

/// A client handle for describe calls. Its main queue (librdkafka's error events) is read by
/// these calls only: nothing else polls an rdkafka `AdminClient`'s main queue.
pub(super) struct DescribeClient {
    admin: AdminClient<DefaultClientContext>,
}

struct Queue(*mut rd::rd_kafka_queue_t);

impl Drop for Queue {
    fn drop(&mut self) {
        if !self.0.is_null() {
            // SAFETY: a queue this module created or took a reference to, destroyed once.
            unsafe { rd::rd_kafka_queue_destroy(self.0) }
        }
    }
}

struct Options(*mut rd::rd_kafka_AdminOptions_t);

impl Drop for Options {
    fn drop(&mut self) {
        // SAFETY: options this module created, destroyed once.
        unsafe { rd::rd_kafka_AdminOptions_destroy(self.0) }
    }
}

struct Event(*mut rd::rd_kafka_event_t);

impl Drop for Event {
    fn drop(&mut self) {
        // SAFETY: an event polled from a queue, destroyed once.
        unsafe { rd::rd_kafka_event_destroy(self.0) }
    }
}

/// A C string owned by librdkafka, copied (empty when null).
fn text(pointer: *const c_char) -> String {
    if pointer.is_null() {
        return String::new();
    }
    // SAFETY: librdkafka returns NUL-terminated strings that live as long as their event.
    unsafe { CStr::from_ptr(pointer) }
        .to_string_lossy()
        .into_owned()
}

/// The operations of an authorized-operations array (`None` when the broker sent none).
fn operations(array: *const rd::rd_kafka_AclOperation_t, count: usize) -> Option<Vec<Operation>> {
    if array.is_null() {
        return None;
    }
    // Read as integers: only known values become operations.
    let raw = array.cast::<u32>();
    let operations = (0..count)
        .filter_map(|index| {
            // SAFETY: `count` elements, as librdkafka reported.
            match unsafe { *raw.add(index) } {
                3 => Some(Operation::Read),
                4 => Some(Operation::Write),
                5 => Some(Operation::Create),
                8 => Some(Operation::Describe),
                _ => None,
            }
        })
        .collect();
    Some(operations)
}

/// An error object's code and text (`NoError` when null).
fn error_of(error: *const rd::rd_kafka_error_t) -> (RDKafkaErrorCode, String) {
    if error.is_null() {
        return (RDKafkaErrorCode::NoError, String::new());
    }
    // SAFETY: a non-null error owned by the event being read.
    unsafe {
        (
            rd::rd_kafka_error_code(error).into(),
            text(rd::rd_kafka_error_string(error)),
        )
    }
}

fn is_security(code: RDKafkaErrorCode) -> bool {
    matches!(
        code,
        RDKafkaErrorCode::Authentication
            | RDKafkaErrorCode::SaslAuthenticationFailed
            | RDKafkaErrorCode::SSL
    )
}

impl DescribeClient {
    pub(super) fn new(config: &ClientConfig) -> Result<Self, ProducerError> {
        let admin = config
            .create::<AdminClient<DefaultClientContext>>()
            .map_err(|e| ProducerError::Kafka(format!("Kafka client settings: {e}")))?;
        Ok(Self { admin })
    }

    /// Starts an admin call with `start` and waits for its result event, reading librdkafka's
    /// error events meanwhile: an authentication or TLS failure ends the wait at once.
    fn call(
        &self,
        api: rd::rd_kafka_admin_op_t,
        timeout: Duration,
        start: impl FnOnce(
            *mut rd::rd_kafka_t,
            *const rd::rd_kafka_AdminOptions_t,
            *mut rd::rd_kafka_queue_t,
        ),
    ) -> Result<Event, Failure> {
        let rk = self.admin.inner().native_ptr();
        // SAFETY: `rk` lives as long as `self.admin`, which outlives these queues and options.
        let (results, main, options) = unsafe {
            (
                Queue(rd::rd_kafka_queue_new(rk)),
                Queue(rd::rd_kafka_queue_get_main(rk)),
                Options(rd::rd_kafka_AdminOptions_new(rk, api)),
            )
        };
        let timeout_ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
        let mut errstr = [0 as c_char; 256];
        // SAFETY: valid options; the error buffer's size is passed with it.
        unsafe {
            rd::rd_kafka_AdminOptions_set_request_timeout(
                options.0,
                timeout_ms,
                errstr.as_mut_ptr(),
                errstr.len(),
            );
            let error = rd::rd_kafka_AdminOptions_set_include_authorized_operations(options.0, 1);
            if !error.is_null() {
                rd::rd_kafka_error_destroy(error);
            }
        }
        start(rk, options.0, results.0);
        let deadline = Instant::now() + timeout + Duration::from_secs(1);
        let mut last_error = None;
        loop {
            // SAFETY: polling queues this call holds.
            let event = unsafe { rd::rd_kafka_queue_poll(results.0, 100) };
            if !event.is_null() {
                let event = Event(event);
                // SAFETY: a valid event.
                let code: RDKafkaErrorCode = unsafe { rd::rd_kafka_event_error(event.0) }.into();
                if code != RDKafkaErrorCode::NoError {
                    // SAFETY: a valid event.
                    let message = text(unsafe { rd::rd_kafka_event_error_string(event.0) });
                    return Err(if is_security(code) {
                        Failure::Security {
                            code,
                            reason: message,
                        }
                    } else if code == RDKafkaErrorCode::OperationTimedOut {
                        Failure::Timeout {
                            after: timeout,
                            last_error,
                        }
                    } else {
                        Failure::Call(format!("Kafka admin call failed: {code} ({message})"))
                    });
                }
                return Ok(event);
            }
            // SAFETY: polling the main queue without waiting; every event is destroyed.
            while let Some(event) = Some(unsafe { rd::rd_kafka_queue_poll(main.0, 0) })
                .filter(|e| !e.is_null())
                .map(Event)
            {
                // SAFETY: a valid event.
                if unsafe { rd::rd_kafka_event_type(event.0) } != rd::RD_KAFKA_EVENT_ERROR {
                    continue;
                }
                // SAFETY: a valid error event.
                let (code, reason) = unsafe {
                    (
                        RDKafkaErrorCode::from(rd::rd_kafka_event_error(event.0)),
                        text(rd::rd_kafka_event_error_string(event.0)),
                    )
                };
                if is_security(code) {
                    return Err(Failure::Security { code, reason });
                }
                last_error = Some(reason);
            }
            if Instant::now() > deadline {
                return Err(Failure::Timeout {
                    after: timeout,
                    last_error,
                });
            }
        }
    }

    pub(super) fn describe_topics(
        &self,
        names: &[String],
        timeout: Duration,
    ) -> Result<Vec<TopicRow>, Failure> {
        let owned: Vec<CString> = names
            .iter()
            .map(|name| CString::new(name.as_str()))
            .collect::<Result<_, _>>()
            .map_err(|e| Failure::Call(format!("a topic name holds a NUL byte: {e}")))?;
        let mut pointers: Vec<*const c_char> = owned.iter().map(|name| name.as_ptr()).collect();
        let event = self.call(
            rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_DESCRIBETOPICS,
            timeout,
            |rk, options, queue| {
                // SAFETY: the names outlive the call (librdkafka copies them into the
                // collection, and the collection into the request).
                unsafe {
                    let collection = rd::rd_kafka_TopicCollection_of_topic_names(
                        pointers.as_mut_ptr(),
                        pointers.len(),
                    );
                    rd::rd_kafka_DescribeTopics(rk, collection, options, queue);
                    rd::rd_kafka_TopicCollection_destroy(collection);
                }
            },
        )?;
        // SAFETY: the result of the event just polled; every pointer below is owned by it.
        unsafe {
            let result = rd::rd_kafka_event_DescribeTopics_result(event.0);
            if result.is_null() {
                return Err(Failure::Call("no DescribeTopics result".into()));
            }
            let mut count = 0;
            let topics = rd::rd_kafka_DescribeTopics_result_topics(result, &mut count);
            let mut rows = Vec::with_capacity(count);
            for index in 0..count {
                let topic = *topics.add(index);
                let (code, message) = error_of(rd::rd_kafka_TopicDescription_error(topic));
                let mut partitions = 0;
                rd::rd_kafka_TopicDescription_partitions(topic, &mut partitions);
                let mut op_count = 0;
                let ops = rd::rd_kafka_TopicDescription_authorized_operations(topic, &mut op_count);
                rows.push((
                    text(rd::rd_kafka_TopicDescription_name(topic)),
                    code,
                    message,
                    partitions,
                    operations(ops, op_count),
                ));
            }
            Ok(rows)
        }
    }

    pub(super) fn describe_group(
        &self,
        group: &str,
        timeout: Duration,
    ) -> Result<GroupRow, Failure> {
        let owned = CString::new(group)
            .map_err(|e| Failure::Call(format!("the group name holds a NUL byte: {e}")))?;
        let mut pointers = [owned.as_ptr()];
        let event = self.call(
            rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS,
            timeout,
            |rk, options, queue| {
                // SAFETY: the name outlives the call (librdkafka copies it).
                unsafe {
                    rd::rd_kafka_DescribeConsumerGroups(
                        rk,
                        pointers.as_mut_ptr(),
                        1,
                        options,
                        queue,
                    );
                }
            },
        )?;
        // SAFETY: the result of the event just polled; every pointer below is owned by it.
        unsafe {
            let result = rd::rd_kafka_event_DescribeConsumerGroups_result(event.0);
            if result.is_null() {
                return Err(Failure::Call("no DescribeConsumerGroups result".into()));
            }
            let mut count = 0;
            let groups = rd::rd_kafka_DescribeConsumerGroups_result_groups(result, &mut count);
            if count == 0 {
                return Err(Failure::Call(format!(
                    "the broker did not describe the group {group}"
                )));
            }
            let description = *groups;
            let (code, message) =
                error_of(rd::rd_kafka_ConsumerGroupDescription_error(description));
            let mut op_count = 0;
            let ops = rd::rd_kafka_ConsumerGroupDescription_authorized_operations(
                description,
                &mut op_count,
            );
            let members = rd::rd_kafka_ConsumerGroupDescription_member_count(description);
            let state = text(rd::rd_kafka_consumer_group_state_name(
                rd::rd_kafka_ConsumerGroupDescription_state(description),
            ));
            Ok((code, message, operations(ops, op_count), members, state))
        }
    }
}
