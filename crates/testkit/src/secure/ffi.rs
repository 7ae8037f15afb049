//! librdkafka's `AlterUserScramCredentials`, `CreateAcls` and `DescribeAcls` through its C API.
//! Every object made here is destroyed here; strings are copied out before their event goes.
#![allow(unsafe_code)]

use std::ffi::{CStr, CString, c_char};
use std::time::{Duration, Instant};

use rdkafka::admin::AdminClient;
use rdkafka::bindings as rd;
use rdkafka::client::DefaultClientContext;
use rdkafka::types::RDKafkaErrorCode;

use super::{Acl, AclOperation, AclResource};

type Admin = AdminClient<DefaultClientContext>;

fn text(pointer: *const c_char) -> String {
    if pointer.is_null() {
        return String::new();
    }
    // SAFETY: librdkafka's NUL-terminated strings, alive while their event is.
    unsafe { CStr::from_ptr(pointer) }
        .to_string_lossy()
        .into_owned()
}

/// An error object's text, or `None` when null or without error.
fn error_text(error: *const rd::rd_kafka_error_t) -> Option<String> {
    if error.is_null() {
        return None;
    }
    // SAFETY: a non-null error owned by the event being read.
    let code: RDKafkaErrorCode = unsafe { rd::rd_kafka_error_code(error) }.into();
    (code != RDKafkaErrorCode::NoError).then(|| {
        format!(
            "{code}: {}",
            text(unsafe { rd::rd_kafka_error_string(error) })
        )
    })
}

/// Runs one admin call on its own queue and returns its result event (destroyed by the
/// caller through [`Event`]).
fn call(
    admin: &Admin,
    api: rd::rd_kafka_admin_op_t,
    timeout: Duration,
    start: impl FnOnce(
        *mut rd::rd_kafka_t,
        *const rd::rd_kafka_AdminOptions_t,
        *mut rd::rd_kafka_queue_t,
    ),
) -> Result<Event, String> {
    let rk = admin.inner().native_ptr();
    // SAFETY: `rk` outlives this call; queue and options are destroyed below.
    unsafe {
        let queue = rd::rd_kafka_queue_new(rk);
        let options = rd::rd_kafka_AdminOptions_new(rk, api);
        start(rk, options, queue);
        let deadline = Instant::now() + timeout;
        let mut event: *mut rd::rd_kafka_event_t = std::ptr::null_mut();
        while event.is_null() && Instant::now() < deadline {
            event = rd::rd_kafka_queue_poll(queue, 100);
        }
        rd::rd_kafka_AdminOptions_destroy(options);
        rd::rd_kafka_queue_destroy(queue);
        if event.is_null() {
            return Err(format!("no answer within {timeout:?}"));
        }
        let event = Event(event);
        let code: RDKafkaErrorCode = rd::rd_kafka_event_error(event.0).into();
        if code != RDKafkaErrorCode::NoError {
            return Err(format!(
                "{code}: {}",
                text(rd::rd_kafka_event_error_string(event.0))
            ));
        }
        Ok(event)
    }
}

struct Event(*mut rd::rd_kafka_event_t);

impl Drop for Event {
    fn drop(&mut self) {
        // SAFETY: an event polled from a queue, destroyed once.
        unsafe { rd::rd_kafka_event_destroy(self.0) }
    }
}

fn c_string(value: &str) -> CString {
    CString::new(value).expect("no NUL byte in an admin call's argument")
}

pub(super) fn alter_scram_users(
    admin: &Admin,
    users: &[(&str, &str)],
    timeout: Duration,
) -> Result<(), String> {
    let names: Vec<CString> = users.iter().map(|(name, _)| c_string(name)).collect();
    let mut alterations: Vec<*mut rd::rd_kafka_UserScramCredentialAlteration_t> = users
        .iter()
        .zip(&names)
        .map(|((_, password), name)| {
            // SAFETY: the name and password outlive the call; a null salt is made by
            // librdkafka (random).
            unsafe {
                rd::rd_kafka_UserScramCredentialUpsertion_new(
                    name.as_ptr(),
                    rd::rd_kafka_ScramMechanism_t::RD_KAFKA_SCRAM_MECHANISM_SHA_512,
                    8192,
                    password.as_ptr(),
                    password.len(),
                    std::ptr::null(),
                    0,
                )
            }
        })
        .collect();
    let result = call(
        admin,
        rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_ALTERUSERSCRAMCREDENTIALS,
        timeout,
        |rk, options, queue| {
            // SAFETY: the alterations are valid; librdkafka copies them.
            unsafe {
                rd::rd_kafka_AlterUserScramCredentials(
                    rk,
                    alterations.as_mut_ptr(),
                    alterations.len(),
                    options,
                    queue,
                );
            }
        },
    );
    // SAFETY: destroyed once, after the call copied them.
    unsafe {
        rd::rd_kafka_UserScramCredentialAlteration_destroy_array(
            alterations.as_mut_ptr(),
            alterations.len(),
        );
    }
    let event = result?;
    // SAFETY: the result of the event just polled.
    unsafe {
        let result = rd::rd_kafka_event_AlterUserScramCredentials_result(event.0);
        let mut count = 0;
        let responses = rd::rd_kafka_AlterUserScramCredentials_result_responses(result, &mut count);
        for index in 0..count {
            let response = *responses.add(index);
            if let Some(error) =
                error_text(rd::rd_kafka_AlterUserScramCredentials_result_response_error(response))
            {
                return Err(error);
            }
        }
    }
    Ok(())
}

/// (resource type, name, pattern type) of a resource.
fn resource(
    resource: &AclResource,
) -> (
    rd::rd_kafka_ResourceType_t,
    String,
    rd::rd_kafka_ResourcePatternType_t,
) {
    use rd::rd_kafka_ResourcePatternType_t::{
        RD_KAFKA_RESOURCE_PATTERN_LITERAL as LITERAL,
        RD_KAFKA_RESOURCE_PATTERN_PREFIXED as PREFIXED,
    };
    use rd::rd_kafka_ResourceType_t as Type;
    let pattern = |prefixed: bool| if prefixed { PREFIXED } else { LITERAL };
    match resource {
        AclResource::Topic { name, prefixed } => (
            Type::RD_KAFKA_RESOURCE_TOPIC,
            name.clone(),
            pattern(*prefixed),
        ),
        AclResource::Group { name, prefixed } => (
            Type::RD_KAFKA_RESOURCE_GROUP,
            name.clone(),
            pattern(*prefixed),
        ),
        AclResource::TransactionalId { name, prefixed } => (
            Type::RD_KAFKA_RESOURCE_TRANSACTIONAL_ID,
            name.clone(),
            pattern(*prefixed),
        ),
        AclResource::Cluster => (
            Type::RD_KAFKA_RESOURCE_BROKER,
            "kafka-cluster".into(),
            LITERAL,
        ),
    }
}

fn operation(operation: AclOperation) -> rd::rd_kafka_AclOperation_t {
    use rd::rd_kafka_AclOperation_t as Op;
    match operation {
        AclOperation::Read => Op::RD_KAFKA_ACL_OPERATION_READ,
        AclOperation::Write => Op::RD_KAFKA_ACL_OPERATION_WRITE,
        AclOperation::Create => Op::RD_KAFKA_ACL_OPERATION_CREATE,
        AclOperation::Describe => Op::RD_KAFKA_ACL_OPERATION_DESCRIBE,
        AclOperation::IdempotentWrite => Op::RD_KAFKA_ACL_OPERATION_IDEMPOTENT_WRITE,
    }
}

pub(super) fn create_acls(admin: &Admin, acls: &[Acl], timeout: Duration) -> Result<(), String> {
    let host = c_string("*");
    let mut errstr = [0 as c_char; 512];
    let mut bindings = Vec::with_capacity(acls.len());
    for acl in acls {
        let (kind, name, pattern) = resource(&acl.resource);
        let name = c_string(&name);
        let principal = c_string(&acl.principal);
        // SAFETY: the strings live through the call (librdkafka copies them).
        let binding = unsafe {
            rd::rd_kafka_AclBinding_new(
                kind,
                name.as_ptr(),
                pattern,
                principal.as_ptr(),
                host.as_ptr(),
                operation(acl.operation),
                rd::rd_kafka_AclPermissionType_t::RD_KAFKA_ACL_PERMISSION_TYPE_ALLOW,
                errstr.as_mut_ptr(),
                errstr.len(),
            )
        };
        if binding.is_null() {
            // SAFETY: librdkafka wrote a NUL-terminated message into the buffer.
            let message = text(errstr.as_ptr());
            // SAFETY: destroyed once.
            unsafe { rd::rd_kafka_AclBinding_destroy_array(bindings.as_mut_ptr(), bindings.len()) };
            return Err(format!("{acl:?}: {message}"));
        }
        bindings.push(binding);
    }
    let result = call(
        admin,
        rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_CREATEACLS,
        timeout,
        |rk, options, queue| {
            // SAFETY: valid bindings; librdkafka copies them.
            unsafe {
                rd::rd_kafka_CreateAcls(rk, bindings.as_mut_ptr(), bindings.len(), options, queue);
            }
        },
    );
    // SAFETY: destroyed once, after the call copied them.
    unsafe { rd::rd_kafka_AclBinding_destroy_array(bindings.as_mut_ptr(), bindings.len()) };
    let event = result?;
    // SAFETY: the result of the event just polled.
    unsafe {
        let result = rd::rd_kafka_event_CreateAcls_result(event.0);
        let mut count = 0;
        let results = rd::rd_kafka_CreateAcls_result_acls(result, &mut count);
        for index in 0..count {
            if let Some(error) = error_text(rd::rd_kafka_acl_result_error(*results.add(index))) {
                return Err(error);
            }
        }
    }
    Ok(())
}

/// How many bindings the broker's authorizer holds for `principal`.
pub(super) fn count_acls(
    admin: &Admin,
    principal: &str,
    timeout: Duration,
) -> Result<usize, String> {
    use rd::rd_kafka_AclOperation_t::RD_KAFKA_ACL_OPERATION_ANY;
    use rd::rd_kafka_AclPermissionType_t::RD_KAFKA_ACL_PERMISSION_TYPE_ANY;
    use rd::rd_kafka_ResourcePatternType_t::RD_KAFKA_RESOURCE_PATTERN_ANY;
    use rd::rd_kafka_ResourceType_t::RD_KAFKA_RESOURCE_ANY;
    let principal = c_string(principal);
    let mut errstr = [0 as c_char; 512];
    // SAFETY: the strings live through the call.
    let filter = unsafe {
        rd::rd_kafka_AclBindingFilter_new(
            RD_KAFKA_RESOURCE_ANY,
            std::ptr::null(),
            RD_KAFKA_RESOURCE_PATTERN_ANY,
            principal.as_ptr(),
            std::ptr::null(),
            RD_KAFKA_ACL_OPERATION_ANY,
            RD_KAFKA_ACL_PERMISSION_TYPE_ANY,
            errstr.as_mut_ptr(),
            errstr.len(),
        )
    };
    if filter.is_null() {
        return Err(text(errstr.as_ptr()));
    }
    let result = call(
        admin,
        rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_DESCRIBEACLS,
        timeout,
        |rk, options, queue| {
            // SAFETY: a valid filter; librdkafka copies it.
            unsafe { rd::rd_kafka_DescribeAcls(rk, filter, options, queue) }
        },
    );
    // SAFETY: destroyed once, after the call copied it.
    unsafe { rd::rd_kafka_AclBinding_destroy(filter) };
    let event = result?;
    // SAFETY: the result of the event just polled.
    unsafe {
        let result = rd::rd_kafka_event_DescribeAcls_result(event.0);
        let mut count = 0;
        rd::rd_kafka_DescribeAcls_result_acls(result, &mut count);
        Ok(count)
    }
}
