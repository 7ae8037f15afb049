use super::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn sizes() -> InventorySizes {
    InventorySizes {
        users: 40,
        systems: 20,
        groups: 5,
        applications: 4,
    }
}

#[test]
fn generation_is_deterministic_by_seed() {
    let now = 1_700_000_000_000_000_000;
    let a = Inventory::generate(&mut ChaCha8Rng::seed_from_u64(7), "org", 0, sizes(), now);
    let b = Inventory::generate(&mut ChaCha8Rng::seed_from_u64(7), "org", 0, sizes(), now);
    let c = Inventory::generate(&mut ChaCha8Rng::seed_from_u64(8), "org", 0, sizes(), now);
    let ids = |inv: &Inventory| inv.users.iter().map(|u| u.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&a), ids(&b));
    assert_ne!(ids(&a), ids(&c));
    assert_eq!(a.users.len(), 40);
    assert_eq!(a.systems.len(), 20);
    assert_eq!(a.groups.len(), 6);
    assert_eq!(a.groups[0].name, "All Users");
    assert_eq!(a.applications.len(), 4);
}

#[test]
fn user_records_carry_the_documented_fields() {
    let inv = Inventory::generate(
        &mut ChaCha8Rng::seed_from_u64(1),
        "org",
        0,
        sizes(),
        1_700_000_000_000_000_000,
    );
    let usernames: HashSet<&str> = inv.users.iter().map(|u| u.username.as_str()).collect();
    assert_eq!(usernames.len(), inv.users.len(), "usernames are unique");
    let record = inv.users[0].to_json();
    for field in [
        "_id",
        "id",
        "username",
        "email",
        "state",
        "suspended",
        "account_locked",
        "password_expired",
        "mfa",
        "mfaEnrollment",
        "totp_enabled",
        "created",
        "admin",
    ] {
        assert!(record.get(field).is_some(), "{field}");
    }
    let state = record["state"].as_str().unwrap_or_default();
    assert!(["STAGED", "ACTIVATED", "SUSPENDED"].contains(&state));
    assert_eq!(record["suspended"], json!(state == "SUSPENDED"));
    let system = &inv.systems[0].record;
    for field in [
        "hostname",
        "os",
        "osFamily",
        "version",
        "agentVersion",
        "lastContact",
        "serialNumber",
        "fde",
    ] {
        assert!(system.get(field).is_some(), "{field}");
    }
}
