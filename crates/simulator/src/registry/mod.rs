//! A Confluent-compatible schema registry (the REST subset Avro serializers use), served on its
//! own port. In memory; Avro only; BACKWARD compatibility by default.
//!
//! Endpoints: `POST /subjects/{subject}/versions` (register), `POST /subjects/{subject}` (look
//! up), `GET /schemas/ids/{id}`, `GET /subjects`, `GET /subjects/{subject}/versions`,
//! `GET /subjects/{subject}/versions/{version|latest}`, `GET|PUT /config`,
//! `GET|PUT /config/{subject}`, `POST /compatibility/subjects/{subject}/versions/{version|latest}`.
//! Answers use `application/vnd.schemaregistry.v1+json`; errors are Confluent bodies
//! `{"error_code": ..., "message": ...}`.

mod store;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};

pub use store::{
    CompatibilityLevel, RegistryFailure, RegistryStore, SubjectVersion, VersionSelector,
};

/// The registry's content type.
pub const CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";

type SharedStore = Arc<Mutex<RegistryStore>>;

#[derive(Deserialize)]
struct SchemaBody {
    schema: String,
    #[serde(rename = "schemaType", default)]
    schema_type: Option<String>,
}

#[derive(Deserialize)]
struct CompatibilityBody {
    compatibility: String,
}

#[derive(Serialize)]
struct IdAnswer {
    id: u32,
}

#[derive(Serialize)]
struct SchemaAnswer {
    schema: String,
}

#[derive(Serialize)]
struct VersionAnswer {
    subject: String,
    version: u32,
    id: u32,
    schema: String,
}

impl From<SubjectVersion> for VersionAnswer {
    fn from(version: SubjectVersion) -> Self {
        Self {
            subject: version.subject,
            version: version.version,
            id: version.id,
            schema: version.schema,
        }
    }
}

#[derive(Serialize)]
struct ConfigAnswer {
    #[serde(rename = "compatibilityLevel")]
    compatibility_level: String,
}

#[derive(Serialize)]
struct ConfigUpdateAnswer {
    compatibility: String,
}

#[derive(Serialize)]
struct CompatibilityAnswer {
    is_compatible: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    messages: Vec<String>,
}

#[derive(Serialize)]
struct ErrorAnswer<'a> {
    error_code: u32,
    message: &'a str,
}

fn json_response<T: Serialize>(status: StatusCode, body: &T) -> Response {
    let text = serde_json::to_string(body).unwrap_or_else(|_| "{}".to_owned());
    let mut response = (status, text).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    response
}

fn failure_response(failure: &RegistryFailure) -> Response {
    let status = StatusCode::from_u16(failure.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    json_response(
        status,
        &ErrorAnswer {
            error_code: failure.error_code,
            message: &failure.message,
        },
    )
}

fn ok<T: Serialize>(body: &T) -> Response {
    json_response(StatusCode::OK, body)
}

fn answer<T: Serialize>(result: Result<T, RegistryFailure>) -> Response {
    match result {
        Ok(body) => ok(&body),
        Err(failure) => failure_response(&failure),
    }
}

fn internal_error() -> RegistryFailure {
    RegistryFailure {
        status: 500,
        error_code: 50001,
        message: "registry state unavailable".into(),
    }
}

fn with_store<T>(
    store: &SharedStore,
    work: impl FnOnce(&mut RegistryStore) -> Result<T, RegistryFailure>,
) -> Result<T, RegistryFailure> {
    let mut guard = store.lock().map_err(|_| internal_error())?;
    work(&mut guard)
}

/// Parse a request body as JSON whatever its content type (serializers send
/// `application/vnd.schemaregistry.v1+json`).
fn parse_body<T: for<'de> Deserialize<'de>>(body: &Bytes) -> Result<T, RegistryFailure> {
    serde_json::from_slice(body)
        .map_err(|e| RegistryFailure::unprocessable(&format!("Invalid request body: {e}")))
}

fn parse_schema_body(body: &Bytes) -> Result<String, RegistryFailure> {
    let parsed: SchemaBody = parse_body(body)?;
    match parsed.schema_type.as_deref() {
        None | Some("AVRO") => Ok(parsed.schema),
        Some(other) => Err(RegistryFailure::invalid_schema(&format!(
            "schema type {other} is not supported (AVRO only)"
        ))),
    }
}

async fn register(
    State(store): State<SharedStore>,
    Path(subject): Path<String>,
    body: Bytes,
) -> Response {
    answer(parse_schema_body(&body).and_then(|schema| {
        with_store(&store, |s| s.register(&subject, &schema)).map(|id| IdAnswer { id })
    }))
}

async fn lookup(
    State(store): State<SharedStore>,
    Path(subject): Path<String>,
    body: Bytes,
) -> Response {
    answer(parse_schema_body(&body).and_then(|schema| {
        with_store(&store, |s| s.lookup(&subject, &schema)).map(VersionAnswer::from)
    }))
}

async fn schema_by_id(State(store): State<SharedStore>, Path(id): Path<String>) -> Response {
    answer(
        id.parse::<u32>()
            .map_err(|_| RegistryFailure::schema_not_found())
            .and_then(|id| with_store(&store, |s| s.schema_by_id(id)))
            .map(|schema| SchemaAnswer { schema }),
    )
}

async fn subjects(State(store): State<SharedStore>) -> Response {
    answer(with_store(&store, |s| Ok(s.subjects())))
}

async fn versions(State(store): State<SharedStore>, Path(subject): Path<String>) -> Response {
    answer(with_store(&store, |s| s.versions(&subject)))
}

async fn version(
    State(store): State<SharedStore>,
    Path((subject, version)): Path<(String, String)>,
) -> Response {
    answer(
        VersionSelector::parse(&version)
            .and_then(|selector| with_store(&store, |s| s.version(&subject, selector)))
            .map(VersionAnswer::from),
    )
}

async fn get_global_config(State(store): State<SharedStore>) -> Response {
    answer(with_store(&store, |s| {
        Ok(ConfigAnswer {
            compatibility_level: s.global_level().to_string(),
        })
    }))
}

fn parse_level(body: &Bytes) -> Result<CompatibilityLevel, RegistryFailure> {
    let parsed: CompatibilityBody = parse_body(body)?;
    parsed
        .compatibility
        .parse()
        .map_err(|e: String| RegistryFailure::invalid_compatibility_level(&e))
}

async fn put_global_config(State(store): State<SharedStore>, body: Bytes) -> Response {
    answer(parse_level(&body).and_then(|level| {
        with_store(&store, |s| {
            s.set_global_level(level);
            Ok(ConfigUpdateAnswer {
                compatibility: level.to_string(),
            })
        })
    }))
}

async fn get_subject_config(
    State(store): State<SharedStore>,
    Path(subject): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let default_to_global = query.get("defaultToGlobal").is_some_and(|v| v == "true");
    answer(with_store(&store, |s| {
        let level = match s.subject_level(&subject) {
            Some(level) => level,
            None if default_to_global => s.global_level(),
            None => return Err(RegistryFailure::subject_level_config_not_found(&subject)),
        };
        Ok(ConfigAnswer {
            compatibility_level: level.to_string(),
        })
    }))
}

async fn put_subject_config(
    State(store): State<SharedStore>,
    Path(subject): Path<String>,
    body: Bytes,
) -> Response {
    answer(parse_level(&body).and_then(|level| {
        with_store(&store, |s| {
            s.set_subject_level(&subject, level);
            Ok(ConfigUpdateAnswer {
                compatibility: level.to_string(),
            })
        })
    }))
}

async fn compatibility(
    State(store): State<SharedStore>,
    Path((subject, version)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    answer(
        VersionSelector::parse(&version)
            .and_then(|selector| parse_schema_body(&body).map(|schema| (selector, schema)))
            .and_then(|(selector, schema)| {
                with_store(&store, |s| s.is_compatible(&subject, selector, &schema))
            })
            .map(|result| match result {
                Ok(()) => CompatibilityAnswer {
                    is_compatible: true,
                    messages: Vec::new(),
                },
                Err(message) => CompatibilityAnswer {
                    is_compatible: false,
                    messages: vec![message],
                },
            }),
    )
}

/// The registry's routes, with a fresh empty store.
pub fn router() -> Router {
    router_with_store(Arc::new(Mutex::new(RegistryStore::default())))
}

/// The registry's routes over a given store (to share or inspect it).
pub fn router_with_store(store: Arc<Mutex<RegistryStore>>) -> Router {
    Router::new()
        .route("/subjects", get(subjects))
        .route("/subjects/{subject}", post(lookup))
        .route("/subjects/{subject}/versions", get(versions).post(register))
        .route("/subjects/{subject}/versions/{version}", get(version))
        .route("/schemas/ids/{id}", get(schema_by_id))
        .route("/config", get(get_global_config).put(put_global_config))
        .route(
            "/config/{subject}",
            get(get_subject_config).put(put_subject_config),
        )
        .route(
            "/compatibility/subjects/{subject}/versions/{version}",
            post(compatibility),
        )
        .with_state(store)
}
