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
