//! A client for Confluent-compatible schema registries (Confluent, Karapace, Apicurio's
//! compatibility API, the simulator's): register, look up, fetch by id, with an id cache.

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use reqwest::{StatusCode, Url};
use serde::{Deserialize, Serialize};

use secrecy::{ExposeSecret, SecretString};

use crate::config::RegistryConfig;

/// The registry's content type.
pub const REGISTRY_CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";

/// Why a registry call failed.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The base URL is not a URL.
    #[error("schema registry URL is invalid: {0}")]
    InvalidUrl(String),
    /// Transport failure (connect, timeout, TLS). The URL is not included (it may hold
    /// credentials).
    #[error("schema registry request failed: {0}")]
    Transport(String),
    /// The registry's TLS certificate was refused (unknown CA, wrong host, expired): not
    /// retried.
    #[error(
        "schema registry TLS failed: {0}; check kafka.schema_registry.ca_location (the CA that signed the registry's certificate) and that the URL names a host the certificate is for"
    )]
    Tls(String),
    /// `ca_location` cannot be read or holds no certificate.
    #[error("schema registry ca_location {path}: {message}")]
    CaLocation {
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
    /// The registry refused the credentials (401) or the access (403).
    #[error(
        "schema registry answered {status}: check kafka.schema_registry.username and the password (kafka.schema_registry.password, SCHEMA_REGISTRY_PASSWORD or SCHEMA_REGISTRY_PASSWORD_FILE), and that this user may register subjects"
    )]
    Unauthorized {
        /// 401 or 403.
        status: u16,
    },
    /// The registry rejected the schema as incompatible with the subject's versions (409).
    #[error("schema registry rejected the schema for subject {subject} as incompatible: {message}")]
    Incompatible {
        /// The subject.
        subject: String,
        /// The registry's message.
        message: String,
    },
    /// The registry rejected the schema as invalid (422).
    #[error("schema registry rejected the schema for subject {subject} as invalid: {message}")]
    InvalidSchema {
        /// The subject.
        subject: String,
        /// The registry's message.
        message: String,
    },
    /// Subject, version or schema not found (404).
    #[error("schema registry: not found ({error_code}): {message}")]
    NotFound {
        /// Confluent error code (40401 subject, 40402 version, 40403 schema).
        error_code: i64,
        /// The registry's message.
        message: String,
    },
    /// Any other error status.
    #[error("schema registry answered {status} ({error_code}): {message}")]
    Status {
        /// HTTP status.
        status: u16,
        /// Confluent error code, 0 if the body had none.
        error_code: i64,
        /// The registry's message or body.
        message: String,
    },
    /// A success answer that is not the expected JSON.
    #[error("schema registry answer is not understood: {0}")]
    BadAnswer(String),
}

/// A transport error with its causes (reqwest's own text is only "error sending request"), the
/// URL left out; a refused TLS certificate becomes [`RegistryError::Tls`].
pub fn transport(error: reqwest::Error) -> RegistryError {
    let error = error.without_url();
    let mut message = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    if message.contains("certificate") {
        RegistryError::Tls(message)
    } else {
        RegistryError::Transport(message)
    }
}

/// The certificates of the PEM file at `path`.
fn read_certificates(path: &str) -> Result<Vec<reqwest::Certificate>, RegistryError> {
    let failed = |message: String| RegistryError::CaLocation {
        path: path.to_owned(),
        message,
    };
    let pem = std::fs::read(path).map_err(|e| failed(e.to_string()))?;
    let certificates =
        reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| failed(e.to_string()))?;
    if certificates.is_empty() {
        return Err(failed("no PEM certificate in the file".into()));
    }
    Ok(certificates)
}

#[derive(Serialize)]
struct SchemaRequest<'a> {
    schema: &'a str,
    #[serde(rename = "schemaType", skip_serializing_if = "Option::is_none")]
    schema_type: Option<&'a str>,
}

#[derive(Deserialize)]
struct IdAnswer {
    id: u32,
}

#[derive(Deserialize)]
struct SchemaAnswer {
    schema: String,
}

#[derive(Deserialize)]
struct ErrorAnswer {
    #[serde(default)]
    error_code: i64,
    #[serde(default)]
    message: String,
}

#[derive(Deserialize)]
struct CompatibilityAnswer {
    is_compatible: bool,
}

/// A schema registry client. Registered ids are cached per (subject, schema text).
#[derive(Debug)]
pub struct RegistryClient {
    http: reqwest::Client,
    base: Url,
    username: Option<String>,
    password: Option<SecretString>,
    max_retries: usize,
    ids: Mutex<HashMap<(String, String), u32>>,
    schemas: Mutex<HashMap<u32, String>>,
}

impl RegistryClient {
    /// A client for the registry in `config`.
    pub fn new(config: &RegistryConfig) -> Result<Self, RegistryError> {
        let mut base =
            Url::parse(&config.url).map_err(|e| RegistryError::InvalidUrl(e.to_string()))?;
        if base.cannot_be_a_base() {
            return Err(RegistryError::InvalidUrl("not a base URL".into()));
        }
        // Credentials in the URL are moved out so they never show in errors.
        let mut username = config.username.clone();
        let mut password = config.password.clone();
        if !base.username().is_empty() {
            username.get_or_insert_with(|| base.username().to_owned());
            if let Some(url_password) = base.password() {
                password.get_or_insert_with(|| SecretString::from(url_password));
            }
            let _ = base.set_username("");
            let _ = base.set_password(None);
        }
        let mut builder =
            reqwest::Client::builder().timeout(Duration::from_millis(config.timeout_ms));
        if let Some(path) = &config.ca_location {
            for certificate in read_certificates(path)? {
                builder = builder.add_root_certificate(certificate);
            }
        }
        let http = builder.build().map_err(transport)?;
        Ok(Self {
            http,
            base,
            username,
            password,
            max_retries: config.max_retries,
            ids: Mutex::new(HashMap::new()),
            schemas: Mutex::new(HashMap::new()),
        })
    }

    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty();
            for segment in segments {
                path.push(segment);
            }
        }
        url
    }

    fn request(&self, method: reqwest::Method, url: Url) -> reqwest::RequestBuilder {
        let builder = self
            .http
            .request(method, url)
            .header(reqwest::header::ACCEPT, REGISTRY_CONTENT_TYPE);
        match &self.username {
            Some(user) => builder.basic_auth(
                user,
                self.password.as_ref().map(ExposeSecret::expose_secret),
            ),
            None => builder,
        }
    }

    /// Send with retries on transport failures and 5xx answers (the registry restarting);
    /// 4xx answers are final.
    async fn send(
        &self,
        builder: reqwest::RequestBuilder,
        subject: &str,
    ) -> Result<String, RegistryError> {
        let attempt = || async {
            let request = builder
                .try_clone()
                .ok_or_else(|| RegistryError::Transport("request body cannot be retried".into()))?;
            self.send_once(request, subject).await
        };
        attempt
            .retry(
                ExponentialBuilder::default()
                    .with_min_delay(Duration::from_millis(100))
                    .with_max_delay(Duration::from_secs(2))
                    .with_max_times(self.max_retries),
            )
            .when(|error| {
                matches!(error, RegistryError::Transport(_))
                    || matches!(error, RegistryError::Status { status, .. } if *status >= 500)
            })
            .notify(|error, delay| {
                tracing::warn!(%error, ?delay, "schema registry request failed; retrying");
            })
            .await
    }

    async fn send_once(
        &self,
        builder: reqwest::RequestBuilder,
        subject: &str,
    ) -> Result<String, RegistryError> {
        let response = builder.send().await.map_err(transport)?;
        let status = response.status();
        let body = response.text().await.map_err(transport)?;
        if status.is_success() {
            return Ok(body);
        }
        let (error_code, message) = match serde_json::from_str::<ErrorAnswer>(&body) {
            Ok(answer) => (answer.error_code, answer.message),
            Err(_) => (0, body.chars().take(500).collect()),
        };
        Err(match status {
            StatusCode::CONFLICT => RegistryError::Incompatible {
                subject: subject.to_owned(),
                message,
            },
            StatusCode::UNPROCESSABLE_ENTITY => RegistryError::InvalidSchema {
                subject: subject.to_owned(),
                message,
            },
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => RegistryError::Unauthorized {
                status: status.as_u16(),
            },
            StatusCode::NOT_FOUND => RegistryError::NotFound {
                error_code,
                message,
            },
            other => RegistryError::Status {
                status: other.as_u16(),
                error_code,
                message,
            },
        })
    }

    fn schema_body(schema: &str) -> Result<String, RegistryError> {
        serde_json::to_string(&SchemaRequest {
            schema,
            schema_type: None,
        })
        .map_err(|e| RegistryError::BadAnswer(e.to_string()))
    }

    /// Register an Avro schema under `subject` (`POST /subjects/{subject}/versions`) and return
    /// its id. The same schema again returns the same id (cached after the first call).
    pub async fn register(&self, subject: &str, schema: &str) -> Result<u32, RegistryError> {
        let cache_key = (subject.to_owned(), schema.to_owned());
        if let Some(id) = self
            .ids
            .lock()
            .ok()
            .and_then(|ids| ids.get(&cache_key).copied())
        {
            return Ok(id);
        }
        let request = self
            .request(
                reqwest::Method::POST,
                self.url(&["subjects", subject, "versions"]),
            )
            .header(reqwest::header::CONTENT_TYPE, REGISTRY_CONTENT_TYPE)
            .body(Self::schema_body(schema)?);
        let body = self.send(request, subject).await?;
        let answer: IdAnswer =
            serde_json::from_str(&body).map_err(|e| RegistryError::BadAnswer(e.to_string()))?;
        if let Ok(mut ids) = self.ids.lock() {
            ids.insert(cache_key, answer.id);
        }
        if let Ok(mut schemas) = self.schemas.lock() {
            schemas.insert(answer.id, schema.to_owned());
        }
        Ok(answer.id)
    }

    /// Look up the id of `schema` under `subject` (`POST /subjects/{subject}`); `None` when the
    /// subject or the schema is not registered.
    pub async fn lookup(&self, subject: &str, schema: &str) -> Result<Option<u32>, RegistryError> {
        let request = self
            .request(reqwest::Method::POST, self.url(&["subjects", subject]))
            .header(reqwest::header::CONTENT_TYPE, REGISTRY_CONTENT_TYPE)
            .body(Self::schema_body(schema)?);
        match self.send(request, subject).await {
            Ok(body) => {
                let answer: IdAnswer = serde_json::from_str(&body)
                    .map_err(|e| RegistryError::BadAnswer(e.to_string()))?;
                Ok(Some(answer.id))
            }
            Err(RegistryError::NotFound { .. }) => Ok(None),
            Err(other) => Err(other),
        }
    }

    /// Whether `schema` is compatible with the latest version of `subject`
    /// (`POST /compatibility/subjects/{subject}/versions/latest`). A subject with no versions
    /// is compatible.
    pub async fn is_compatible(&self, subject: &str, schema: &str) -> Result<bool, RegistryError> {
        let request = self
            .request(
                reqwest::Method::POST,
                self.url(&["compatibility", "subjects", subject, "versions", "latest"]),
            )
            .header(reqwest::header::CONTENT_TYPE, REGISTRY_CONTENT_TYPE)
            .body(Self::schema_body(schema)?);
        match self.send(request, subject).await {
            Ok(body) => {
                let answer: CompatibilityAnswer = serde_json::from_str(&body)
                    .map_err(|e| RegistryError::BadAnswer(e.to_string()))?;
                Ok(answer.is_compatible)
            }
            Err(RegistryError::NotFound { .. }) => Ok(true),
            Err(other) => Err(other),
        }
    }

    /// Every subject (`GET /subjects`): what `check` asks to see that the registry answers and
    /// accepts the credentials.
    pub async fn subjects(&self) -> Result<Vec<String>, RegistryError> {
        let request = self.request(reqwest::Method::GET, self.url(&["subjects"]));
        let body = self.send(request, "").await?;
        serde_json::from_str(&body).map_err(|e| RegistryError::BadAnswer(e.to_string()))
    }

    /// The schema text with this id (`GET /schemas/ids/{id}`), cached.
    pub async fn schema_by_id(&self, id: u32) -> Result<String, RegistryError> {
        if let Some(schema) = self.schemas.lock().ok().and_then(|s| s.get(&id).cloned()) {
            return Ok(schema);
        }
        let request = self.request(
            reqwest::Method::GET,
            self.url(&["schemas", "ids", &id.to_string()]),
        );
        let body = self.send(request, "").await?;
        let answer: SchemaAnswer =
            serde_json::from_str(&body).map_err(|e| RegistryError::BadAnswer(e.to_string()))?;
        if let Ok(mut schemas) = self.schemas.lock() {
            schemas.insert(id, answer.schema.clone());
        }
        Ok(answer.schema)
    }
}
