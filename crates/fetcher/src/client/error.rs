//! Errors of the client and the event sources. Those that stop a poll name the remedy.

use crate::checkpoint::CheckpointError;

/// Why a request, a poll or an acknowledgement failed. A poll error never advances a cursor.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// 401: the credential is not accepted.
    #[error(
        "JumpCloud answered 401 Unauthorized (organisation {org:?}): the API key or service-account credentials are invalid or expired; regenerate the API key (or the service-account client secret) in the JumpCloud admin console and update the configuration"
    )]
    Unauthorized {
        /// Organisation id of the request (empty = the credential's own organisation).
        org: String,
    },
    /// 402: Directory Insights is not enabled for the organisation.
    #[error(
        "JumpCloud answered 402 Payment Required for organisation {org:?}: Directory Insights is not enabled for this organisation; enable Directory Insights for the org (or remove it from jumpcloud.org_ids)"
    )]
    DirectoryInsightsDisabled {
        /// Organisation id.
        org: String,
    },
    /// 403: the admin role lacks the permission.
    #[error(
        "JumpCloud answered 403 Forbidden for {path} (organisation {org:?}): the administrator behind the credential lacks the permission; grant the admin role \"Directory Insights: View\" (or the console permission this call needs)"
    )]
    Forbidden {
        /// Organisation id.
        org: String,
        /// Request path.
        path: String,
    },
    /// Another non-retryable status (400, 404, 409, ...).
    #[error("JumpCloud rejected {method} {path} with HTTP {status}: {message}")]
    Rejected {
        /// HTTP method.
        method: String,
        /// Request path.
        path: String,
        /// HTTP status.
        status: u16,
        /// The response's `message` (or body excerpt).
        message: String,
    },
    /// Retries exhausted on 429, 5xx, timeouts, resets or truncated bodies.
    #[error("{method} {path} still failing after {attempts} attempts: {reason}")]
    RetriesExhausted {
        /// HTTP method.
        method: String,
        /// Request path.
        path: String,
        /// Attempts made.
        attempts: usize,
        /// Last failure.
        reason: String,
    },
    /// A successful response the client cannot use (e.g. no `X-Search_after` on a full page).
    #[error("unexpected response from {path}: {reason}")]
    Protocol {
        /// Request path.
        path: String,
        /// What was wrong.
        reason: String,
    },
    /// OAuth token request failed.
    #[error("could not obtain an OAuth access token from {token_url}: {reason}")]
    OAuth {
        /// Token endpoint.
        token_url: String,
        /// What went wrong (never the secret).
        reason: String,
    },
    /// Invalid configuration.
    #[error("invalid fetcher configuration: {0}")]
    Config(String),
    /// Checkpoint store failure.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// An acknowledgement token that this source did not hand out, or acked twice.
    #[error("invalid acknowledgement: {0}")]
    InvalidAck(String),
}
