//! NDJSON files per OCSF class: the demo's destination when no broker is given.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use producer::DeadLetter;

/// One NDJSON file per OCSF class in a directory, plus `dead_letter.ndjson`.
pub struct FileSink {
    dir: PathBuf,
    files: Mutex<HashMap<&'static str, BufWriter<File>>>,
}

impl FileSink {
    /// Writes into `dir` (created if missing); existing files are appended to.
    pub fn create(dir: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            files: Mutex::new(HashMap::new()),
        })
    }

    /// Appends one line to the file of `name`.
    pub fn write(&self, name: &'static str, line: &[u8]) -> std::io::Result<()> {
        let mut files = self
            .files
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let file = match files.get_mut(name) {
            Some(file) => file,
            None => {
                let path = self.dir.join(format!("{name}.ndjson"));
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)?;
                files.entry(name).or_insert(BufWriter::new(file))
            }
        };
        file.write_all(line)?;
        file.write_all(b"\n")
    }

    /// Appends a dead letter (reason, stage, organisation, id, the raw text) as one JSON line.
    pub fn write_dead_letter(&self, letter: &DeadLetter) -> std::io::Result<()> {
        let line = serde_json::json!({
            "reason": letter.reason,
            "stage": letter.stage.as_str(),
            "org_id": letter.org_id,
            "event_id": letter.event_id,
            "raw": String::from_utf8_lossy(&letter.raw),
        });
        self.write("dead_letter", line.to_string().as_bytes())
    }

    /// Flushes and fsyncs every file.
    pub fn sync(&self) -> std::io::Result<()> {
        let mut files = self
            .files
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for file in files.values_mut() {
            file.flush()?;
            file.get_ref().sync_data()?;
        }
        Ok(())
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}
