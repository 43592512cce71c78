//! Timestamps on the wire: RFC 3339, UTC, millisecond precision
//! (`2026-11-25T10:00:00.123Z`), in JSON bodies and Kafka headers alike.

use chrono::{DateTime, SecondsFormat, Utc};

/// A point in time as Tributary carries it.
pub type Timestamp = DateTime<Utc>;

/// Parses an RFC 3339 timestamp with any offset; `None` if it is not one.
pub fn parse(s: &str) -> Option<Timestamp> {
    if let Some(ms) = parse_wire_millis(s) {
        return Some(from_millis(ms));
    }
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// The wire format exactly (`YYYY-MM-DDTHH:MM:SS.mmmZ`, what every
/// Tributary component writes) as milliseconds since the epoch, read by
/// hand: consumers parse four of these per record, and chrono's general
/// RFC 3339 parser cost more than the rest of the envelope. `None` for
/// anything else — other offsets, precisions, leap seconds, impossible
/// dates — which [`parse`] hands to chrono.
fn parse_wire_millis(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 24
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || b[19] != b'.'
        || b[23] != b'Z'
    {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<i64> {
        b[from..to].iter().try_fold(0i64, |n, c| {
            c.is_ascii_digit().then(|| n * 10 + i64::from(c - b'0'))
        })
    };
    let (y, m, d) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (h, mi, sec, ms) = (num(11, 13)?, num(14, 16)?, num(17, 19)?, num(20, 23)?);
    let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    let month_days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if d < 1 || d > month_days || h > 23 || mi > 59 || sec > 59 {
        return None;
    }
    // Days from civil (H. Hinnant), the inverse of `format_millis`.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 24 + h) * 60 + mi) * 60_000 + sec * 1000 + ms)
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
    // Only ASCII digits and separators.
    wire_text(ms).iter().map(|&b| b as char).collect()
}

/// First and last millisecond with a four-digit year, the range the wire
/// format is written by hand in.
const FOUR_DIGIT_YEARS: std::ops::RangeInclusive<i64> = -62_167_219_200_000..=253_402_300_799_999;

/// Appends `t` in the wire format to `out`, without allocating: the
/// gateway writes three or four timestamps into every record's headers.
/// The same text as [`format`], which covers the years outside 0000–9999.
pub fn write(t: Timestamp, out: &mut Vec<u8>) {
    let ms = t.timestamp_millis();
    if FOUR_DIGIT_YEARS.contains(&ms) {
        out.extend_from_slice(&wire_text(ms));
    } else {
        out.extend_from_slice(format(t).as_bytes());
    }
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` for a time with a four-digit year.
fn wire_text(ms: i64) -> [u8; 24] {
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
    let mut out = *b"0000-00-00T00:00:00.000Z";
    // By hand rather than `to_string`: this runs in the web SDK's wasm,
    // where the formatting machinery is costly.
    for (v, at, width) in [
        (y, 0, 4),
        (m, 5, 2),
        (d, 8, 2),
        (h, 11, 2),
        (mi, 14, 2),
        (s, 17, 2),
        (milli, 20, 3),
    ] {
        let mut n = v.clamp(0, 9999);
        for i in (at..at + width).rev() {
            out[i] = b'0' + (n % 10) as u8;
            n /= 10;
        }
    }
    out
}

/// The current time in the wire format's precision.
pub fn now() -> Timestamp {
    Utc::now()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chrono_parse(s: &str) -> Option<Timestamp> {
        DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }

    #[test]
    fn hand_written_wire_parser_matches_chrono() {
        // Every day of 1999–2001 and 2100 (leap rules), at odd times, and
        // near the ends of the four-digit years.
        let mut ms = 915_148_800_000i64; // 1999-01-01
        let mut cases = Vec::new();
        while ms < 1_009_843_200_000 {
            // A different time of day each day.
            cases.push(ms + (ms / 86_400_000 * 7_777_777) % 86_400_000);
            ms += 86_400_000;
        }
        cases.extend([
            0,
            4_107_542_400_000,
            4_107_628_799_999,
            -62_135_596_800_000,
            253_402_300_799_999,
        ]);
        for ms in cases {
            let text = format_millis(ms);
            assert_eq!(parse_wire_millis(&text), Some(ms), "{text}");
            assert_eq!(parse(&text), chrono_parse(&text), "{text}");
        }
        // Not the wire format exactly, or not a date: chrono decides.
        for text in [
            "2001-02-29T00:00:00.000Z",
            "2100-02-29T00:00:00.000Z",
            "2000-02-30T00:00:00.000Z",
            "2026-04-31T00:00:00.000Z",
            "2026-13-01T00:00:00.000Z",
            "2026-00-01T00:00:00.000Z",
            "2026-01-00T00:00:00.000Z",
            "2026-01-01T24:00:00.000Z",
            "2026-01-01T23:60:00.000Z",
            "2016-12-31T23:59:60.000Z",
            "2026-11-25T10:00:00Z",
            "2026-11-25T10:00:00.1234Z",
            "2026-11-25T10:00:00.123+01:00",
            "2026-11-25t10:00:00.123z",
            "2026-11-25T10:00:0a.123Z",
            "+026-11-25T10:00:00.123Z",
        ] {
            assert_eq!(parse_wire_millis(text), None, "{text}");
            assert_eq!(parse(text), chrono_parse(text), "{text}");
        }
    }

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
    fn write_matches_format_inside_and_outside_four_digit_years() {
        let sub_ms = parse("1969-12-31T23:59:59.9996Z").unwrap();
        let mut times: Vec<Timestamp> = [
            -62_167_219_200_001i64,
            -62_167_219_200_000,
            -1,
            0,
            1_764_064_800_123,
            253_402_300_799_999,
            253_402_300_800_000,
            i64::MIN / 4,
        ]
        .into_iter()
        .map(from_millis)
        .collect();
        times.push(sub_ms);
        times.push(now());
        for t in times {
            let mut out = b"x".to_vec();
            write(t, &mut out);
            assert_eq!(&out[1..], format(t).as_bytes(), "{t:?}");
        }
    }

    #[test]
    fn round_trips_and_normalises_offsets() {
        let t = parse("2026-11-25T12:00:00.5+02:00").unwrap();
        assert_eq!(format(t), "2026-11-25T10:00:00.500Z");
        assert!(parse("yesterday").is_none());
    }
}
