//! A JumpCloud API simulator over real HTTP, for tests, the demo and benchmarks.
//!
//! One job: be the other side of the wire. It serves the Directory Insights events API (with
//! paging, late arrival and faults on demand), OAuth 2.0 client credentials, several
//! organisations, the console inventory and response-action endpoints, a ground-truth dump of
//! every event it holds. It shares no code with the fetcher or the mapper: its request/response types and JSON are its own.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! let config = simulator::SimConfig { history_events: 1_000, ..Default::default() };
//! let sim = simulator::start(config, "127.0.0.1:0".parse().unwrap()).await?;
//! println!("{}/insights/directory/v1/events", sim.base_url());
//! sim.shutdown().await;
//! # Ok(())
//! # }
//! ```

#![recursion_limit = "256"]

pub mod config;
pub mod events;
pub mod ids;
pub mod inventory;
// Handlers return axum's `Response` as their error value (it is what they send); boxing it
// would only add an allocation per error.
#[allow(clippy::result_large_err)]
pub mod server;

mod handle;

pub use config::SimConfig;
pub use handle::{SimHandle, start};
pub use server::faults::FaultKind;
