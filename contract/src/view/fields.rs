//! Reading one event in a single pass: its top-level fields as slices of
//! the text, duplicates caught, and the shape limits measured on the way
//! ([`Shape`]). The batch reader calls [`read_event`] for each element of
//! the `batch` array, so an event's text is scanned once, while the body
//! is split; the field rules ([`super::rules`]) then only look at slices.

use crate::event::field;
use crate::scan::{Reader, Shape};
use std::borrow::Cow;

/// One event as read: its text, its fields, and what was wrong with its
/// form (judged later, in the order the contract gives).
#[derive(Debug)]
pub struct ScannedEvent<'a> {
    /// The event's JSON text, a slice of the request body.
    pub text: &'a str,
    pub(super) fields: RawFields<'a>,
    pub(super) shape: Shape,
    pub(super) form: Form,
}

/// Whether the event is an object whose keys could be read.
#[derive(Debug, Default)]
pub(super) enum Form {
    #[default]
    Object,
    /// Valid JSON, but not an object.
    NotObject,
    /// A key that is not valid text (a lone surrogate escape), or text
    /// that is not JSON.
    Malformed,
    /// A field that appears more than once (the first such name).
    Duplicate(String),
}

/// The top-level fields, each the raw JSON text of its value.
#[derive(Debug, Default)]
pub(super) struct RawFields<'a> {
    pub kind: Option<&'a str>,
    pub event: Option<&'a str>,
    pub name: Option<&'a str>,
    pub message_id: Option<&'a str>,
    pub timestamp: Option<&'a str>,
    pub sent_at: Option<&'a str>,
    pub user_id: Option<&'a str>,
    pub anonymous_id: Option<&'a str>,
    pub group_id: Option<&'a str>,
    pub previous_id: Option<&'a str>,
    pub properties: Option<&'a str>,
    pub traits: Option<&'a str>,
    pub context: Option<&'a str>,
    pub integrations: Option<&'a str>,
    pub custom_attributes: Option<&'a str>,
    /// Whether `context` has no whitespace between its tokens.
    pub context_compact: bool,
    /// Fields this contract does not name, in order.
    pub extra: Vec<(Cow<'a, str>, &'a str)>,
}

/// Reads the event at the reader's position, measuring it into `shape`.
/// `None` when the text is not valid JSON there; the caller then lets
/// serde_json say what is wrong with the whole body.
pub fn read_event<'a>(r: &mut Reader<'a>, mut shape: Shape) -> Option<ScannedEvent<'a>> {
    let start = {
        r.skip_space();
        r.position()
    };
    let mut fields = RawFields::default();
    let mut form = Form::Object;
    if r.peek()? != b'{' {
        r.skip_value(0, &mut shape)?;
        return Some(ScannedEvent {
            text: r.since(start),
            fields,
            shape,
            form: Form::NotObject,
        });
    }
    let crate::scan::Token::Object = r.value()? else {
        return None;
    };
    shape.open(1);
    let mut first = true;
    while let Some(key) = r.next_key(&mut first)? {
        shape.string(key.len_as_written());
        let value = r.raw_value(1, &mut shape)?;
        let compact = !r.take_spaced();
        let Some(key) = key.decode() else {
            form = Form::Malformed;
            continue;
        };
        let slot = match key.as_ref() {
            field::TYPE => &mut fields.kind,
            field::EVENT => &mut fields.event,
            field::NAME => &mut fields.name,
            field::MESSAGE_ID => &mut fields.message_id,
            field::TIMESTAMP => &mut fields.timestamp,
            field::SENT_AT => &mut fields.sent_at,
            field::USER_ID => &mut fields.user_id,
            field::ANONYMOUS_ID => &mut fields.anonymous_id,
            field::GROUP_ID => &mut fields.group_id,
            field::PREVIOUS_ID => &mut fields.previous_id,
            field::PROPERTIES => &mut fields.properties,
            field::TRAITS => &mut fields.traits,
            field::CONTEXT => {
                fields.context_compact = compact;
                &mut fields.context
            }
            field::INTEGRATIONS => &mut fields.integrations,
            field::CUSTOM_ATTRIBUTES => &mut fields.custom_attributes,
            // Server-stamped fields are recomputed by the gateway; a
            // client's copy is dropped rather than trusted.
            field::RECEIVED_AT | field::ORIGINAL_TIMESTAMP => continue,
            _ => {
                if fields.extra.iter().any(|(k, _)| *k == key) {
                    note_duplicate(&mut form, &key);
                }
                fields.extra.push((key, value));
                continue;
            }
        };
        if slot.is_some() {
            note_duplicate(&mut form, &key);
        }
        *slot = Some(value);
    }
    Some(ScannedEvent {
        text: r.since(start),
        fields,
        shape,
        form,
    })
}

fn note_duplicate(form: &mut Form, key: &str) {
    if matches!(form, Form::Object) {
        *form = Form::Duplicate(key.to_owned());
    }
}

/// Reads `text` as one whole event (a single-event route, tests).
pub fn scan(text: &str, shape: Shape) -> ScannedEvent<'_> {
    let mut r = Reader::new(text);
    match read_event(&mut r, shape) {
        Some(event) if r.at_end() => event,
        _ => ScannedEvent {
            text,
            fields: RawFields::default(),
            shape,
            form: Form::Malformed,
        },
    }
}
