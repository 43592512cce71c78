//! The request body's shape: a Segment batch (`{"batch": [...], "sentAt",
//! "context"}`) or a single event on `/v1/<kind>`. Events are kept as raw
//! JSON slices here; each is read on its own later, so one bad event never
//! sinks the batch.

use crate::error::RequestError;
use serde::Deserialize;
use serde_json::error::Category;
use serde_json::value::RawValue;
use tributary_contract::scan::{Reader, Token};
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
            let body = match split(text) {
                Some(fields) => fields,
                None => {
                    // Not the plain shape: serde_json reads it, and says
                    // exactly what is wrong if anything is.
                    let b: BatchBody<'_> = serde_json::from_str(text).map_err(json_error)?;
                    Fields {
                        batch: b.batch.map(|e| e.into_iter().map(RawValue::get).collect()),
                        sent_at: b.sent_at.map(RawValue::get),
                        context: b.context,
                        client_report: b.client_report,
                        write_key: b.write_key,
                    }
                }
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

/// The batch-level fields, however they were read.
struct Fields<'a> {
    batch: Option<Vec<&'a str>>,
    sent_at: Option<&'a str>,
    context: Option<&'a RawValue>,
    client_report: Option<ClientReport>,
    write_key: Option<String>,
}

/// Reads a batch body in one pass with the contract's reader, keeping each
/// event as a slice of the body: the common shape, an object with a
/// `batch` array and the optional batch fields, each once. Anything else
/// (`None`) is left to serde_json, so the outcome — including every error
/// message — is the same either way; only the cost differs.
fn split(text: &str) -> Option<Fields<'_>> {
    let mut r = Reader::new(text);
    if !matches!(r.value()?, Token::Object) {
        return None;
    }
    let mut fields = Fields {
        batch: None,
        sent_at: None,
        context: None,
        client_report: None,
        write_key: None,
    };
    let (mut sent_at, mut context, mut report, mut key) = (None, None, None, None);
    let mut first = true;
    while let Some(name) = r.next_key(&mut first)? {
        let slot = match name.decode()?.as_ref() {
            "batch" => {
                if fields.batch.is_some() || !matches!(r.value()?, Token::Array) {
                    return None;
                }
                let mut events = Vec::with_capacity(128);
                let mut more = true;
                while r.next_element(&mut more)? {
                    events.push(r.raw_value()?);
                }
                fields.batch = Some(events);
                continue;
            }
            "sentAt" => &mut sent_at,
            "context" => &mut context,
            "clientReport" => &mut report,
            "writeKey" => &mut key,
            _ => {
                r.raw_value()?;
                continue;
            }
        };
        if slot.is_some() {
            return None;
        }
        *slot = Some(r.raw_value()?);
    }
    if !r.at_end() {
        return None;
    }
    fields.sent_at = sent_at;
    if let Some(c) = context {
        fields.context = Some(serde_json::from_str::<&RawValue>(c).ok()?);
    }
    if let Some(rep) = report {
        fields.client_report = serde_json::from_str::<Option<ClientReport>>(rep).ok()?;
    }
    if let Some(k) = key {
        fields.write_key = serde_json::from_str::<Option<String>>(k).ok()?;
    }
    Some(fields)
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
    fn the_one_pass_split_and_serde_agree() {
        let bodies: [&[u8]; 8] = [
            br#"{"batch":[{"a":1}, [2] ,3],"sentAt":"2026-11-25T10:00:00Z","context":{"os":"x"}}"#,
            br#" {"writeKey":"k","batch":[],"clientReport":null,"other":{"x":[1]}} "#,
            br#"{"batch":[{"a":"\u00e9"}],"sentAt":null,"context":null}"#,
            br#"{"batch":[1],"batch":[2]}"#,
            br#"{"batch":null}"#,
            br#"{"batch":[1],"writeKey":5}"#,
            br#"{"batch":[1]} x"#,
            br#"{"b\u0061tch":[1]}"#,
        ];
        for body in bodies {
            let text = std::str::from_utf8(body).unwrap();
            let fast = parse(body, BatchRoute::Batch, 10);
            let by_serde: Result<BatchBody<'_>, _> = serde_json::from_str(text);
            match (&fast, by_serde) {
                (Ok(b), Ok(s)) => {
                    let events: Vec<&str> = s
                        .batch
                        .unwrap_or_default()
                        .into_iter()
                        .map(RawValue::get)
                        .collect();
                    assert_eq!(b.events, events, "{text}");
                    assert_eq!(b.write_key, s.write_key, "{text}");
                }
                (Err(e), Err(s)) => assert_eq!(*e, json_error(s), "{text}"),
                (Err(e), Ok(_)) => assert_eq!(e.code, ErrorCode::InvalidBatch, "{text}: {e:?}"),
                (Ok(_), Err(e)) => panic!("{text}: split accepted what serde refuses: {e}"),
            }
        }
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
