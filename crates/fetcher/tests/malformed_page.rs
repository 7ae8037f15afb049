//! Responses the simulator never gives (elements without id/timestamp, a stuck
//! `X-Search_after`), served by an in-process server: handed out verbatim, never dropped; a
//! paging loop is an error.

use axum::http::HeaderMap;
use axum::routing::post;
use fetcher::{AuthConfig, ClientConfig, EventSource, EventsConfig, JumpCloudClient};
use secrecy::SecretString;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const PAGE: &str = r#"[{"id":"6b03964b73f4504b40ea87c8","timestamp":"2026-01-01T00:00:00.123456789Z","event_type":"user_login_attempt"},{"event_type":"no_identity"},42,{"id":"x1","timestamp":"not a time"},{"id":"6b03964b73f4504b40ea87c8","timestamp":"2026-01-01T00:00:00.123456789Z","event_type":"repeat"}]"#;

#[tokio::test]
async fn elements_without_identity_are_handed_out_verbatim_and_repeats_are_dropped() {
    // The handler only records what it was sent: an assertion failing inside it would surface
    // as the client's "retries exhausted", not as the check that failed.
    let requests: Arc<Mutex<Vec<HeaderMap>>> = Arc::default();
    let seen = Arc::clone(&requests);
    let app = axum::Router::new().route(
        "/insights/directory/v1/events",
        post(move |headers: HeaderMap| {
            seen.lock().unwrap().push(headers);
            async move { ([("x-limit", "1000"), ("x-search_after", "[1,\"z\"]")], PAGE) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let client = JumpCloudClient::new(ClientConfig {
        base_url: Some(format!("http://{address}")),
        auth: AuthConfig::ApiKey {
            api_key: SecretString::from("k"),
        },
        user_agent: Some("the-program/1.2.3".into()),
        ..ClientConfig::default()
    })
    .unwrap();
    let config = EventsConfig {
        lag: Duration::from_secs(1),
        ..EventsConfig::default()
    };
    let mut source = EventSource::new(client, "org-1", config, None).unwrap();
    let batch = source.next_batch().await.unwrap().unwrap();
    let texts: Vec<String> = batch
        .events
        .iter()
        .map(|e| String::from_utf8(e.bytes.to_vec()).unwrap())
        .collect();
    assert_eq!(
        texts,
        vec![
            r#"{"id":"6b03964b73f4504b40ea87c8","timestamp":"2026-01-01T00:00:00.123456789Z","event_type":"user_login_attempt"}"#,
            r#"{"event_type":"no_identity"}"#,
            "42",
            r#"{"id":"x1","timestamp":"not a time"}"#,
        ]
    );
    assert_eq!(batch.events[1].id, None);
    assert_eq!(batch.events[1].timestamp, None);
    assert_eq!(batch.events[3].id.as_deref(), Some("x1"));
    assert_eq!(batch.events[3].timestamp.as_deref(), Some("not a time"));
    assert!(batch.events.iter().all(|e| &*e.org_id == "org-1"));
    let requests = requests.lock().unwrap();
    assert!(!requests.is_empty());
    for headers in requests.iter() {
        assert_eq!(headers["x-api-key"], "k");
        assert_eq!(headers["x-org-id"], "org-1");
        assert_eq!(headers["user-agent"], "the-program/1.2.3");
    }
    assert_eq!(
        source
            .stats()
            .duplicates_skipped
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
    server.abort();
}

#[tokio::test]
async fn a_search_after_that_does_not_move_is_an_error_not_an_endless_loop() {
    // Every page is full and always names the same X-Search_after.
    let page: String = format!(
        "[{}]",
        (0..3)
            .map(|i| format!(r#"{{"id":"e{i}","timestamp":"2026-01-01T00:00:0{i}Z"}}"#))
            .collect::<Vec<_>>()
            .join(",")
    );
    let app = axum::Router::new().route(
        "/insights/directory/v1/events",
        post(move || {
            let page = page.clone();
            async move { ([("x-limit", "3"), ("x-search_after", "[5,\"same\"]")], page) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let client = JumpCloudClient::new(ClientConfig {
        base_url: Some(format!("http://{address}")),
        auth: AuthConfig::ApiKey {
            api_key: SecretString::from("k"),
        },
        org_ids: vec!["org-a".into(), "org-b".into()],
        ..ClientConfig::default()
    })
    .unwrap();
    let config = EventsConfig {
        page_limit: 3,
        ..EventsConfig::default()
    };
    let mut sources: Vec<EventSource> = client
        .config()
        .org_ids
        .iter()
        .map(|org| EventSource::new(client.clone(), org.clone(), config.clone(), None).unwrap())
        .collect();
    assert_eq!(
        sources
            .iter()
            .map(|s| s.org_id().to_string())
            .collect::<Vec<_>>(),
        vec!["org-a", "org-b"]
    );
    let source = &mut sources[0];
    let first = source.next_batch().await.unwrap().unwrap();
    assert_eq!(first.events.len(), 3);
    let error = source.next_batch().await.unwrap_err();
    assert!(error.to_string().contains("did not move"), "{error}");
    server.abort();
}
