//! The request body's shape: a Segment batch (`{"batch": [...], "sentAt",
//! "context"}`) or a single event on `/v1/<kind>`. The body is read in one
//! pass: each element of `batch` is read as an event while the body is
//! split ([`read_event`]), so no event's text is scanned twice; each event
//! is judged on its own later, so one bad event never sinks the batch.
//!
//! A body this reader does not take as it stands (a syntax error, a
//! repeated or mistyped batch field) is handed to serde_json, whose answer
//! — and error message — is the one the client gets.

use crate::config::LimitsConfig;
use crate::error::RequestError;
use serde::Deserialize;
use serde_json::error::Category;
use serde_json::value::RawValue;
use std::borrow::Cow;
use tributary_contract::scan::{Reader, Shape, Token};
use tributary_contract::time::{self, Timestamp};
use tributary_contract::view::{ScannedEvent, compact, read_event, scan};
use tributary_contract::{ClientReport, ErrorCode, EventType};

/// Which ingest route a request came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchRoute {
    /// `POST /v1/batch`.
    Batch,
    /// `POST /v1/<kind>` with one event as the body.
    Single(EventType),
}

/// A parsed body: events as read plus the batch-level fields.
#[derive(Debug)]
pub struct RawBatch<'a> {
    /// Events in client order, each read but not yet judged.
    pub events: Vec<ScannedEvent<'a>>,
    /// Batch-level `sentAt`.
    pub sent_at: Option<Timestamp>,
    /// Batch-level context (an object's JSON text), shared by every event.
    pub context: Option<&'a str>,
    /// The same without whitespace between tokens, made once per request
    /// for the `tb-context` header of every event that uses it.
    pub compact_context: Option<Cow<'a, str>>,
    /// Kind implied by a single-event route.
    pub implied: Option<EventType>,
    /// Events the client says it dropped (SDK client report).
    pub client_report: Option<ClientReport>,
    /// Write key in the body, for senders that cannot set headers.
    pub write_key: Option<String>,
}

/// The batch-level fields as found, before their checks.
#[derive(Default)]
struct Fields<'a> {
    batch: Option<Vec<ScannedEvent<'a>>>,
    /// Elements of `batch`, counted past the limit without being kept.
    count: usize,
    sent_at: Option<&'a str>,
    context: Option<&'a str>,
    client_report: Option<ClientReport>,
    write_key: Option<String>,
}

/// The body as serde_json reads it: the reference for what is a batch.
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

fn shape(limits: &LimitsConfig) -> Shape {
    Shape::new(limits.max_nesting_depth, limits.max_string_bytes)
}

/// Splits a decoded body into read events, refusing bodies that are not
/// JSON (`invalid_json`), not the batch shape (`invalid_batch`) or too long
/// (`too_many_events`).
pub fn parse<'a>(
    body: &'a [u8],
    route: BatchRoute,
    limits: &LimitsConfig,
) -> Result<RawBatch<'a>, RequestError> {
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
            let mut r = Reader::new(text);
            let event = match read_event(&mut r, shape(limits)) {
                Some(e) if r.at_end() => e,
                _ => {
                    serde_json::from_str::<&RawValue>(text).map_err(json_error)?;
                    scan(text, shape(limits))
                }
            };
            if !event.text.starts_with('{') {
                return Err(RequestError::new(
                    ErrorCode::InvalidBatch,
                    "body must be one event object",
                ));
            }
            Ok(RawBatch {
                events: vec![event],
                sent_at: None,
                context: None,
                compact_context: None,
                implied: Some(kind),
                client_report: None,
                write_key: None,
            })
        }
        BatchRoute::Batch => {
            let max = limits.max_events_per_batch;
            let body = match read_fast(text, limits) {
                Some(fields) => fields,
                None => read_by_serde(text, limits)?,
            };
            let events = body.batch.ok_or_else(|| {
                RequestError::new(ErrorCode::InvalidBatch, "body has no `batch` array")
            })?;
            if body.count > max {
                return Err(RequestError::new(
                    ErrorCode::TooManyEvents,
                    format!("batch has {} events; the limit is {max}", body.count),
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
            let context = body.context.filter(|r| *r != "null");
            if context.is_some_and(|c| !c.starts_with('{')) {
                return Err(RequestError::new(
                    ErrorCode::InvalidBatch,
                    "`context` must be an object",
                ));
            }
            Ok(RawBatch {
                events,
                sent_at,
                context,
                compact_context: context.map(compact),
                implied: None,
                client_report: body.client_report,
                write_key: body.write_key,
            })
        }
    }
}

/// The one pass over a batch body. `None` for anything it does not take
/// as it stands; serde_json then has the last word.
fn read_fast<'a>(text: &'a str, limits: &LimitsConfig) -> Option<Fields<'a>> {
    let mut r = Reader::new(text);
    let Token::Object = r.value()? else {
        return None;
    };
    let mut fields = Fields::default();
    let mut seen = [false; 5];
    let mut first = true;
    while let Some(key) = r.next_key(&mut first)? {
        let slot = match key.decode()?.as_ref() {
            "batch" => 0,
            "sentAt" => 1,
            "context" => 2,
            "clientReport" => 3,
            "writeKey" => 4,
            _ => {
                r.skip_value(0, &mut Shape::unlimited())?;
                continue;
            }
        };
        if std::mem::replace(&mut seen[slot], true) {
            return None;
        }
        if slot == 0 {
            fields.batch = events(&mut r, limits, &mut fields.count)?;
            continue;
        }
        // As serde_json reads an `Option`: `null` is absent.
        let value = r.raw_value(0, &mut Shape::unlimited())?;
        let present = (value != "null").then_some(value);
        match slot {
            1 => fields.sent_at = present,
            2 => fields.context = present,
            3 => fields.client_report = serde_json::from_str(value).ok()?,
            _ => fields.write_key = serde_json::from_str(value).ok()?,
        }
    }
    r.at_end().then_some(fields)
}

/// The `batch` value: `null`, or an array whose elements are read as
/// events — only the first `max_events_per_batch + 1`; the rest are
/// skipped and counted.
fn events<'a>(
    r: &mut Reader<'a>,
    limits: &LimitsConfig,
    count: &mut usize,
) -> Option<Option<Vec<ScannedEvent<'a>>>> {
    match r.value()? {
        Token::Null => Some(None),
        Token::Array => {
            let mut events = Vec::new();
            let mut first = true;
            while r.next_element(&mut first)? {
                *count += 1;
                if *count > limits.max_events_per_batch {
                    r.skip_value(0, &mut Shape::unlimited())?;
                } else {
                    events.push(read_event(r, shape(limits))?);
                }
            }
            Some(Some(events))
        }
        _ => None,
    }
}

/// The reference reading: serde_json decides whether the body is a batch
/// (and says why not); its events are then read one by one.
fn read_by_serde<'a>(text: &'a str, limits: &LimitsConfig) -> Result<Fields<'a>, RequestError> {
    let b: BatchBody<'a> = serde_json::from_str(text).map_err(json_error)?;
    let count = b.batch.as_ref().map_or(0, Vec::len);
    Ok(Fields {
        batch: b.batch.map(|events| {
            events
                .into_iter()
                .take(limits.max_events_per_batch.saturating_add(1))
                .map(|e| scan(e.get(), shape(limits)))
                .collect()
        }),
        count,
        sent_at: b.sent_at.map(RawValue::get),
        context: b.context.map(RawValue::get),
        client_report: b.client_report,
        write_key: b.write_key,
    })
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

    fn limits(max_events_per_batch: usize) -> LimitsConfig {
        LimitsConfig {
            max_events_per_batch,
            ..LimitsConfig::default()
        }
    }

    #[test]
    fn splits_a_batch_into_raw_events() {
        let body =
            br#"{"batch":[{"a":1},[2],3],"sentAt":"2026-11-25T10:00:00Z","context":{"os":"x"}}"#;
        let b = parse(body, BatchRoute::Batch, &limits(10)).unwrap();
        assert_eq!(b.events.len(), 3);
        assert_eq!(b.events[1].text, "[2]");
        assert!(b.sent_at.is_some());
        assert_eq!(b.context, Some(r#"{"os":"x"}"#));
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
                parse(body, BatchRoute::Batch, &limits(10))
                    .unwrap_err()
                    .code,
                code,
                "{body:?}"
            );
        }
        let too_many = br#"{"batch":[1,2,3]}"#;
        assert_eq!(
            parse(too_many, BatchRoute::Batch, &limits(2))
                .unwrap_err()
                .code,
            ErrorCode::TooManyEvents
        );
    }

    #[test]
    fn single_event_route_takes_the_body_as_the_event() {
        let b = parse(
            br#"{"event":"e"}"#,
            BatchRoute::Single(EventType::Track),
            &limits(10),
        )
        .unwrap();
        assert_eq!(b.implied, Some(EventType::Track));
        assert_eq!(b.events.len(), 1);
        assert_eq!(
            parse(b"[1]", BatchRoute::Single(EventType::Track), &limits(10))
                .unwrap_err()
                .code,
            ErrorCode::InvalidBatch
        );
    }

    /// Bodies near a real batch: every truncation and every one-byte
    /// change of a few seeds. Whatever the one-pass reader accepts,
    /// serde_json must accept with the same split; the seeds themselves
    /// must take the one-pass path.
    #[test]
    fn the_one_pass_reader_agrees_with_serde_json() {
        let seeds = [
            r#"{"batch":[{"type":"track","event":"E","messageId":"m","anonymousId":"a","properties":{"x":[1,2.5e3,-0,true,null],"s":"\u00e9\"\\"},"sessionId":7},{"type":"page"}],"sentAt":"2026-11-25T10:00:00Z","context":{"os":{"name":"iOS"}},"writeKey":"k"}"#,
            "{ \"context\" : { \"a\" : [ 1 , { } ] } ,\n \"batch\" : [ [ ] , 3 , \"x\" , null ] , \"clientReport\" : null , \"other\" : [ { \"b\" : false } ] }",
            r#"{"batch":null,"sentAt":null}"#,
        ];
        let limits = limits(10);
        let mut fast_paths = 0;
        let mut bodies = 0;
        for seed in seeds {
            let seed = seed.as_bytes();
            assert!(read_fast(std::str::from_utf8(seed).unwrap(), &limits).is_some());
            let mut variants: Vec<Vec<u8>> = (0..seed.len()).map(|n| seed[..n].to_vec()).collect();
            for at in 0..seed.len() {
                for b in [
                    b'"', b'\\', b',', b':', b'}', b']', b'{', b'[', b' ', b'1', b'e', b'x', 0x01,
                ] {
                    let mut v = seed.to_vec();
                    v[at] = b;
                    variants.push(v);
                }
            }
            for body in variants {
                let Ok(text) = std::str::from_utf8(&body) else {
                    continue;
                };
                bodies += 1;
                let Some(fast) = read_fast(text, &limits) else {
                    continue;
                };
                fast_paths += 1;
                let serde = read_by_serde(text, &limits).unwrap_or_else(|e| {
                    panic!("one pass took what serde_json refuses: {text}: {e:?}")
                });
                fn texts<'t>(f: &Fields<'t>) -> Option<Vec<&'t str>> {
                    f.batch.as_ref().map(|b| b.iter().map(|e| e.text).collect())
                }
                assert_eq!(texts(&fast), texts(&serde), "{text}");
                assert_eq!(fast.count, serde.count, "{text}");
                assert_eq!(fast.sent_at, serde.sent_at, "{text}");
                assert_eq!(fast.context, serde.context, "{text}");
                assert_eq!(fast.write_key, serde.write_key, "{text}");
                assert_eq!(
                    format!("{:?}", fast.client_report),
                    format!("{:?}", serde.client_report)
                );
                // An event read inside the body is judged as it is alone.
                for e in fast.batch.iter().flatten() {
                    let alone = scan(e.text, shape(&limits));
                    let judged = |e| {
                        tributary_contract::EventView::read(e, None)
                            .map(|v| v.message_id.into_owned())
                            .map_err(|e| e.code)
                    };
                    assert_eq!(judged(e), judged(&alone), "{}", e.text);
                }
            }
        }
        assert!(
            fast_paths > 100 && bodies > 1000,
            "{fast_paths} of {bodies}"
        );
    }

    #[test]
    fn nesting_past_the_limit_rejects_the_event_not_the_body() {
        let deep = format!(
            r#"{{"batch":[{{"type":"track","event":"e","messageId":"m","anonymousId":"a","properties":{{"p":{}1{}}}}},{{"x":1}}]}}"#,
            "[".repeat(300),
            "]".repeat(300)
        );
        let b = parse(deep.as_bytes(), BatchRoute::Batch, &limits(10)).unwrap();
        assert_eq!(b.events.len(), 2);
        let code = tributary_contract::EventView::read(&b.events[0], None)
            .unwrap_err()
            .code;
        assert_eq!(code, ErrorCode::NestingTooDeep);
    }
}
