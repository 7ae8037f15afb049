use serde_json::json;

use super::*;

#[test]
fn desired_state_reads_the_user_record() {
    let active = json!({"state": "ACTIVATED", "suspended": false, "account_locked": true,
        "password_expired": false, "totp_enabled": true});
    let (done, change) = desired_state(ResponseAction::Suspend, &active, None);
    assert!(!done);
    assert_eq!(change, "state: ACTIVATED -> SUSPENDED");
    assert!(desired_state(ResponseAction::Activate, &active, None).0);
    assert!(!desired_state(ResponseAction::Unlock, &active, None).0);
    assert!(!desired_state(ResponseAction::ExpirePassword, &active, None).0);
    assert!(!desired_state(ResponseAction::ResetMfa, &active, None).0);
    assert!(!desired_state(ResponseAction::RemoveFromGroup, &active, Some(true)).0);
    assert!(desired_state(ResponseAction::RemoveFromGroup, &active, Some(false)).0);

    let suspended = json!({"state": "SUSPENDED", "suspended": true, "account_locked": false,
        "password_expired": true, "totp_enabled": false});
    assert!(desired_state(ResponseAction::Suspend, &suspended, None).0);
    assert!(!desired_state(ResponseAction::Activate, &suspended, None).0);
    assert!(desired_state(ResponseAction::Unlock, &suspended, None).0);
    assert!(desired_state(ResponseAction::ExpirePassword, &suspended, None).0);
    assert!(desired_state(ResponseAction::ResetMfa, &suspended, None).0);
}

#[test]
fn object_ids_are_24_hex() {
    assert!(is_object_id("5f1e2d3c4b5a697887766554"));
    assert!(!is_object_id("john.doe"));
    assert!(!is_object_id("5f1e2d3c4b5a69788776655z"));
}

#[test]
fn names_are_the_command_line_spelling() {
    let names: Vec<&str> = ResponseAction::ALL.iter().map(|a| a.name()).collect();
    assert_eq!(
        names,
        [
            "suspend",
            "activate",
            "unlock",
            "expire-password",
            "reset-mfa",
            "remove-from-group"
        ]
    );
}
