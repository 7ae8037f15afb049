//! Log set-up: structured logs via `tracing` on stderr, human or JSON.

use clap::{Args, ValueEnum};
use tracing_subscriber::EnvFilter;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Human,
    Json,
}

#[derive(Debug, Args)]
pub struct LoggingArgs {
    /// Log level or filter (e.g. `info`, `debug`, `fetcher=debug,info`).
    #[arg(
        long,
        global = true,
        env = "JUMPCLOUD_OCSF_LOG",
        default_value = "info"
    )]
    pub log_level: String,
    /// Log format on stderr.
    #[arg(
        long,
        global = true,
        env = "JUMPCLOUD_OCSF_LOG_FORMAT",
        value_enum,
        default_value = "human"
    )]
    pub log_format: LogFormat,
}

pub fn init(args: &LoggingArgs) {
    let filter = EnvFilter::try_new(&args.log_level).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let result = match args.log_format {
        LogFormat::Human => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    if let Err(err) = result {
        eprintln!("logging already initialised: {err}");
    }
}
