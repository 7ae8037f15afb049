//! The schema registry over real HTTP: the Confluent REST subset, error bodies, compatibility.

use serde_json::{Value, json};

const CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";

struct Registry {
    base: String,
    http: reqwest::Client,
}

impl Registry {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, simulator::registry::router())
                .await
                .unwrap();
        });
        Self {
            base: format!("http://{address}"),
            http: reqwest::Client::new(),
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            request = request
                .header("content-type", CONTENT_TYPE)
                .body(body.to_string());
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        assert_eq!(
            response
                .headers()
                .get("content-type")
                .unwrap()
                .to_str()
                .unwrap(),
            CONTENT_TYPE
        );
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap())
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.call(reqwest::Method::GET, path, None).await
    }

    async fn put(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::PUT, path, Some(body)).await
    }
}

fn record_schema(fields: Value) -> String {
    json!({"type": "record", "name": "ocsf.v1_8_0.Test", "fields": fields}).to_string()
}

fn v1() -> String {
    record_schema(json!([{"name": "class_uid", "type": "int"}]))
}

/// v1 plus an optional field with a default: backward compatible.
fn v2() -> String {
    record_schema(json!([
        {"name": "class_uid", "type": "int"},
        {"name": "message", "type": ["null", "string"], "default": null}
    ]))
}

/// A new required field without a default: not backward compatible with v1.
fn incompatible() -> String {
    record_schema(json!([
        {"name": "class_uid", "type": "int"},
        {"name": "severity_id", "type": "int"}
    ]))
}

#[tokio::test]
async fn register_returns_ids_and_same_schema_same_id() {
    let registry = Registry::start().await;
    let (status, body) = registry
        .post(
            "/subjects/ocsf.test-value/versions",
            json!({"schema": v1()}),
        )
        .await;
    assert_eq!(status, 200);
    let id = body["id"].as_u64().unwrap();
    let (status, again) = registry
        .post(
            "/subjects/ocsf.test-value/versions",
            json!({"schema": v1(), "schemaType": "AVRO"}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(again["id"].as_u64().unwrap(), id);
    // Same schema under another subject: same id.
    let (_, other) = registry
        .post("/subjects/other-value/versions", json!({"schema": v1()}))
        .await;
    assert_eq!(other["id"].as_u64().unwrap(), id);
    // A new version gets a new id.
    let (status, second) = registry
        .post(
            "/subjects/ocsf.test-value/versions",
            json!({"schema": v2()}),
        )
        .await;
    assert_eq!(status, 200);
    assert_ne!(second["id"].as_u64().unwrap(), id);

    let (_, subjects) = registry.get("/subjects").await;
    assert_eq!(subjects, json!(["ocsf.test-value", "other-value"]));
    let (_, versions) = registry.get("/subjects/ocsf.test-value/versions").await;
    assert_eq!(versions, json!([1, 2]));
    let (status, latest) = registry
        .get("/subjects/ocsf.test-value/versions/latest")
        .await;
    assert_eq!(status, 200);
    assert_eq!(latest["version"], json!(2));
    assert_eq!(latest["id"], second["id"]);
    assert_eq!(latest["subject"], json!("ocsf.test-value"));
    assert_eq!(latest["schema"], json!(v2()));
    let (_, first) = registry.get("/subjects/ocsf.test-value/versions/1").await;
    assert_eq!(first["id"].as_u64().unwrap(), id);
    assert_eq!(first["schema"], json!(v1()));

    let (status, by_id) = registry.get(&format!("/schemas/ids/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(by_id["schema"], json!(v1()));
}

#[tokio::test]
async fn look_up_finds_registered_schema_and_reports_missing_ones() {
    let registry = Registry::start().await;
    let (_, registered) = registry
        .post("/subjects/s-value/versions", json!({"schema": v1()}))
        .await;
    // Whitespace differences are the same schema.
    let reformatted =
        serde_json::to_string_pretty(&serde_json::from_str::<Value>(&v1()).unwrap()).unwrap();
    let (status, found) = registry
        .post("/subjects/s-value", json!({"schema": reformatted}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(found["id"], registered["id"]);
    assert_eq!(found["version"], json!(1));
    assert_eq!(found["subject"], json!("s-value"));

    let (status, missing) = registry
        .post("/subjects/s-value", json!({"schema": v2()}))
        .await;
    assert_eq!(status, 404);
    assert_eq!(missing["error_code"], json!(40403));
    let (status, no_subject) = registry
        .post("/subjects/nope-value", json!({"schema": v1()}))
        .await;
    assert_eq!(status, 404);
    assert_eq!(no_subject["error_code"], json!(40401));
}

#[tokio::test]
async fn not_found_and_invalid_requests_use_confluent_error_codes() {
    let registry = Registry::start().await;
    let (status, body) = registry.get("/subjects/nope/versions").await;
    assert_eq!((status, body["error_code"].clone()), (404, json!(40401)));
    assert!(body["message"].as_str().unwrap().contains("nope"));
    registry
        .post("/subjects/s/versions", json!({"schema": v1()}))
        .await;
    let (status, body) = registry.get("/subjects/s/versions/7").await;
    assert_eq!((status, body["error_code"].clone()), (404, json!(40402)));
    let (status, body) = registry.get("/subjects/s/versions/zero").await;
    assert_eq!((status, body["error_code"].clone()), (422, json!(42202)));
    let (status, body) = registry.get("/schemas/ids/999").await;
    assert_eq!((status, body["error_code"].clone()), (404, json!(40403)));
    let (status, body) = registry
        .post(
            "/subjects/s/versions",
            json!({"schema": "{\"type\": \"record\", \"name\": \"x\"}"}),
        )
        .await;
    assert_eq!((status, body["error_code"].clone()), (422, json!(42201)));
    let (status, body) = registry
        .post(
            "/subjects/s/versions",
            json!({"schema": "{}", "schemaType": "PROTOBUF"}),
        )
        .await;
    assert_eq!((status, body["error_code"].clone()), (422, json!(42201)));
}

#[tokio::test]
async fn backward_compatibility_is_enforced_by_default() {
    let registry = Registry::start().await;
    let (_, config) = registry.get("/config").await;
    assert_eq!(config, json!({"compatibilityLevel": "BACKWARD"}));
    registry
        .post("/subjects/c-value/versions", json!({"schema": v1()}))
        .await;

    let (status, check) = registry
        .post(
            "/compatibility/subjects/c-value/versions/latest",
            json!({"schema": incompatible()}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(check["is_compatible"], json!(false));
    let (_, check) = registry
        .post(
            "/compatibility/subjects/c-value/versions/1",
            json!({"schema": v2()}),
        )
        .await;
    assert_eq!(check["is_compatible"], json!(true));

    let (status, rejected) = registry
        .post(
            "/subjects/c-value/versions",
            json!({"schema": incompatible()}),
        )
        .await;
    assert_eq!(status, 409);
    assert_eq!(rejected["error_code"], json!(409));
    assert!(
        rejected["message"]
            .as_str()
            .unwrap()
            .contains("incompatible")
    );
    let (_, versions) = registry.get("/subjects/c-value/versions").await;
    assert_eq!(versions, json!([1]), "a rejected schema adds no version");

    // Subject-level NONE lets it through; other subjects keep BACKWARD.
    let (status, body) = registry.get("/config/c-value").await;
    assert_eq!((status, body["error_code"].clone()), (404, json!(40408)));
    let (_, body) = registry.get("/config/c-value?defaultToGlobal=true").await;
    assert_eq!(body, json!({"compatibilityLevel": "BACKWARD"}));
    let (status, body) = registry
        .put("/config/c-value", json!({"compatibility": "NONE"}))
        .await;
    assert_eq!((status, body), (200, json!({"compatibility": "NONE"})));
    let (_, body) = registry.get("/config/c-value").await;
    assert_eq!(body, json!({"compatibilityLevel": "NONE"}));
    let (status, _) = registry
        .post(
            "/subjects/c-value/versions",
            json!({"schema": incompatible()}),
        )
        .await;
    assert_eq!(status, 200);
    let (_, versions) = registry.get("/subjects/c-value/versions").await;
    assert_eq!(versions, json!([1, 2]));
}

#[tokio::test]
async fn forward_and_global_config_changes_apply() {
    let registry = Registry::start().await;
    let (status, body) = registry
        .put("/config", json!({"compatibility": "FORWARD"}))
        .await;
    assert_eq!((status, body), (200, json!({"compatibility": "FORWARD"})));
    let (_, config) = registry.get("/config").await;
    assert_eq!(config, json!({"compatibilityLevel": "FORWARD"}));
    registry
        .post("/subjects/f/versions", json!({"schema": v2()}))
        .await;
    // Dropping a field with a default: the old schema can still read new data -> FORWARD ok.
    let (status, _) = registry
        .post("/subjects/f/versions", json!({"schema": v1()}))
        .await;
    assert_eq!(status, 200);
    let (status, body) = registry
        .put("/config", json!({"compatibility": "SIDEWAYS"}))
        .await;
    assert_eq!((status, body["error_code"].clone()), (422, json!(42203)));
}

#[tokio::test]
async fn the_committed_ocsf_schemas_register_and_are_self_compatible() {
    let registry = Registry::start().await;
    let schema_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../schemas/avro");
    let mut ids = Vec::new();
    for entry in std::fs::read_dir(schema_dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let subject = format!("ocsf.{}-value", path.file_stem().unwrap().to_string_lossy());
        let (status, body) = registry
            .post(
                &format!("/subjects/{subject}/versions"),
                json!({"schema": text}),
            )
            .await;
        assert_eq!(status, 200, "{subject}: {body}");
        ids.push(body["id"].as_u64().unwrap());
        let (_, check) = registry
            .post(
                &format!("/compatibility/subjects/{subject}/versions/latest"),
                json!({"schema": text}),
            )
            .await;
        assert_eq!(check["is_compatible"], json!(true), "{subject}");
    }
    assert_eq!(ids.len(), 9);
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 9, "each class schema has its own id");
}
