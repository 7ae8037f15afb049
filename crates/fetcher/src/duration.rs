//! Human durations in configuration: `"2m"`, `"15m"`, `"200ms"`, `"7d"`, `"1.5s"` or a number of
//! seconds.

use serde::{Deserialize, Deserializer};
use std::time::Duration;

/// Parses `"<number><unit>"` with unit `ms`, `s`, `m`, `h`, `d` (or no unit = seconds).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("invalid duration {text:?}: expected e.g. 200ms, 2s, 15m, 1h, 7d"))?;
    let seconds_per_unit = match unit.trim() {
        "ms" => 0.001,
        "" | "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        "d" => 86400.0,
        other => {
            return Err(format!(
                "invalid duration unit {other:?} in {text:?}: use ms, s, m, h or d"
            ));
        }
    };
    let seconds = value * seconds_per_unit;
    Duration::try_from_secs_f64(seconds).map_err(|e| format!("invalid duration {text:?}: {e}"))
}

#[derive(Deserialize)]
#[serde(untagged)]
enum DurationValue {
    Seconds(f64),
    Text(String),
}

/// Serde `deserialize_with` helper for [`Duration`] fields.
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    match DurationValue::deserialize(deserializer)? {
        DurationValue::Seconds(seconds) => {
            Duration::try_from_secs_f64(seconds).map_err(serde::de::Error::custom)
        }
        DurationValue::Text(text) => parse_duration(&text).map_err(serde::de::Error::custom),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_unit() {
        assert_eq!(parse_duration("200ms").unwrap(), Duration::from_millis(200));
        assert_eq!(parse_duration("2s").unwrap(), Duration::from_secs(2));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("15m").unwrap(), Duration::from_secs(900));
        assert_eq!(parse_duration("2h").unwrap(), Duration::from_secs(7200));
        assert_eq!(
            parse_duration("7d").unwrap(),
            Duration::from_secs(7 * 86400)
        );
        assert_eq!(parse_duration("30").unwrap(), Duration::from_secs(30));
    }

    #[test]
    fn rejects_garbage() {
        assert!(parse_duration("5 weeks").is_err());
        assert!(parse_duration("m").is_err());
        assert!(parse_duration("-3s").is_err());
    }
}
