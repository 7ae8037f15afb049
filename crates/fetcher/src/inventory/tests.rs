use serde_json::json;

use super::*;

#[test]
fn application_user_reads_direct_and_group_paths() {
    let row = json!({"id": "u1", "type": "user", "paths": [
        [{"to": {"id": "g2", "type": "user_group"}}, {"to": {"id": "u1", "type": "user"}}],
        [{"to": {"id": "g1", "type": "user_group"}}, {"to": {"id": "u1", "type": "user"}}],
        [{"to": {"id": "u1", "type": "user"}}]
    ]});
    let user = application_user(&row).unwrap();
    assert_eq!(user.user_id, "u1");
    assert!(user.direct);
    assert_eq!(user.via_group_ids, vec!["g1".to_owned(), "g2".to_owned()]);
}

#[test]
fn reverse_indexes_follow_the_edges() {
    let mut inventory = OrgInventory::default();
    inventory
        .group_members
        .insert("g1".into(), vec!["u1".into(), "u2".into()]);
    inventory
        .group_members
        .insert("g2".into(), vec!["u2".into()]);
    inventory
        .application_groups
        .insert("a1".into(), vec!["g1".into(), "g2".into()]);
    let by_user = inventory.user_groups();
    assert_eq!(by_user["u2"], vec!["g1".to_owned(), "g2".to_owned()]);
    assert_eq!(by_user["u1"], vec!["g1".to_owned()]);
    assert_eq!(inventory.group_applications()["g2"], vec!["a1".to_owned()]);
}

#[test]
fn record_id_prefers_underscore_id() {
    assert_eq!(
        record_id(&json!({"_id": "a", "id": "b"})).as_deref(),
        Some("a")
    );
    assert_eq!(record_id(&json!({"id": "b"})).as_deref(), Some("b"));
    assert_eq!(record_id(&json!({"name": "x"})), None);
}
