//! Start-up (organisations, inventory, history), the live event generator, and the handle.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::SimConfig;
use crate::events::EventIndex;
use crate::events::generator::{EventBuilder, GeneratedEvent, KindPicker, malform};
use crate::ids::{self, object_id};
use crate::inventory::{Inventory, InventorySizes};
use crate::server::faults::{FaultPlan, RandomFaults};
use crate::server::{self, ConnectionKill, KillableListener, Org, SimState, late_delay_ns, read};

const CHUNK: usize = 50_000;

fn sub_seed(seed: u64, a: u64, b: u64) -> u64 {
    // SplitMix64-style mixing: distinct, deterministic streams per (org, chunk).
    let mut z =
        seed ^ a.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ b.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Builds the organisations with their inventory and history, and the provider (its own
/// events) last (CPU-bound; run off the runtime).
fn build_orgs(config: &SimConfig, now_ns: i64) -> Vec<Arc<Org>> {
    let org_count = config.orgs.max(1);
    let mut id_rng = ChaCha8Rng::seed_from_u64(config.seed);
    let mut org_ids: Vec<String> = (0..org_count)
        .map(|i| {
            object_id(
                &mut id_rng,
                1_600_000_000 + i64::try_from(i).unwrap_or(0) * 86_400,
            )
        })
        .collect();
    org_ids.push(config.provider_id.clone());
    let provider = org_count;
    let org_count = org_count + 1;
    let sizes = InventorySizes {
        users: config.users_per_org.max(1),
        systems: config.systems_per_org,
        groups: config.groups_per_org,
        applications: config.applications_per_org,
    };
    let inventories: Vec<Inventory> = org_ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let mut rng = ChaCha8Rng::seed_from_u64(sub_seed(config.seed, i as u64, u64::MAX));
            Inventory::generate(&mut rng, id, i, sizes, now_ns)
        })
        .collect();

    // History: (org, chunk) jobs generated in parallel, indexed in a fixed order.
    let span_ns = i64::from(config.history_days.max(1)) * 86_400 * 1_000_000_000;
    let mut jobs = Vec::new();
    for org in 0..org_count {
        let share = if org == provider {
            config.provider_events
        } else {
            config.history_events / provider + usize::from(org < config.history_events % provider)
        };
        let mut start = 0;
        while start < share {
            let len = CHUNK.min(share - start);
            jobs.push((org, start / CHUNK, len));
            start += len;
        }
    }
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .max(1);
    let picker = KindPicker::new();
    let mut results: Vec<Option<Vec<(GeneratedEvent, i64)>>> =
        (0..jobs.len()).map(|_| None).collect();
    std::thread::scope(|scope| {
        let per_thread = jobs.len().div_ceil(threads).max(1);
        let handles: Vec<_> = jobs
            .chunks(per_thread)
            .enumerate()
            .map(|(t, batch)| {
                let inventories = &inventories;
                let picker = picker.as_ref();
                scope.spawn(move || {
                    batch
                        .iter()
                        .map(|&(org, chunk, len)| {
                            let mut rng = ChaCha8Rng::seed_from_u64(sub_seed(
                                config.seed,
                                org as u64,
                                chunk as u64,
                            ));
                            let builder = EventBuilder::new(&inventories[org]);
                            let mut out = Vec::with_capacity(len);
                            if let Some(picker) = picker {
                                for _ in 0..len {
                                    let ts = now_ns - rng.random_range(0..span_ns);
                                    let kind = picker.pick(&mut rng);
                                    let mut event = builder.build(&mut rng, kind, ts);
                                    if config.malformed_fraction > 0.0
                                        && rng.random_bool(config.malformed_fraction.min(1.0))
                                    {
                                        malform(&mut rng, &mut event);
                                    }
                                    let visible_at = event.timestamp_ns
                                        + late_delay_ns(&mut rng, config.late_max_secs);
                                    out.push((event, visible_at));
                                }
                            }
                            out
                        })
                        .collect::<Vec<_>>()
                        .into_iter()
                        .enumerate()
                        .map(move |(i, out)| (t * per_thread + i, out))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for handle in handles {
            if let Ok(done) = handle.join() {
                for (i, out) in done {
                    if let Some(slot) = results.get_mut(i) {
                        *slot = Some(out);
                    }
                }
            }
        }
    });

    let mut per_org: Vec<Vec<(GeneratedEvent, i64)>> = (0..org_count).map(|_| Vec::new()).collect();
    for ((org, _, _), events) in jobs.iter().zip(results) {
        per_org[*org].extend(events.unwrap_or_default());
    }
    let mut rngs: Vec<ChaCha8Rng> = (0..org_count)
        .map(|i| ChaCha8Rng::seed_from_u64(sub_seed(config.seed, i as u64, u64::MAX - 1)))
        .collect();
    let indexes: Vec<EventIndex> = per_org
        .into_iter()
        .zip(rngs.iter_mut())
        .map(|(events, rng)| EventIndex::bulk_load(rng, events))
        .collect();
    let enabled = provider.saturating_sub(config.di_disabled_orgs);
    let listed = provider.saturating_sub(config.unlisted_orgs);
    org_ids
        .into_iter()
        .zip(inventories)
        .zip(indexes.into_iter().zip(rngs))
        .enumerate()
        .map(|(index, ((id, inventory), (events, rng)))| {
            Arc::new(Org {
                index,
                id,
                di_enabled: index < enabled || index == provider,
                listed: AtomicBool::new(index < listed || index == provider),
                events: RwLock::new(events),
                inventory: RwLock::new(inventory),
                rng: Mutex::new(rng),
            })
        })
        .collect()
}

/// A running simulator.
#[derive(Debug)]
pub struct SimHandle {
    addr: SocketAddr,
    state: Arc<SimState>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

/// Generates the organisations and history, binds `listen` (port 0 = any free port) and serves
/// until [`SimHandle::shutdown`].
pub async fn start(config: SimConfig, listen: SocketAddr) -> io::Result<SimHandle> {
    let started = Instant::now();
    let now = config.history_anchor_ns.unwrap_or_else(ids::now_ns);
    let build_config = config.clone();
    let mut orgs = tokio::task::spawn_blocking(move || build_orgs(&build_config, now))
        .await
        .map_err(io::Error::other)?;
    let provider = orgs
        .pop()
        .ok_or_else(|| io::Error::other("no provider was built"))?;
    let total: usize = orgs.iter().map(|o| read(&o.events).len()).sum();
    tracing::info!(
        events = total,
        orgs = orgs.len(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "simulator data generated"
    );

    let random =
        (config.fault_probability > 0.0 && !config.fault_kinds.is_empty()).then(|| RandomFaults {
            probability: config.fault_probability.min(1.0),
            kinds: config.fault_kinds.clone(),
        });
    let state = Arc::new(SimState {
        live_rate_bits: AtomicU64::new(0),
        config,
        orgs,
        provider,
        tokens: Mutex::new(HashMap::new()),
        faults: Mutex::new(FaultPlan {
            rules: Vec::new(),
            random,
        }),
    });
    state.set_live_rate(state.config.live_events_per_sec);

    let listener = TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let (shutdown, mut stop) = watch::channel(false);
    let app =
        server::router(Arc::clone(&state)).into_make_service_with_connect_info::<ConnectionKill>();
    let mut stop_api = stop.clone();
    let mut tasks = vec![tokio::spawn(async move {
        let serve =
            axum::serve(KillableListener::new(listener), app).with_graceful_shutdown(async move {
                let _ = stop_api.wait_for(|stopped| *stopped).await;
            });
        if let Err(err) = serve.await {
            tracing::error!(error = %err, "simulator server failed");
        }
    })];

    let live_state = Arc::clone(&state);
    tasks.push(tokio::spawn(async move {
        tokio::select! {
            () = live_events(live_state) => {}
            _ = stop.wait_for(|stopped| *stopped) => {}
        }
    }));
    tracing::info!(%addr, "simulator listening");
    Ok(SimHandle {
        addr,
        state,
        shutdown,
        tasks,
    })
}

/// Generates live events at the current rate, timestamp = now, with late arrival.
async fn live_events(state: Arc<SimState>) {
    let Some(picker) = KindPicker::new() else {
        return;
    };
    let mut rng = ChaCha8Rng::seed_from_u64(sub_seed(state.config.seed, u64::MAX, 0));
    let mut ticker = tokio::time::interval(Duration::from_millis(20));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last = Instant::now();
    let mut owed = 0.0_f64;
    loop {
        ticker.tick().await;
        let now = Instant::now();
        let rate = state.live_rate();
        owed += rate * now.duration_since(last).as_secs_f64();
        last = now;
        if rate <= 0.0 {
            owed = 0.0;
            continue;
        }
        let due = owed.floor();
        owed -= due;
        for _ in 0..(due as u64).min(1_000_000) {
            let Some(org) = state.orgs.get(rng.random_range(0..state.orgs.len().max(1))) else {
                break;
            };
            let kind = picker.pick(&mut rng);
            org.emit_generated(
                kind,
                ids::now_ns(),
                state.config.late_max_secs,
                state.config.malformed_fraction,
            );
        }
    }
}

impl SimHandle {
    /// `http://127.0.0.1:PORT`: DI is `{base}/insights/directory/v1/events`, console
    /// `{base}/api/...`, OAuth `{base}/oauth2/token`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The address served.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Organisation ids in order; `org_ids()[0]` is the API key's home org.
    pub fn org_ids(&self) -> Vec<String> {
        self.state.orgs.iter().map(|o| o.id.clone()).collect()
    }

    /// The provider id every organisation belongs to.
    pub fn provider_id(&self) -> String {
        self.state.provider.id.clone()
    }

    /// Changes (0 stops) live generation; also `POST /__sim/live {"events_per_sec": x}`.
    pub fn set_live_rate(&self, events_per_sec: f64) {
        self.state.set_live_rate(events_per_sec);
    }

    /// The next `count` events of organisation `org` become visible only `delay` after their
    /// timestamp (also `POST /__sim/orgs/{id}/hold`). False for an unknown organisation.
    pub fn hold_next(&self, org: &str, count: usize, delay: Duration) -> bool {
        let Some(org) = self.state.org_or_provider(org) else {
            return false;
        };
        let delay_ns = i64::try_from(delay.as_nanos()).unwrap_or(i64::MAX);
        crate::server::write(&org.events).hold_next(count, delay_ns);
        true
    }

    /// The first `count` events of `org` with `start_ns <= timestamp < end_ns` are not visible
    /// for the next `hidden_for` (also `POST /__sim/orgs/{id}/hide`). Returns how many.
    pub fn hide(
        &self,
        org: &str,
        start_ns: i64,
        end_ns: i64,
        count: usize,
        hidden_for: Duration,
    ) -> usize {
        let Some(org) = self.state.org_or_provider(org) else {
            return 0;
        };
        let until = ids::now_ns() + i64::try_from(hidden_for.as_nanos()).unwrap_or(i64::MAX);
        crate::server::write(&org.events).hide(start_ns, end_ns, count, until)
    }

    /// Every event a hold or a hide made visible late (also `GET /__sim/held`).
    pub fn held(&self) -> Vec<crate::server::admin::HeldEvent> {
        crate::server::admin::held_events(&self.state)
    }

    /// Number of events held (visible or not), all orgs.
    pub fn event_count(&self) -> usize {
        self.state.orgs.iter().map(|o| read(&o.events).len()).sum()
    }

    /// Stops serving and generating.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        for task in self.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
    }
}
