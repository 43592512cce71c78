//! The contract's field rules for one read event (`docs/contract.md`,
//! "Event rules"): a `null` field counts as absent, ids may be strings or
//! integers (integers are normalised to strings), each kind's required
//! fields, and the order in which problems are reported: size (the
//! gateway's), shape, form, then fields.

use super::fields::{Form, RawFields, ScannedEvent};
use super::{EventView, MAX_MESSAGE_ID_LEN, ViewError};
use crate::error::ErrorCode;
use crate::event::{EventType, field};
use crate::scan::Broken;
use crate::time::{self, Timestamp};
use std::borrow::Cow;

/// Judges a read event and builds its view; `extra` is the event's
/// unnamed fields (borrowed from the scan, or owned).
pub(super) fn judge<'a>(
    scan: &ScannedEvent<'a>,
    implied: Option<EventType>,
    extra: Cow<'a, [(Cow<'a, str>, &'a str)]>,
) -> Result<EventView<'a>, ViewError> {
    match scan.shape.broken {
        Some(Broken::TooDeep) => {
            return Err(ViewError::new(
                ErrorCode::NestingTooDeep,
                format!("event nests deeper than {} levels", scan.shape.max_depth()),
            ));
        }
        Some(Broken::StringTooLong) => {
            return Err(ViewError::new(
                ErrorCode::StringTooLong,
                format!(
                    "event has a string of more than {} bytes",
                    scan.shape.max_string()
                ),
            ));
        }
        None => {}
    }
    match &scan.form {
        Form::Object => {}
        Form::NotObject => {
            return Err(ViewError::new(
                ErrorCode::InvalidEvent,
                "event must be a JSON object",
            ));
        }
        Form::Malformed => {
            return Err(ViewError::new(
                ErrorCode::InvalidEvent,
                "malformed event: not valid JSON text",
            ));
        }
        Form::Duplicate(name) => {
            return Err(ViewError::new(
                ErrorCode::DuplicateField,
                format!("field `{name}` appears more than once"),
            ));
        }
    }
    check(&scan.fields, implied, extra)
}

/// `null` counts as absent everywhere.
fn present(v: Option<&str>) -> Option<&str> {
    v.filter(|r| *r != "null")
}

/// A JSON string, borrowed when it has no escapes.
fn string<'a>(s: &'a str, name: &str) -> Result<Cow<'a, str>, ViewError> {
    let not_string = || {
        ViewError::new(
            ErrorCode::InvalidField,
            format!("`{name}` must be a string"),
        )
    };
    let inner = s
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .ok_or_else(not_string)?;
    if !inner.contains('\\') {
        return Ok(Cow::Borrowed(inner));
    }
    serde_json::from_str::<String>(s)
        .map(Cow::Owned)
        .map_err(|e| ViewError::new(ErrorCode::InvalidField, format!("`{name}`: {e}")))
}

/// An id: a string, or an integer normalised to its decimal string.
fn id<'a>(s: &'a str, name: &str) -> Result<Cow<'a, str>, ViewError> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(Cow::Borrowed(s));
    }
    let out = string(s, name).map_err(|_| {
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

fn object<'a>(v: Option<&'a str>, name: &str) -> Result<Option<&'a str>, ViewError> {
    match present(v) {
        Some(r) if !r.starts_with('{') => Err(ViewError::new(
            ErrorCode::InvalidField,
            format!("`{name}` must be an object"),
        )),
        other => Ok(other),
    }
}

fn timestamp(v: Option<&str>, name: &str) -> Result<Option<Timestamp>, ViewError> {
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

fn required<'a>(v: Option<&'a str>, name: &str) -> Result<&'a str, ViewError> {
    present(v)
        .ok_or_else(|| ViewError::new(ErrorCode::MissingField, format!("`{name}` is required")))
}

fn kind(raw: Option<&str>, implied: Option<EventType>) -> Result<EventType, ViewError> {
    let raw = match (present(raw), implied) {
        (None, Some(k)) => return Ok(k),
        (None, None) => {
            return Err(ViewError::new(
                ErrorCode::MissingField,
                "`type` is required",
            ));
        }
        (Some(raw), _) => raw,
    };
    let s = string(raw, field::TYPE)?;
    let k = EventType::parse(&s).ok_or_else(|| {
        ViewError::new(
            ErrorCode::UnknownType,
            format!("`type` {s:?} is not one of track, identify, page, screen, group, alias"),
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
    Ok(k)
}

fn check<'a>(
    f: &RawFields<'a>,
    implied: Option<EventType>,
    extra: Cow<'a, [(Cow<'a, str>, &'a str)]>,
) -> Result<EventView<'a>, ViewError> {
    let kind = kind(f.kind, implied)?;
    let message_id = string(
        required(f.message_id, field::MESSAGE_ID)?,
        field::MESSAGE_ID,
    )?;
    if message_id.is_empty() || message_id.len() > MAX_MESSAGE_ID_LEN {
        return Err(ViewError::new(
            ErrorCode::InvalidField,
            format!("`messageId` must be 1 to {MAX_MESSAGE_ID_LEN} bytes"),
        ));
    }
    let opt_id = |v: Option<&'a str>, name: &str| present(v).map(|r| id(r, name)).transpose();
    let user_id = opt_id(f.user_id, field::USER_ID)?;
    let anonymous_id = opt_id(f.anonymous_id, field::ANONYMOUS_ID)?;
    if user_id.is_none() && anonymous_id.is_none() {
        return Err(ViewError::new(
            ErrorCode::MissingField,
            "one of `userId` or `anonymousId` is required",
        ));
    }
    let group_id = opt_id(f.group_id, field::GROUP_ID)?;
    let previous_id = opt_id(f.previous_id, field::PREVIOUS_ID)?;
    let opt_str = |v: Option<&'a str>, name: &str| present(v).map(|r| string(r, name)).transpose();
    let event = opt_str(f.event, field::EVENT)?;
    let name = opt_str(f.name, field::NAME)?;
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
        timestamp: timestamp(f.timestamp, field::TIMESTAMP)?,
        sent_at: timestamp(f.sent_at, field::SENT_AT)?,
        user_id,
        anonymous_id,
        group_id,
        previous_id,
        properties: object(f.properties, field::PROPERTIES)?,
        traits: object(f.traits, field::TRAITS)?,
        context: object(f.context, field::CONTEXT)?,
        context_is_compact: f.context_compact,
        integrations: object(f.integrations, field::INTEGRATIONS)?,
        custom_attributes: object(f.custom_attributes, field::CUSTOM_ATTRIBUTES)?,
        extra,
    })
}
