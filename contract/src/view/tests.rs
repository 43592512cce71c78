//! The event reader, the field rules and the writers, on small events.

#![allow(clippy::unwrap_used)]

use super::*;
use crate::time;

fn parse(s: &str) -> Result<EventView<'_>, ViewError> {
    EventView::parse(s, None)
}

#[test]
fn reads_a_track_event_without_copying() {
    let raw = r#"{"type":"track","event":"Order Completed","messageId":"m1","anonymousId":"a1",
                  "timestamp":"2026-11-25T10:00:00Z","properties":{"total":12.5},"x":[1]}"#;
    let v = parse(raw).unwrap();
    assert_eq!(v.kind, EventType::Track);
    assert_eq!(v.routing_name(), "Order Completed");
    assert!(matches!(v.message_id, Cow::Borrowed("m1")));
    assert_eq!(v.partition_key(), "a1");
    assert_eq!(v.properties.unwrap(), r#"{"total":12.5}"#);
    assert_eq!(v.extra.len(), 1);
}

#[test]
fn rejects_each_bad_shape_with_its_code() {
    let cases = [
        (r#"[1]"#, ErrorCode::InvalidEvent),
        (
            r#"{"type":"track","event":"e","anonymousId":"a"}"#,
            ErrorCode::MissingField,
        ),
        (
            r#"{"type":"track","messageId":"m","anonymousId":"a"}"#,
            ErrorCode::MissingField,
        ),
        (
            r#"{"type":"track","event":"e","messageId":"m"}"#,
            ErrorCode::MissingField,
        ),
        (
            r#"{"type":"track","event":7,"messageId":"m","anonymousId":"a"}"#,
            ErrorCode::InvalidField,
        ),
        (
            r#"{"type":"bogus","messageId":"m","anonymousId":"a"}"#,
            ErrorCode::UnknownType,
        ),
        (
            r#"{"type":"track","event":"e","messageId":"m","anonymousId":"a","timestamp":"now"}"#,
            ErrorCode::InvalidField,
        ),
        (
            r#"{"type":"track","event":"e","messageId":"m","anonymousId":"a","properties":[]}"#,
            ErrorCode::InvalidField,
        ),
        (
            r#"{"type":"track","event":"e","messageId":"m","messageId":"n","anonymousId":"a"}"#,
            ErrorCode::DuplicateField,
        ),
        (
            r#"{"type":"group","messageId":"m","anonymousId":"a"}"#,
            ErrorCode::MissingField,
        ),
        (
            r#"{"type":"alias","messageId":"m","anonymousId":"a","previousId":"p"}"#,
            ErrorCode::MissingField,
        ),
    ];
    for (raw, code) in cases {
        assert_eq!(parse(raw).unwrap_err().code, code, "{raw}");
    }
}

#[test]
fn route_type_must_agree_with_body() {
    let raw = r#"{"type":"page","messageId":"m","anonymousId":"a"}"#;
    assert_eq!(
        EventView::parse(raw, Some(EventType::Track))
            .unwrap_err()
            .code,
        ErrorCode::InvalidField
    );
    let raw = r#"{"messageId":"m","anonymousId":"a"}"#;
    assert_eq!(
        EventView::parse(raw, Some(EventType::Page)).unwrap().kind,
        EventType::Page
    );
}

#[test]
fn integer_ids_become_strings_and_escapes_are_decoded() {
    let raw = r#"{"type":"identify","messageId":"m\u0031","userId":42}"#;
    let v = parse(raw).unwrap();
    assert_eq!(v.message_id, "m1");
    assert_eq!(v.user_id.as_deref(), Some("42"));
}

#[test]
fn the_context_header_is_compact_and_unchanged_in_meaning() {
    let cases = [
        r#"{"os":{"name":"Android"}}"#,
        "{ \"a\" : [1, 2,\n\t3],\r\n \"b\": \"x y\" }",
        r#"{"q": "say \"hi there\" ", "s": "back\\", "t": " { } "}"#,
        r#"{"u": "café  ok", "n": null , "e": {} }"#,
    ];
    for raw in cases {
        let event = format!(
            r#"{{"type":"track","event":"e","messageId":"m","anonymousId":"a","context":{raw}}}"#
        );
        let view = EventView::parse(&event, None).unwrap();
        let header = view.context_json(None).unwrap().unwrap();
        let expect: serde_json::Value = serde_json::from_str(raw).unwrap();
        let got: serde_json::Value = serde_json::from_str(&header).unwrap();
        assert_eq!(got, expect, "{raw} -> {header}");
        // Nothing between tokens: as short as a JSON printer's output.
        let printed = serde_json::to_string(&expect).unwrap();
        assert_eq!(header.len(), printed.len(), "{header} vs {printed}");
    }
}

#[test]
fn payload_carries_stamps_and_merges_context() {
    let raw = r#"{"type":"track","event":"e","messageId":"m","anonymousId":"a","context":{"ip":"1"},"extra":true}"#;
    let v = parse(raw).unwrap();
    let t = time::parse("2026-11-25T10:00:00Z").unwrap();
    let stamps = Stamps {
        timestamp: t,
        original_timestamp: None,
        sent_at: None,
        received_at: t,
    };
    let shared = r#"{"ip":"0","os":"x"}"#;
    let mut out = Vec::new();
    v.write_payload(&mut out, &stamps, Some(shared)).unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(json["context"], serde_json::json!({"ip":"1","os":"x"}));
    assert_eq!(json["receivedAt"], "2026-11-25T10:00:00.000Z");
    assert_eq!(json["extra"], true);
}
