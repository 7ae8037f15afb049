//! Regenerate `schemas/avro/*.avsc` from the OCSF compact schema compiled into `ocsf-schema`
//! (`crates/ocsf-schema/schema/ocsf-1.8.0.json`).
//!
//! Usage: `cargo run -p producer --bin generate-avro-schemas [-- WORKSPACE_ROOT]`.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let root = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")));
    let compact: serde_json::Value = match serde_json::from_str(ocsf_schema::COMPACT_SCHEMA_JSON) {
        Ok(value) => value,
        Err(error) => {
            eprintln!("the compiled-in OCSF schema is not JSON: {error}");
            return ExitCode::FAILURE;
        }
    };
    let schemas = match producer::avro::generate_avro_schemas(&compact) {
        Ok(schemas) => schemas,
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::FAILURE;
        }
    };
    let out_dir = root.join("schemas/avro");
    if let Err(error) = std::fs::create_dir_all(&out_dir) {
        eprintln!("cannot create {}: {error}", out_dir.display());
        return ExitCode::FAILURE;
    }
    for schema in &schemas {
        let path = out_dir.join(&schema.file_name);
        if let Err(error) = std::fs::write(&path, schema.to_file_text()) {
            eprintln!("cannot write {}: {error}", path.display());
            return ExitCode::FAILURE;
        }
        println!("wrote {} ({})", path.display(), schema.record_name);
    }
    ExitCode::SUCCESS
}
