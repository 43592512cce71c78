//! The decide step without a broker: every rejection, every header, and
//! the records of the fixed corpus byte for byte against those of the
//! event path before this one (aff7db2, `bench/instructions/aff7db2.rs`).

#![allow(clippy::unwrap_used)]

use super::*;
use crate::config::{Config, UnroutedPolicy};
use crate::delivery::Record;
use crate::ingest::batch::{self, BatchRoute};
use std::io::Read;
use std::path::PathBuf;
use tributary_contract::header as h;
use tributary_schema::Source;

use crate::ingest::corpus::{self, APP};

struct Setup {
    config: Config,
    router: Router,
    registry: Option<Registry>,
    allowed: HashSet<String>,
}

/// The corpus's configuration, with `unrouted` events going where it says.
fn setup(with_registry: bool, unrouted: UnroutedPolicy) -> Setup {
    let mut config = corpus::config(with_registry);
    config.routing.unrouted = unrouted;
    let router = Router::new(&config, &[]);
    let registry =
        with_registry.then(|| Registry::open(Source::Dir(corpus::schemas_dir())).unwrap());
    Setup {
        config,
        router,
        registry,
        allowed: corpus::allowed_events(),
    }
}

impl Setup {
    fn decider(&self, received_at: Timestamp, policy: UnregisteredPolicy) -> Decider<'_> {
        let rules = Rules {
            limits: &self.config.limits,
            router: &self.router,
            registry: self.registry.as_ref(),
            default_ack: self.config.delivery.ack,
            hot_keys: None,
        };
        let sender = Sender {
            app_id: APP,
            ack: None,
            allowed_events: Some(&self.allowed),
            unregistered: policy,
        };
        Decider::new(rules, sender, received_at)
    }

    /// Decides every event of `body`: the batch and the rejections.
    fn decide(&self, body: &str, received_at: Timestamp) -> (RecordBatch, Vec<EventRejection>) {
        self.decide_with(body, received_at, self.config.schemas.unregistered)
    }

    fn decide_with(
        &self,
        body: &str,
        received_at: Timestamp,
        policy: UnregisteredPolicy,
    ) -> (RecordBatch, Vec<EventRejection>) {
        let batch = batch::parse(body.as_bytes(), BatchRoute::Batch, &self.config.limits).unwrap();
        let mut d = self.decider(received_at, policy);
        let mut out = RecordBatch::default();
        let mut rejected = Vec::new();
        for (i, event) in batch.events.iter().enumerate() {
            if let Err(r) = d.decide(&batch, i, event, &mut out) {
                rejected.push(r);
            }
        }
        (out, rejected)
    }
}

fn now() -> Timestamp {
    tributary_contract::time::parse("2026-11-25T10:00:07.123Z").unwrap()
}

fn one(event: &str) -> String {
    format!(r#"{{"batch":[{event}],"sentAt":"2026-11-25T10:00:05.000Z"}}"#)
}

fn header<'b>(b: &'b RecordBatch, r: &Record, name: &str) -> Option<&'b str> {
    b.headers(r)
        .find(|(n, _)| *n == name)
        .map(|(_, v)| std::str::from_utf8(v).unwrap())
}

#[test]
fn every_rejection_has_its_code_and_leaves_nothing_behind() {
    let s = setup(true, UnroutedPolicy::Reject);
    let deep = format!("{}1{}", "[".repeat(40), "]".repeat(40));
    let long = "x".repeat(s.config.limits.max_string_bytes + 1);
    let huge = "y".repeat(s.config.limits.max_event_bytes);
    let cases: Vec<(String, ErrorCode)> = vec![
        (format!(r#"{{"type":"track","event":"Order Completed","messageId":"m","userId":"u","properties":{{"p":"{huge}"}}}}"#), ErrorCode::EventTooLarge),
        (format!(r#"{{"type":"track","event":"Order Completed","messageId":"m","userId":"u","properties":{{"n":{deep}}}}}"#), ErrorCode::NestingTooDeep),
        (format!(r#"{{"type":"track","event":"Order Completed","messageId":"m","userId":"u","properties":{{"s":"{long}"}}}}"#), ErrorCode::StringTooLong),
        ("[1]".into(), ErrorCode::InvalidEvent),
        (r#"{"event":"Order Completed","messageId":"m","userId":"u"}"#.into(), ErrorCode::MissingField),
        (r#"{"type":"track","event":"Order Completed","userId":"u"}"#.into(), ErrorCode::MissingField),
        (r#"{"type":"track","event":"Order Completed","messageId":"m"}"#.into(), ErrorCode::MissingField),
        (r#"{"type":"track","messageId":"m","userId":"u"}"#.into(), ErrorCode::MissingField),
        (r#"{"type":"bogus","messageId":"m","userId":"u"}"#.into(), ErrorCode::UnknownType),
        (r#"{"type":"track","event":"Order Completed","messageId":"m","userId":"u","timestamp":"soon"}"#.into(), ErrorCode::InvalidField),
        (r#"{"type":"track","event":"Order Completed","messageId":"m","messageId":"n","userId":"u"}"#.into(), ErrorCode::DuplicateField),
        (r#"{"type":"track","event":"Secret Event","messageId":"m","userId":"u"}"#.into(), ErrorCode::EventNotAllowed),
        (r#"{"type":"track","event":"Unknown Thing","messageId":"m","userId":"u"}"#.into(), ErrorCode::UnroutedEvent),
        (r#"{"type":"track","event":"Order Completed","messageId":"m","userId":"u","properties":{"orderId":"o","total":-1}}"#.into(), ErrorCode::SchemaViolation),
        (r#"{"type":"track","event":"Checkout Started","messageId":"m","userId":"u","properties":{"cartId":"c","colour":"red"}}"#.into(), ErrorCode::SchemaViolation),
    ];
    for (event, code) in &cases {
        let (out, rejected) = s.decide(&one(event), now());
        assert!(out.is_empty(), "{code:?}: a record was written");
        assert_eq!(rejected.len(), 1, "{event}");
        assert_eq!(rejected[0].code, *code, "{event}: {}", rejected[0].message);
        assert_eq!(rejected[0].retryable, code.retryable());
    }
    // Schema violations name the pointer and the rule.
    let (_, r) = s.decide(&one(&cases[13].0), now());
    assert_eq!(
        (r[0].pointer.as_deref(), r[0].rule.as_deref()),
        (Some("/total"), Some("minimum"))
    );
    // An app that rejects unregistered events.
    let page = r#"{"type":"page","messageId":"m","anonymousId":"a"}"#;
    let (out, r) = s.decide_with(&one(page), now(), UnregisteredPolicy::Reject);
    assert!(out.is_empty());
    assert_eq!(r[0].code, ErrorCode::UnregisteredEvent);
    // A rejection between two records rolls back only its own bytes.
    let ok = r#"{"type":"track","event":"Order Completed","messageId":"ok","userId":"u","properties":{"orderId":"o","total":1}}"#;
    let body = format!(r#"{{"batch":[{ok},{},{ok}]}}"#, cases[13].0);
    let (out, r) = s.decide(&body, now());
    assert_eq!(out.records().len(), 2);
    assert_eq!(r[0].index, 1);
    assert_eq!(out.value(&out.records()[0]), out.value(&out.records()[1]));
}

#[test]
fn every_header_is_written_when_it_applies() {
    let s = setup(true, UnroutedPolicy::CatchAll);
    let encoded = r#"{"type":"track","event":"Order Completed","messageId":"m-1","userId":"u","anonymousId":"a","timestamp":"2026-11-25T10:00:04.000Z","custom_attributes":{"ab":"b"},"context":{"os":{"name":"iOS"}},"groupId":"g","sessionId":7,"properties":{"orderId":"o","total":1}}"#;
    let (out, r) = s.decide(&one(encoded), now());
    assert!(r.is_empty(), "{r:?}");
    let rec = &out.records()[0];
    let schema_id = s
        .registry
        .as_ref()
        .unwrap()
        .for_event(APP, "Order Completed")
        .unwrap()
        .schema
        .id
        .to_string();
    let expect = [
        (h::EVENT_TYPE, Some("track")),
        (h::EVENT_NAME, Some("Order Completed")),
        (h::MESSAGE_ID, Some("m-1")),
        (h::APP_ID, Some(APP)),
        (h::SCHEMA, Some(schema_id.as_str())),
        (h::ENCODING, Some("confluent-json")),
        // Skew-corrected: one second before sentAt is one second before receipt.
        (h::TIMESTAMP, Some("2026-11-25T10:00:06.123Z")),
        (h::CLIENT_TIMESTAMP, Some("2026-11-25T10:00:04.000Z")),
        (h::SENT_AT, Some("2026-11-25T10:00:05.000Z")),
        (h::RECEIVED_AT, Some("2026-11-25T10:00:07.123Z")),
        (h::CUSTOM_ATTRIBUTES, Some(r#"{"ab":"b"}"#)),
        (h::UNROUTED, None),
        (h::USER_ID, Some("u")),
        (h::ANONYMOUS_ID, Some("a")),
        (h::CONTEXT, Some(r#"{"os":{"name":"iOS"}}"#)),
        (h::EXTRA, Some(r#"{"groupId":"g","sessionId":7}"#)),
        (h::UNVALIDATED, None),
    ];
    for (name, value) in expect {
        assert_eq!(header(&out, rec, name), value, "{name}");
    }
    assert_eq!(out.key(rec), b"u", "the key is the user id");
    assert_eq!(&*rec.topic, "tributary.order_completed");
    assert_eq!(rec.index, 0);
    assert_eq!(rec.timestamp_ms, now().timestamp_millis());
    // Unvalidated (no schema, accepted by policy) and unrouted.
    let unknown = r#"{"type":"track","event":"Unknown Thing","messageId":"m-2","anonymousId":"a"}"#;
    let (out, r) = s.decide(&one(unknown), now());
    assert!(r.is_empty(), "{r:?}");
    let rec = &out.records()[0];
    assert_eq!(header(&out, rec, h::UNVALIDATED), Some("true"));
    assert_eq!(header(&out, rec, h::SCHEMA), Some("none"));
    assert_eq!(header(&out, rec, h::ENCODING), Some("json"));
    assert_eq!(
        header(&out, rec, h::CONTEXT),
        None,
        "a json value carries its context"
    );
    assert_eq!(
        out.key(rec),
        b"a",
        "without a user id the key is the anonymous id"
    );
    let no_registry = setup(false, UnroutedPolicy::CatchAll);
    let (out, _) = no_registry.decide(&one(unknown), now());
    let rec = &out.records()[0];
    assert_eq!(header(&out, rec, h::UNROUTED), Some("true"));
    assert_eq!(&*rec.topic, "tributary.unrouted");
    assert_eq!(header(&out, rec, h::UNVALIDATED), None);
    let value: serde_json::Value = serde_json::from_slice(out.value(rec)).unwrap();
    assert_eq!(
        value["messageId"], "m-2",
        "the value is the normalised event"
    );
}

/// The corpus and the records aff7db2 made of it.
fn corpus() -> (Timestamp, Vec<String>, Vec<serde_json::Value>) {
    let (at, batches) = corpus::load().unwrap();
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let mut text = String::new();
    flate2::read::GzDecoder::new(
        std::fs::File::open(dir.join("event_path_aff7db2.jsonl.gz")).unwrap(),
    )
    .read_to_string(&mut text)
    .unwrap();
    let golden = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (at, batches, golden)
}

#[test]
fn records_are_byte_for_byte_those_of_the_previous_event_path() {
    let (at, batches, golden) = corpus();
    let mut lines = Vec::new();
    for with_registry in [true, false] {
        let s = setup(with_registry, UnroutedPolicy::CatchAll);
        for (b, body) in batches.iter().enumerate() {
            let (out, rejected) = s.decide(body, at);
            // The old path emitted records and rejections in event order.
            let mut items: Vec<(usize, serde_json::Value)> = out
                .records()
                .iter()
                .map(|r| {
                    let headers: Vec<String> = out
                        .headers(r)
                        .map(|(k, v)| format!("{k}={}", hex::encode(v)))
                        .collect();
                    (
                        r.index,
                        serde_json::json!({"registry": with_registry, "batch": b, "index": r.index,
                            "topic": &*r.topic, "key": hex::encode(out.key(r)), "headers": headers,
                            "value": hex::encode(out.value(r))}),
                    )
                })
                .collect();
            items.extend(rejected.into_iter().map(|r| {
                (
                    r.index,
                    serde_json::json!({"registry": with_registry, "batch": b, "index": r.index,
                        "code": r.code.as_str(), "message": r.message, "pointer": r.pointer,
                        "rule": r.rule}),
                )
            }));
            items.sort_by_key(|(i, _)| *i);
            lines.extend(items.into_iter().map(|(_, v)| v));
        }
    }
    assert_eq!(lines.len(), golden.len());
    for (new, old) in lines.iter().zip(&golden) {
        assert_eq!(new, old, "differs from aff7db2");
    }
}

#[test]
fn a_user_over_its_rate_loses_its_key_and_is_marked_or_goes_to_the_overflow_topic() {
    for overflow in [false, true] {
        let mut s = setup(false, UnroutedPolicy::CatchAll);
        if overflow {
            s.config.hot_keys.events_per_second = 1;
            s.config.hot_keys.overflow = crate::config::HotKeyOverflow::Topic;
            s.router = Router::new(&s.config, &[]);
        }
        let hot = HotKeys::new(1, 2, 64).unwrap();
        let rules = Rules {
            limits: &s.config.limits,
            router: &s.router,
            registry: None,
            default_ack: s.config.delivery.ack,
            hot_keys: Some(&hot),
        };
        let sender = Sender {
            app_id: APP,
            ack: None,
            allowed_events: None,
            unregistered: s.config.schemas.unregistered,
        };
        let events: Vec<String> = (0..6)
            .map(|i| format!(r#"{{"type":"track","event":"Order Completed","messageId":"m{i}","userId":"loop"}}"#))
            .chain([r#"{"type":"track","event":"Order Completed","messageId":"c","userId":"calm"}"#.to_owned()])
            .collect();
        let body = format!(r#"{{"batch":[{}]}}"#, events.join(","));
        let batch = batch::parse(body.as_bytes(), BatchRoute::Batch, &s.config.limits).unwrap();
        let mut d = Decider::new(rules, sender, now());
        let mut out = RecordBatch::default();
        for (i, e) in batch.events.iter().enumerate() {
            d.decide(&batch, i, e, &mut out).unwrap();
        }
        assert_eq!(d.hot(), 3, "the burst (2) and the first arrival pass keyed");
        let records: Vec<&Record> = out.records().iter().collect();
        for (i, r) in records.iter().enumerate() {
            let is_hot = (3..6).contains(&i);
            assert_eq!(header(&out, r, h::HOT_KEY), is_hot.then_some("true"), "{i}");
            let key: &[u8] = if is_hot {
                b""
            } else if i == 6 {
                b"calm"
            } else {
                b"loop"
            };
            assert_eq!(out.key(r), key, "{i}");
            let topic = if is_hot && overflow {
                "tributary.overflow"
            } else {
                "tributary.order_completed"
            };
            assert_eq!(&*r.topic, topic, "{i}");
        }
    }
}
