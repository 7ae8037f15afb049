//! The README's first command (`demo`) keeps working: it runs the whole pipeline against the
//! in-process simulator, writes one NDJSON file per OCSF class, reconciles its counts, and every
//! record it writes is valid OCSF.

mod common;

use std::process::Command;

use common::*;

#[test]
fn demo_writes_valid_ocsf_per_class_and_reconciles() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo-output");
    let output = Command::new(binary())
        .args([
            "demo",
            "--seconds",
            "4",
            "--events",
            "800",
            "--late-max-secs",
            "1",
            "--out",
        ])
        .arg(&out)
        .env_remove("KAFKA_BROKERS")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let total_line = stdout
        .lines()
        .find(|l| l.starts_with("total: "))
        .expect("summary line");
    // "total: N fetched = D delivered + X dead letters"
    let numbers: Vec<u64> = total_line
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    assert_eq!(numbers.len(), 3, "{total_line}");
    assert!(numbers[0] >= 800, "the history was fetched: {total_line}");
    assert_eq!(
        numbers[0],
        numbers[1] + numbers[2],
        "counts reconcile: {total_line}"
    );

    let mut lines = Vec::new();
    for entry in std::fs::read_dir(&out).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.ends_with(".ndjson") && name != "dead_letter.ndjson" {
            let class = name.trim_end_matches(".ndjson");
            assert!(CLASS_NAMES.contains(&class), "{name}");
            for line in std::fs::read(&path)
                .unwrap()
                .split(|b| *b == b'\n')
                .filter(|l| !l.is_empty())
            {
                lines.push(line.to_vec());
            }
        }
    }
    assert_eq!(
        lines.len() as u64,
        numbers[1],
        "every delivered record is in a class file"
    );
    assert!(out.join("authentication.ndjson").exists());
    assert_valid_ocsf(&lines);
}
