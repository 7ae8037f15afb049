//! OAuth 2.0 client credentials and token expiry.

mod common;

use std::time::Duration;

use base64::Engine as _;
use common::*;
use serde_json::{Value, json};
use simulator::SimConfig;

fn basic(id: &str, secret: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
    )
}

#[tokio::test]
async fn tokens_are_issued_accepted_and_really_expire() {
    let sim = start(SimConfig {
        oauth_client_id: Some("client".into()),
        oauth_client_secret: Some("s3cret".into()),
        token_ttl_secs: 1,
        orgs: 2,
        ..config(300)
    })
    .await;
    let token_url = format!("{}/oauth2/token", sim.base_url());
    let form = "grant_type=client_credentials&scope=api";
    let response = client()
        .post(&token_url)
        .header("authorization", basic("client", "s3cret"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let token: Value = response.json().await.unwrap();
    assert_eq!(token["token_type"], "Bearer");
    assert_eq!(token["expires_in"], 1);
    assert_eq!(token["scope"], "api");
    let access = token["access_token"].as_str().unwrap().to_owned();

    let body = json!({"service": ["all"], "start_time": since_days(8)});
    let org = &sim.org_ids()[1];
    let ok = client()
        .post(events_url(&sim))
        .bearer_auth(&access)
        .header("x-org-id", org)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let events: Vec<Value> = ok.json().await.unwrap();
    assert!(events.iter().all(|e| e["organization"] == json!(org)));

    tokio::time::sleep(Duration::from_millis(1_200)).await;
    let expired = client()
        .post(events_url(&sim))
        .bearer_auth(&access)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(expired.status(), 401);
    assert!(
        expired.json::<Value>().await.unwrap()["message"]
            .as_str()
            .unwrap()
            .contains("expired")
    );

    let wrong = client()
        .post(&token_url)
        .header("authorization", basic("client", "nope"))
        .body(form)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let grant = client()
        .post(&token_url)
        .header("authorization", basic("client", "s3cret"))
        .body("grant_type=password")
        .send()
        .await
        .unwrap();
    assert_eq!(grant.status(), 400);
    let unknown = client()
        .post(events_url(&sim))
        .bearer_auth("made-up")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 401);
    sim.shutdown().await;
}

#[test]
fn debug_of_the_config_never_shows_secrets() {
    let config = SimConfig {
        api_key: "key-123".into(),
        oauth_client_secret: Some("secret-456".into()),
        no_di_api_key: Some("other-789".into()),
        ..SimConfig::default()
    };
    let text = format!("{config:?}");
    for secret in ["key-123", "secret-456", "other-789"] {
        assert!(!text.contains(secret), "{text}");
    }
    assert!(text.contains("[REDACTED]"));
}
