//! `jumpcloud-ocsf validate [FILE...]`: checks OCSF NDJSON (one event per line, files or
//! stdin) against OCSF 1.8.0 with `ocsf-schema`.
//!
//! Every finding is one line on stdout, `SOURCE:LINE: PATH: what is wrong [code]` (warnings
//! say `warning:` before the message); then one summary line on stderr:
//! `N records, N valid, N invalid`. Exit status: 0 every record valid; 1 some invalid;
//! 2 usage errors or unreadable input (the readable inputs are still checked).

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use ocsf_schema::{Options, Validator};

/// Check OCSF NDJSON against OCSF 1.8.0.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// NDJSON files, one OCSF event per line. Reads stdin when none is given or the name is `-`.
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,

    /// Count warnings (a caption that disagrees with its id, a string that does not match its
    /// type's pattern, a deprecated attribute, ...) as errors.
    #[arg(long)]
    pub strict: bool,

    /// Also warn about missing `recommended` attributes.
    #[arg(long)]
    pub warn_recommended: bool,

    /// Do not flag timestamps that look like seconds, micro- or nanoseconds.
    #[arg(long)]
    pub no_timestamp_check: bool,
}

#[derive(Debug, Default)]
struct Totals {
    valid: u64,
    invalid: u64,
}

/// Why an input could not be checked to its end.
enum StreamError {
    Read(io::Error),
    Write(io::Error),
}

/// Checks every record of one input.
fn check_stream(
    validator: &Validator,
    source: &str,
    reader: &mut dyn BufRead,
    out: &mut dyn Write,
    totals: &mut Totals,
) -> Result<(), StreamError> {
    let mut line = Vec::with_capacity(8192);
    let mut number = 0_u64;
    loop {
        line.clear();
        if reader
            .read_until(b'\n', &mut line)
            .map_err(StreamError::Read)?
            == 0
        {
            return Ok(());
        }
        number += 1;
        let record = line.strip_suffix(b"\n").unwrap_or(&line);
        let record = record.strip_suffix(b"\r").unwrap_or(record);
        if std::str::from_utf8(record).is_ok_and(|text| text.trim().is_empty()) {
            continue;
        }
        let findings = validator.check_json(record);
        if findings.iter().any(|finding| finding.is_error()) {
            totals.invalid += 1;
        } else {
            totals.valid += 1;
        }
        for finding in &findings {
            writeln!(out, "{source}:{number}: {finding}").map_err(StreamError::Write)?;
        }
    }
}

/// Runs the `validate` subcommand.
pub fn run(args: Args) -> ExitCode {
    let validator = Validator::ocsf_1_8_0().with_options(Options {
        strict: args.strict,
        warn_recommended: args.warn_recommended,
        check_timestamps: !args.no_timestamp_check,
    });
    let inputs = super::inputs(&args.files);
    let mut out = BufWriter::with_capacity(1 << 16, io::stdout().lock());
    let mut totals = Totals::default();
    let mut unreadable = false;
    for input in inputs {
        let (source, result) = match &input {
            None => {
                let result = check_stream(
                    &validator,
                    "<stdin>",
                    &mut io::stdin().lock(),
                    &mut out,
                    &mut totals,
                );
                ("<stdin>".to_owned(), result)
            }
            Some(path) => {
                let source = path.display().to_string();
                let result = match File::open(path) {
                    Ok(file) => {
                        let mut reader = BufReader::with_capacity(1 << 16, file);
                        check_stream(&validator, &source, &mut reader, &mut out, &mut totals)
                    }
                    Err(error) => Err(StreamError::Read(error)),
                };
                (source, result)
            }
        };
        match result {
            Ok(()) => {}
            Err(StreamError::Read(error)) => {
                // What was found so far goes out first, so the lines stay in order.
                let _ = out.flush();
                eprintln!("validate: cannot read {source}: {error}");
                unreadable = true;
            }
            Err(StreamError::Write(error)) => {
                eprintln!("validate: cannot write the findings: {error}");
                return ExitCode::from(2);
            }
        }
    }
    if let Err(error) = out.flush() {
        eprintln!("validate: cannot write the findings: {error}");
        return ExitCode::from(2);
    }
    eprintln!(
        "{} records, {} valid, {} invalid",
        totals.valid + totals.invalid,
        totals.valid,
        totals.invalid
    );
    if unreadable {
        ExitCode::from(2)
    } else if totals.invalid > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
