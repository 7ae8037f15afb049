//! One module per subcommand.

pub mod audit;
pub mod backfill;
pub mod check;
mod check_kafka;
pub mod demo;
pub mod inventory;
pub mod map;
pub mod respond;
pub mod run;
pub mod simulate;
pub mod validate;

/// The inputs of a command reading files or standard input: each file of `files` (`-` and no
/// file at all mean standard input, `None`).
pub fn inputs(files: &[std::path::PathBuf]) -> Vec<Option<std::path::PathBuf>> {
    if files.is_empty() {
        return vec![None];
    }
    files
        .iter()
        .map(|path| (path.as_os_str() != "-").then(|| path.clone()))
        .collect()
}
