//! `jumpcloud-ocsf simulate`: runs the JumpCloud API simulator until Ctrl-C/SIGTERM.

use std::net::SocketAddr;
use std::process::ExitCode;

use simulator::{FaultKind, SimConfig};

/// Run the JumpCloud API simulator (Directory Insights, OAuth, console inventory and actions,
/// faults on demand, ground truth at `/__sim/events`) over real HTTP.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Every option, boxed so the subcommand enum stays small.
    #[command(flatten)]
    pub options: Box<SimulateOptions>,
}

/// The `simulate` options (see `--help`).
#[derive(clap::Args)]
pub struct SimulateOptions {
    /// Address to serve on; port 0 picks a free port (the real address is printed).
    #[arg(long, default_value = "127.0.0.1:8080", env = "SIM_LISTEN")]
    pub listen: SocketAddr,
    /// The accepted `x-api-key` (an administrator with Directory Insights access).
    #[arg(
        long,
        default_value = "sim-api-key",
        env = "SIM_API_KEY",
        hide_env_values = true
    )]
    pub api_key: String,
    /// Seed of all generated data: same seed, same orgs, inventory and events.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Events existing at start (total over all orgs), spread over the past `--history-days`.
    #[arg(long, default_value_t = 10_000)]
    pub events: usize,
    /// Number of organisations (the first is the API key's home org, used without x-org-id).
    #[arg(long, default_value_t = 1)]
    pub orgs: usize,
    /// Late arrival: each event becomes visible at timestamp + U(0, S) seconds; 0 = off.
    #[arg(long, default_value_t = 90.0)]
    pub late_max_secs: f64,
    /// Days of history the initial events are spread over.
    #[arg(long, default_value_t = 7)]
    pub history_days: u32,
    /// New events per second while running (total over orgs), timestamp = now; 0 = off.
    #[arg(long, default_value_t = 5.0)]
    pub live_rate: f64,
    /// OAuth 2.0 service-account client id accepted at POST /oauth2/token.
    #[arg(long, requires = "oauth_client_secret")]
    pub oauth_client_id: Option<String>,
    /// OAuth 2.0 service-account client secret.
    #[arg(
        long,
        env = "SIM_OAUTH_CLIENT_SECRET",
        hide_env_values = true,
        requires = "oauth_client_id"
    )]
    pub oauth_client_secret: Option<String>,
    /// OAuth access token lifetime in seconds (tokens really expire: 401 afterwards).
    #[arg(long, default_value_t = 3600)]
    pub token_ttl_secs: u64,
    /// The LAST n organisations answer 402 "Directory Insights is not enabled".
    #[arg(long, default_value_t = 0)]
    pub di_disabled_orgs: usize,
    /// A second API key whose admin role lacks Directory Insights (403 on /insights).
    #[arg(long, env = "SIM_NO_DI_API_KEY", hide_env_values = true)]
    pub no_di_api_key: Option<String>,
    /// Users per organisation.
    #[arg(long, default_value_t = 50)]
    pub users: usize,
    /// Systems (devices) per organisation.
    #[arg(long, default_value_t = 30)]
    pub systems: usize,
    /// User groups per organisation (besides "All Users").
    #[arg(long, default_value_t = 6)]
    pub groups: usize,
    /// SSO applications per organisation.
    #[arg(long, default_value_t = 6)]
    pub applications: usize,
    /// Probability that any API request gets a random fault (0 = off; /__sim is never faulted).
    #[arg(long, default_value_t = 0.0)]
    pub fault_probability: f64,
    /// Fault kinds drawn from: rate_limit, server_error, slow, truncate, reset (comma-separated).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "rate_limit,server_error,slow,truncate,reset"
    )]
    pub fault_kinds: Vec<FaultKind>,
    /// Delay of a random `slow` fault, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    pub fault_slow_ms: u64,
    /// Share of generated events that are malformed on purpose (no/bad timestamp, no id or
    /// event_type, wrong field types), to exercise the dead-letter path; 0 = none.
    #[arg(long, default_value_t = 0.0)]
    pub malformed_fraction: f64,
    /// The Multi-Tenant Portal's provider id: it lists every organisation
    /// (`GET /api/v2/providers/{id}/organizations`); `x-provider-id` reads its own events.
    #[arg(long, default_value = "5f1e2d3c4b5a69788796a5b4")]
    pub provider_id: String,
    /// Events of the provider itself existing at start.
    #[arg(long, default_value_t = 50)]
    pub provider_events: usize,
    /// The LAST n organisations have not joined the provider (not listed, 403) until
    /// `POST /__sim/orgs/{id}/join`.
    #[arg(long, default_value_t = 0)]
    pub unlisted_orgs: usize,
}

impl std::fmt::Debug for SimulateOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The config's Debug redacts the API keys and the client secret.
        f.debug_struct("SimulateOptions")
            .field("listen", &self.listen)
            .field("config", &self.to_config())
            .finish()
    }
}

impl SimulateOptions {
    /// The simulator configuration these flags describe.
    fn to_config(&self) -> SimConfig {
        SimConfig {
            seed: self.seed,
            api_key: self.api_key.clone(),
            orgs: self.orgs,
            history_events: self.events,
            history_days: self.history_days,
            late_max_secs: self.late_max_secs,
            live_events_per_sec: self.live_rate,
            oauth_client_id: self.oauth_client_id.clone(),
            oauth_client_secret: self.oauth_client_secret.clone(),
            token_ttl_secs: self.token_ttl_secs,
            di_disabled_orgs: self.di_disabled_orgs,
            no_di_api_key: self.no_di_api_key.clone(),
            users_per_org: self.users,
            systems_per_org: self.systems,
            groups_per_org: self.groups,
            applications_per_org: self.applications,
            fault_probability: self.fault_probability,
            fault_kinds: self.fault_kinds.clone(),
            slow_fault_delay_ms: self.fault_slow_ms,
            malformed_fraction: self.malformed_fraction,
            history_anchor_ns: None,
            provider_id: self.provider_id.clone(),
            provider_events: self.provider_events,
            unlisted_orgs: self.unlisted_orgs,
        }
    }
}

/// Runs the simulator until Ctrl-C or SIGTERM.
pub fn run(args: Args) -> ExitCode {
    let args = args.options;
    if !(args.late_max_secs.is_finite() && args.late_max_secs >= 0.0) {
        eprintln!("error: --late-max-secs must be a number >= 0");
        return ExitCode::from(2);
    }
    if !(0.0..=1.0).contains(&args.malformed_fraction) {
        eprintln!("error: --malformed-fraction must be in [0, 1]");
        return ExitCode::from(2);
    }
    if !(0.0..=1.0).contains(&args.fault_probability) {
        eprintln!("error: --fault-probability must be in [0, 1]");
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let listen = args.listen;
    let config = args.to_config();
    runtime.block_on(async move {
        let sim = match simulator::start(config, listen).await {
            Ok(sim) => sim,
            Err(err) => {
                tracing::error!(%listen, error = %err, "simulator failed to start");
                eprintln!("error: cannot serve on {listen}: {err}");
                return ExitCode::FAILURE;
            }
        };
        let url = sim.base_url();
        tracing::info!(url, orgs = ?sim.org_ids(), events = sim.event_count(), "simulator ready");
        println!("simulator listening on {url}");
        crate::runtime::wait_for_signal().await;
        tracing::info!("shutting down");
        sim.shutdown().await;
        ExitCode::SUCCESS
    })
}
