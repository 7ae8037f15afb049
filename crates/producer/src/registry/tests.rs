//! Faults a real registry does not give on demand (credentials checked, 5xx then success), from
//! in-process HTTP servers; talking to a real registry is in `tests/registry.rs`.

use super::*;

#[tokio::test]
async fn basic_auth_is_sent_and_never_shown() {
    use axum::http::{HeaderMap, StatusCode};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let app = axum::Router::new().route(
        "/subjects/{subject}/versions",
        axum::routing::post(|headers: HeaderMap| async move {
            // "svc:hunter2"
            if headers.get("authorization").and_then(|v| v.to_str().ok())
                == Some("Basic c3ZjOmh1bnRlcjI=")
            {
                (StatusCode::OK, "{\"id\": 42}")
            } else {
                (
                    StatusCode::UNAUTHORIZED,
                    "{\"error_code\": 401, \"message\": \"Unauthorized\"}",
                )
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let with_auth = RegistryConfig {
        username: Some("svc".into()),
        password: Some(SecretString::from("hunter2")),
        ..RegistryConfig::new(format!("http://{address}"))
    };
    let client = RegistryClient::new(&with_auth).unwrap();
    assert_eq!(client.register("s", "{}").await.unwrap(), 42);
    assert!(!format!("{client:?}").contains("hunter2"));
    assert!(!format!("{with_auth:?}").contains("hunter2"));
    // Credentials in the URL work too and are moved out of it.
    let in_url = RegistryClient::new(&RegistryConfig::new(format!(
        "http://svc:hunter2@{address}"
    )))
    .unwrap();
    assert_eq!(in_url.register("s", "{}").await.unwrap(), 42);
    assert!(!format!("{in_url:?}").contains("hunter2"));
    let without = RegistryClient::new(&RegistryConfig::new(format!("http://{address}"))).unwrap();
    match without.register("s", "{}").await {
        Err(RegistryError::Unauthorized { status: 401 }) => {}
        other => panic!("expected 401, got {other:?}"),
    }
    // Transport errors do not show the URL's credentials.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let closed_address = closed.local_addr().unwrap();
    drop(closed);
    let unreachable = RegistryClient::new(&RegistryConfig {
        max_retries: 0,
        ..RegistryConfig::new(format!("http://svc:hunter2@{closed_address}"))
    })
    .unwrap();
    let error = unreachable.register("s", "{}").await.unwrap_err();
    assert!(matches!(error, RegistryError::Transport(_)));
    assert!(!error.to_string().contains("hunter2"), "{error}");
}

#[tokio::test]
async fn transport_and_5xx_failures_are_retried_4xx_are_not() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use axum::http::StatusCode;
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let not_found_calls = Arc::new(AtomicUsize::new(0));
    let not_found_counter = not_found_calls.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let app = axum::Router::new()
        .route(
            "/subjects/{subject}/versions",
            axum::routing::post(move || {
                let counter = counter.clone();
                async move {
                    // Two failures, then success.
                    if counter.fetch_add(1, Ordering::SeqCst) < 2 {
                        (
                            StatusCode::SERVICE_UNAVAILABLE,
                            "{\"error_code\": 50003, \"message\": \"starting\"}",
                        )
                    } else {
                        (StatusCode::OK, "{\"id\": 7}")
                    }
                }
            }),
        )
        .route(
            "/schemas/ids/{id}",
            axum::routing::get(move || {
                let not_found_counter = not_found_counter.clone();
                async move {
                    not_found_counter.fetch_add(1, Ordering::SeqCst);
                    (
                        StatusCode::NOT_FOUND,
                        "{\"error_code\": 40403, \"message\": \"Schema not found\"}",
                    )
                }
            }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let client = RegistryClient::new(&RegistryConfig::new(format!("http://{address}"))).unwrap();
    assert_eq!(client.register("s", "{}").await.unwrap(), 7);
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    assert!(matches!(
        client.schema_by_id(1).await,
        Err(RegistryError::NotFound {
            error_code: 40403,
            ..
        })
    ));
    assert_eq!(not_found_calls.load(Ordering::SeqCst), 1, "a 404 is final");
}
