//! The documented configuration file parses into the fetcher's config structs with the
//! documented defaults.

use fetcher::{AuthConfig, ClientConfig, EventsConfig, Region};
use secrecy::ExposeSecret;
use serde::Deserialize;
use std::time::Duration;

#[derive(Deserialize)]
struct ConfigFile {
    jumpcloud: ClientConfig,
    events: EventsConfig,
}

#[test]
fn documented_config_file_parses_to_the_defaults() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/fetcher-config.toml"
    ))
    .unwrap();
    let file: ConfigFile = toml::from_str(&text).unwrap();
    assert_eq!(file.events, EventsConfig::default());
    let defaults = ClientConfig::default();
    assert_eq!(file.jumpcloud.region, Region::Us);
    assert_eq!(file.jumpcloud.org_ids.len(), 2);
    assert_eq!(file.jumpcloud.retry, defaults.retry);
    assert_eq!(file.jumpcloud.request_timeout, defaults.request_timeout);
    assert_eq!(file.jumpcloud.max_requests_per_sec, 10);
    match &file.jumpcloud.auth {
        AuthConfig::Oauth {
            client_id,
            client_secret,
            token_url,
            refresh_margin,
        } => {
            assert_eq!(client_id, "example-client-id");
            assert_eq!(client_secret.expose_secret(), "example-secret");
            assert_eq!(token_url, &None);
            assert_eq!(*refresh_margin, Duration::from_secs(30));
        }
        other => panic!("expected OAuth, got {other:?}"),
    }
    assert!(!format!("{:?}", file.jumpcloud).contains("example-secret"));
}

#[test]
fn unknown_keys_are_rejected_with_their_name() {
    let error = toml::from_str::<ConfigFile>("[jumpcloud]\napi_kee = \"x\"\n[events]\n")
        .err()
        .unwrap();
    assert!(error.to_string().contains("api_kee"), "{error}");
}
