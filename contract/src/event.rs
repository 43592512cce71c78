//! Events and batches as clients send them: the Segment Tracking API shape,
//! so existing analytics clients can point at Tributary unchanged.
//!
//! These are owned types for code that *produces* events (SDKs, the load
//! test, tests). The gateway reads incoming events with the zero-copy
//! [`crate::view::EventView`] instead, which checks the same fields.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Field names as they appear in JSON. One list, used by the owned types
/// below (through serde renames) and by the zero-copy reader.
pub mod field {
    /// Event kind: track, identify, page, screen, group, alias.
    pub const TYPE: &str = "type";
    /// Event name of a `track` call.
    pub const EVENT: &str = "event";
    /// Page or screen name.
    pub const NAME: &str = "name";
    /// Client-generated unique id of the event (UUIDv7 from Tributary SDKs).
    pub const MESSAGE_ID: &str = "messageId";
    /// Device time at which the event happened.
    pub const TIMESTAMP: &str = "timestamp";
    /// Device time at which the request was sent (per event or per batch).
    pub const SENT_AT: &str = "sentAt";
    /// Server time at which the gateway received the event (set by the gateway).
    pub const RECEIVED_AT: &str = "receivedAt";
    /// The client's timestamp before skew correction (set by the gateway).
    pub const ORIGINAL_TIMESTAMP: &str = "originalTimestamp";
    /// Known user id.
    pub const USER_ID: &str = "userId";
    /// Device-scoped anonymous id.
    pub const ANONYMOUS_ID: &str = "anonymousId";
    /// Group (account) id of a `group` call.
    pub const GROUP_ID: &str = "groupId";
    /// Previous id of an `alias` call.
    pub const PREVIOUS_ID: &str = "previousId";
    /// Properties of track/page/screen.
    pub const PROPERTIES: &str = "properties";
    /// Traits of identify/group.
    pub const TRAITS: &str = "traits";
    /// Device, app and library context.
    pub const CONTEXT: &str = "context";
    /// Per-destination switches (passed through untouched).
    pub const INTEGRATIONS: &str = "integrations";
    /// Free-form attributes carried in the Kafka envelope, not the payload.
    pub const CUSTOM_ATTRIBUTES: &str = "custom_attributes";
    /// Write key inside a body, for senders that cannot set headers (beacons).
    pub const WRITE_KEY: &str = "writeKey";
    /// The array of events in a batch body.
    pub const BATCH: &str = "batch";
    /// Session id (ms timestamp of the session start) set by Tributary SDKs.
    pub const SESSION_ID: &str = "sessionId";
    /// The batch's client report of dropped events.
    pub const CLIENT_REPORT: &str = "clientReport";
}

/// The kind of an event, which decides its required fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventType {
    /// A named user action with properties. Requires `event`.
    Track,
    /// Ties a user to traits. Requires `userId` or `anonymousId` like all others.
    Identify,
    /// A web page view.
    Page,
    /// A mobile screen view.
    Screen,
    /// Ties a user to a group. Requires `groupId`.
    Group,
    /// Merges two identities. Requires `previousId` and `userId`.
    Alias,
}

impl EventType {
    /// All kinds, in the order the single-event routes list them.
    pub const ALL: [EventType; 6] = [
        EventType::Track,
        EventType::Identify,
        EventType::Page,
        EventType::Screen,
        EventType::Group,
        EventType::Alias,
    ];

    /// The kind as it appears in JSON and in the `/v1/<kind>` route.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Track => "track",
            EventType::Identify => "identify",
            EventType::Page => "page",
            EventType::Screen => "screen",
            EventType::Group => "group",
            EventType::Alias => "alias",
        }
    }

    /// Parses the JSON / route spelling.
    pub fn parse(s: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// One event, owned. Unset optional fields are omitted when serialised.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// The event kind.
    #[serde(rename = "type")]
    pub kind: EventType,
    /// Event name (required for `track`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    /// Page or screen name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Unique id of the event; the de-duplication key downstream.
    pub message_id: String,
    /// Device time of the event (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    /// Known user id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// Anonymous device id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anonymous_id: Option<String>,
    /// Group id (`group`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_id: Option<String>,
    /// Previous id (`alias`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_id: Option<String>,
    /// Event properties.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties: Option<Map<String, Value>>,
    /// User or group traits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traits: Option<Map<String, Value>>,
    /// Per-event context (usually the batch context is used instead).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<Map<String, Value>>,
    /// Free-form attributes that travel in the Kafka envelope.
    #[serde(
        default,
        rename = "custom_attributes",
        skip_serializing_if = "Option::is_none"
    )]
    pub custom_attributes: Option<Map<String, Value>>,
    /// Session the event belongs to (Tributary SDKs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<i64>,
}

impl Event {
    /// A `track` event with the given name and message id and no other fields.
    pub fn track(name: impl Into<String>, message_id: impl Into<String>) -> Event {
        Event {
            kind: EventType::Track,
            event: Some(name.into()),
            name: None,
            message_id: message_id.into(),
            timestamp: None,
            user_id: None,
            anonymous_id: None,
            group_id: None,
            previous_id: None,
            properties: None,
            traits: None,
            context: None,
            custom_attributes: None,
            session_id: None,
        }
    }
}

/// The body of `POST /v1/batch`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchRequest {
    /// The events, in client order.
    pub batch: Vec<Event>,
    /// Device time at which this request was sent; used for clock-skew correction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<String>,
    /// Context shared by every event of the batch (device, app, library).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<Map<String, Value>>,
    /// Write key for senders that cannot set an `Authorization` header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_key: Option<String>,
    /// Events the sender dropped since its last delivered report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_report: Option<crate::report::ClientReport>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owned_event_uses_segment_field_names() {
        let mut e = Event::track("Order Completed", "m1");
        e.anonymous_id = Some("a1".into());
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(json[field::TYPE], "track");
        assert_eq!(json[field::MESSAGE_ID], "m1");
        assert_eq!(json[field::ANONYMOUS_ID], "a1");
        assert!(json.get(field::USER_ID).is_none());
    }
}
