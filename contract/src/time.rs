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
///
/// Written out by hand (civil-from-days, H. Hinnant) rather than through
/// chrono's formatter: SDKs call it for every event, and in the browser
/// build chrono's formatting machinery would cost more bytes than the rest
/// of the engine.
pub fn format_millis(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let in_day = ms.rem_euclid(86_400_000);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let (h, mi, s, milli) = (
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1000 % 60,
        in_day % 1000,
    );
    let mut out = String::with_capacity(24);
    for (v, width, sep) in [
        (y, 4, '-'),
        (m, 2, '-'),
        (d, 2, 'T'),
        (h, 2, ':'),
        (mi, 2, ':'),
        (s, 2, '.'),
        (milli, 3, 'Z'),
    ] {
        push_padded(&mut out, v, width);
        out.push(sep);
    }
    out
}

fn push_padded(out: &mut String, v: i64, width: usize) {
    // By hand rather than `to_string`: this runs in the web SDK's wasm,
    // where the formatting machinery is costly.
    let mut digits = [b'0'; 20];
    let mut n = v.max(0) as u64;
    let mut len = 0;
    while n > 0 || len == 0 {
        digits[len] = b'0' + (n % 10) as u8;
        n /= 10;
        len += 1;
    }
    for _ in len..width {
        out.push('0');
    }
    for d in digits[..len].iter().rev() {
        out.push(*d as char);
    }
}

/// The current time in the wire format's precision.
pub fn now() -> Timestamp {
    Utc::now()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_written_millis_format_matches_chrono() {
        for ms in [
            0i64,
            1,
            999,
            86_399_999,
            951_782_400_000,
            1_764_064_800_123,
            4_102_444_800_000,
            253_402_300_799_999,
        ] {
            assert_eq!(format_millis(ms), format(from_millis(ms)), "{ms}");
        }
    }

    #[test]
    fn round_trips_and_normalises_offsets() {
        let t = parse("2026-11-25T12:00:00.5+02:00").unwrap();
        assert_eq!(format(t), "2026-11-25T10:00:00.500Z");
        assert!(parse("yesterday").is_none());
    }
}
