//! The HTTP side: shared state, router, error bodies, and a TCP listener whose connections can
//! be reset on demand (the `reset` fault).

pub mod actions;
pub mod admin;
pub mod auth;
pub mod console;
pub mod deletions;
pub mod faults;
pub mod insights;
pub mod oauth;

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::connect_info::Connected;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::json;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

use crate::config::SimConfig;
use crate::events::catalogue::EventKind;
use crate::events::generator::EventBuilder;
use crate::events::{EventIndex, SortKey};
use crate::ids;
use crate::inventory::Inventory;

/// Locks a mutex, ignoring poisoning (the data stays consistent: every critical section is short
/// and panic-free by construction).
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Read-locks.
pub fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

/// Write-locks.
pub fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}

/// One organisation: its events and its console inventory.
#[derive(Debug)]
pub struct Org {
    /// Position in the org list (0 = the API key's home org).
    pub index: usize,
    /// 24-hex id.
    pub id: String,
    /// Directory Insights enabled (402 otherwise).
    pub di_enabled: bool,
    /// Joined the provider: listed by it and accessible with `x-org-id` (403 otherwise).
    pub listed: AtomicBool,
    /// Events.
    pub events: RwLock<EventIndex>,
    /// Inventory.
    pub inventory: RwLock<Inventory>,
    /// Random source for events created while running (tiebreaks, ids, details).
    pub rng: Mutex<ChaCha8Rng>,
}

impl Org {
    /// Generates an event of `kind` at `timestamp_ns`, lets `edit` adjust its JSON, and indexes
    /// it with a late-arrival delay of U(0, `late_max_secs`).
    pub fn emit(
        &self,
        kind: &'static EventKind,
        timestamp_ns: i64,
        late_max_secs: f64,
        edit: impl FnOnce(&mut serde_json::Map<String, serde_json::Value>),
    ) -> SortKey {
        let mut rng = lock(&self.rng);
        let mut event = {
            let inventory = read(&self.inventory);
            EventBuilder::new(&inventory).build(&mut *rng, kind, timestamp_ns)
        };
        if let Ok(serde_json::Value::Object(mut map)) = serde_json::from_str(&event.json) {
            edit(&mut map);
            event.json = serde_json::Value::Object(map).to_string();
        }
        let visible_at = event.timestamp_ns + late_delay_ns(&mut *rng, late_max_secs);
        write(&self.events).insert(&mut *rng, event, visible_at)
    }
}

impl Org {
    /// Generates and indexes an event of `kind` at `timestamp_ns` as generated (live events),
    /// malformed with probability `malformed_fraction`.
    pub fn emit_generated(
        &self,
        kind: &'static EventKind,
        timestamp_ns: i64,
        late_max_secs: f64,
        malformed_fraction: f64,
    ) -> SortKey {
        let mut rng = lock(&self.rng);
        let mut event = {
            let inventory = read(&self.inventory);
            EventBuilder::new(&inventory).build(&mut *rng, kind, timestamp_ns)
        };
        if malformed_fraction > 0.0 && rng.random_bool(malformed_fraction.min(1.0)) {
            crate::events::generator::malform(&mut *rng, &mut event);
        }
        let visible_at = event.timestamp_ns + late_delay_ns(&mut *rng, late_max_secs);
        write(&self.events).insert(&mut *rng, event, visible_at)
    }
}

/// A random ingestion delay in [0, late_max_secs), in ns.
pub fn late_delay_ns(rng: &mut impl Rng, late_max_secs: f64) -> i64 {
    if late_max_secs <= 0.0 {
        return 0;
    }
    // Saturating float-to-int conversion.
    (rng.random::<f64>() * late_max_secs * 1e9) as i64
}

/// Everything the handlers share.
#[derive(Debug)]
pub struct SimState {
    /// Start-up configuration.
    pub config: SimConfig,
    /// Organisations, in order.
    pub orgs: Vec<Arc<Org>>,
    /// The provider itself (id = `config.provider_id`): its own events, read with
    /// `x-provider-id`.
    pub provider: Arc<Org>,
    /// OAuth access tokens and when they expire.
    pub tokens: Mutex<HashMap<String, Instant>>,
    /// Faults on demand.
    pub faults: Mutex<faults::FaultPlan>,
    /// Live generation rate (f64 bits), events/s over all orgs.
    pub live_rate_bits: AtomicU64,
}

impl SimState {
    /// The live rate, events per second.
    pub fn live_rate(&self) -> f64 {
        f64::from_bits(self.live_rate_bits.load(Ordering::Relaxed))
    }

    /// Changes the live rate (negative and NaN = 0).
    pub fn set_live_rate(&self, events_per_sec: f64) {
        let rate = if events_per_sec.is_finite() && events_per_sec > 0.0 {
            events_per_sec
        } else {
            0.0
        };
        self.live_rate_bits.store(rate.to_bits(), Ordering::Relaxed);
    }

    /// The org with this id.
    pub fn org(&self, id: &str) -> Option<&Arc<Org>> {
        self.orgs.iter().find(|o| o.id == id)
    }

    /// The org with this id, or the provider itself.
    pub fn org_or_provider(&self, id: &str) -> Option<&Arc<Org>> {
        self.org(id)
            .or_else(|| (self.provider.id == id).then_some(&self.provider))
    }
}

/// A `{"message": ...}` error response.
pub fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, axum::Json(json!({ "message": message.into() }))).into_response()
}

/// The full router.
pub fn router(state: Arc<SimState>) -> Router {
    Router::new()
        .route("/insights/directory/v1/events", post(insights::events))
        .route("/insights/directory/v1/events/count", post(insights::count))
        .route(
            "/insights/directory/v1/events/distinct",
            post(insights::distinct),
        )
        .route(
            "/insights/directory/v1/events/interval",
            post(insights::interval),
        )
        .route("/oauth2/token", post(oauth::token))
        .route("/api/organizations", get(console::organizations))
        .route("/api/systemusers", get(console::users))
        .route(
            "/api/systemusers/{id}",
            get(console::user)
                .put(actions::put_user)
                .delete(deletions::delete_user),
        )
        .route(
            "/api/systemusers/{id}/state/suspend",
            post(actions::suspend),
        )
        .route(
            "/api/systemusers/{id}/state/activate",
            post(actions::activate),
        )
        .route("/api/systemusers/{id}/unlock", post(actions::unlock))
        .route("/api/systemusers/{id}/expire", post(actions::expire))
        .route("/api/systemusers/{id}/resetmfa", post(actions::reset_mfa))
        .route("/api/systems", get(console::systems))
        .route("/api/systems/{id}", delete(deletions::delete_system))
        .route("/api/applications", get(console::applications))
        .route("/api/v2/usergroups", get(console::user_groups))
        .route(
            "/api/v2/usergroups/{id}/members",
            get(console::group_members).post(actions::group_member),
        )
        .route("/api/v2/users/{id}/memberof", get(console::user_member_of))
        .route("/api/v2/users/{id}/systems", get(console::user_systems))
        .route(
            "/api/v2/usergroups/{id}/membership",
            get(console::group_membership),
        )
        .route(
            "/api/systems/{id}/command/builtin/{command}",
            post(actions::system_command),
        )
        .route(
            "/api/v2/applications/{id}/users",
            get(console::application_users),
        )
        .route(
            "/api/v2/applications/{id}/usergroups",
            get(console::application_groups),
        )
        .route(
            "/api/v2/providers/{id}/organizations",
            get(console::provider_organizations),
        )
        .route("/api/v2/applemdms", get(console::apple_mdms))
        .route(
            "/api/v2/applemdms/{id}/devices",
            get(console::apple_mdm_devices),
        )
        .route("/__sim/events", get(admin::ground_truth))
        .route("/__sim/orgs", get(admin::orgs))
        .route("/__sim/orgs/{id}/join", post(admin::join_org))
        .route("/__sim/orgs/{id}/leave", post(admin::leave_org))
        .route("/__sim/orgs/{id}/hold", post(admin::hold))
        .route("/__sim/orgs/{id}/hide", post(admin::hide))
        .route("/__sim/held", get(admin::held))
        .route("/__sim/live", post(admin::live))
        .route(
            "/__sim/faults",
            post(admin::add_fault).delete(admin::clear_faults),
        )
        .route("/__sim/faults/random", post(admin::random_faults))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state),
            faults::apply,
        ))
        .with_state(state)
}

/// A TCP listener whose connections carry a kill switch (see [`ConnectionKill`]).
#[derive(Debug)]
pub struct KillableListener {
    inner: TcpListener,
}

impl KillableListener {
    /// Wraps a bound listener.
    pub fn new(inner: TcpListener) -> Self {
        Self { inner }
    }
}

impl axum::serve::Listener for KillableListener {
    type Io = KillableStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.inner.accept().await {
                Ok((stream, addr)) => {
                    let _ = stream.set_nodelay(true);
                    let kill = Arc::new(AtomicBool::new(false));
                    return (
                        KillableStream {
                            inner: stream,
                            kill,
                        },
                        addr,
                    );
                }
                Err(err) => {
                    tracing::warn!(error = %err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// A connection that fails every read and write once killed, so hyper drops it without a
/// response (and the socket is closed with a reset).
#[derive(Debug)]
pub struct KillableStream {
    inner: TcpStream,
    kill: Arc<AtomicBool>,
}

impl KillableStream {
    fn killed(&self) -> bool {
        if self.kill.load(Ordering::Relaxed) {
            // Linger 0: closing sends RST instead of FIN; it does not block.
            #[allow(deprecated)]
            let _ = self.inner.set_linger(Some(Duration::ZERO));
            true
        } else {
            false
        }
    }
}

fn reset_error() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionReset,
        "connection reset by fault injection",
    )
}

impl AsyncRead for KillableStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.killed() {
            return Poll::Ready(Err(reset_error()));
        }
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for KillableStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.killed() {
            return Poll::Ready(Err(reset_error()));
        }
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if self.killed() {
            return Poll::Ready(Err(reset_error()));
        }
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.killed() {
            return Poll::Ready(Err(reset_error()));
        }
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// Per-connection info handed to handlers: the peer address and the kill switch.
#[derive(Debug, Clone)]
pub struct ConnectionKill {
    /// Peer address.
    pub peer: SocketAddr,
    kill: Arc<AtomicBool>,
}

impl ConnectionKill {
    /// Makes the connection fail: nothing more is written, the socket is reset.
    pub fn kill(&self) {
        self.kill.store(true, Ordering::Relaxed);
    }
}

impl Connected<axum::serve::IncomingStream<'_, KillableListener>> for ConnectionKill {
    fn connect_info(stream: axum::serve::IncomingStream<'_, KillableListener>) -> Self {
        Self {
            peer: *stream.remote_addr(),
            kill: Arc::clone(&stream.io().kill),
        }
    }
}

/// Epoch ns now (re-exported for handlers).
pub fn now_ns() -> i64 {
    ids::now_ns()
}
