//! One Kafka record → one row: the envelope read with the contract library
//! (`decode_record_ref`), the payload split into its schema's columns
//! ([`crate::payload`]), and the facts the health metrics need (app version,
//! session) pulled out once. A record that cannot be read becomes an
//! [`ErrorRow`] with the reason — it goes to the error location, never
//! away.

use crate::payload::{Layout, Payload, json_object, string_value};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tributary_contract::envelope::{dead_letter, header};
use tributary_contract::time;
use tributary_contract::view::compact;
use tributary_contract::wire::{Body, decode_record_ref};
use tributary_schema::Registry;

/// A record as read from Kafka.
#[derive(Debug, Clone, Copy)]
pub struct Incoming<'a> {
    /// Topic.
    pub topic: &'a str,
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
    /// Kafka record timestamp (the gateway's receipt / append time), ms.
    pub kafka_time_ms: i64,
    /// Headers in order.
    pub headers: &'a [(&'a str, &'a [u8])],
    /// Value bytes.
    pub value: &'a [u8],
}

/// An event, ready for its columns. Its text borrows from the Kafka
/// record (or from the decoder's scratch space), so reading it allocates
/// little; the segment copies it into column builders.
#[derive(Debug, Clone)]
pub struct EventRow<'a> {
    /// Kafka offset.
    pub offset: i64,
    /// Client message id.
    pub message_id: &'a str,
    /// `track`, `identify`, ...
    pub event_type: &'static str,
    /// Routing name.
    pub event_name: &'a str,
    /// App of the write key.
    pub app_id: &'a str,
    /// Schema id, if schema-encoded.
    pub schema_id: Option<u32>,
    /// Skew-corrected event time, ms.
    pub event_time_ms: i64,
    /// Client timestamp as sent, ms.
    pub client_time_ms: Option<i64>,
    /// Client `sentAt`, ms.
    pub sent_at_ms: Option<i64>,
    /// Gateway receipt, ms.
    pub received_at_ms: i64,
    /// Kafka record timestamp, ms.
    pub kafka_time_ms: i64,
    /// `userId`.
    pub user_id: Option<&'a str>,
    /// `anonymousId`.
    pub anonymous_id: Option<&'a str>,
    /// `sessionId`.
    pub session_id: Option<i64>,
    /// `context.app.version`.
    pub app_version: Option<Cow<'a, str>>,
    /// Context JSON.
    pub context: Option<Cow<'a, str>>,
    /// Custom attributes JSON.
    pub custom_attributes: Option<&'a str>,
    /// Other top-level fields JSON.
    pub extra: Option<Cow<'a, str>>,
    /// The gateway's enrichment (`tb-enrichment`, JSON), when present.
    pub enrichment: Option<&'a str>,
    /// The payload columns of the event's schema version.
    pub layout: Arc<Layout>,
    /// The payload (properties or traits), split by `layout`.
    pub payload: Payload<'a>,
}

/// A record of the gateway's dead-letter topic.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetterRow {
    /// Kafka offset.
    pub offset: i64,
    /// Kafka record timestamp, ms.
    pub kafka_time_ms: i64,
    /// `tb-dlq-reason`.
    pub reason: String,
    /// `tb-dlq-message`.
    pub message: String,
    /// `tb-dlq-stage`.
    pub stage: String,
    /// `tb-dlq-topic`.
    pub original_topic: String,
    /// `tb-app-id`, when known.
    pub app_id: Option<String>,
    /// `tb-dlq-pointer`.
    pub pointer: Option<String>,
    /// `tb-dlq-rule`.
    pub rule: Option<String>,
    /// The event as sent (UTF-8, lossy).
    pub value: String,
}

/// A record the pipeline could not read.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorRow {
    /// Kafka offset.
    pub offset: i64,
    /// Kafka record timestamp, ms.
    pub kafka_time_ms: i64,
    /// Why.
    pub reason: String,
    /// Headers as a JSON object (values lossy UTF-8).
    pub headers: String,
    /// The value, as written.
    pub value: Vec<u8>,
}

/// What one record is.
#[derive(Debug, Clone)]
pub enum Decoded<'a> {
    /// An event.
    Event(EventRow<'a>),
    /// A gateway dead letter.
    DeadLetter(DeadLetterRow),
    /// A heartbeat: no row, but its time counts for rotation.
    Heartbeat,
    /// Unreadable.
    Error(ErrorRow),
}

fn headers_json(headers: &[(&str, &[u8])]) -> String {
    let m: Map<String, Value> = headers
        .iter()
        .map(|(k, v)| {
            (
                (*k).to_owned(),
                Value::String(String::from_utf8_lossy(v).into_owned()),
            )
        })
        .collect();
    Value::Object(m).to_string()
}

fn header<'a>(headers: &'a [(&str, &[u8])], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| *k == name)
        .and_then(|(_, v)| std::str::from_utf8(v).ok())
}

/// How long a schema id the registry did not know stays unknown before the
/// registry is asked again (so a stream of such records does not reload it
/// for every record).
const MISSING_SCHEMA_RECHECK: Duration = Duration::from_secs(10);

/// Unknown schema ids remembered at most (records carrying random ids must
/// not grow the decoder without bound).
const MAX_MISSING_SCHEMAS: usize = 1024;

/// Reads records: knows the dead-letter topic, and keeps the payload
/// layout of every schema id it has seen.
#[derive(Debug)]
pub struct Decoder {
    dead_letter_topic: String,
    registry: Option<Arc<Registry>>,
    layouts: HashMap<u32, Arc<Layout>>,
    missing: HashMap<u32, Instant>,
    no_schema: Arc<Layout>,
    /// Protobuf payloads are written here as JSON text.
    scratch: Vec<u8>,
    /// The last context seen, and its app version.
    last_context: (String, Option<String>),
}

/// The parts of an unvalidated event's JSON the row needs.
#[derive(Deserialize)]
struct EventParts<'a> {
    #[serde(borrow)]
    properties: Option<&'a RawValue>,
    #[serde(borrow)]
    traits: Option<&'a RawValue>,
    #[serde(borrow)]
    context: Option<&'a RawValue>,
    #[serde(borrow, rename = "groupId")]
    group_id: Option<&'a RawValue>,
    #[serde(borrow)]
    integrations: Option<&'a RawValue>,
    #[serde(borrow, rename = "previousId")]
    previous_id: Option<&'a RawValue>,
    #[serde(borrow, rename = "sessionId")]
    session_id: Option<&'a RawValue>,
}

/// `sessionId` of the extra-fields object.
#[derive(Deserialize)]
struct ExtraParts<'a> {
    #[serde(borrow, rename = "sessionId")]
    session_id: Option<&'a RawValue>,
}

/// `app.version` of the context.
#[derive(Deserialize)]
struct ContextParts<'a> {
    #[serde(borrow)]
    app: Option<AppParts<'a>>,
}

#[derive(Deserialize)]
struct AppParts<'a> {
    #[serde(borrow)]
    version: Option<&'a RawValue>,
}

fn app_version(context: &str) -> Option<Cow<'_, str>> {
    let c: ContextParts<'_> = serde_json::from_str(context).ok()?;
    string_value(c.app?.version?.get())
}

fn session_id(raw: Option<&RawValue>) -> Option<i64> {
    raw.and_then(|r| serde_json::from_str::<i64>(r.get()).ok())
}

impl Decoder {
    /// A decoder for records of the event topics and of
    /// `dead_letter_topic` (the gateway's DLQ).
    pub fn new(dead_letter_topic: &str, registry: Option<Arc<Registry>>) -> Decoder {
        Decoder {
            dead_letter_topic: dead_letter_topic.to_owned(),
            registry,
            layouts: HashMap::new(),
            missing: HashMap::new(),
            no_schema: Arc::new(Layout::default()),
            scratch: Vec::new(),
            last_context: (String::new(), None),
        }
    }

    /// The layout of schema `id`; `Err` when the registry does not know
    /// it. Without a registry, JSON payloads get no typed columns.
    fn layout(&mut self, id: u32, protobuf: bool) -> Result<Arc<Layout>, String> {
        if let Some(l) = self.layouts.get(&id) {
            return Ok(l.clone());
        }
        let Some(registry) = &self.registry else {
            return if protobuf {
                Err(format!(
                    "schema {id} is not in the registry (none is configured)"
                ))
            } else {
                Ok(self.no_schema.clone())
            };
        };
        let resolved = registry.by_id(id).or_else(|| {
            // Registered after the last refresh: look again, at most once
            // per recheck interval.
            let due = self
                .missing
                .get(&id)
                .is_none_or(|t| t.elapsed() > MISSING_SCHEMA_RECHECK);
            if !due {
                return None;
            }
            // Bounded: ids past their recheck are forgotten first.
            if self.missing.len() >= MAX_MISSING_SCHEMAS {
                self.missing
                    .retain(|_, t| t.elapsed() <= MISSING_SCHEMA_RECHECK);
                if self.missing.len() >= MAX_MISSING_SCHEMAS {
                    self.missing.clear();
                }
            }
            self.missing.insert(id, Instant::now());
            let _ = registry.reload();
            registry.by_id(id)
        });
        let Some(resolved) = resolved else {
            return Err(format!("schema {id} is not in the registry"));
        };
        self.missing.remove(&id);
        let layout = Arc::new(Layout::of(Some(&resolved)));
        self.layouts.insert(id, layout.clone());
        Ok(layout)
    }

    /// Reads one record.
    pub fn decode<'a>(&'a mut self, rec: &Incoming<'a>) -> Decoded<'a> {
        if header(rec.headers, header::HEARTBEAT) == Some("true") {
            return Decoded::Heartbeat;
        }
        let fail = |reason: String| {
            Decoded::Error(ErrorRow {
                offset: rec.offset,
                kafka_time_ms: rec.kafka_time_ms,
                reason,
                headers: headers_json(rec.headers),
                value: rec.value.to_vec(),
            })
        };
        if rec.topic == self.dead_letter_topic {
            let Some(reason) = header(rec.headers, dead_letter::REASON) else {
                return fail("dead-letter record without tb-dlq-reason".into());
            };
            let get = |n: &str| header(rec.headers, n).map(str::to_owned);
            return Decoded::DeadLetter(DeadLetterRow {
                offset: rec.offset,
                kafka_time_ms: rec.kafka_time_ms,
                reason: reason.to_owned(),
                message: get(dead_letter::MESSAGE).unwrap_or_default(),
                stage: get(dead_letter::STAGE).unwrap_or_default(),
                original_topic: get(dead_letter::TOPIC).unwrap_or_default(),
                app_id: get(header::APP_ID),
                pointer: get(dead_letter::POINTER),
                rule: get(dead_letter::RULE),
                value: String::from_utf8_lossy(rec.value).into_owned(),
            });
        }
        let record = match decode_record_ref(rec.headers.iter().copied(), rec.value) {
            Ok(r) => r,
            Err(e) => return fail(format!("not a Tributary record: {e}")),
        };
        let env = record.envelope;
        let mut context = env.context.map(Cow::Borrowed);
        let mut extra = env.extra.map(Cow::Borrowed);
        let mut session = None;
        let (layout, payload) = match record.body {
            Body::Event(json) => {
                // Unvalidated: the whole normalised event is the value.
                let parts: EventParts<'_> = match serde_json::from_slice(json) {
                    Ok(p) => p,
                    Err(e) => return fail(format!("value is not a JSON object: {e}")),
                };
                if context.is_none() {
                    context = parts.context.map(|c| compact(c.get()));
                }
                if extra.is_none() {
                    // Sorted by name, like a JSON object read into a map.
                    let fields = [
                        ("groupId", parts.group_id),
                        ("integrations", parts.integrations),
                        ("previousId", parts.previous_id),
                        ("sessionId", parts.session_id),
                    ];
                    let values: Vec<(&str, Cow<'_, str>)> = fields
                        .into_iter()
                        .filter_map(|(k, v)| v.map(|v| (k, compact(v.get()))))
                        .collect();
                    extra =
                        json_object(values.iter().map(|(k, v)| (*k, v.as_ref()))).map(Cow::Owned);
                    session = session_id(parts.session_id);
                }
                // `properties`, else `traits`; anything but an object gives
                // an empty payload.
                let layout = self.no_schema.clone();
                let payload = parts
                    .properties
                    .or(parts.traits)
                    .and_then(|p| Payload::read(&layout, p.get().as_bytes()).ok())
                    .unwrap_or_default();
                (layout, payload)
            }
            Body::Json { schema_id, json } => {
                let layout = match self.layout(schema_id, false) {
                    Ok(l) => l,
                    Err(e) => return fail(e),
                };
                match Payload::read(&layout, json) {
                    Ok(p) => (layout, p),
                    Err(e) => {
                        return fail(format!(
                            "schema {schema_id}: payload is not a JSON object: {e}"
                        ));
                    }
                }
            }
            Body::Protobuf {
                schema_id, message, ..
            } => {
                let layout = match self.layout(schema_id, true) {
                    Ok(l) => l,
                    Err(e) => return fail(e),
                };
                let text = match layout.json_text(message, &mut self.scratch) {
                    Ok(t) => t,
                    Err(e) => return fail(format!("schema {schema_id}: {e}")),
                };
                match Payload::read(&layout, text) {
                    Ok(p) => (layout, p),
                    Err(e) => return fail(format!("schema {schema_id}: {e}")),
                }
            }
        };
        if session.is_none()
            && let Some(e) = extra.as_deref()
        {
            session = serde_json::from_str::<ExtraParts<'_>>(e)
                .ok()
                .and_then(|p| session_id(p.session_id));
        }
        // Records of a partition come in runs from one device (the key is
        // the user), whose events share one context: the app version is
        // parsed out of a context only when it differs from the last one.
        let app_version = match context.as_deref() {
            Some(c) => {
                if self.last_context.0 != c {
                    let version = app_version(c).map(Cow::into_owned);
                    self.last_context = (c.to_owned(), version);
                }
                self.last_context.1.as_deref().map(Cow::Borrowed)
            }
            None => None,
        };
        Decoded::Event(EventRow {
            offset: rec.offset,
            message_id: env.message_id,
            event_type: env.event_type.as_str(),
            event_name: env.event_name,
            app_id: env.app_id,
            schema_id: env.schema_id,
            event_time_ms: env.timestamp.timestamp_millis(),
            client_time_ms: env.client_timestamp.map(|t| t.timestamp_millis()),
            sent_at_ms: env.sent_at.map(|t| t.timestamp_millis()),
            received_at_ms: env.received_at.timestamp_millis(),
            kafka_time_ms: rec.kafka_time_ms,
            user_id: env.user_id,
            anonymous_id: env.anonymous_id,
            session_id: session,
            app_version,
            context,
            custom_attributes: env.custom_attributes,
            extra,
            enrichment: env.enrichment,
            layout,
            payload,
        })
    }
}

/// The hour a time in ms falls in, counted from the epoch (UTC): what the
/// lake's `dt=`/`hr=` directories are cut by.
pub fn hour_of(ms: i64) -> i64 {
    ms.div_euclid(3_600_000)
}

/// `YYYY-MM-DD` and `HH` of an hour from [`hour_of`].
pub fn date_hour(hour: i64) -> (String, String) {
    let t = time::from_millis(hour.saturating_mul(3_600_000));
    (t.format("%Y-%m-%d").to_string(), t.format("%H").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::Cell;
    use tributary_contract::envelope::{Encoding, Envelope};
    use tributary_contract::event::EventType;
    use tributary_contract::wire::frame_json;

    fn envelope(schema_id: Option<u32>, context: Option<&str>, extra: Option<&str>) -> Envelope {
        let t = time::from_millis(1_764_064_800_123);
        Envelope {
            event_type: EventType::Track,
            event_name: "Order Completed".into(),
            message_id: "m1".into(),
            app_id: "shop".into(),
            schema_id,
            encoding: if schema_id.is_some() {
                Encoding::ConfluentJson
            } else {
                Encoding::Json
            },
            timestamp: t,
            client_timestamp: Some(t),
            sent_at: None,
            received_at: t,
            custom_attributes: None,
            unrouted: false,
            user_id: None,
            anonymous_id: Some("device-1".into()),
            context: context.map(str::to_owned),
            extra: extra.map(str::to_owned),
            unvalidated: schema_id.is_none(),
            enrichment: None,
            hot_key: false,
        }
    }

    fn decode_with<'a>(d: &'a mut Decoder, env: &Envelope, value: &'a [u8]) -> Decoded<'a> {
        let headers: Vec<(&'static str, String)> = env.to_headers();
        // The row borrows the headers: keep them for the test's length.
        let headers: &'a [(&'a str, &'a [u8])] = Box::leak(
            headers
                .into_iter()
                .map(|(k, v)| (k, &*Box::leak(v.into_bytes().into_boxed_slice())))
                .collect::<Vec<_>>()
                .into_boxed_slice(),
        );
        let rec = Incoming {
            topic: "t.order",
            partition: 0,
            offset: 5,
            kafka_time_ms: 1_764_064_800_200,
            headers,
            value,
        };
        d.decode(&rec)
    }

    #[test]
    fn an_unvalidated_event_gives_context_session_and_undeclared_properties() {
        let mut d = Decoder::new("t.dead_letter", None);
        let env = envelope(None, None, None);
        let value = br#"{"type":"track","event":"Order Completed","messageId":"m1",
            "context":{"app":{"version":"4.2.0"}, "locale":"de-DE"},"sessionId":77,
            "integrations":{"All":true},"properties":{"total":12.5,"items":[1, 2]}}"#;
        let Decoded::Event(row) = decode_with(&mut d, &env, value) else {
            panic!("not an event")
        };
        assert_eq!(row.app_version.as_deref(), Some("4.2.0"));
        assert_eq!(row.session_id, Some(77));
        assert_eq!(
            row.context.as_deref(),
            Some(r#"{"app":{"version":"4.2.0"},"locale":"de-DE"}"#)
        );
        assert_eq!(
            row.extra.as_deref(),
            Some(r#"{"integrations":{"All":true},"sessionId":77}"#)
        );
        assert_eq!(
            row.payload.rest_json().as_deref(),
            Some(r#"{"items":[1,2],"total":12.5}"#)
        );
        assert_eq!(row.event_time_ms, 1_764_064_800_123);
        assert_eq!(row.anonymous_id, Some("device-1"));
    }

    #[test]
    fn app_versions_follow_each_records_context() {
        let mut d = Decoder::new("t.dead_letter", None);
        let mut value = Vec::new();
        frame_json(9, &mut value);
        value.extend_from_slice(br#"{"total":1}"#);
        let value: &'static [u8] = Box::leak(value.into_boxed_slice());
        for (context, version) in [
            (Some(r#"{"app":{"version":"1.0"}}"#), Some("1.0")),
            (Some(r#"{"app":{"version":"1.0"}}"#), Some("1.0")),
            (Some(r#"{"app":{"build":"7"}}"#), None),
            (None, None),
            (Some(r#"{"app":{"version":"2.0"}}"#), Some("2.0")),
        ] {
            let env = envelope(Some(9), context, Some(r#"{"sessionId":5}"#));
            let Decoded::Event(row) = decode_with(&mut d, &env, value) else {
                panic!("not an event")
            };
            assert_eq!(row.app_version.as_deref(), version, "{context:?}");
            assert_eq!(row.session_id, Some(5));
            // No registry configured: no typed columns, all in p__extra.
            assert_eq!(row.payload.cells, Vec::<Option<Cell<'_>>>::new());
            assert_eq!(row.payload.rest_json().as_deref(), Some(r#"{"total":1}"#));
        }
    }

    #[test]
    fn unreadable_records_become_error_rows_with_the_reason() {
        let mut d = Decoder::new("t.dead_letter", None);
        let env = envelope(None, None, None);
        let Decoded::Error(e) = decode_with(&mut d, &env, b"[1,2]") else {
            panic!("not an error row")
        };
        assert!(e.reason.contains("not a JSON object"), "{}", e.reason);
        let mut proto = Vec::new();
        tributary_contract::wire::frame_protobuf(3, &[0], &mut proto);
        let mut env = envelope(Some(3), None, None);
        env.encoding = Encoding::ConfluentProtobuf;
        let Decoded::Error(e) = decode_with(&mut d, &env, &proto) else {
            panic!("not an error row")
        };
        assert!(
            e.reason.contains("schema 3 is not in the registry"),
            "{}",
            e.reason
        );
    }
}
