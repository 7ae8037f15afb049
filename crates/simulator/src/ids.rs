//! Identifiers and timestamps shaped like JumpCloud's: 24-hex ObjectIds, uppercase UUIDs (RADIUS),
//! RFC 3339 timestamps with millisecond to nanosecond precision.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, SecondsFormat, Utc};
use rand::Rng;

/// A MongoDB-style ObjectId: 4 bytes of epoch seconds, then 8 random bytes, as 24 lowercase hex.
pub fn object_id(rng: &mut impl Rng, epoch_secs: i64) -> String {
    let secs = u32::try_from(epoch_secs.max(0)).unwrap_or(u32::MAX);
    let tail: u64 = rng.random();
    format!("{secs:08x}{tail:016x}")
}

/// An uppercase hyphenated UUID, as RADIUS events carry.
pub fn upper_uuid(rng: &mut impl Rng) -> String {
    let bytes: [u8; 16] = rng.random();
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .hyphenated()
        .to_string()
        .to_uppercase()
}

/// A lowercase UUID (command uuids, udids use uppercase via [`upper_uuid`]).
pub fn lower_uuid(rng: &mut impl Rng) -> String {
    let bytes: [u8; 16] = rng.random();
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .hyphenated()
        .to_string()
}

/// The sort tiebreak as served in `X-Search_after` (an Elasticsearch-like opaque id).
pub fn encode_tiebreak(tiebreak: u64) -> String {
    URL_SAFE_NO_PAD.encode(tiebreak.to_be_bytes())
}

/// Inverse of [`encode_tiebreak`]; `None` when the text is not one of ours.
pub fn decode_tiebreak(text: &str) -> Option<u64> {
    let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
    let array: [u8; 8] = bytes.try_into().ok()?;
    Some(u64::from_be_bytes(array))
}

/// Nanoseconds since the Unix epoch, now.
pub fn now_ns() -> i64 {
    Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX)
}

/// Timestamp precision of an event, as the real services emit them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    /// Whole seconds (`2023-06-15T15:16:41Z`), RADIUS.
    Seconds,
    /// Always three digits (`2023-06-21T14:34:21.089Z`), the directory service.
    Millis,
    /// Up to the given number of digits with trailing zeros trimmed (Go's RFC3339Nano).
    Trimmed(u32),
}

/// Truncates `ns` to `precision` and returns the truncated nanoseconds and their text.
pub fn format_timestamp(ns: i64, precision: Precision) -> (i64, String) {
    let digits = match precision {
        Precision::Seconds => 0,
        Precision::Millis => 3,
        Precision::Trimmed(d) => d.min(9),
    };
    let unit = 10_i64.pow(9 - digits);
    let truncated = ns - ns.rem_euclid(unit);
    let datetime = DateTime::<Utc>::from_timestamp_nanos(truncated);
    let base = datetime.format("%Y-%m-%dT%H:%M:%S").to_string();
    let frac_ns = truncated.rem_euclid(1_000_000_000);
    let text = match precision {
        Precision::Seconds => format!("{base}Z"),
        Precision::Millis => format!("{base}.{:03}Z", frac_ns / 1_000_000),
        Precision::Trimmed(_) => {
            if frac_ns == 0 {
                format!("{base}Z")
            } else {
                let full = format!("{frac_ns:09}");
                format!("{base}.{}Z", full.trim_end_matches('0'))
            }
        }
    };
    (truncated, text)
}

/// Parses an RFC 3339 timestamp to epoch nanoseconds (saturating outside 1677..2262).
pub fn parse_rfc3339_ns(text: &str) -> Option<i64> {
    let datetime = DateTime::parse_from_rfc3339(text).ok()?.with_timezone(&Utc);
    Some(
        datetime
            .timestamp_nanos_opt()
            .unwrap_or(if datetime.timestamp() > 0 {
                i64::MAX
            } else {
                i64::MIN
            }),
    )
}

/// Re-formats an RFC 3339 timestamp as UTC (`...Z`), for messages; `None` when invalid.
pub fn normalize_rfc3339(text: &str) -> Option<String> {
    let datetime = DateTime::parse_from_rfc3339(text).ok()?.with_timezone(&Utc);
    Some(datetime.to_rfc3339_opts(SecondsFormat::AutoSi, true))
}

/// Formats epoch nanoseconds as RFC 3339 UTC with as many digits as needed (`...Z`).
pub fn rfc3339(ns: i64) -> String {
    DateTime::<Utc>::from_timestamp_nanos(ns).to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// Formats epoch nanoseconds as the console API does (`2021-02-12T17:45:42.369Z`).
pub fn rfc3339_millis(ns: i64) -> String {
    DateTime::<Utc>::from_timestamp_nanos(ns).to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn object_id_is_24_lowercase_hex_with_the_time_prefix() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let id = object_id(&mut rng, 0x63c2_64c6);
        assert_eq!(id.len(), 24);
        assert!(id.starts_with("63c264c6"));
        assert!(
            id.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
    }

    #[test]
    fn upper_uuid_is_uppercase_and_hyphenated() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let id = upper_uuid(&mut rng);
        assert_eq!(id.len(), 36);
        assert_eq!(id, id.to_uppercase());
        assert_eq!(id.matches('-').count(), 4);
    }

    #[test]
    fn tiebreak_round_trips_and_rejects_foreign_text() {
        for value in [0_u64, 1, u64::MAX, 0x0123_4567_89ab_cdef] {
            assert_eq!(decode_tiebreak(&encode_tiebreak(value)), Some(value));
        }
        assert_eq!(decode_tiebreak("DZrPyW8BNsa9iKWoOm7h"), None);
    }

    #[test]
    fn timestamps_keep_the_precision_they_show() {
        let ns = 1_686_838_870_343_344_450_i64;
        let (t, text) = format_timestamp(ns, Precision::Trimmed(9));
        assert_eq!(text, "2023-06-15T14:21:10.34334445Z");
        assert_eq!(t, ns);
        let (t, text) = format_timestamp(ns, Precision::Millis);
        assert_eq!(text, "2023-06-15T14:21:10.343Z");
        assert_eq!(parse_rfc3339_ns(&text), Some(t));
        let (t, text) = format_timestamp(ns, Precision::Seconds);
        assert_eq!(text, "2023-06-15T14:21:10Z");
        assert_eq!(parse_rfc3339_ns(&text), Some(t));
    }
}
