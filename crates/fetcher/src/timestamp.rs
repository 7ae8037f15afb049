//! Event timestamps at full (nanosecond) precision. Cursors are never rounded to seconds.

use chrono::{DateTime, SecondsFormat, Utc};

/// Parses an RFC 3339 timestamp (ms to ns precision) into UTC.
pub fn parse_timestamp(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Formats a timestamp for the API: RFC 3339, UTC `Z`, all significant fractional digits.
pub fn format_timestamp(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// Nanoseconds since the Unix epoch (the dedup key), `None` outside 1677..2262.
pub fn epoch_nanos(time: DateTime<Utc>) -> Option<i64> {
    time.timestamp_nanos_opt()
}

/// The timestamp cut down to whole milliseconds (the API's sort key precision), never rounded up.
pub fn floor_to_millis(time: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(time.timestamp_millis()).unwrap_or(time)
}

/// A backfill bound: an RFC 3339 time, or a duration ago (`7d`, `36h`, `90m`) counted from `now`.
pub fn parse_time_or_ago(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    if let Some(time) = parse_timestamp(text.trim()) {
        return Ok(time);
    }
    let ago = crate::duration::parse_duration(text).map_err(|_| {
        format!("{text:?} is neither an RFC 3339 time nor a duration like 7d, 36h, 90m")
    })?;
    Ok(crate::events::minus(now, ago))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backfill_bounds_are_times_or_durations_ago() {
        let now = parse_timestamp("2026-03-10T12:00:00Z").unwrap();
        assert_eq!(
            parse_time_or_ago("7d", now).unwrap(),
            parse_timestamp("2026-03-03T12:00:00Z").unwrap()
        );
        assert_eq!(
            parse_time_or_ago("2026-03-01T00:00:00.25Z", now).unwrap(),
            parse_timestamp("2026-03-01T00:00:00.25Z").unwrap()
        );
        assert!(
            parse_time_or_ago("last tuesday", now)
                .unwrap_err()
                .contains("RFC 3339")
        );
    }

    #[test]
    fn keeps_nanoseconds_through_a_round_trip() {
        let time = parse_timestamp("2023-06-15T14:21:10.34334445Z").unwrap();
        assert_eq!(time.timestamp_subsec_nanos(), 343_344_450);
        assert_eq!(format_timestamp(time), "2023-06-15T14:21:10.343344450Z");
        let whole = parse_timestamp("2023-06-15T14:21:10Z").unwrap();
        assert_eq!(format_timestamp(whole), "2023-06-15T14:21:10Z");
    }

    #[test]
    fn floor_never_rounds_up() {
        let time = parse_timestamp("2023-06-15T14:21:10.999999999Z").unwrap();
        assert_eq!(
            format_timestamp(floor_to_millis(time)),
            "2023-06-15T14:21:10.999Z"
        );
    }

    #[test]
    fn offsets_are_normalised_to_utc() {
        let time = parse_timestamp("2023-06-15T16:21:10.5+02:00").unwrap();
        assert_eq!(format_timestamp(time), "2023-06-15T14:21:10.500Z");
        assert!(parse_timestamp("yesterday").is_none());
    }
}
