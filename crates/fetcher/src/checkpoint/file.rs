//! A JSON checkpoint file per deployment: write to a temporary file, fsync, atomic rename, fsync
//! the directory.

use super::{Checkpoint, CheckpointError, CheckpointStore};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Default, Deserialize, Serialize)]
struct CheckpointFile {
    version: u32,
    checkpoints: BTreeMap<String, Checkpoint>,
}

/// Checkpoints of every source of one deployment in one JSON file.
#[derive(Debug)]
pub struct FileCheckpointStore {
    path: PathBuf,
    contents: Mutex<CheckpointFile>,
}

impl FileCheckpointStore {
    /// Opens (or prepares to create) the file. A missing file is a first run; a file that exists
    /// but cannot be read or parsed is an error.
    pub fn open(path: impl Into<PathBuf>) -> Result<Self, CheckpointError> {
        let path = path.into();
        let contents = match std::fs::read(&path) {
            Ok(bytes) => parse(&path, &bytes)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => CheckpointFile {
                version: FORMAT_VERSION,
                checkpoints: BTreeMap::new(),
            },
            Err(e) => {
                return Err(CheckpointError::Unreadable {
                    path,
                    reason: e.to_string(),
                });
            }
        };
        Ok(Self {
            path,
            contents: Mutex::new(contents),
        })
    }

    /// The file path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn write(&self, contents: &CheckpointFile) -> Result<(), CheckpointError> {
        let write_error = |reason: String| CheckpointError::Write {
            path: self.path.clone(),
            reason,
        };
        let bytes = serde_json::to_vec_pretty(contents).map_err(|e| write_error(e.to_string()))?;
        let directory = match self.path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&directory)
            .map_err(|e| write_error(format!("create {}: {e}", directory.display())))?;
        let mut temporary = self.path.clone().into_os_string();
        temporary.push(".tmp");
        let temporary = PathBuf::from(temporary);
        let mut file = std::fs::File::create(&temporary)
            .map_err(|e| write_error(format!("create {}: {e}", temporary.display())))?;
        file.write_all(&bytes)
            .map_err(|e| write_error(e.to_string()))?;
        file.sync_all()
            .map_err(|e| write_error(format!("fsync: {e}")))?;
        drop(file);
        std::fs::rename(&temporary, &self.path).map_err(|e| write_error(format!("rename: {e}")))?;
        if let Ok(dir) = std::fs::File::open(&directory) {
            // Persist the rename itself; not every platform allows fsync on a directory.
            let _ = dir.sync_all();
        }
        Ok(())
    }
}

fn parse(path: &Path, bytes: &[u8]) -> Result<CheckpointFile, CheckpointError> {
    let corrupt = |reason: String| CheckpointError::Corrupt {
        path: path.to_path_buf(),
        reason,
    };
    let file: CheckpointFile = serde_json::from_slice(bytes).map_err(|e| corrupt(e.to_string()))?;
    if file.version != FORMAT_VERSION {
        return Err(corrupt(format!(
            "format version {} is not supported (expected {FORMAT_VERSION})",
            file.version
        )));
    }
    Ok(file)
}

impl CheckpointStore for FileCheckpointStore {
    fn location(&self) -> String {
        std::path::absolute(&self.path)
            .unwrap_or_else(|_| self.path.clone())
            .display()
            .to_string()
    }

    fn load(&self, key: &str) -> Result<Option<Checkpoint>, CheckpointError> {
        let contents = self
            .contents
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Ok(contents.checkpoints.get(key).cloned())
    }

    fn save(&self, key: &str, checkpoint: &Checkpoint) -> Result<(), CheckpointError> {
        let mut contents = self
            .contents
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let previous = contents
            .checkpoints
            .insert(key.to_string(), checkpoint.clone());
        if let Err(error) = self.write(&contents) {
            // Keep memory equal to disk.
            match previous {
                Some(previous) => contents.checkpoints.insert(key.to_string(), previous),
                None => contents.checkpoints.remove(key),
            };
            return Err(error);
        }
        Ok(())
    }
}
