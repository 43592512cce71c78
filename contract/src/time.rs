//! Timestamps on the wire: RFC 3339, UTC, millisecond precision
//! (`2026-11-25T10:00:00.123Z`), in JSON bodies and Kafka headers alike.

use chrono::{DateTime, SecondsFormat, Utc};

/// A point in time as Tributary carries it.
pub type Timestamp = DateTime<Utc>;

/// Parses an RFC 3339 timestamp with any offset; `None` if it is not one.
pub fn parse(s: &str) -> Option<Timestamp> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Formats a timestamp the way every Tributary component writes it.
pub fn format(t: Timestamp) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A timestamp from milliseconds since the Unix epoch (clamped to the
/// representable range).
pub fn from_millis(ms: i64) -> Timestamp {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// Formats milliseconds since the epoch in the wire format.
pub fn format_millis(ms: i64) -> String {
    format(from_millis(ms))
}

/// The current time in the wire format's precision.
pub fn now() -> Timestamp {
    Utc::now()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_normalises_offsets() {
        let t = parse("2026-11-25T12:00:00.5+02:00").unwrap();
        assert_eq!(format(t), "2026-11-25T10:00:00.500Z");
        assert!(parse("yesterday").is_none());
    }
}
