//! The registry client against the real schema registry the tests run (Apicurio Registry's
//! Confluent-compatible API at `SCHEMA_REGISTRY_URL`).

use producer::{RegistryClient, RegistryConfig, RegistryError};
use serde_json::json;

fn schema(fields: serde_json::Value) -> String {
    json!({"type": "record", "name": "t.R", "fields": fields}).to_string()
}

fn canonical(schema: &str) -> String {
    apache_avro::Schema::parse_str(schema)
        .unwrap()
        .canonical_form()
}

/// BACKWARD compatibility for one subject (Confluent's default; Apicurio's global default is
/// NONE).
async fn set_backward(url: &str, subject: &str) {
    let response = reqwest::Client::new()
        .put(format!("{url}/config/{subject}"))
        .json(&json!({"compatibility": "BACKWARD"}))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{response:?}");
}

#[tokio::test]
async fn register_look_up_and_fetch_by_id() {
    let url = testkit::registry_url();
    let subject = format!("{}-value", testkit::unique_name("register"));
    let client = RegistryClient::new(&RegistryConfig::new(&url)).unwrap();
    let v1 = schema(json!([{"name": "a", "type": "int"}]));
    let id = client.register(&subject, &v1).await.unwrap();
    assert_eq!(client.register(&subject, &v1).await.unwrap(), id, "cached");
    // A second client (no cache) gets the same id from the registry.
    let other = RegistryClient::new(&RegistryConfig::new(&url)).unwrap();
    assert_eq!(other.register(&subject, &v1).await.unwrap(), id);
    assert_eq!(other.lookup(&subject, &v1).await.unwrap(), Some(id));
    assert_eq!(
        other
            .lookup(&format!("{subject}-missing"), &v1)
            .await
            .unwrap(),
        None
    );
    // The registry may store an equivalent form of the text: compare canonical forms.
    assert_eq!(
        canonical(&other.schema_by_id(id).await.unwrap()),
        canonical(&v1)
    );
    assert!(matches!(
        other.schema_by_id(id + 100).await,
        Err(RegistryError::NotFound {
            error_code: 40403,
            ..
        })
    ));
}

#[tokio::test]
async fn compatibility_and_rejections_are_typed_errors() {
    let url = testkit::registry_url();
    let client = RegistryClient::new(&RegistryConfig::new(&url)).unwrap();
    let v1 = schema(json!([{"name": "a", "type": "int"}]));
    let v2 = schema(
        json!([{"name": "a", "type": "int"}, {"name": "b", "type": ["null", "string"], "default": null}]),
    );
    let breaking = schema(json!([{"name": "a", "type": "int"}, {"name": "c", "type": "string"}]));
    let subject = format!("{}-value", testkit::unique_name("compat"));
    set_backward(&url, &subject).await;
    assert!(
        client.is_compatible(&subject, &v1).await.unwrap(),
        "no versions yet"
    );
    client.register(&subject, &v1).await.unwrap();
    assert!(client.is_compatible(&subject, &v2).await.unwrap());
    assert!(!client.is_compatible(&subject, &breaking).await.unwrap());
    match client.register(&subject, &breaking).await {
        Err(RegistryError::Incompatible {
            subject: got,
            message,
        }) => {
            assert_eq!(got, subject);
            assert!(message.to_lowercase().contains("incompatible"), "{message}");
        }
        other => panic!("expected Incompatible, got {other:?}"),
    }
    assert!(matches!(
        client.register(&subject, "{\"type\": \"nonsense\"}").await,
        Err(RegistryError::InvalidSchema { .. })
    ));
}
