//! Dead letters: events rejected for good at ingest, and buffered records
//! Kafka refused for good after the gateway's retries, go to the
//! dead-letter topic with the reason in their headers (names in
//! `tributary_contract::envelope::dead_letter`), so consumers can fix and
//! replay them. This file is the one place those headers are written.

use super::record::kafka_headers;
use rdkafka::message::OwnedHeaders;
use tributary_contract::envelope::dead_letter as dl;
use tributary_contract::header;

/// Why a record is dead-lettered.
#[derive(Debug, Clone, Copy)]
pub struct Why<'a> {
    /// Error code (`tb-dlq-reason`).
    pub reason: &'a str,
    /// Detail (`tb-dlq-message`).
    pub message: &'a str,
    /// `validation` (rejected at ingest) or `delivery` (refused by Kafka).
    pub stage: &'a str,
    /// The topic the event was meant for; empty if it was never routed.
    pub topic: &'a str,
    /// The value was cut to the event size limit.
    pub truncated: bool,
    /// App of the sending write key (rejections carry no envelope).
    pub app_id: Option<&'a str>,
    /// Schema violations: the failing value's JSON pointer.
    pub pointer: Option<&'a str>,
    /// Schema violations: the rule broken.
    pub rule: Option<&'a str>,
}

/// Hands the headers of a dead letter — the `original` ones (the envelope,
/// when the event got that far), then why — to `f`, which converts them for
/// where the dead letter goes (librdkafka, or the spool).
pub fn with_headers<'h, R>(
    original: impl IntoIterator<Item = (&'h str, &'h [u8])>,
    why: &Why<'_>,
    f: impl FnOnce(&[(&str, &[u8])]) -> R,
) -> R {
    let now = tributary_contract::time::format(tributary_contract::time::now());
    let mut pairs: Vec<(&str, &[u8])> = original.into_iter().collect();
    pairs.extend([
        (dl::REASON, why.reason.as_bytes()),
        (dl::MESSAGE, why.message.as_bytes()),
        (dl::STAGE, why.stage.as_bytes()),
        (dl::TOPIC, why.topic.as_bytes()),
        (dl::TIME, now.as_bytes()),
    ]);
    if why.truncated {
        pairs.push((dl::TRUNCATED, b"true"));
    }
    for (name, value) in [
        (header::APP_ID, why.app_id),
        (dl::POINTER, why.pointer),
        (dl::RULE, why.rule),
    ] {
        if let Some(v) = value {
            pairs.push((name, v.as_bytes()));
        }
    }
    f(&pairs)
}

/// The headers of a dead letter, for librdkafka.
pub fn headers<'h>(
    original: impl IntoIterator<Item = (&'h str, &'h [u8])>,
    why: &Why<'_>,
) -> OwnedHeaders {
    with_headers(original, why, |p| kafka_headers(p.iter().copied()))
}

/// An event rejected for good at ingest, to be dead-lettered.
#[derive(Debug, Clone, Copy)]
pub struct Rejected<'a> {
    /// The event as sent, cut to the event size limit.
    pub value: &'a [u8],
    /// Why, with `stage = "validation"`.
    pub why: Why<'a>,
}

impl<'a> Rejected<'a> {
    /// The dead letter of `raw` (an event as sent), cut to `max` bytes.
    pub fn new(raw: &'a [u8], max: usize, why: Why<'a>) -> Rejected<'a> {
        Rejected {
            value: &raw[..raw.len().min(max)],
            why: Why {
                truncated: raw.len() > max,
                ..why
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rdkafka::message::Headers;

    #[test]
    fn a_rejection_carries_the_reason_app_pointer_and_rule() {
        let raw = br#"{"type":"track","event":"e"}"#;
        let r = Rejected::new(
            raw,
            10,
            Why {
                reason: "schema_violation",
                message: "at /total",
                stage: "validation",
                topic: "",
                truncated: false,
                app_id: Some("shop"),
                pointer: Some("/total"),
                rule: Some("minimum"),
            },
        );
        assert_eq!(r.value.len(), 10);
        let h = headers([], &r.why);
        let names: Vec<&str> = h.iter().map(|x| x.key).collect();
        assert_eq!(
            names,
            [
                dl::REASON,
                dl::MESSAGE,
                dl::STAGE,
                dl::TOPIC,
                dl::TIME,
                dl::TRUNCATED,
                header::APP_ID,
                dl::POINTER,
                dl::RULE
            ]
        );
    }
}
