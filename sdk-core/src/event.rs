//! An event as the SDK records it, written to JSON by hand.
//!
//! The field names come from the contract (`tributary_contract::event::field`)
//! and the tests check the output reads back as the contract's `Event`, so
//! this stays one definition of the wire shape while keeping serde out of
//! the web SDK's WebAssembly (see [`crate::json`]).

use crate::json::{JsonObject, write_int, write_str};
use tributary_contract::EventType;
use tributary_contract::event::field;

/// One event before it is stored: the fields Tributary SDKs set.
#[derive(Debug, Clone, PartialEq)]
pub struct EventDraft {
    /// The event kind.
    pub kind: EventType,
    /// Event name (`track`).
    pub event: Option<String>,
    /// Page or screen name.
    pub name: Option<String>,
    /// Unique id (UUIDv7).
    pub message_id: String,
    /// Device time, RFC 3339.
    pub timestamp: String,
    /// Anonymous device id.
    pub anonymous_id: Option<String>,
    /// Known user id.
    pub user_id: Option<String>,
    /// Group id (`group`).
    pub group_id: Option<String>,
    /// Previous id (`alias`).
    pub previous_id: Option<String>,
    /// Properties (track, page, screen).
    pub properties: Option<JsonObject>,
    /// Traits (identify, group).
    pub traits: Option<JsonObject>,
    /// Session id.
    pub session_id: Option<i64>,
    /// The event's own context, merged over the batch's by the gateway
    /// (the campaign on the first event of a session).
    pub context: Option<JsonObject>,
}

impl EventDraft {
    /// A draft of `kind` with its id and time and nothing else.
    pub fn new(kind: EventType, message_id: String, timestamp: String) -> EventDraft {
        EventDraft {
            kind,
            event: None,
            name: None,
            message_id,
            timestamp,
            anonymous_id: None,
            user_id: None,
            group_id: None,
            previous_id: None,
            properties: None,
            traits: None,
            session_id: None,
            context: None,
        }
    }

    /// The event's JSON object; unset fields are left out.
    pub fn to_json(&self) -> Vec<u8> {
        let extra = self.properties.as_ref().map_or(0, |p| p.as_bytes().len())
            + self.traits.as_ref().map_or(0, |p| p.as_bytes().len());
        let mut out = Vec::with_capacity(192 + extra);
        out.push(b'{');
        let key = |out: &mut Vec<u8>, name: &str| {
            if out.len() > 1 {
                out.push(b',');
            }
            write_str(out, name);
            out.push(b':');
        };
        key(&mut out, field::TYPE);
        write_str(&mut out, self.kind.as_str());
        let strings = [
            (field::EVENT, self.event.as_deref()),
            (field::NAME, self.name.as_deref()),
            (field::MESSAGE_ID, Some(self.message_id.as_str())),
            (field::TIMESTAMP, Some(self.timestamp.as_str())),
            (field::USER_ID, self.user_id.as_deref()),
            (field::ANONYMOUS_ID, self.anonymous_id.as_deref()),
            (field::GROUP_ID, self.group_id.as_deref()),
            (field::PREVIOUS_ID, self.previous_id.as_deref()),
        ];
        for (name, value) in strings {
            if let Some(v) = value {
                key(&mut out, name);
                write_str(&mut out, v);
            }
        }
        for (name, value) in [
            (field::PROPERTIES, &self.properties),
            (field::TRAITS, &self.traits),
            (field::CONTEXT, &self.context),
        ] {
            if let Some(v) = value {
                key(&mut out, name);
                out.extend_from_slice(v.as_bytes());
            }
        }
        if let Some(s) = self.session_id {
            key(&mut out, field::SESSION_ID);
            write_int(&mut out, s);
        }
        out.push(b'}');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tributary_contract::Event;

    #[test]
    fn reads_back_as_the_contract_event() {
        let mut d = EventDraft::new(
            EventType::Track,
            "m-1".into(),
            "2026-11-29T10:00:00.000Z".into(),
        );
        d.event = Some("Order \"Completed\"".into());
        d.anonymous_id = Some("a1".into());
        d.user_id = Some("u1".into());
        d.properties = Some(JsonObject::parse(r#"{"total":12.5,"items":[1,2]}"#).unwrap());
        d.session_id = Some(1_700_000_000_000);
        let e: Event = serde_json::from_slice(&d.to_json()).unwrap();
        let mut want = Event::track("Order \"Completed\"", "m-1");
        want.timestamp = Some("2026-11-29T10:00:00.000Z".into());
        want.anonymous_id = Some("a1".into());
        want.user_id = Some("u1".into());
        want.properties = serde_json::from_str(r#"{"total":12.5,"items":[1,2]}"#).unwrap();
        want.session_id = Some(1_700_000_000_000);
        assert_eq!(e, want);
    }

    #[test]
    fn every_kind_and_optional_field_round_trips() {
        for kind in EventType::ALL {
            let mut d = EventDraft::new(kind, "m".into(), "t".into());
            d.name = Some("n".into());
            d.group_id = Some("g".into());
            d.previous_id = Some("p".into());
            d.traits = Some(JsonObject::empty());
            let e: Event = serde_json::from_slice(&d.to_json()).unwrap();
            assert_eq!(e.kind, kind);
            assert_eq!(e.name.as_deref(), Some("n"));
            assert_eq!(e.group_id.as_deref(), Some("g"));
            assert_eq!(e.previous_id.as_deref(), Some("p"));
            assert_eq!(e.traits, Some(serde_json::Map::new()));
            assert_eq!(e.properties, None);
            assert_eq!(e.session_id, None);
        }
    }
}
