//! A zero-copy reader for one incoming event, and the writer of the
//! normalised payload that becomes the Kafka record value.
//!
//! An event is read once ([`fields::read_event`], called by the batch
//! reader for each element): its top-level fields become slices of the
//! request body, duplicates and shape limits are noted on the way. The
//! field rules ([`rules`]) then turn the slices into an [`EventView`];
//! `properties`, `traits`, `context` and unknown fields stay raw JSON text
//! and are copied, not re-parsed, into the payload or headers ([`write`]).
//!
//! Outcomes are documented in `docs/contract.md` ("Event rules").

pub mod fields;
mod rules;
mod write;

pub use fields::{ScannedEvent, read_event, scan};
pub use write::compact;

use crate::error::ErrorCode;
use crate::event::EventType;
use crate::scan::Shape;
use crate::time::Timestamp;
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

/// A top-level field this contract does not name: its key and raw value.
pub type ExtraField<'a> = (Cow<'a, str>, &'a str);

/// One event, borrowed from the request body, with its envelope fields
/// checked. Raw fields are the JSON text of their value.
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
    pub properties: Option<&'a str>,
    /// Traits object, raw.
    pub traits: Option<&'a str>,
    /// Context object, raw.
    pub context: Option<&'a str>,
    /// Whether `context` has no whitespace between its tokens (so it is
    /// its own `tb-context` header value), as found while reading it.
    pub context_is_compact: bool,
    /// Integrations object, raw.
    pub integrations: Option<&'a str>,
    /// Custom attributes object, raw (goes to the envelope, not the payload).
    pub custom_attributes: Option<&'a str>,
    /// Fields this contract does not name, kept in the payload untouched.
    pub extra: Cow<'a, [ExtraField<'a>]>,
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
    /// Judges an event read by [`read_event`]: its shape limits, its form,
    /// then the field rules. `implied` is the kind given by a single-event
    /// route (`/v1/track`), which the body may repeat but not contradict.
    pub fn read(
        scan: &'a ScannedEvent<'_>,
        implied: Option<EventType>,
    ) -> Result<EventView<'a>, ViewError> {
        rules::judge(scan, implied, Cow::Borrowed(&scan.fields.extra[..]))
    }

    /// Reads and checks one event's text on its own, without shape limits
    /// (tools and tests; the gateway reads events with [`read_event`]).
    pub fn parse(raw: &'a str, implied: Option<EventType>) -> Result<EventView<'a>, ViewError> {
        let scan = scan(raw, Shape::unlimited());
        let extra = Cow::Owned(scan.fields.extra.clone());
        rules::judge(&scan, implied, extra)
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
        raw.unwrap_or("{}")
    }
}

#[cfg(test)]
mod tests;
