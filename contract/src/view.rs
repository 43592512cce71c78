//! A zero-copy reader for one incoming event, and the writer of the
//! normalised payload that becomes the Kafka record value.
//!
//! The gateway parses a batch as an array of raw JSON slices and hands each
//! slice to [`EventView::parse`]. Only the envelope fields are decoded;
//! `properties`, `traits`, `context` and unknown fields stay raw JSON slices
//! of the request body and are copied, not re-parsed, into the payload. That
//! keeps the hot path at one JSON pass per event.
//!
//! Outcomes are documented in `docs/contract.md` ("Event rules"): a `null`
//! field counts as absent, ids may be strings or integers (integers are
//! normalised to strings), a repeated field is rejected rather than silently
//! resolved.

use crate::error::ErrorCode;
use crate::event::{EventType, field};
use crate::time::{self, Timestamp};
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;

/// Longest accepted `messageId`, in bytes.
pub const MAX_MESSAGE_ID_LEN: usize = 256;

/// Why one event was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewError {
    /// Stable code, see [`ErrorCode`].
    pub code: ErrorCode,
    /// Human-readable detail naming the field.
    pub message: String,
}

impl ViewError {
    fn new(code: ErrorCode, message: impl Into<String>) -> ViewError {
        ViewError {
            code,
            message: message.into(),
        }
    }
}

impl fmt::Display for ViewError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

/// One event, borrowed from the request body, with its envelope fields
/// checked.
#[derive(Debug)]
pub struct EventView<'a> {
    /// Event kind.
    pub kind: EventType,
    /// Track event name.
    pub event: Option<Cow<'a, str>>,
    /// Page/screen name.
    pub name: Option<Cow<'a, str>>,
    /// Client message id (non-empty, at most [`MAX_MESSAGE_ID_LEN`] bytes).
    pub message_id: Cow<'a, str>,
    /// Device time of the event.
    pub timestamp: Option<Timestamp>,
    /// Per-event `sentAt`, overriding the batch's.
    pub sent_at: Option<Timestamp>,
    /// User id.
    pub user_id: Option<Cow<'a, str>>,
    /// Anonymous id.
    pub anonymous_id: Option<Cow<'a, str>>,
    /// Group id.
    pub group_id: Option<Cow<'a, str>>,
    /// Previous id.
    pub previous_id: Option<Cow<'a, str>>,
    /// Properties object, raw.
    pub properties: Option<&'a RawValue>,
    /// Traits object, raw.
    pub traits: Option<&'a RawValue>,
    /// Context object, raw.
    pub context: Option<&'a RawValue>,
    /// Integrations object, raw.
    pub integrations: Option<&'a RawValue>,
    /// Custom attributes object, raw (goes to the envelope, not the payload).
    pub custom_attributes: Option<&'a RawValue>,
    /// Fields this contract does not name, kept in the payload untouched.
    pub extra: Vec<(Cow<'a, str>, &'a RawValue)>,
}

/// Server-side facts written into the payload next to the client's fields.
#[derive(Debug, Clone, Copy)]
pub struct Stamps {
    /// Skew-corrected event time.
    pub timestamp: Timestamp,
    /// The client's own timestamp, if it sent one.
    pub original_timestamp: Option<Timestamp>,
    /// Device send time used for the correction, if known.
    pub sent_at: Option<Timestamp>,
    /// Gateway receipt time.
    pub received_at: Timestamp,
}

impl<'a> EventView<'a> {
    /// Reads and checks one event. `implied` is the kind given by a
    /// single-event route (`/v1/track`), which the body may repeat but not
    /// contradict.
    pub fn parse(raw: &'a str, implied: Option<EventType>) -> Result<EventView<'a>, ViewError> {
        let fields = parse_fields(raw)?;
        fields.check(implied)
    }

    /// The user-level partitioning key: `userId`, else `anonymousId`.
    pub fn partition_key(&self) -> &str {
        self.user_id
            .as_deref()
            .or(self.anonymous_id.as_deref())
            .unwrap_or_default()
    }

    /// The name used for routing: the `event` of a track call, otherwise the
    /// kind itself (`identify`, `page`, ...).
    pub fn routing_name(&self) -> &str {
        match self.kind {
            EventType::Track => self.event.as_deref().unwrap_or_default(),
            other => other.as_str(),
        }
    }

    /// The part of the event a registered schema describes: `traits` for
    /// identify and group, `properties` for the other kinds; `{}` when the
    /// event has none.
    pub fn schema_payload(&self) -> &'a str {
        let raw = match self.kind {
            EventType::Identify | EventType::Group => self.traits,
            _ => self.properties,
        };
        raw.map_or("{}", RawValue::get)
    }

    /// The event's context (the batch's, with the event's own keys winning)
    /// as compact JSON, for the `tb-context` header of schema-encoded
    /// records. Borrowed from the request when it is already compact and
    /// needs no merge, as SDKs send it.
    pub fn context_json(
        &self,
        batch_context: Option<&'a RawValue>,
    ) -> Result<Option<Cow<'a, str>>, serde_json::Error> {
        Ok(match (self.context, batch_context) {
            (Some(own), Some(shared)) => {
                Some(Cow::Owned(merge_objects(shared, own)?.get().to_owned()))
            }
            (own, shared) => own.or(shared).map(|c| compact(c.get())),
        })
    }

    /// Appends the top-level fields a schema-encoded record would
    /// otherwise lose — `groupId`, `previousId`, `integrations` and fields
    /// this contract does not name (such as `sessionId`) — to `out` as a
    /// compact JSON object, for the `tb-extra` header. Returns `false`
    /// (writing nothing) when there are none.
    pub fn write_extra_fields(&self, out: &mut Vec<u8>) -> Result<bool, serde_json::Error> {
        if self.group_id.is_none()
            && self.previous_id.is_none()
            && self.integrations.is_none()
            && self.extra.is_empty()
        {
            return Ok(false);
        }
        let mut ser = serde_json::Serializer::new(out);
        let mut map = ser.serialize_map(None)?;
        opt(&mut map, field::GROUP_ID, &self.group_id)?;
        opt(&mut map, field::PREVIOUS_ID, &self.previous_id)?;
        opt(&mut map, field::INTEGRATIONS, &self.integrations)?;
        for (k, v) in &self.extra {
            map.serialize_entry(k, v)?;
        }
        map.end()?;
        Ok(true)
    }

    /// Writes the normalised event JSON (the Kafka record value) to `out`.
    ///
    /// `batch_context` is used when the event has no context of its own;
    /// when both exist they are merged, the event's keys winning.
    pub fn write_payload(
        &self,
        out: &mut Vec<u8>,
        stamps: &Stamps,
        batch_context: Option<&RawValue>,
    ) -> Result<(), serde_json::Error> {
        let merged;
        let context = match (self.context, batch_context) {
            (Some(own), Some(shared)) => {
                merged = merge_objects(shared, own)?;
                Some(merged.as_ref())
            }
            (own, shared) => own.or(shared),
        };
        let mut ser = serde_json::Serializer::new(out);
        let mut map = ser.serialize_map(None)?;
        map.serialize_entry(field::TYPE, self.kind.as_str())?;
        opt(&mut map, field::EVENT, &self.event)?;
        opt(&mut map, field::NAME, &self.name)?;
        map.serialize_entry(field::MESSAGE_ID, &self.message_id)?;
        opt(&mut map, field::USER_ID, &self.user_id)?;
        opt(&mut map, field::ANONYMOUS_ID, &self.anonymous_id)?;
        opt(&mut map, field::GROUP_ID, &self.group_id)?;
        opt(&mut map, field::PREVIOUS_ID, &self.previous_id)?;
        map.serialize_entry(field::TIMESTAMP, &time::format(stamps.timestamp))?;
        if let Some(t) = stamps.original_timestamp {
            map.serialize_entry(field::ORIGINAL_TIMESTAMP, &time::format(t))?;
        }
        if let Some(t) = stamps.sent_at {
            map.serialize_entry(field::SENT_AT, &time::format(t))?;
        }
        map.serialize_entry(field::RECEIVED_AT, &time::format(stamps.received_at))?;
        opt(&mut map, field::PROPERTIES, &self.properties)?;
        opt(&mut map, field::TRAITS, &self.traits)?;
        opt(&mut map, field::CONTEXT, &context)?;
        opt(&mut map, field::INTEGRATIONS, &self.integrations)?;
        for (k, v) in &self.extra {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

fn opt<M: SerializeMap, T: serde::Serialize>(
    map: &mut M,
    key: &str,
    value: &Option<T>,
) -> Result<(), M::Error> {
    match value {
        Some(v) => map.serialize_entry(key, v),
        None => Ok(()),
    }
}

/// `json` without the whitespace between its tokens. `json` must be valid
/// JSON (a `RawValue` is), so whitespace outside strings is insignificant
/// and the only state to track is being inside a string. Copying bytes
/// this way is what keeps the per-event cost of the `tb-context` header
/// low: parsing the context into a map and printing it again cost about a
/// tenth of the gateway's CPU.
pub fn compact(json: &str) -> Cow<'_, str> {
    let bytes = json.as_bytes();
    let space = |b: u8| matches!(b, b' ' | b'\n' | b'\r' | b'\t');
    // Whitespace inside strings (a user agent, say) must stay, so only
    // whitespace between tokens means copying; strings are skipped whole.
    let mut i = 0;
    let mut copied: Option<Vec<u8>> = None;
    let mut from = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'"' {
            let Some((end, _)) = crate::scan::string_end(bytes, i) else {
                break;
            };
            i = end + 1;
        } else if space(b) {
            let out = copied.get_or_insert_with(|| Vec::with_capacity(bytes.len()));
            out.extend_from_slice(&bytes[from..i]);
            while bytes.get(i).copied().is_some_and(space) {
                i += 1;
            }
            from = i;
        } else {
            i += 1;
        }
    }
    let Some(mut out) = copied else {
        return Cow::Borrowed(json);
    };
    out.extend_from_slice(&bytes[from.min(bytes.len())..]);
    // Only ASCII whitespace was removed, so the bytes are still UTF-8.
    Cow::Owned(
        String::from_utf8(out)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
    )
}

/// Shallow merge of two JSON objects, `top` winning. Only used when an event
/// carries its own context beside the batch's, which SDKs avoid.
fn merge_objects(base: &RawValue, top: &RawValue) -> Result<Box<RawValue>, serde_json::Error> {
    let mut merged: serde_json::Map<String, serde_json::Value> = serde_json::from_str(base.get())?;
    let top: serde_json::Map<String, serde_json::Value> = serde_json::from_str(top.get())?;
    merged.extend(top);
    serde_json::value::to_raw_value(&merged)
}

/// First pass: split the object into raw field slices, catching duplicates.
#[derive(Default)]
struct RawFields<'a> {
    kind: Option<&'a RawValue>,
    event: Option<&'a RawValue>,
    name: Option<&'a RawValue>,
    message_id: Option<&'a RawValue>,
    timestamp: Option<&'a RawValue>,
    sent_at: Option<&'a RawValue>,
    user_id: Option<&'a RawValue>,
    anonymous_id: Option<&'a RawValue>,
    group_id: Option<&'a RawValue>,
    previous_id: Option<&'a RawValue>,
    properties: Option<&'a RawValue>,
    traits: Option<&'a RawValue>,
    context: Option<&'a RawValue>,
    integrations: Option<&'a RawValue>,
    custom_attributes: Option<&'a RawValue>,
    extra: Vec<(Cow<'a, str>, &'a RawValue)>,
    duplicate: Option<String>,
}

fn parse_fields(raw: &str) -> Result<RawFields<'_>, ViewError> {
    if !raw.trim_start().starts_with('{') {
        return Err(ViewError::new(
            ErrorCode::InvalidEvent,
            "event must be a JSON object",
        ));
    }
    let mut de = serde_json::Deserializer::from_str(raw);
    let fields = de
        .deserialize_map(FieldsVisitor)
        .map_err(|e| ViewError::new(ErrorCode::InvalidEvent, format!("malformed event: {e}")))?;
    if let Some(name) = fields.duplicate {
        return Err(ViewError::new(
            ErrorCode::DuplicateField,
            format!("field `{name}` appears more than once"),
        ));
    }
    Ok(fields)
}

struct FieldsVisitor;

impl<'de> Visitor<'de> for FieldsVisitor {
    type Value = RawFields<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an event object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawFields<'de>, A::Error> {
        let mut out = RawFields::default();
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            let value: &'de RawValue = map.next_value()?;
            let slot = match key.as_ref() {
                field::TYPE => &mut out.kind,
                field::EVENT => &mut out.event,
                field::NAME => &mut out.name,
                field::MESSAGE_ID => &mut out.message_id,
                field::TIMESTAMP => &mut out.timestamp,
                field::SENT_AT => &mut out.sent_at,
                field::USER_ID => &mut out.user_id,
                field::ANONYMOUS_ID => &mut out.anonymous_id,
                field::GROUP_ID => &mut out.group_id,
                field::PREVIOUS_ID => &mut out.previous_id,
                field::PROPERTIES => &mut out.properties,
                field::TRAITS => &mut out.traits,
                field::CONTEXT => &mut out.context,
                field::INTEGRATIONS => &mut out.integrations,
                field::CUSTOM_ATTRIBUTES => &mut out.custom_attributes,
                // Server-stamped fields are recomputed by the gateway; a
                // client's copy is dropped rather than trusted.
                field::RECEIVED_AT | field::ORIGINAL_TIMESTAMP => continue,
                _ => {
                    if out.extra.iter().any(|(k, _)| *k == key) {
                        out.duplicate.get_or_insert_with(|| key.to_string());
                    }
                    out.extra.push((key, value));
                    continue;
                }
            };
            if slot.is_some() {
                out.duplicate.get_or_insert_with(|| key.to_string());
            }
            *slot = Some(value);
        }
        Ok(out)
    }
}

/// `null` counts as absent everywhere.
fn present(v: Option<&RawValue>) -> Option<&RawValue> {
    v.filter(|r| r.get() != "null")
}

/// A JSON string, borrowed when it has no escapes.
fn string<'a>(v: &'a RawValue, name: &str) -> Result<Cow<'a, str>, ViewError> {
    let s = v.get();
    if !s.starts_with('"') {
        return Err(ViewError::new(
            ErrorCode::InvalidField,
            format!("`{name}` must be a string"),
        ));
    }
    let inner = &s[1..s.len() - 1];
    if !inner.contains('\\') {
        return Ok(Cow::Borrowed(inner));
    }
    serde_json::from_str::<String>(s)
        .map(Cow::Owned)
        .map_err(|e| ViewError::new(ErrorCode::InvalidField, format!("`{name}`: {e}")))
}

/// An id: a string, or an integer normalised to its decimal string.
fn id<'a>(v: &'a RawValue, name: &str) -> Result<Cow<'a, str>, ViewError> {
    let s = v.get();
    let digits = s.strip_prefix('-').unwrap_or(s);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(Cow::Borrowed(s));
    }
    let out = string(v, name).map_err(|_| {
        ViewError::new(
            ErrorCode::InvalidField,
            format!("`{name}` must be a string or an integer"),
        )
    })?;
    if out.is_empty() {
        return Err(ViewError::new(
            ErrorCode::InvalidField,
            format!("`{name}` must not be empty"),
        ));
    }
    Ok(out)
}

fn object<'a>(v: Option<&'a RawValue>, name: &str) -> Result<Option<&'a RawValue>, ViewError> {
    match present(v) {
        Some(r) if !r.get().starts_with('{') => Err(ViewError::new(
            ErrorCode::InvalidField,
            format!("`{name}` must be an object"),
        )),
        other => Ok(other),
    }
}

fn timestamp(v: Option<&RawValue>, name: &str) -> Result<Option<Timestamp>, ViewError> {
    let Some(raw) = present(v) else {
        return Ok(None);
    };
    let s = string(raw, name)?;
    time::parse(&s).map(Some).ok_or_else(|| {
        ViewError::new(
            ErrorCode::InvalidField,
            format!("`{name}` must be an RFC 3339 timestamp, got {s:?}"),
        )
    })
}

fn required<'a>(v: Option<&'a RawValue>, name: &str) -> Result<&'a RawValue, ViewError> {
    present(v)
        .ok_or_else(|| ViewError::new(ErrorCode::MissingField, format!("`{name}` is required")))
}

impl<'a> RawFields<'a> {
    fn check(self, implied: Option<EventType>) -> Result<EventView<'a>, ViewError> {
        let kind = match (present(self.kind), implied) {
            (None, Some(k)) => k,
            (None, None) => {
                return Err(ViewError::new(
                    ErrorCode::MissingField,
                    "`type` is required",
                ));
            }
            (Some(raw), implied) => {
                let s = string(raw, field::TYPE)?;
                let k = EventType::parse(&s).ok_or_else(|| {
                    ViewError::new(
                        ErrorCode::UnknownType,
                        format!(
                            "`type` {s:?} is not one of track, identify, page, screen, group, alias"
                        ),
                    )
                })?;
                if let Some(route) = implied.filter(|r| *r != k) {
                    return Err(ViewError::new(
                        ErrorCode::InvalidField,
                        format!(
                            "`type` {s:?} does not match the route /v1/{}",
                            route.as_str()
                        ),
                    ));
                }
                k
            }
        };
        let message_id = string(
            required(self.message_id, field::MESSAGE_ID)?,
            field::MESSAGE_ID,
        )?;
        if message_id.is_empty() || message_id.len() > MAX_MESSAGE_ID_LEN {
            return Err(ViewError::new(
                ErrorCode::InvalidField,
                format!("`messageId` must be 1 to {MAX_MESSAGE_ID_LEN} bytes"),
            ));
        }
        let opt_id =
            |v: Option<&'a RawValue>, name: &str| present(v).map(|r| id(r, name)).transpose();
        let user_id = opt_id(self.user_id, field::USER_ID)?;
        let anonymous_id = opt_id(self.anonymous_id, field::ANONYMOUS_ID)?;
        if user_id.is_none() && anonymous_id.is_none() {
            return Err(ViewError::new(
                ErrorCode::MissingField,
                "one of `userId` or `anonymousId` is required",
            ));
        }
        let group_id = opt_id(self.group_id, field::GROUP_ID)?;
        let previous_id = opt_id(self.previous_id, field::PREVIOUS_ID)?;
        let opt_str =
            |v: Option<&'a RawValue>, name: &str| present(v).map(|r| string(r, name)).transpose();
        let event = opt_str(self.event, field::EVENT)?;
        let name = opt_str(self.name, field::NAME)?;
        match kind {
            EventType::Track if event.as_deref().is_none_or(str::is_empty) => {
                return Err(ViewError::new(
                    ErrorCode::MissingField,
                    "`event` is required for track",
                ));
            }
            EventType::Group if group_id.is_none() => {
                return Err(ViewError::new(
                    ErrorCode::MissingField,
                    "`groupId` is required for group",
                ));
            }
            EventType::Alias if previous_id.is_none() || user_id.is_none() => {
                return Err(ViewError::new(
                    ErrorCode::MissingField,
                    "`previousId` and `userId` are required for alias",
                ));
            }
            _ => {}
        }
        Ok(EventView {
            kind,
            event,
            name,
            message_id,
            timestamp: timestamp(self.timestamp, field::TIMESTAMP)?,
            sent_at: timestamp(self.sent_at, field::SENT_AT)?,
            user_id,
            anonymous_id,
            group_id,
            previous_id,
            properties: object(self.properties, field::PROPERTIES)?,
            traits: object(self.traits, field::TRAITS)?,
            context: object(self.context, field::CONTEXT)?,
            integrations: object(self.integrations, field::INTEGRATIONS)?,
            custom_attributes: object(self.custom_attributes, field::CUSTOM_ATTRIBUTES)?,
            extra: self.extra,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(v.properties.unwrap().get(), r#"{"total":12.5}"#);
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
        let shared = RawValue::from_string(r#"{"ip":"0","os":"x"}"#.into()).unwrap();
        let mut out = Vec::new();
        v.write_payload(&mut out, &stamps, Some(&shared)).unwrap();
        let json: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(json["context"], serde_json::json!({"ip":"1","os":"x"}));
        assert_eq!(json["receivedAt"], "2026-11-25T10:00:00.000Z");
        assert_eq!(json["extra"], true);
    }
}
