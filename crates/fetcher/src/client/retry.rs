//! Backoff policy: which failures are retried and how long to wait.

use super::config::RetryConfig;
use backon::ExponentialBuilder;
use reqwest::header::HeaderMap;
use std::time::Duration;

/// The result of one attempt that did not succeed.
#[derive(Debug)]
pub(crate) enum AttemptError {
    /// Worth retrying (429, 5xx, timeout, reset, truncated body).
    Retryable {
        /// What happened.
        reason: String,
        /// The server's `Retry-After`, if any.
        retry_after: Option<Duration>,
    },
    /// Not worth retrying.
    Fatal(crate::FetchError),
}

/// True for statuses that are retried: 408, 425, 429 and every 5xx.
pub fn is_retryable_status(status: u16) -> bool {
    matches!(status, 408 | 425 | 429) || (500..=599).contains(&status)
}

/// Parses `Retry-After` in seconds (integer or decimal). HTTP dates are ignored (the backoff
/// delay is used instead).
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    let seconds: f64 = value.trim().parse().ok()?;
    Duration::try_from_secs_f64(seconds).ok()
}

/// Exponential backoff with jitter from the configuration.
pub fn backoff(config: &RetryConfig) -> ExponentialBuilder {
    ExponentialBuilder::default()
        .with_jitter()
        .with_factor(2.0)
        .with_min_delay(config.min_delay)
        .with_max_delay(config.max_delay)
        .with_max_times(config.max_retries)
}

/// The delay before the next retry: `Retry-After` (capped) when the server sent one, else the
/// backoff's. `None` (retries exhausted) stays `None`.
pub fn next_delay(
    backoff_delay: Option<Duration>,
    server_retry_after: Option<Duration>,
    cap: Duration,
) -> Option<Duration> {
    let backoff_delay = backoff_delay?;
    Some(match server_retry_after {
        Some(server) => server.min(cap),
        None => backoff_delay,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use backon::BackoffBuilder;
    use reqwest::header::{HeaderValue, RETRY_AFTER};

    #[test]
    fn retries_only_transient_statuses() {
        for status in [408, 425, 429, 500, 502, 503, 504] {
            assert!(is_retryable_status(status), "{status}");
        }
        for status in [200, 400, 401, 402, 403, 404, 409] {
            assert!(!is_retryable_status(status), "{status}");
        }
    }

    #[test]
    fn reads_retry_after_seconds() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert(RETRY_AFTER, HeaderValue::from_static("3"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(3)));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("0.25"));
        assert_eq!(retry_after(&headers), Some(Duration::from_millis(250)));
        headers.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn retry_after_wins_but_is_capped_and_never_extends_retries() {
        let cap = Duration::from_secs(60);
        let backoff_delay = Some(Duration::from_millis(700));
        assert_eq!(next_delay(backoff_delay, None, cap), backoff_delay);
        assert_eq!(
            next_delay(backoff_delay, Some(Duration::from_secs(5)), cap),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            next_delay(backoff_delay, Some(Duration::from_secs(3600)), cap),
            Some(cap)
        );
        assert_eq!(next_delay(None, Some(Duration::from_secs(5)), cap), None);
    }

    #[test]
    fn backoff_grows_is_capped_and_stops() {
        let config = RetryConfig {
            max_retries: 6,
            min_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(800),
            max_retry_after: Duration::from_secs(1),
        };
        let delays: Vec<Duration> = backoff(&config).build().collect();
        assert_eq!(delays.len(), 6);
        // With jitter each delay is in [base, 2*base]; bases 100,200,400,800,800,800 ms.
        let bases = [100u64, 200, 400, 800, 800, 800];
        for (delay, base) in delays.iter().zip(bases) {
            assert!(
                *delay >= Duration::from_millis(base),
                "{delay:?} < {base}ms"
            );
            assert!(
                *delay <= Duration::from_millis(2 * base),
                "{delay:?} > 2*{base}ms"
            );
        }
    }
}
