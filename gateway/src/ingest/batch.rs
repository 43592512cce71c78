//! The request body's shape: a Segment batch (`{"batch": [...], "sentAt",
//! "context"}`) or a single event on `/v1/<kind>`. Events are kept as raw
//! JSON slices here; each is read on its own later, so one bad event never
//! sinks the batch.

use crate::error::RequestError;
use serde::Deserialize;
use serde_json::error::Category;
use serde_json::value::RawValue;
use tributary_contract::time::{self, Timestamp};
use tributary_contract::{ClientReport, ErrorCode, EventType};

/// Which ingest route a request came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchRoute {
    /// `POST /v1/batch`.
    Batch,
    /// `POST /v1/<kind>` with one event as the body.
    Single(EventType),
}

/// A parsed body: raw events plus the batch-level fields.
#[derive(Debug)]
pub struct RawBatch<'a> {
    /// Events in client order, unparsed: each the text of one JSON value,
    /// a slice of the body.
    pub events: Vec<&'a str>,
    /// Batch-level `sentAt`.
    pub sent_at: Option<Timestamp>,
    /// Batch-level context, shared by every event.
    pub context: Option<&'a RawValue>,
    /// Kind implied by a single-event route.
    pub implied: Option<EventType>,
    /// Events the client says it dropped (SDK client report).
    pub client_report: Option<ClientReport>,
    /// Write key in the body, for senders that cannot set headers.
    pub write_key: Option<String>,
}

#[derive(Deserialize)]
struct BatchBody<'a> {
    #[serde(borrow)]
    batch: Option<Vec<&'a RawValue>>,
    #[serde(rename = "sentAt", borrow)]
    sent_at: Option<&'a RawValue>,
    #[serde(borrow)]
    context: Option<&'a RawValue>,
    #[serde(rename = "clientReport", default)]
    client_report: Option<ClientReport>,
    #[serde(rename = "writeKey", default)]
    write_key: Option<String>,
}

/// Splits a decoded body into raw events, refusing bodies that are not JSON
/// (`invalid_json`), not the batch shape (`invalid_batch`) or too long
/// (`too_many_events`).
pub fn parse(
    body: &[u8],
    route: BatchRoute,
    max_events: usize,
) -> Result<RawBatch<'_>, RequestError> {
    let text = std::str::from_utf8(body).map_err(|e| {
        RequestError::new(
            ErrorCode::InvalidJson,
            format!(
                "body is not UTF-8 (invalid byte at offset {})",
                e.valid_up_to()
            ),
        )
    })?;
    match route {
        BatchRoute::Single(kind) => {
            let event: &RawValue = serde_json::from_str(text).map_err(json_error)?;
            if !event.get().starts_with('{') {
                return Err(RequestError::new(
                    ErrorCode::InvalidBatch,
                    "body must be one event object",
                ));
            }
            Ok(RawBatch {
                events: vec![event.get()],
                sent_at: None,
                context: None,
                implied: Some(kind),
                client_report: None,
                write_key: None,
            })
        }
        BatchRoute::Batch => {
            let b: BatchBody<'_> = serde_json::from_str(text).map_err(json_error)?;
            let body = Fields {
                batch: b.batch.map(|e| e.into_iter().map(RawValue::get).collect()),
                sent_at: b.sent_at.map(RawValue::get),
                context: b.context,
                client_report: b.client_report,
                write_key: b.write_key,
            };
            let events = body.batch.ok_or_else(|| {
                RequestError::new(ErrorCode::InvalidBatch, "body has no `batch` array")
            })?;
            if events.len() > max_events {
                return Err(RequestError::new(
                    ErrorCode::TooManyEvents,
                    format!(
                        "batch has {} events; the limit is {max_events}",
                        events.len()
                    ),
                ));
            }
            let sent_at = match body.sent_at.filter(|r| *r != "null") {
                None => None,
                Some(raw) => Some(
                    serde_json::from_str::<&str>(raw)
                        .ok()
                        .and_then(time::parse)
                        .ok_or_else(|| {
                            RequestError::new(
                                ErrorCode::InvalidBatch,
                                "`sentAt` must be an RFC 3339 timestamp string",
                            )
                        })?,
                ),
            };
            let context = body.context.filter(|r| r.get() != "null");
            if context.is_some_and(|c| !c.get().starts_with('{')) {
                return Err(RequestError::new(
                    ErrorCode::InvalidBatch,
                    "`context` must be an object",
                ));
            }
            Ok(RawBatch {
                events,
                sent_at,
                context,
                implied: None,
                client_report: body.client_report,
                write_key: body.write_key,
            })
        }
    }
}

/// The batch-level fields, events as slices of the body.
struct Fields<'a> {
    batch: Option<Vec<&'a str>>,
    sent_at: Option<&'a str>,
    context: Option<&'a RawValue>,
    client_report: Option<ClientReport>,
    write_key: Option<String>,
}

fn json_error(e: serde_json::Error) -> RequestError {
    match e.classify() {
        Category::Syntax | Category::Eof | Category::Io => RequestError::new(
            ErrorCode::InvalidJson,
            format!("body is not valid JSON: {e}"),
        ),
        Category::Data => RequestError::new(
            ErrorCode::InvalidBatch,
            format!("body is not a batch object with a `batch` array: {e}"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_a_batch_into_raw_events() {
        let body =
            br#"{"batch":[{"a":1},[2],3],"sentAt":"2026-11-25T10:00:00Z","context":{"os":"x"}}"#;
        let b = parse(body, BatchRoute::Batch, 10).unwrap();
        assert_eq!(b.events.len(), 3);
        assert_eq!(b.events[1], "[2]");
        assert!(b.sent_at.is_some());
        assert_eq!(b.context.unwrap().get(), r#"{"os":"x"}"#);
    }

    #[test]
    fn classifies_bad_bodies() {
        let cases: [(&[u8], ErrorCode); 7] = [
            (b"not json", ErrorCode::InvalidJson),
            (b"{\"batch\":[", ErrorCode::InvalidJson),
            (b"\xff\xfe", ErrorCode::InvalidJson),
            (b"[1,2]", ErrorCode::InvalidBatch),
            (b"{}", ErrorCode::InvalidBatch),
            (b"{\"batch\":{}}", ErrorCode::InvalidBatch),
            (
                b"{\"batch\":[],\"sentAt\":\"soon\"}",
                ErrorCode::InvalidBatch,
            ),
        ];
        for (body, code) in cases {
            assert_eq!(
                parse(body, BatchRoute::Batch, 10).unwrap_err().code,
                code,
                "{body:?}"
            );
        }
        let too_many = br#"{"batch":[1,2,3]}"#;
        assert_eq!(
            parse(too_many, BatchRoute::Batch, 2).unwrap_err().code,
            ErrorCode::TooManyEvents
        );
    }

    #[test]
    fn single_event_route_takes_the_body_as_the_event() {
        let b = parse(
            br#"{"event":"e"}"#,
            BatchRoute::Single(EventType::Track),
            10,
        )
        .unwrap();
        assert_eq!(b.implied, Some(EventType::Track));
        assert_eq!(b.events.len(), 1);
        assert_eq!(
            parse(b"[1]", BatchRoute::Single(EventType::Track), 10)
                .unwrap_err()
                .code,
            ErrorCode::InvalidBatch
        );
    }
}
