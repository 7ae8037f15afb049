//! The binary's modules depend in one direction: `commands` -> `supervisor` -> `wiring`.

use std::path::{Path, PathBuf};

/// The `.rs` files under `dir`, recursively.
fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(sources(&path));
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            files.push(path);
        }
    }
    files
}

/// Each code line of `files` (comments may speak of any module) that names one of `modules`
/// as a word: any path to a module (`crate::m`, `super::super::m`, `crate::{m`) does.
fn lines_naming(files: &[PathBuf], modules: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(file).unwrap();
        for (number, line) in text.lines().enumerate() {
            let code = line.trim_start();
            let names_one = code
                .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                .any(|word| modules.contains(&word));
            if !code.starts_with("//") && names_one {
                found.push(format!("{}:{}: {line}", file.display(), number + 1));
            }
        }
    }
    found
}

#[test]
fn supervisor_and_wiring_import_nothing_above_them() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let this_file = src.join("wiring").join("tests.rs");
    let below_supervisor: Vec<PathBuf> = sources(&src.join("wiring"))
        .into_iter()
        .filter(|file| *file != this_file)
        .chain([src.join("runtime.rs")])
        .collect();
    let supervisor = sources(&src.join("supervisor"));
    assert!(below_supervisor.len() >= 3 && supervisor.len() >= 2);
    let mut found = lines_naming(&supervisor, &["commands"]);
    found.extend(lines_naming(&below_supervisor, &["commands", "supervisor"]));
    assert!(
        found.is_empty(),
        "a module names one above it:\n{}",
        found.join("\n")
    );
}
