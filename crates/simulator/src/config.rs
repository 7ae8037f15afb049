//! Simulator configuration.

use std::fmt;

use crate::server::faults::FaultKind;

/// Everything the simulator needs to know at start-up. `Debug` redacts the secrets.
#[derive(Clone)]
pub struct SimConfig {
    /// Seed of every random choice: same seed, same organisations, inventory and events.
    pub seed: u64,
    /// The accepted `x-api-key` (an administrator with Directory Insights access).
    pub api_key: String,
    /// Number of organisations (deterministic 24-hex ids); the first is the key's home org.
    pub orgs: usize,
    /// Events existing at start, total over all orgs, spread over the past `history_days`.
    pub history_events: usize,
    /// Days of history the initial events are spread over.
    pub history_days: u32,
    /// Each event becomes visible at `timestamp + U(0, late_max_secs)`; 0 turns late arrival off.
    pub late_max_secs: f64,
    /// New events per second while running (total over orgs), timestamp = now; 0 = off.
    pub live_events_per_sec: f64,
    /// OAuth 2.0 client id accepted at `POST /oauth2/token` (with the secret below).
    pub oauth_client_id: Option<String>,
    /// OAuth 2.0 client secret.
    pub oauth_client_secret: Option<String>,
    /// OAuth access token lifetime in seconds; tokens really expire.
    pub token_ttl_secs: u64,
    /// The LAST n orgs answer 402 on Directory Insights.
    pub di_disabled_orgs: usize,
    /// A second API key whose admin role lacks Directory Insights: 403 on `/insights/...`.
    pub no_di_api_key: Option<String>,
    /// Users per organisation.
    pub users_per_org: usize,
    /// Systems (devices) per organisation.
    pub systems_per_org: usize,
    /// User groups per organisation (besides "All Users").
    pub groups_per_org: usize,
    /// SSO applications per organisation.
    pub applications_per_org: usize,
    /// Probability that a request (outside `/__sim`) gets a random fault; 0 = off.
    pub fault_probability: f64,
    /// Fault kinds drawn from when `fault_probability` > 0.
    pub fault_kinds: Vec<FaultKind>,
    /// Delay of a random `slow` fault, in milliseconds.
    pub slow_fault_delay_ms: u64,
    /// Share of generated events (history and live) that are malformed on purpose (no or bad
    /// `timestamp`, no `id`/`event_type`, wrong field types), for dead-letter tests; 0 = none.
    pub malformed_fraction: f64,
    /// The Multi-Tenant Portal's provider id: every organisation belongs to it
    /// (`GET /api/v2/providers/{id}/organizations`), and `x-provider-id` with it reads the
    /// provider's own events.
    pub provider_id: String,
    /// Events of the provider itself (`x-provider-id`) existing at start, over `history_days`.
    pub provider_events: usize,
    /// The LAST n organisations have not joined the provider yet: not listed, 403 on
    /// `x-org-id`, until `POST /__sim/orgs/{id}/join`.
    pub unlisted_orgs: usize,
    /// End of the history window (epoch ns); `None` = the start-up instant. Two simulators with
    /// the same seed and anchor hold byte-identical history.
    pub history_anchor_ns: Option<i64>,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            seed: 42,
            api_key: "sim-api-key".to_owned(),
            orgs: 1,
            history_events: 10_000,
            history_days: 7,
            late_max_secs: 0.0,
            live_events_per_sec: 0.0,
            oauth_client_id: None,
            oauth_client_secret: None,
            token_ttl_secs: 3600,
            di_disabled_orgs: 0,
            no_di_api_key: None,
            users_per_org: 50,
            systems_per_org: 30,
            groups_per_org: 6,
            applications_per_org: 6,
            fault_probability: 0.0,
            fault_kinds: FaultKind::ALL.to_vec(),
            slow_fault_delay_ms: 1_000,
            malformed_fraction: 0.0,
            history_anchor_ns: None,
            provider_id: "5f1e2d3c4b5a69788796a5b4".to_owned(),
            provider_events: 50,
            unlisted_orgs: 0,
        }
    }
}

fn redacted(value: &Option<String>) -> Option<&'static str> {
    value.as_ref().map(|_| "[REDACTED]")
}

impl fmt::Debug for SimConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimConfig")
            .field("seed", &self.seed)
            .field("api_key", &"[REDACTED]")
            .field("orgs", &self.orgs)
            .field("history_events", &self.history_events)
            .field("history_days", &self.history_days)
            .field("late_max_secs", &self.late_max_secs)
            .field("live_events_per_sec", &self.live_events_per_sec)
            .field("oauth_client_id", &self.oauth_client_id)
            .field("oauth_client_secret", &redacted(&self.oauth_client_secret))
            .field("token_ttl_secs", &self.token_ttl_secs)
            .field("di_disabled_orgs", &self.di_disabled_orgs)
            .field("no_di_api_key", &redacted(&self.no_di_api_key))
            .field("users_per_org", &self.users_per_org)
            .field("systems_per_org", &self.systems_per_org)
            .field("groups_per_org", &self.groups_per_org)
            .field("applications_per_org", &self.applications_per_org)
            .field("fault_probability", &self.fault_probability)
            .field("fault_kinds", &self.fault_kinds)
            .field("slow_fault_delay_ms", &self.slow_fault_delay_ms)
            .field("malformed_fraction", &self.malformed_fraction)
            .field("history_anchor_ns", &self.history_anchor_ns)
            .field("provider_id", &self.provider_id)
            .field("provider_events", &self.provider_events)
            .field("unlisted_orgs", &self.unlisted_orgs)
            .finish()
    }
}
