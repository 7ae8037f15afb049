//! Inventory collection over real HTTP: the simulator's console (3 organisations, 5,000 users,
//! 2,000 systems, 200 groups in total) compared with the simulator's own state, and paging
//! while rows are deleted and inserted between pages.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex, RwLock};

use axum::extract::{Query, State};
use axum::response::IntoResponse;
use console_model::record_id;
use fetcher::inventory::{InventoryConfig, ListShape, collect_org, list_all};
use fetcher::{AuthConfig, ClientConfig, JumpCloudClient};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use secrecy::SecretString;
use simulator::SimConfig;
use simulator::events::EventIndex;
use simulator::inventory::{Inventory, InventorySizes};
use simulator::server::faults::FaultPlan;
use simulator::server::{ConnectionKill, KillableListener, Org, SimState};

const API_KEY: &str = "inventory-test-key";

/// A simulator whose state the test keeps (the ground truth), served over HTTP.
async fn serve_simulator(sizes: &[InventorySizes]) -> (String, Arc<SimState>) {
    let now = simulator::ids::now_ns();
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut orgs: Vec<Arc<Org>> = sizes
        .iter()
        .chain(std::iter::once(&InventorySizes {
            users: 1,
            systems: 0,
            groups: 0,
            applications: 0,
        }))
        .enumerate()
        .map(|(index, size)| {
            let id = simulator::ids::object_id(&mut rng, 1_600_000_000 + index as i64 * 86_400);
            let inventory = Inventory::generate(&mut rng, &id, index, *size, now);
            Arc::new(Org {
                index,
                id,
                di_enabled: true,
                listed: AtomicBool::new(true),
                events: RwLock::new(EventIndex::bulk_load(&mut rng, Vec::new())),
                inventory: RwLock::new(inventory),
                rng: Mutex::new(ChaCha8Rng::seed_from_u64(index as u64)),
            })
        })
        .collect();
    // The provider (its own events): none here.
    let provider = orgs.pop().unwrap();
    let state = Arc::new(SimState {
        config: SimConfig {
            api_key: API_KEY.into(),
            orgs: sizes.len(),
            history_events: 0,
            ..SimConfig::default()
        },
        orgs,
        provider,
        tokens: Mutex::new(HashMap::new()),
        faults: Mutex::new(FaultPlan::default()),
        live_rate_bits: AtomicU64::new(0),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = simulator::server::router(Arc::clone(&state))
        .into_make_service_with_connect_info::<ConnectionKill>();
    tokio::spawn(async move {
        let _ = axum::serve(KillableListener::new(listener), app).await;
    });
    (format!("http://{addr}"), state)
}

fn client(base_url: &str) -> JumpCloudClient {
    JumpCloudClient::new(ClientConfig {
        base_url: Some(base_url.to_owned()),
        auth: AuthConfig::ApiKey {
            api_key: SecretString::from(API_KEY.to_owned()),
        },
        max_requests_per_sec: 100_000,
        ..ClientConfig::default()
    })
    .unwrap()
}

fn split(total: usize, parts: usize) -> Vec<usize> {
    (0..parts)
        .map(|i| total / parts + usize::from(i < total % parts))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_orgs_inventory_equals_the_simulators_state() {
    // 5,000 users, 2,000 systems and 200 groups (with "All Users") over three organisations.
    let users = split(5_000, 3);
    let systems = split(2_000, 3);
    let groups = split(200 - 3, 3);
    let sizes: Vec<InventorySizes> = (0..3)
        .map(|i| InventorySizes {
            users: users[i],
            systems: systems[i],
            groups: groups[i],
            // The simulator resolves `/applications/{id}/users` in O(members x users) per
            // page; one application per org keeps the test fast while covering the edges.
            applications: 1,
        })
        .collect();
    let (base_url, state) = serve_simulator(&sizes).await;
    let client = client(&base_url);
    let config = InventoryConfig {
        concurrency: 16,
        ..InventoryConfig::default()
    };
    let (mut total_users, mut total_systems, mut total_groups) = (0, 0, 0);
    for org in &state.orgs {
        let collected = collect_org(&client, &org.id, &config).await.unwrap();
        let truth = org.inventory.read().unwrap();
        assert_eq!(collected.tenant_uid.as_deref(), Some(org.id.as_str()));

        let ids = |records: &[serde_json::Value]| -> BTreeSet<String> {
            records.iter().filter_map(record_id).collect()
        };
        assert_eq!(collected.users.len(), truth.users.len(), "no duplicates");
        assert_eq!(
            ids(&collected.users),
            truth.users.iter().map(|u| u.id.clone()).collect()
        );
        assert_eq!(collected.systems.len(), truth.systems.len());
        assert_eq!(
            ids(&collected.systems),
            truth.systems.iter().map(|s| s.id.clone()).collect()
        );
        assert_eq!(collected.groups.len(), truth.groups.len());
        assert_eq!(collected.applications.len(), truth.applications.len());
        let truth_devices: usize = truth.apple_mdm_devices.iter().map(|(_, d)| d.len()).sum();
        assert_eq!(collected.mdm_devices.len(), truth_devices);

        // user ∈ group
        let truth_members: BTreeMap<String, BTreeSet<String>> = truth
            .groups
            .iter()
            .map(|g| (g.id.clone(), g.members.iter().cloned().collect()))
            .collect();
        let collected_members: BTreeMap<String, BTreeSet<String>> = collected
            .group_members
            .iter()
            .map(|(g, m)| (g.clone(), m.iter().cloned().collect()))
            .collect();
        assert_eq!(collected_members, truth_members);
        // group -> app
        let truth_app_groups: BTreeMap<String, BTreeSet<String>> = truth
            .applications
            .iter()
            .map(|a| (a.id.clone(), a.group_ids.iter().cloned().collect()))
            .collect();
        let collected_app_groups: BTreeMap<String, BTreeSet<String>> = collected
            .application_groups
            .iter()
            .map(|(a, g)| (a.clone(), g.iter().cloned().collect()))
            .collect();
        assert_eq!(collected_app_groups, truth_app_groups);
        // user -> app (through groups)
        for app in &truth.applications {
            let expected: BTreeSet<String> = app
                .group_ids
                .iter()
                .filter_map(|g| truth_members.get(g))
                .flatten()
                .cloned()
                .collect();
            let got: BTreeSet<String> = collected.application_users[&app.id]
                .iter()
                .map(|u| u.user_id.clone())
                .collect();
            assert_eq!(got, expected, "users of application {}", app.name);
        }
        // device -> user
        let truth_owners: BTreeMap<String, Vec<String>> = truth
            .systems
            .iter()
            .filter_map(|s| Some((s.id.clone(), vec![s.owner_id.clone()?])))
            .collect();
        assert_eq!(collected.system_users, truth_owners);

        total_users += collected.users.len();
        total_systems += collected.systems.len();
        total_groups += collected.groups.len();
    }
    assert_eq!(
        (total_users, total_systems, total_groups),
        (5_000, 2_000, 200)
    );
}

/// A v1 list that changes between pages: after each page it deletes the first two rows
/// already served and inserts a row sorting before them.
#[derive(Clone)]
struct Shifting {
    rows: Arc<Mutex<Vec<String>>>,
    requests: Arc<Mutex<usize>>,
}

async fn shifting_list(
    State(list): State<Shifting>,
    Query(params): Query<HashMap<String, String>>,
) -> axum::response::Response {
    let skip: usize = params.get("skip").and_then(|s| s.parse().ok()).unwrap_or(0);
    let limit: usize = params
        .get("limit")
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let mut rows = list.rows.lock().unwrap();
    rows.sort();
    let total = rows.len();
    let page: Vec<serde_json::Value> = rows
        .iter()
        .skip(skip)
        .take(limit)
        .map(|id| serde_json::json!({"_id": id}))
        .collect();
    let mut requests = list.requests.lock().unwrap();
    *requests += 1;
    // Change the data after every page: two served rows vanish, one earlier row appears.
    if skip + limit < total {
        let served: Vec<String> = rows.iter().take(skip + page.len()).cloned().collect();
        for id in served.iter().skip(1).take(2) {
            rows.retain(|r| r != id);
        }
        rows.push(format!("a{:04}", *requests));
    }
    axum::Json(serde_json::json!({"totalCount": total, "results": page})).into_response()
}

#[tokio::test]
async fn paging_has_no_gaps_or_duplicates_while_rows_change() {
    let initial: Vec<String> = (0..500).map(|i| format!("r{i:04}")).collect();
    let list = Shifting {
        rows: Arc::new(Mutex::new(initial.clone())),
        requests: Arc::new(Mutex::new(0)),
    };
    let app = axum::Router::new()
        .route("/api/systemusers", axum::routing::get(shifting_list))
        .with_state(list.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let client = client(&format!("http://{addr}"));
    let config = InventoryConfig {
        page_size: 50,
        page_overlap: 5,
        ..InventoryConfig::default()
    };
    let rows = list_all(
        &client,
        None,
        "/api/systemusers",
        ListShape::V1,
        &config,
        true,
        record_id,
    )
    .await
    .unwrap();
    let got: Vec<String> = rows.iter().filter_map(record_id).collect();
    let unique: BTreeSet<&String> = got.iter().collect();
    assert_eq!(unique.len(), got.len(), "duplicates in {got:?}");
    // Every row that existed from start to end was returned.
    let final_rows: BTreeSet<String> = list.rows.lock().unwrap().iter().cloned().collect();
    for id in initial.iter().filter(|id| final_rows.contains(*id)) {
        assert!(unique.contains(id), "gap: {id} missing");
    }
    // The server really changed the data while we paged.
    assert!(final_rows.len() < initial.len());

    // Without the overlap, the same changes leave gaps: the test can fail.
    let list_again = Shifting {
        rows: Arc::new(Mutex::new(initial.clone())),
        requests: Arc::new(Mutex::new(0)),
    };
    *list.rows.lock().unwrap() = list_again.rows.lock().unwrap().clone();
    *list.requests.lock().unwrap() = 0;
    let no_overlap = InventoryConfig {
        page_overlap: 0,
        ..config
    };
    let rows = list_all(
        &client,
        None,
        "/api/systemusers",
        ListShape::V1,
        &no_overlap,
        true,
        record_id,
    )
    .await
    .unwrap();
    let got: BTreeSet<String> = rows.iter().filter_map(record_id).collect();
    let final_rows: BTreeSet<String> = list.rows.lock().unwrap().iter().cloned().collect();
    let missing = initial
        .iter()
        .filter(|id| final_rows.contains(*id) && !got.contains(*id))
        .count();
    assert!(
        missing > 0,
        "the shifting server should defeat plain skip paging"
    );
}
