//! One registered schema version, and how schemas are named.
//!
//! A schema belongs to an *event type*: an app and an event's routing name.
//! Its registry subject is `<app>.<event slug>` (the slug is the topic slug
//! of the event name, so `Order Completed` of app `shop` is
//! `shop.order_completed`). The reserved app-health schemas every app gets
//! live under the app name [`RESERVED_APP`].

use sha2::{Digest, Sha256};
use tributary_contract::topic::slug;

/// The app name of the reserved health-event schemas shared by all apps.
pub const RESERVED_APP: &str = "_reserved";

/// The subject of an app's event type.
pub fn subject_for(app: &str, event_name: &str) -> String {
    format!("{app}.{}", slug(event_name))
}

/// Which schema language a schema is written in (the registry's
/// `schemaType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SchemaType {
    /// JSON Schema, draft 2020-12; the payload is validated JSON.
    Json,
    /// A `.proto` file; the payload is its first message, converted from
    /// JSON with protobuf's JSON mapping.
    Protobuf,
}

impl SchemaType {
    /// The registry's name for it (`JSON`, `PROTOBUF`).
    pub fn as_str(self) -> &'static str {
        match self {
            SchemaType::Json => "JSON",
            SchemaType::Protobuf => "PROTOBUF",
        }
    }

    /// Reads a registry `schemaType`; absent means Avro, which Tributary
    /// does not take.
    pub fn parse(s: &str) -> Option<SchemaType> {
        match s {
            "JSON" => Some(SchemaType::Json),
            "PROTOBUF" => Some(SchemaType::Protobuf),
            _ => None,
        }
    }

    /// The file extension in a schema directory.
    pub fn extension(self) -> &'static str {
        match self {
            SchemaType::Json => "json",
            SchemaType::Protobuf => "proto",
        }
    }
}

/// One version of one subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schema {
    /// Global id, written into every record's framing.
    pub id: u32,
    /// `<app>.<event slug>`.
    pub subject: String,
    /// Version within the subject, from 1.
    pub version: u32,
    /// Schema language.
    pub schema_type: SchemaType,
    /// The schema text as registered.
    pub text: String,
}

/// The id a schema directory gives a schema: derived from its type and text
/// (the first 31 bits of a SHA-256), so every gateway replica and every
/// restart assigns the same id without coordinating, and an id never comes
/// to mean a different schema. The same text under two subjects shares one
/// id, as in Confluent's registry.
pub fn content_id(schema_type: SchemaType, text: &str) -> u32 {
    let mut h = Sha256::new();
    h.update(schema_type.as_str().as_bytes());
    h.update([0]);
    h.update(text.as_bytes());
    let d = h.finalize();
    let id = u32::from_be_bytes([d[0], d[1], d[2], d[3]]) & 0x7fff_ffff;
    id.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_use_the_topic_slug() {
        assert_eq!(
            subject_for("shop", "Order Completed"),
            "shop.order_completed"
        );
        assert_eq!(subject_for("shop", "identify"), "shop.identify");
    }

    #[test]
    fn content_ids_are_stable_and_positive() {
        let a = content_id(SchemaType::Json, "{}");
        assert_eq!(a, content_id(SchemaType::Json, "{}"));
        assert_ne!(a, content_id(SchemaType::Protobuf, "{}"));
        assert!(a > 0 && a <= i32::MAX as u32);
    }
}
