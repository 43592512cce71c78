//! The server's time stamps of an event: receipt time and clock-skew correction.
//!
//! Device clocks are often wrong by minutes or days. The device's own clock
//! is consistent with itself, though, so the gap between when an event
//! happened and when the request was sent is trustworthy. The corrected time
//! is `received_at + (timestamp − sentAt)`, as Segment and PostHog do.

use tributary_contract::time::Timestamp;
use tributary_contract::view::{EventView, Stamps};

/// Computes the server-side stamps of one event.
///
/// * both `timestamp` and `sentAt` known: skew-corrected;
/// * only `timestamp`: taken as is;
/// * neither: the receipt time.
///
/// A result later than the receipt time (an event "from the future") is
/// clamped to the receipt time; the client's value stays in
/// `originalTimestamp`.
pub fn stamps(
    event: &EventView<'_>,
    batch_sent_at: Option<Timestamp>,
    received_at: Timestamp,
) -> Stamps {
    let sent_at = event.sent_at.or(batch_sent_at);
    let corrected = match (event.timestamp, sent_at) {
        (Some(ts), Some(sent)) => received_at + (ts - sent),
        (Some(ts), None) => ts,
        (None, _) => received_at,
    };
    Stamps {
        timestamp: corrected.min(received_at),
        original_timestamp: event.timestamp,
        sent_at,
        received_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tributary_contract::time::parse;

    fn event(ts: Option<&str>) -> String {
        let ts = ts
            .map(|t| format!(r#","timestamp":"{t}""#))
            .unwrap_or_default();
        format!(r#"{{"type":"track","event":"e","messageId":"m","anonymousId":"a"{ts}}}"#)
    }

    #[test]
    fn corrects_a_clock_that_is_an_hour_fast() {
        let raw = event(Some("2026-11-25T11:00:00Z"));
        let v = EventView::parse(&raw, None).unwrap();
        let sent = parse("2026-11-25T11:00:05Z");
        let now = parse("2026-11-25T10:00:07Z").unwrap();
        let s = stamps(&v, sent, now);
        assert_eq!(s.timestamp, parse("2026-11-25T10:00:02Z").unwrap());
        assert_eq!(s.original_timestamp, parse("2026-11-25T11:00:00Z"));
    }

    #[test]
    fn without_sent_at_the_timestamp_is_kept_but_never_in_the_future() {
        let now = parse("2026-11-25T10:00:00Z").unwrap();
        let past = event(Some("2026-11-25T09:00:00Z"));
        let v = EventView::parse(&past, None).unwrap();
        assert_eq!(
            stamps(&v, None, now).timestamp,
            parse("2026-11-25T09:00:00Z").unwrap()
        );
        let future = event(Some("2026-11-26T09:00:00Z"));
        let v = EventView::parse(&future, None).unwrap();
        assert_eq!(stamps(&v, None, now).timestamp, now);
    }

    #[test]
    fn without_timestamp_uses_receipt_time() {
        let raw = event(None);
        let v = EventView::parse(&raw, None).unwrap();
        let now = parse("2026-11-25T10:00:00Z").unwrap();
        assert_eq!(stamps(&v, None, now).timestamp, now);
    }
}
