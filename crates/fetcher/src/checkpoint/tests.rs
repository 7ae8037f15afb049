use super::*;
use crate::timestamp::parse_timestamp;

fn checkpoint(cursor: &str, ids: &[(&str, &str)]) -> Checkpoint {
    Checkpoint {
        cursor: parse_timestamp(cursor).unwrap(),
        acked: ids
            .iter()
            .map(|(id, ts)| AckedEvent {
                id: id.to_string(),
                timestamp: parse_timestamp(ts).unwrap(),
            })
            .collect(),
        updated_at: parse_timestamp("2026-01-01T00:00:00Z").unwrap(),
    }
}

#[test]
fn saved_checkpoints_survive_reopening_with_full_precision() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state/checkpoints.json");
    let store = FileCheckpointStore::open(&path).unwrap();
    assert_eq!(store.load("org-a").unwrap(), None);
    let a = checkpoint(
        "2026-01-01T10:00:00.123456789Z",
        &[("e1", "2026-01-01T09:59:59.999999999Z")],
    );
    let b = checkpoint("2026-01-02T10:00:00Z", &[]);
    store.save("org-a", &a).unwrap();
    store.save("org-b", &b).unwrap();
    drop(store);
    let reopened = FileCheckpointStore::open(&path).unwrap();
    assert_eq!(reopened.load("org-a").unwrap(), Some(a.clone()));
    assert_eq!(reopened.load("org-b").unwrap(), Some(b));
    assert_eq!(
        reopened
            .load("org-a")
            .unwrap()
            .unwrap()
            .cursor
            .timestamp_subsec_nanos(),
        123_456_789
    );
    assert!(!dir.path().join("state/checkpoints.json.tmp").exists());
}

#[test]
fn corrupt_file_is_a_clear_error_not_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("checkpoints.json");
    let store = FileCheckpointStore::open(&path).unwrap();
    store
        .save("org-a", &checkpoint("2026-01-01T10:00:00Z", &[]))
        .unwrap();
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let error = FileCheckpointStore::open(&path).unwrap_err();
    assert!(
        matches!(error, CheckpointError::Corrupt { .. }),
        "{error:?}"
    );
    let text = error.to_string();
    assert!(
        text.contains("corrupt") && text.contains("checkpoints.json"),
        "{text}"
    );
}

#[test]
fn unknown_format_version_is_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("checkpoints.json");
    std::fs::write(&path, br#"{"version": 99, "checkpoints": {}}"#).unwrap();
    let error = FileCheckpointStore::open(&path).unwrap_err();
    assert!(error.to_string().contains("version 99"), "{error}");
}

#[test]
fn unreadable_path_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    // A directory where the file should be cannot be read as a file.
    let error = FileCheckpointStore::open(dir.path()).unwrap_err();
    assert!(
        matches!(error, CheckpointError::Unreadable { .. }),
        "{error:?}"
    );
}

#[test]
fn failed_write_keeps_the_previous_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("checkpoints.json");
    let store = FileCheckpointStore::open(&path).unwrap();
    let first = checkpoint("2026-01-01T10:00:00Z", &[]);
    store.save("org-a", &first).unwrap();
    // Block the temporary file's name with a directory so the next write fails.
    std::fs::create_dir(dir.path().join("checkpoints.json.tmp")).unwrap();
    let error = store
        .save("org-a", &checkpoint("2026-01-01T11:00:00Z", &[]))
        .unwrap_err();
    assert!(matches!(error, CheckpointError::Write { .. }), "{error:?}");
    assert_eq!(store.load("org-a").unwrap(), Some(first.clone()));
    assert_eq!(
        FileCheckpointStore::open(&path)
            .unwrap()
            .load("org-a")
            .unwrap(),
        Some(first)
    );
}

fn batch(cursor_after: &str, keys: &[(&str, &str)]) -> EventBatch {
    EventBatch {
        org_id: "org1".into(),
        checkpoint_key: "events/org1".into(),
        events: Vec::new(),
        cursor_after: parse_timestamp(cursor_after).unwrap(),
        keys: keys
            .iter()
            .map(|(id, ts)| EventKey::new(id, parse_timestamp(ts).unwrap()).unwrap())
            .collect(),
    }
}

fn now() -> DateTime<Utc> {
    parse_timestamp("2026-01-02T00:00:00Z").unwrap()
}

#[test]
fn a_checkpoint_moves_to_the_last_batch_and_keeps_the_overlaps_keys() {
    let overlap = Duration::from_secs(120);
    let first = batch(
        "2026-01-01T00:03:00Z",
        &[
            ("old", "2026-01-01T00:00:10Z"),
            ("new", "2026-01-01T00:02:59.999999999Z"),
        ],
    );
    let after = Checkpoint::after(None, [&first], overlap, now()).unwrap();
    assert_eq!(
        after.cursor,
        parse_timestamp("2026-01-01T00:03:00Z").unwrap()
    );
    let ids: Vec<_> = after.acked.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, vec!["new"], "keys before cursor - overlap are dropped");
    // An empty batch moves the cursor and keeps what is still inside the overlap.
    let quiet = batch("2026-01-01T00:04:00Z", &[]);
    let later = batch("2026-01-01T00:06:00Z", &[("last", "2026-01-01T00:05:00Z")]);
    let moved = Checkpoint::after(Some(&after), [&quiet, &later], overlap, now()).unwrap();
    assert_eq!(
        moved.cursor,
        parse_timestamp("2026-01-01T00:06:00Z").unwrap()
    );
    let ids: Vec<_> = moved.acked.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, vec!["last"], "\"new\" fell out of the overlap");
    assert_eq!(moved.updated_at, now());
    assert_eq!(Checkpoint::after(Some(&moved), [], overlap, now()), None);
}

#[test]
fn a_checkpoint_never_moves_back() {
    let previous = checkpoint("2026-01-01T00:10:00Z", &[]);
    let behind = batch("2026-01-01T00:05:00Z", &[]);
    let after = Checkpoint::after(Some(&previous), [&behind], Duration::ZERO, now()).unwrap();
    assert_eq!(after.cursor, previous.cursor);
}
