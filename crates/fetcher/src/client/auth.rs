//! OAuth 2.0 access-token cache: when to refresh.

use secrecy::SecretString;
use std::time::{Duration, Instant};

/// Lifetime assumed when the token response has no `expires_in` (as jc-cli does).
pub const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);

/// A cached bearer token.
#[derive(Clone, Debug)]
pub struct AccessToken {
    /// The token (redacted in `Debug`).
    pub token: SecretString,
    /// When it was obtained.
    pub obtained_at: Instant,
    /// Lifetime the server announced.
    pub lifetime: Duration,
}

impl AccessToken {
    /// Time after which the token is refreshed: `lifetime - margin`, where the margin is capped at
    /// half the lifetime so short-lived tokens are still used.
    pub fn refresh_at(&self, margin: Duration) -> Instant {
        let margin = margin.min(self.lifetime / 2);
        self.obtained_at + (self.lifetime - margin)
    }

    /// True when the token must be refreshed before use at `now`.
    pub fn needs_refresh(&self, now: Instant, margin: Duration) -> bool {
        now >= self.refresh_at(margin)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(lifetime_secs: u64, obtained_at: Instant) -> AccessToken {
        AccessToken {
            token: SecretString::from("t"),
            obtained_at,
            lifetime: Duration::from_secs(lifetime_secs),
        }
    }

    #[test]
    fn refreshes_margin_before_expiry() {
        let start = Instant::now();
        let access = token(3600, start);
        let margin = Duration::from_secs(30);
        assert!(!access.needs_refresh(start + Duration::from_secs(3569), margin));
        assert!(access.needs_refresh(start + Duration::from_secs(3570), margin));
        assert!(access.needs_refresh(start + Duration::from_secs(4000), margin));
    }

    #[test]
    fn short_lived_tokens_use_half_their_lifetime_as_margin() {
        let start = Instant::now();
        let access = token(10, start);
        let margin = Duration::from_secs(30);
        assert!(!access.needs_refresh(start + Duration::from_secs(4), margin));
        assert!(access.needs_refresh(start + Duration::from_secs(5), margin));
    }

    #[test]
    fn debug_hides_the_token() {
        let access = token(10, Instant::now());
        assert!(!format!("{access:?}").contains("\"t\""));
        assert!(format!("{access:?}").contains("[REDACTED]"));
    }
}
