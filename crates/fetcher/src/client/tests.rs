use super::*;

fn oauth_config() -> ClientConfig {
    ClientConfig {
        auth: AuthConfig::Oauth {
            client_id: "client-1".into(),
            client_secret: SecretString::from("very-secret-client-secret"),
            token_url: None,
            refresh_margin: Duration::from_secs(30),
        },
        ..ClientConfig::default()
    }
}

#[test]
fn debug_of_config_and_client_never_contains_secrets() {
    let mut config = ClientConfig::default();
    config.apply_env(|name| match name {
        "JUMPCLOUD_API_KEY" => Some("jca_supersecretkey".into()),
        _ => None,
    });
    let client = JumpCloudClient::new(config.clone()).unwrap();
    for text in [
        format!("{config:?}"),
        format!("{client:?}"),
        format!("{:#?}", oauth_config()),
    ] {
        assert!(!text.contains("jca_supersecretkey"), "{text}");
        assert!(!text.contains("very-secret-client-secret"), "{text}");
        assert!(text.contains("[REDACTED]"), "{text}");
    }
}

#[test]
fn missing_credentials_are_a_config_error_that_names_the_setting() {
    let error = JumpCloudClient::new(ClientConfig::default()).unwrap_err();
    assert!(error.to_string().contains("JUMPCLOUD_API_KEY"), "{error}");
    let mut config = oauth_config();
    config.max_requests_per_sec = 0;
    let error = JumpCloudClient::new(config).unwrap_err();
    assert!(
        error.to_string().contains("max_requests_per_sec"),
        "{error}"
    );
}

#[test]
fn regions_and_base_url_pick_the_hosts() {
    let mut config = oauth_config();
    config.region = Region::Eu;
    assert_eq!(config.api_base(), "https://api.eu.jumpcloud.com");
    assert_eq!(config.console_base(), "https://console.eu.jumpcloud.com");
    assert_eq!(
        config.token_url(),
        "https://admin-oauth.id.eu.jumpcloud.com/oauth2/token"
    );
    config.apply_env(|name| {
        (name == "JUMPCLOUD_BASE_URL").then(|| "http://127.0.0.1:9999/".to_string())
    });
    assert_eq!(config.api_base(), "http://127.0.0.1:9999");
    assert_eq!(config.console_base(), "http://127.0.0.1:9999");
    assert_eq!(config.token_url(), "http://127.0.0.1:9999/oauth2/token");
}

#[test]
fn config_deserializes_with_defaults_and_durations() {
    let config: ClientConfig = serde_json::from_value(serde_json::json!({
        "region": "in",
        "org_ids": ["a", "b"],
        "auth": {"type": "oauth", "client_id": "id", "client_secret": "s3cr3t", "refresh_margin": "10s"},
        "request_timeout": "30s",
        "retry": {"max_retries": 3, "min_delay": "50ms"}
    }))
    .unwrap();
    assert_eq!(config.region, Region::In);
    assert_eq!(config.org_ids, vec!["a", "b"]);
    assert_eq!(config.request_timeout, Duration::from_secs(30));
    assert_eq!(config.connect_timeout, Duration::from_secs(10));
    assert_eq!(config.max_requests_per_sec, 10);
    assert_eq!(config.retry.max_retries, 3);
    assert_eq!(config.retry.min_delay, Duration::from_millis(50));
    assert_eq!(config.retry.max_delay, Duration::from_secs(30));
    match &config.auth {
        AuthConfig::Oauth {
            client_secret,
            refresh_margin,
            ..
        } => {
            assert_eq!(client_secret.expose_secret(), "s3cr3t");
            assert_eq!(*refresh_margin, Duration::from_secs(10));
        }
        other => panic!("expected OAuth, got {other:?}"),
    }
}

#[test]
fn env_client_id_and_secret_select_oauth_and_org_list_is_split() {
    let mut config = ClientConfig::default();
    config.apply_env(|name| match name {
        "JUMPCLOUD_CLIENT_ID" => Some("cid".into()),
        "JUMPCLOUD_CLIENT_SECRET" => Some("csecret".into()),
        "JUMPCLOUD_ORG_IDS" => Some(" org1, org2 ,,".into()),
        _ => None,
    });
    assert!(matches!(&config.auth, AuthConfig::Oauth { client_id, .. } if client_id == "cid"));
    assert_eq!(config.org_ids, vec!["org1", "org2"]);
}

#[test]
fn access_errors_name_their_remedy() {
    let unauthorized = FetchError::Unauthorized { org: "o1".into() }.to_string();
    assert!(
        unauthorized.contains("401") && unauthorized.contains("regenerate"),
        "{unauthorized}"
    );
    let disabled = FetchError::DirectoryInsightsDisabled { org: "o2".into() }.to_string();
    assert!(
        disabled.contains("402") && disabled.contains("enable Directory Insights"),
        "{disabled}"
    );
    let forbidden = FetchError::Forbidden {
        org: "o3".into(),
        path: EVENTS_PATH.into(),
    }
    .to_string();
    assert!(
        forbidden.contains("403") && forbidden.contains("Directory Insights: View"),
        "{forbidden}"
    );
}

#[test]
fn event_query_serializes_search_after_verbatim() {
    let query = EventQuery {
        service: vec!["all".into()],
        start_time: "2026-01-01T00:00:00.5Z".into(),
        end_time: "2026-01-01T00:01:00Z".into(),
        limit: Some(10000),
        sort: Some("ASC"),
        search_after: Some(
            RawValue::from_string(r#"[1576181718000,"DZrPyW8BNsa9iKWoOm7h"]"#.into()).unwrap(),
        ),
    };
    let json = serde_json::to_string(&query).unwrap();
    assert_eq!(
        json,
        r#"{"service":["all"],"start_time":"2026-01-01T00:00:00.5Z","end_time":"2026-01-01T00:01:00Z","limit":10000,"sort":"ASC","search_after":[1576181718000,"DZrPyW8BNsa9iKWoOm7h"]}"#
    );
}
