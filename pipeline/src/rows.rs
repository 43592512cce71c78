//! One Kafka record → one row: read with the contract library
//! (`decode_record`), the payload decoded with the registry (protobuf to
//! JSON), and the facts the Parquet columns and health metrics need pulled
//! out once. A record that cannot be read becomes an [`ErrorRow`] with the
//! reason — it goes to the error location, never away.

use serde_json::{Map, Value};
use tributary_contract::envelope::{dead_letter, header};
use tributary_contract::time;
use tributary_contract::wire::{Body, decode_record};
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

/// An event, ready for its columns.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRow {
    /// Kafka offset.
    pub offset: i64,
    /// Client message id.
    pub message_id: String,
    /// `track`, `identify`, ...
    pub event_type: String,
    /// Routing name.
    pub event_name: String,
    /// App of the write key.
    pub app_id: String,
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
    pub user_id: Option<String>,
    /// `anonymousId`.
    pub anonymous_id: Option<String>,
    /// `sessionId`.
    pub session_id: Option<i64>,
    /// `context.app.version`.
    pub app_version: Option<String>,
    /// Context JSON.
    pub context: Option<String>,
    /// Custom attributes JSON.
    pub custom_attributes: Option<String>,
    /// Other top-level fields JSON.
    pub extra: Option<String>,
    /// The payload (properties or traits), decoded.
    pub payload: Map<String, Value>,
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
#[derive(Debug, Clone, PartialEq)]
pub enum Decoded {
    /// An event.
    Event(EventRow),
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

/// Reads one record. `dead_letter_topic` names the gateway's DLQ.
pub fn decode(rec: &Incoming<'_>, dead_letter_topic: &str, registry: Option<&Registry>) -> Decoded {
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
    if rec.topic == dead_letter_topic {
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
    let record = match decode_record(rec.headers.iter().copied(), rec.value) {
        Ok(r) => r,
        Err(e) => return fail(format!("not a Tributary record: {e}")),
    };
    let env = record.envelope;
    let mut context = env.context.clone();
    let mut extra = env.extra.clone();
    let payload: Map<String, Value> = match &record.body {
        Body::Event(json) => {
            // Unvalidated: the whole normalised event is the value.
            let mut event: Map<String, Value> = match serde_json::from_slice(json) {
                Ok(m) => m,
                Err(e) => return fail(format!("value is not a JSON object: {e}")),
            };
            if context.is_none() {
                context = event.get("context").map(Value::to_string);
            }
            let payload = event
                .remove("properties")
                .or_else(|| event.remove("traits"))
                .and_then(|v| match v {
                    Value::Object(m) => Some(m),
                    _ => None,
                })
                .unwrap_or_default();
            if extra.is_none() {
                let rest: Map<String, Value> = event
                    .into_iter()
                    .filter(|(k, _)| {
                        matches!(
                            k.as_str(),
                            "sessionId" | "groupId" | "previousId" | "integrations"
                        )
                    })
                    .collect();
                extra = (!rest.is_empty()).then(|| Value::Object(rest).to_string());
            }
            payload
        }
        Body::Json { schema_id, json } => match serde_json::from_slice(json) {
            Ok(Value::Object(m)) => m,
            Ok(_) => return fail(format!("schema {schema_id}: payload is not a JSON object")),
            Err(e) => return fail(format!("schema {schema_id}: payload is not JSON: {e}")),
        },
        Body::Protobuf {
            schema_id, message, ..
        } => {
            let Some(resolved) = registry.and_then(|r| {
                r.by_id(*schema_id).or_else(|| {
                    // Registered after the last refresh: look again once.
                    let _ = r.reload();
                    r.by_id(*schema_id)
                })
            }) else {
                return fail(format!("schema {schema_id} is not in the registry"));
            };
            match resolved.compiled.decode(message) {
                Ok(Value::Object(m)) => m,
                Ok(_) => return fail(format!("schema {schema_id}: payload is not a message")),
                Err(e) => return fail(format!("schema {schema_id}: {e}")),
            }
        }
    };
    let parsed_context: Option<Value> = context
        .as_deref()
        .and_then(|c| serde_json::from_str(c).ok());
    let app_version = parsed_context
        .as_ref()
        .and_then(|c| c.pointer("/app/version"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let session_id = extra
        .as_deref()
        .and_then(|e| serde_json::from_str::<Value>(e).ok())
        .and_then(|e| e.get("sessionId").and_then(Value::as_i64));
    Decoded::Event(EventRow {
        offset: rec.offset,
        message_id: env.message_id,
        event_type: env.event_type.as_str().to_owned(),
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
        session_id,
        app_version,
        context,
        custom_attributes: env.custom_attributes,
        extra,
        payload,
    })
}

/// `YYYY-MM-DD` and `HH` of a time in ms (UTC).
pub fn date_hour(ms: i64) -> (String, String) {
    let t = time::from_millis(ms);
    (t.format("%Y-%m-%d").to_string(), t.format("%H").to_string())
}
