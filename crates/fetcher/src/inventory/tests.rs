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
