//! `jumpcloud-ocsf`: JumpCloud Directory Insights -> OCSF 1.8.0 -> Kafka.
//!
//! This binary only wires the crates together: `fetcher` (JumpCloud client and cursors),
//! `mapper` (Directory Insights -> OCSF), `ocsf-schema` (the OCSF 1.8.0 validator), `producer`
//! (Kafka) and `simulator` (a JumpCloud stand-in for tests, the demo and benchmarks). Each
//! subcommand lives in `commands/`.

mod audit_settings;
mod commands;
mod config;
#[cfg(test)]
mod deployment_tests;
#[cfg(test)]
mod docs_tests;
mod inventory_settings;
mod logging;
mod observability;
mod runtime;
mod supervisor;
mod wiring;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// jemalloc, for Rust and (unprefixed `malloc`) for librdkafka's C code alike: the pipeline
/// hands buffers from thread to thread (fetch, map, librdkafka's broker thread), where glibc's
/// per-thread arenas kept about twice the live heap resident. See README, Benchmarks.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's start-up options (the `MALLOC_CONF` environment variable overrides them): one
/// arena shared by all threads (each keeps its own small cache), and freed pages handed back to
/// the OS after a second instead of ten. Read by jemalloc as a C string.
#[unsafe(export_name = "malloc_conf")]
pub static MALLOC_CONF: &[u8; 47] = b"narenas:1,dirty_decay_ms:1000,muzzy_decay_ms:0\0";

/// Stream JumpCloud Directory Insights into Kafka as OCSF 1.8.0.
#[derive(Debug, Parser)]
#[command(name = "jumpcloud-ocsf", version, about, long_about = None)]
struct Cli {
    #[command(flatten)]
    logging: logging::LoggingArgs,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the JumpCloud API simulator (Directory Insights, OAuth, inventory, actions,
    /// schema registry) over real HTTP.
    Simulate(commands::simulate::Args),
    /// Backfill a past range (`--since 7d` or `--from`/`--to`, within the 90-day retention) into
    /// Kafka, resumable, with progress.
    Backfill(commands::backfill::Args),
    /// Compare what was delivered per organisation and settled window (the counts kept with the
    /// cursors) with Directory Insights' `/events/count`: a table; exit 0 only when all match.
    /// `--repair` delivers what is missing (fencing a `run` of the same deployment).
    Audit(commands::audit::Args),
    /// Test every connection the configuration names (JumpCloud per organisation, Kafka brokers
    /// and topics, schema registry); prints pass/fail with the remedy. Exit 0 when all pass.
    Check(commands::check::Args),
    /// Demo: the whole pipeline against an in-process simulator for a bounded time, OCSF NDJSON
    /// per class into a local directory (or Kafka when KAFKA_BROKERS is set), then a summary.
    Demo(commands::demo::Args),
    /// Run the pipeline: poll Directory Insights, map to OCSF, produce to Kafka; checkpoints
    /// move only on Kafka's acknowledgements.
    Run(commands::run::Args),
    /// Map Directory Insights events (NDJSON or a JSON array) from files or stdin to OCSF NDJSON
    /// on stdout.
    Map(commands::map::Args),
    /// Check OCSF NDJSON (files or stdin) against OCSF 1.8.0: one line per finding
    /// (`SOURCE:LINE: PATH: what is wrong`), a summary on stderr; exit 0 all valid, 1 some not.
    Validate(commands::validate::Args),
    /// Print one inventory snapshot (users as User Inventory Info 5003, systems and Apple MDM
    /// devices as Device Inventory Info 5001, with groups, memberships, application assignments
    /// and device owners) as OCSF NDJSON on stdout.
    Inventory(commands::inventory::Args),
    /// Response action on a JumpCloud user (suspend, activate, unlock, expire-password,
    /// reset-mfa, remove-from-group), idempotent, with an OCSF audit event on stdout.
    Respond(commands::respond::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init(&cli.logging);
    match cli.command {
        Command::Audit(args) => commands::audit::run(args),
        Command::Backfill(args) => commands::backfill::run(args),
        Command::Check(args) => commands::check::run(args),
        Command::Demo(args) => commands::demo::run(args),
        Command::Run(args) => commands::run::run(args),
        Command::Simulate(args) => commands::simulate::run(args),
        Command::Map(args) => commands::map::run(args),
        Command::Validate(args) => commands::validate::run(args),
        Command::Inventory(args) => commands::inventory::run(args),
        Command::Respond(args) => commands::respond::run(args),
    }
}
