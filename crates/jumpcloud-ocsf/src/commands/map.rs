//! `jumpcloud-ocsf map [FILE...]`: Directory Insights events (NDJSON, or a JSON array as the API
//! returns) from files or stdin -> OCSF 1.8.0 NDJSON on stdout.
//!
//! A line (or array element) that cannot be mapped is reported on stderr as
//! `SOURCE:LINE: reason`, written raw to `--dead-letter FILE` when given, and processing goes on.
//! Exit status: 0 every record mapped; 1 some were rejected (the good ones are still written);
//! 2 usage errors (bad flags, unusable `--mappings`, unreadable input or dead-letter file).
//!
//! `map --explain EVENT_TYPE` reads no input: it says which class and activity the type gets,
//! from which table row (the vendor's, a deviation, this product's own), any deviation with its
//! reason, and what becomes of each of the vendor's typed field rows.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use mapper::{MapOptions, Mapper, MappingTables};
use serde_json::value::RawValue;

/// Map Directory Insights events to OCSF NDJSON.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Input files, NDJSON (one event per line) or one JSON array of events. Reads stdin when
    /// none is given or the name is `-`.
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,

    /// Directory holding `event_types.toml`, `account_changes.toml` and `associations.toml`
    /// to use instead of the built-in tables (copy `mappings/` and edit it).
    #[arg(long, value_name = "DIR")]
    pub mappings: Option<PathBuf>,

    /// Append every rejected input, raw, one per line, to this file.
    #[arg(long, value_name = "FILE")]
    pub dead_letter: Option<PathBuf>,

    /// Leave `raw_data` (the original event text) out of the OCSF events.
    #[arg(long)]
    pub no_raw_data: bool,

    /// Say how an event type is mapped (class, activity, the table row it comes from, the
    /// deviations from JumpCloud's own mapping and why) instead of mapping input.
    #[arg(long, value_name = "EVENT_TYPE")]
    pub explain: Option<String>,
}

/// Counts of one run.
#[derive(Debug, Default)]
struct Totals {
    mapped: u64,
    rejected: u64,
}

struct Run<'m> {
    mapper: &'m Mapper,
    output: BufWriter<io::StdoutLock<'static>>,
    dead_letter: Option<BufWriter<File>>,
    buffer: Vec<u8>,
    totals: Totals,
}

impl Run<'_> {
    /// Maps one input; `Err` only when stdout or the dead-letter file fails.
    fn event(&mut self, source: &str, line: u64, raw: &[u8]) -> io::Result<()> {
        self.buffer.clear();
        match self.mapper.map_into(raw, &mut self.buffer) {
            Ok(_) => {
                self.buffer.push(b'\n');
                self.output.write_all(&self.buffer)?;
                self.totals.mapped += 1;
            }
            Err(error) => self.reject(source, line, raw, &error.to_string())?,
        }
        Ok(())
    }

    fn reject(&mut self, source: &str, line: u64, raw: &[u8], reason: &str) -> io::Result<()> {
        self.totals.rejected += 1;
        eprintln!("{source}:{line}: {reason}");
        if let Some(dead_letter) = self.dead_letter.as_mut() {
            // One input per line: line breaks inside a rejected input are dropped.
            let one_line: Vec<u8> = raw
                .iter()
                .copied()
                .filter(|b| *b != b'\n' && *b != b'\r')
                .collect();
            dead_letter.write_all(&one_line)?;
            dead_letter.write_all(b"\n")?;
        }
        Ok(())
    }

    /// One input stream: a JSON array when its first non-blank byte is `[`, else NDJSON.
    fn stream(&mut self, source: &str, reader: &mut dyn BufRead) -> io::Result<()> {
        let first = loop {
            let available = reader.fill_buf()?;
            if available.is_empty() {
                return Ok(());
            }
            let skip = available
                .iter()
                .take_while(|b| b.is_ascii_whitespace())
                .count();
            let bom = if available.starts_with(b"\xEF\xBB\xBF") {
                3
            } else {
                0
            };
            if skip == 0 && bom == 0 {
                break available[0];
            }
            if skip == 0 {
                // A BOM: keep it (the mapper ignores it) but look past it.
                break available.get(3).copied().unwrap_or(b'{');
            }
            reader.consume(skip);
        };
        if first == b'[' {
            let mut all = Vec::new();
            reader.read_to_end(&mut all)?;
            return self.array(source, &all);
        }
        let mut line = Vec::with_capacity(4096);
        let mut number = 0_u64;
        loop {
            line.clear();
            if reader.read_until(b'\n', &mut line)? == 0 {
                return Ok(());
            }
            number += 1;
            let mut raw = line.as_slice();
            if number == 1 {
                raw = raw.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(raw);
            }
            let raw = raw.trim_ascii();
            if raw.is_empty() {
                continue;
            }
            self.event(source, number, raw)?;
        }
    }

    /// A whole JSON array of events; each element is mapped alone and reported with its line.
    fn array(&mut self, source: &str, all: &[u8]) -> io::Result<()> {
        let text = all.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(all);
        match serde_json::from_slice::<Vec<&RawValue>>(text) {
            Ok(elements) => {
                for element in elements {
                    let offset = (element.get().as_ptr() as usize)
                        .saturating_sub(text.as_ptr() as usize)
                        .min(text.len());
                    let line = 1 + text[..offset].iter().filter(|b| **b == b'\n').count() as u64;
                    self.event(source, line, element.get().as_bytes())?;
                }
                Ok(())
            }
            Err(error) => {
                let line = error.line().max(1) as u64;
                self.reject(
                    source,
                    line,
                    all,
                    &format!("not a valid JSON array of events: {error}"),
                )
            }
        }
    }
}

/// Runs the `map` subcommand.
pub fn run(args: Args) -> ExitCode {
    let tables = match &args.mappings {
        Some(dir) => MappingTables::load_dir(dir),
        None => MappingTables::embedded(),
    };
    let tables = match tables {
        Ok(tables) => tables,
        Err(error) => {
            eprintln!("map: invalid mappings: {error}");
            return ExitCode::from(2);
        }
    };
    if let Some(event_type) = &args.explain {
        print!("{}", tables.explain(event_type));
        return ExitCode::SUCCESS;
    }
    let mapper = Mapper::new(
        tables,
        MapOptions {
            raw_data: !args.no_raw_data,
        },
    );
    let dead_letter = match &args.dead_letter {
        Some(path) => match File::options().create(true).append(true).open(path) {
            Ok(file) => Some(BufWriter::new(file)),
            Err(error) => {
                eprintln!(
                    "map: cannot open dead-letter file {}: {error}",
                    path.display()
                );
                return ExitCode::from(2);
            }
        },
        None => None,
    };
    let mut run = Run {
        mapper: &mapper,
        output: BufWriter::with_capacity(1 << 16, io::stdout().lock()),
        dead_letter,
        buffer: Vec::with_capacity(8192),
        totals: Totals::default(),
    };
    let mut usage_error = false;
    let inputs = super::inputs(&args.files);
    for input in inputs {
        let result = match &input {
            None => run.stream("<stdin>", &mut io::stdin().lock()),
            Some(path) => match File::open(path) {
                Ok(file) => {
                    let name = path.display().to_string();
                    run.stream(&name, &mut BufReader::with_capacity(1 << 16, file))
                }
                Err(error) => {
                    eprintln!("map: cannot read {}: {error}", path.display());
                    usage_error = true;
                    continue;
                }
            },
        };
        if let Err(error) = result {
            eprintln!("map: I/O error: {error}");
            return ExitCode::from(2);
        }
    }
    let flushed = run
        .output
        .flush()
        .and_then(|()| match run.dead_letter.as_mut() {
            Some(dead_letter) => dead_letter.flush(),
            None => Ok(()),
        });
    if let Err(error) = flushed {
        eprintln!("map: I/O error: {error}");
        return ExitCode::from(2);
    }
    tracing::info!(
        mapped = run.totals.mapped,
        rejected = run.totals.rejected,
        "map finished"
    );
    if usage_error {
        ExitCode::from(2)
    } else if run.totals.rejected > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
