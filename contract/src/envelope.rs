//! The Kafka record layout: the envelope travels in record headers, the
//! payload in the value, and the partitioning key is the user.
//!
//! Consumers route, filter and deduplicate on headers alone, without parsing
//! the value. Every header value is UTF-8 text. The full table with an
//! example record is in `docs/contract.md`.

use crate::event::EventType;
use crate::time::{self, Timestamp};

/// The header names of the envelope. Each constant's doc says what the
/// value holds; all are prefixed `tb-` so they never collide with headers
/// added by other producers or by Kafka tooling.
pub mod header {
    /// Event kind: `track`, `identify`, `page`, `screen`, `group`, `alias`.
    pub const EVENT_TYPE: &str = "tb-event-type";
    /// The routing name: the track event's `event`, otherwise the kind.
    pub const EVENT_NAME: &str = "tb-event-name";
    /// The client's `messageId`; the de-duplication key.
    pub const MESSAGE_ID: &str = "tb-message-id";
    /// App id bound to the write key that sent the event.
    pub const APP_ID: &str = "tb-app-id";
    /// Schema id of the value (decimal, the id in the Confluent framing), or
    /// `none` when the event was not validated against a schema.
    pub const SCHEMA: &str = "tb-schema";
    /// Encoding of the value: `json`, `confluent-json` or `confluent-protobuf`
    /// (see [`Encoding`](super::Encoding)).
    pub const ENCODING: &str = "tb-encoding";
    /// Skew-corrected event time (RFC 3339, ms, UTC).
    pub const TIMESTAMP: &str = "tb-timestamp";
    /// The client's own `timestamp`, before correction (absent if not sent).
    pub const CLIENT_TIMESTAMP: &str = "tb-client-timestamp";
    /// The client's `sentAt` (absent if not sent).
    pub const SENT_AT: &str = "tb-sent-at";
    /// Gateway receipt time.
    pub const RECEIVED_AT: &str = "tb-received-at";
    /// The event's `custom_attributes` object as compact JSON (absent if none).
    pub const CUSTOM_ATTRIBUTES: &str = "tb-custom-attributes";
    /// `true` when the event matched no route and went to the catch-all topic.
    pub const UNROUTED: &str = "tb-unrouted";
    /// The event's `userId` (absent if not sent).
    pub const USER_ID: &str = "tb-user-id";
    /// The event's `anonymousId` (absent if not sent).
    pub const ANONYMOUS_ID: &str = "tb-anonymous-id";
    /// The event's context (batch context merged under the event's own) as
    /// compact JSON. Only on schema-encoded records, whose value holds just
    /// the schema-described payload; a `json` record carries its context in
    /// the value.
    pub const CONTEXT: &str = "tb-context";
    /// The event's other top-level fields (`groupId`, `previousId`,
    /// `integrations`, `sessionId`, unknown fields) as a compact JSON
    /// object. Only on schema-encoded records, and only if there are any.
    pub const EXTRA: &str = "tb-extra";
    /// `true` when the app has no schema for this event and its policy is to
    /// accept such events unvalidated (to the unvalidated topic).
    pub const UNVALIDATED: &str = "tb-unvalidated";
    /// What the gateway found out about the sender, as one flat compact
    /// JSON object (absent if nothing): `ip` (as the app's privacy rules
    /// keep it), `country`, `region`, `city`, `postalCode`, `timeZone`,
    /// `asn`, `asOrg`, `browser`, `browserVersion`, `os`, `osVersion`,
    /// `device`, and `bot: true` for flagged traffic.
    pub const ENRICHMENT: &str = "tb-enrichment";
    /// `true` when the sender's user (or anonymous id) was over the
    /// gateway's per-user rate (`[hot_keys]`): the record is not keyed by
    /// its user but spread over the topic's partitions, or is in the
    /// overflow topic, so its order relative to the user's other events is
    /// not kept. Absent otherwise.
    pub const HOT_KEY: &str = "tb-hot-key";

    /// Not an envelope header: marks a heartbeat record (no event) the
    /// gateway writes to each partition of a quiet topic, so consumers that
    /// rotate files by record time can close them deterministically.
    /// Value: `true`. Consumers that read events skip such records.
    pub const HEARTBEAT: &str = "tb-heartbeat";

    /// The position of an envelope header name in [`ALL`]; `None` for any
    /// other header. Consumers call this for every header of every record,
    /// so it is a `match` rather than a search of `ALL`.
    pub fn index(name: &str) -> Option<usize> {
        Some(match name {
            EVENT_TYPE => 0,
            EVENT_NAME => 1,
            MESSAGE_ID => 2,
            APP_ID => 3,
            SCHEMA => 4,
            ENCODING => 5,
            TIMESTAMP => 6,
            CLIENT_TIMESTAMP => 7,
            SENT_AT => 8,
            RECEIVED_AT => 9,
            CUSTOM_ATTRIBUTES => 10,
            UNROUTED => 11,
            USER_ID => 12,
            ANONYMOUS_ID => 13,
            CONTEXT => 14,
            EXTRA => 15,
            UNVALIDATED => 16,
            ENRICHMENT => 17,
            HOT_KEY => 18,
            _ => return None,
        })
    }

    /// Every header name, in the order the gateway writes them.
    pub const ALL: [&str; 19] = [
        EVENT_TYPE,
        EVENT_NAME,
        MESSAGE_ID,
        APP_ID,
        SCHEMA,
        ENCODING,
        TIMESTAMP,
        CLIENT_TIMESTAMP,
        SENT_AT,
        RECEIVED_AT,
        CUSTOM_ATTRIBUTES,
        UNROUTED,
        USER_ID,
        ANONYMOUS_ID,
        CONTEXT,
        EXTRA,
        UNVALIDATED,
        ENRICHMENT,
        HOT_KEY,
    ];
}

/// Extra headers of a dead-letter record (the original envelope headers are
/// kept when the event got that far).
pub mod dead_letter {
    /// Error code of the rejection or failure (see `ErrorCode`).
    pub const REASON: &str = "tb-dlq-reason";
    /// Human-readable detail.
    pub const MESSAGE: &str = "tb-dlq-message";
    /// Where it failed: `validation` (rejected at ingest) or `delivery`
    /// (Kafka refused it for good after retries).
    pub const STAGE: &str = "tb-dlq-stage";
    /// The topic the event was meant for (empty if it was never routed).
    pub const TOPIC: &str = "tb-dlq-topic";
    /// When it was dead-lettered (RFC 3339, ms, UTC).
    pub const TIME: &str = "tb-dlq-time";
    /// `true` when the value was cut to the size limit.
    pub const TRUNCATED: &str = "tb-dlq-truncated";
    /// For `schema_violation`: JSON pointer of the failing value.
    pub const POINTER: &str = "tb-dlq-pointer";
    /// For `schema_violation`: the rule broken.
    pub const RULE: &str = "tb-dlq-rule";
    /// For `schema_violation`: id of the schema the event failed.
    pub const SCHEMA: &str = "tb-dlq-schema";
}

/// Value of [`header::SCHEMA`] when no schema applies.
pub const SCHEMA_NONE: &str = "none";

/// How a record value is encoded (header [`header::ENCODING`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// The whole normalised event as JSON, no framing: events not validated
    /// against a schema.
    Json,
    /// Confluent framing (magic 0, schema id) + the event's payload as JSON,
    /// validated against a JSON Schema.
    ConfluentJson,
    /// Confluent framing (magic 0, schema id, message indexes) + the event's
    /// payload as a protobuf message of the registered descriptor.
    ConfluentProtobuf,
}

impl Encoding {
    /// The header value.
    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Json => "json",
            Encoding::ConfluentJson => "confluent-json",
            Encoding::ConfluentProtobuf => "confluent-protobuf",
        }
    }

    /// Reads a header value.
    pub fn parse(s: &str) -> Option<Encoding> {
        match s {
            "json" => Some(Encoding::Json),
            "confluent-json" => Some(Encoding::ConfluentJson),
            "confluent-protobuf" => Some(Encoding::ConfluentProtobuf),
            _ => None,
        }
    }
}

/// The envelope of one record, as written to and read from headers.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    /// Event kind.
    pub event_type: EventType,
    /// Routing name.
    pub event_name: String,
    /// Client message id.
    pub message_id: String,
    /// App id of the sending write key.
    pub app_id: String,
    /// Schema id of the value; `None` for unvalidated JSON.
    pub schema_id: Option<u32>,
    /// Value encoding.
    pub encoding: Encoding,
    /// Corrected event time.
    pub timestamp: Timestamp,
    /// Client timestamp before correction.
    pub client_timestamp: Option<Timestamp>,
    /// Client send time.
    pub sent_at: Option<Timestamp>,
    /// Gateway receipt time.
    pub received_at: Timestamp,
    /// Custom attributes JSON object, compact.
    pub custom_attributes: Option<String>,
    /// Whether the event went to the catch-all topic.
    pub unrouted: bool,
    /// The event's `userId`.
    pub user_id: Option<String>,
    /// The event's `anonymousId`.
    pub anonymous_id: Option<String>,
    /// Context JSON object, compact; only on schema-encoded records.
    pub context: Option<String>,
    /// Other top-level fields as a JSON object; only on schema-encoded
    /// records.
    pub extra: Option<String>,
    /// Accepted without a schema by the app's unregistered-event policy.
    pub unvalidated: bool,
    /// The gateway's enrichment object, compact JSON.
    pub enrichment: Option<String>,
    /// Over the per-user rate: spread or in the overflow topic.
    pub hot_key: bool,
}

/// Why a record's headers could not be read as an envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvelopeError(pub String);

impl std::fmt::Display for EnvelopeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for EnvelopeError {}

impl Envelope {
    /// The envelope as `(name, value)` header pairs, optional ones omitted.
    pub fn to_headers(&self) -> Vec<(&'static str, String)> {
        let mut h = Vec::with_capacity(header::ALL.len());
        self.borrowed()
            .write_headers(&mut HeaderScratch::default(), |name, value| {
                h.push((name, String::from_utf8_lossy(value).into_owned()));
            });
        h
    }

    /// The envelope borrowing this one's text.
    pub fn borrowed(&self) -> EnvelopeRef<'_> {
        EnvelopeRef {
            event_type: self.event_type,
            event_name: &self.event_name,
            message_id: &self.message_id,
            app_id: &self.app_id,
            schema_id: self.schema_id,
            encoding: self.encoding,
            timestamp: self.timestamp,
            client_timestamp: self.client_timestamp,
            sent_at: self.sent_at,
            received_at: self.received_at,
            custom_attributes: self.custom_attributes.as_deref(),
            unrouted: self.unrouted,
            user_id: self.user_id.as_deref(),
            anonymous_id: self.anonymous_id.as_deref(),
            context: self.context.as_deref(),
            extra: self.extra.as_deref(),
            unvalidated: self.unvalidated,
            enrichment: self.enrichment.as_deref(),
            hot_key: self.hot_key,
        }
    }

    /// Reads an envelope from header pairs in any order. Unknown headers are
    /// ignored; a missing required header or an unparsable value is an error.
    pub fn from_headers<'h, I>(headers: I) -> Result<Envelope, EnvelopeError>
    where
        I: IntoIterator<Item = (&'h str, &'h [u8])>,
    {
        EnvelopeRef::from_headers(headers).map(EnvelopeRef::into_owned)
    }
}

/// An [`Envelope`] that borrows its text from the record's headers: what a
/// consumer reading millions of records uses, so that reading an envelope
/// allocates nothing. Fields mean what [`Envelope`]'s do.
#[derive(Debug, Clone, Copy, PartialEq)]
#[allow(missing_docs)] // the fields are documented on `Envelope`
pub struct EnvelopeRef<'h> {
    pub event_type: EventType,
    pub event_name: &'h str,
    pub message_id: &'h str,
    pub app_id: &'h str,
    pub schema_id: Option<u32>,
    pub encoding: Encoding,
    pub timestamp: Timestamp,
    pub client_timestamp: Option<Timestamp>,
    pub sent_at: Option<Timestamp>,
    pub received_at: Timestamp,
    pub custom_attributes: Option<&'h str>,
    pub unrouted: bool,
    pub user_id: Option<&'h str>,
    pub anonymous_id: Option<&'h str>,
    pub context: Option<&'h str>,
    pub extra: Option<&'h str>,
    pub unvalidated: bool,
    pub enrichment: Option<&'h str>,
    pub hot_key: bool,
}

impl<'h> EnvelopeRef<'h> {
    /// Reads an envelope from header pairs in any order. Unknown headers are
    /// ignored; a missing required header or an unparsable value is an error.
    pub fn from_headers<I>(headers: I) -> Result<EnvelopeRef<'h>, EnvelopeError>
    where
        I: IntoIterator<Item = (&'h str, &'h [u8])>,
    {
        let mut found: [Option<&'h str>; header::ALL.len()] = [None; header::ALL.len()];
        for (name, value) in headers {
            if let Some(i) = header::index(name) {
                let text = std::str::from_utf8(value)
                    .map_err(|_| EnvelopeError(format!("header {name} is not UTF-8")))?;
                found[i] = Some(text);
            }
        }
        // `index` is the position in `ALL`, so each lookup is one array read.
        let get = |name: &str| header::index(name).and_then(|i| found[i]);
        let need = |name: &str| {
            get(name).ok_or_else(|| EnvelopeError(format!("header {name} is missing")))
        };
        let ts = |name: &str, v: &str| {
            time::parse(v)
                .ok_or_else(|| EnvelopeError(format!("header {name} is not a timestamp: {v:?}")))
        };
        let opt_ts = |name: &str| get(name).map(|v| ts(name, v)).transpose();
        let kind = need(header::EVENT_TYPE)?;
        let event_name = need(header::EVENT_NAME)?;
        let message_id = need(header::MESSAGE_ID)?;
        let app_id = need(header::APP_ID)?;
        let schema = need(header::SCHEMA)?;
        let schema_id = match schema {
            SCHEMA_NONE => None,
            id => Some(id.parse::<u32>().map_err(|_| {
                EnvelopeError(format!(
                    "header {} is not a schema id: {id:?}",
                    header::SCHEMA
                ))
            })?),
        };
        let encoding = need(header::ENCODING)?;
        Ok(EnvelopeRef {
            event_type: EventType::parse(kind)
                .ok_or_else(|| EnvelopeError(format!("unknown event type {kind:?}")))?,
            event_name,
            message_id,
            app_id,
            schema_id,
            encoding: Encoding::parse(encoding)
                .ok_or_else(|| EnvelopeError(format!("unknown encoding {encoding:?}")))?,
            timestamp: ts(header::TIMESTAMP, need(header::TIMESTAMP)?)?,
            client_timestamp: opt_ts(header::CLIENT_TIMESTAMP)?,
            sent_at: opt_ts(header::SENT_AT)?,
            received_at: ts(header::RECEIVED_AT, need(header::RECEIVED_AT)?)?,
            custom_attributes: get(header::CUSTOM_ATTRIBUTES),
            unrouted: get(header::UNROUTED) == Some("true"),
            user_id: get(header::USER_ID),
            anonymous_id: get(header::ANONYMOUS_ID),
            context: get(header::CONTEXT),
            extra: get(header::EXTRA),
            unvalidated: get(header::UNVALIDATED) == Some("true"),
            enrichment: get(header::ENRICHMENT),
            hot_key: get(header::HOT_KEY) == Some("true"),
        })
    }

    /// Hands each header of the envelope to `put`, in the order of
    /// [`header::ALL`], optional ones omitted: the one definition of which
    /// headers a record carries and how their values are written. Values
    /// that need formatting (timestamps, the schema id) are written into
    /// `scratch`, which is reused, so nothing is allocated per record.
    pub fn write_headers(
        &self,
        scratch: &mut HeaderScratch,
        mut put: impl FnMut(&'static str, &[u8]),
    ) {
        put(header::EVENT_TYPE, self.event_type.as_str().as_bytes());
        put(header::EVENT_NAME, self.event_name.as_bytes());
        put(header::MESSAGE_ID, self.message_id.as_bytes());
        put(header::APP_ID, self.app_id.as_bytes());
        let buf = &mut scratch.buf;
        buf.clear();
        match self.schema_id {
            Some(id) => write_decimal(id, buf),
            None => buf.extend_from_slice(SCHEMA_NONE.as_bytes()),
        }
        put(header::SCHEMA, buf);
        put(header::ENCODING, self.encoding.as_str().as_bytes());
        let times = [
            (header::TIMESTAMP, Some(self.timestamp)),
            (header::CLIENT_TIMESTAMP, self.client_timestamp),
            (header::SENT_AT, self.sent_at),
            (header::RECEIVED_AT, Some(self.received_at)),
        ];
        for ((name, t), (last, text)) in times.into_iter().zip(&mut scratch.times) {
            let Some(t) = t else { continue };
            if *last != Some(t) {
                text.clear();
                time::write(t, text);
                *last = Some(t);
            }
            put(name, text);
        }
        let optional = [
            (header::CUSTOM_ATTRIBUTES, self.custom_attributes),
            (header::UNROUTED, self.unrouted.then_some("true")),
            (header::USER_ID, self.user_id),
            (header::ANONYMOUS_ID, self.anonymous_id),
            (header::CONTEXT, self.context),
            (header::EXTRA, self.extra),
            (header::UNVALIDATED, self.unvalidated.then_some("true")),
            (header::ENRICHMENT, self.enrichment),
            (header::HOT_KEY, self.hot_key.then_some("true")),
        ];
        for (name, value) in optional {
            if let Some(v) = value {
                put(name, v.as_bytes());
            }
        }
    }

    /// The owned envelope.
    pub fn into_owned(self) -> Envelope {
        let own = |s: Option<&str>| s.map(str::to_owned);
        Envelope {
            event_type: self.event_type,
            event_name: self.event_name.to_owned(),
            message_id: self.message_id.to_owned(),
            app_id: self.app_id.to_owned(),
            schema_id: self.schema_id,
            encoding: self.encoding,
            timestamp: self.timestamp,
            client_timestamp: self.client_timestamp,
            sent_at: self.sent_at,
            received_at: self.received_at,
            custom_attributes: own(self.custom_attributes),
            unrouted: self.unrouted,
            user_id: own(self.user_id),
            anonymous_id: own(self.anonymous_id),
            context: own(self.context),
            extra: own(self.extra),
            unvalidated: self.unvalidated,
            enrichment: own(self.enrichment),
            hot_key: self.hot_key,
        }
    }
}

/// `n` in decimal, appended to `out`.
/// What [`EnvelopeRef::write_headers`] reuses from one record to the next:
/// a buffer for formatted values, and each time header's last value and
/// text — `receivedAt` is the same for a whole request and `sentAt`
/// usually is, so most records format only their own event time.
#[derive(Debug, Default)]
pub struct HeaderScratch {
    buf: Vec<u8>,
    times: [(Option<Timestamp>, Vec<u8>); 4],
}

fn write_decimal(mut n: u32, out: &mut Vec<u8>) {
    let mut digits = [0u8; 10];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip() {
        let t = time::parse("2026-11-25T10:00:00.123Z").unwrap();
        let env = Envelope {
            event_type: EventType::Track,
            event_name: "Order Completed".into(),
            message_id: "m1".into(),
            app_id: "shop".into(),
            schema_id: Some(7),
            encoding: Encoding::ConfluentProtobuf,
            timestamp: t,
            client_timestamp: Some(t),
            sent_at: None,
            received_at: t,
            custom_attributes: Some(r#"{"ab":"b"}"#.into()),
            unrouted: true,
            user_id: None,
            anonymous_id: Some("a1".into()),
            context: Some(r#"{"os":{"name":"iOS"}}"#.into()),
            extra: Some(r#"{"sessionId":1}"#.into()),
            unvalidated: false,
            enrichment: Some(r#"{"ip":"203.0.113.0","country":"DE"}"#.into()),
            hot_key: true,
        };
        let headers = env.to_headers();
        assert!(!headers.iter().any(|(n, _)| *n == header::SENT_AT));
        let names: Vec<&str> = headers.iter().map(|(n, _)| *n).collect();
        let in_order: Vec<&str> = header::ALL
            .into_iter()
            .filter(|n| names.contains(n))
            .collect();
        assert_eq!(names, in_order, "headers are written in the order of ALL");
        let schema = headers.iter().find(|(n, _)| *n == header::SCHEMA);
        assert_eq!(schema.map(|(_, v)| v.as_str()), Some("7"));
        let back = Envelope::from_headers(headers.iter().map(|(n, v)| (*n, v.as_bytes()))).unwrap();
        assert_eq!(back, env);
    }

    #[test]
    fn header_index_is_the_position_in_all() {
        for (i, name) in header::ALL.iter().enumerate() {
            assert_eq!(header::index(name), Some(i), "{name}");
        }
        assert_eq!(header::index(header::HEARTBEAT), None);
        assert_eq!(header::index("tb-event"), None);
    }

    #[test]
    fn missing_header_is_named() {
        let err = Envelope::from_headers([(header::EVENT_TYPE, &b"track"[..])]).unwrap_err();
        assert!(err.0.contains(header::EVENT_NAME), "{err}");
    }
}
