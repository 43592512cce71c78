//! One decided request as debugger entries, in the batch's order: each
//! accepted event with its topic, envelope headers and value (decoded from
//! its schema encoding), each rejected one with its code, JSON pointer,
//! rule and message, and one line per reason events were dropped at the
//! edge. Accepted events are shown as stored — after suppression,
//! enrichment and the app's privacy rules; a rejected event shows only its
//! name, type and message id, and its message is scrubbed by the same rules
//! as its dead letter.

use super::hub::{Hub, sse};
use crate::delivery::RecordBatch;
use crate::ingest::batch::RawBatch;
use crate::ingest::edge::Dropped;
use crate::privacy::policy::AppPolicy;
use serde_json::{Map, Value, json};
use tributary_contract::EventRejection;
use tributary_contract::envelope::header;
use tributary_contract::time::{self, Timestamp};
use tributary_schema::Registry;

/// What one request decided, as the debugger needs it.
pub struct Decided<'a> {
    /// The write key's app.
    pub app: &'a str,
    /// The request's events as read.
    pub batch: &'a RawBatch<'a>,
    /// The records to be sent.
    pub records: &'a RecordBatch,
    /// The events rejected.
    pub rejected: &'a [EventRejection],
    /// Events dropped at the edge, by reason.
    pub dropped: &'a [(Dropped, usize)],
    /// The app's privacy rules, if any.
    pub policy: Option<&'a AppPolicy>,
    /// The schemas, to show schema-encoded values as JSON.
    pub registry: Option<&'a Registry>,
    /// When the gateway received the request.
    pub received_at: Timestamp,
}

/// Publishes `d` to the viewers of its app, within the hub's budget.
pub fn publish(hub: &Hub, d: &Decided<'_>) {
    let wanted = d.records.records().len() + d.rejected.len() + d.dropped.len();
    let admitted = hub.admit(d.app, wanted);
    if admitted == 0 {
        return;
    }
    let max = hub.config().max_shown_bytes;
    let at = time::format(d.received_at);
    // Only the admitted entries are built: the first ones in batch order.
    let mut order: Vec<(
        usize,
        Option<&crate::delivery::Record>,
        Option<&EventRejection>,
    )> = d
        .records
        .records()
        .iter()
        .map(|r| (r.index, Some(r), None))
        .chain(d.rejected.iter().map(|r| (r.index, None, Some(r))))
        .collect();
    order.sort_by_key(|(i, _, _)| *i);
    let mut entries: Vec<Value> = Vec::with_capacity(admitted);
    for (_, record, rejection) in order.into_iter().take(admitted) {
        entries.push(match (record, rejection) {
            (Some(r), _) => accepted(d, r, &at, max),
            (_, Some(r)) => rejected(d, r, &at, max),
            _ => continue,
        });
    }
    for (why, n) in d.dropped {
        if entries.len() == admitted {
            break;
        }
        entries.push(json!({ "outcome": "dropped", "at": at, "why": why.as_str(), "count": n }));
    }
    hub.publish(d.app, entries.iter().map(sse).collect());
}

fn accepted(d: &Decided<'_>, r: &crate::delivery::Record, at: &str, max: usize) -> Value {
    let mut headers = Map::new();
    for (name, value) in d.records.headers(r) {
        headers.insert(
            name.to_owned(),
            Value::String(cut(&String::from_utf8_lossy(value), max)),
        );
    }
    let h = |n: &str| headers.get(n).cloned().unwrap_or(Value::Null);
    json!({
        "outcome": "accepted",
        "at": at,
        "index": r.index,
        "type": h(header::EVENT_TYPE),
        "event": h(header::EVENT_NAME),
        "messageId": h(header::MESSAGE_ID),
        "topic": &*r.topic,
        "value": shown_value(d.records.value(r), &headers, d.registry, max),
        "headers": headers,
    })
}

fn rejected(d: &Decided<'_>, r: &EventRejection, at: &str, max: usize) -> Value {
    let raw = d.batch.events.get(r.index).map_or("", |e| e.text);
    let fields: Value = serde_json::from_str(raw).unwrap_or(Value::Null);
    let message = match d.policy {
        Some(p) => crate::privacy::scrub_rejected(p, raw, &r.message).1,
        None => r.message.clone(),
    };
    let field = |k: &str| fields.get(k).cloned().unwrap_or(Value::Null);
    json!({
        "outcome": "rejected",
        "at": at,
        "index": r.index,
        "type": field("type"),
        "event": field("event"),
        "messageId": field("messageId"),
        "code": r.code.as_str(),
        "pointer": r.pointer,
        "rule": r.rule,
        "message": cut(&message, max),
    })
}

/// The value as text: JSON as is, a Confluent-framed value decoded by its
/// schema (protobuf shown through its JSON mapping).
fn shown_value(
    value: &[u8],
    headers: &Map<String, Value>,
    registry: Option<&Registry>,
    max: usize,
) -> String {
    let framed = headers
        .get(header::ENCODING)
        .and_then(Value::as_str)
        .is_some_and(|e| e.starts_with("confluent-"));
    if !framed || value.len() < 5 {
        return cut(&String::from_utf8_lossy(value), max);
    }
    let id = u32::from_be_bytes([value[1], value[2], value[3], value[4]]);
    let mut text = Vec::new();
    match registry.and_then(|r| r.by_id(id)) {
        Some(s) if s.compiled.decode_to_text(&value[5..], &mut text).is_ok() => {
            cut(&String::from_utf8_lossy(&text), max)
        }
        _ => format!("({} bytes encoded with schema {id})", value.len() - 5),
    }
}

/// `s`, cut to at most `max` bytes on a character boundary.
fn cut(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes)", &s[..end], s.len())
}
