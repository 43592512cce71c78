//! Validation: the event's payload against its event type's registered
//! schema, and its encoding into the Kafka record value.
//!
//! The payload is `properties` (`traits` for identify and group). A fitting
//! payload becomes a Confluent-framed value (JSON, or protobuf converted
//! from JSON); one that does not fit is rejected with the JSON pointer and
//! rule, and dead-lettered like every permanent rejection. An event type
//! with no schema follows the app's `schemas.unregistered` policy.

use crate::config::UnregisteredPolicy;
use tributary_contract::view::EventView;
use tributary_contract::{Encoding, ErrorCode};
use tributary_schema::Resolved;

/// What the registry says about an event type.
#[derive(Debug, Clone, Copy)]
pub enum Lookup<'r> {
    /// No registry is configured.
    Off,
    /// The app has no schema for this event type.
    Missing,
    /// The schema in force.
    Found(&'r Resolved),
}

/// How an event passed validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checked {
    /// No registry is configured: the value is the normalised event.
    NoRegistry,
    /// The value now holds the schema-encoded payload.
    Encoded {
        /// Id in the framing and in `tb-schema`.
        schema_id: u32,
        /// `confluent-json` or `confluent-protobuf`.
        encoding: Encoding,
    },
    /// No schema, accepted by policy: the value is the normalised event and
    /// it goes to the unvalidated topic.
    Unvalidated,
}

/// Why validation refused an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// `schema_violation` or `unregistered_event`.
    pub code: ErrorCode,
    /// Detail for the client.
    pub message: String,
    /// JSON pointer of the failing value (schema violations).
    pub pointer: Option<String>,
    /// Rule broken (schema violations).
    pub rule: Option<String>,
}

/// Validates `view` for `app` and, when it has a schema, appends the
/// schema-encoded payload to `value`. On a refusal `value` is as it was.
pub fn check(
    schema: Lookup<'_>,
    policy: UnregisteredPolicy,
    app: &str,
    view: &EventView<'_>,
    value: &mut Vec<u8>,
) -> Result<Checked, Refusal> {
    let resolved = match schema {
        Lookup::Off => return Ok(Checked::NoRegistry),
        Lookup::Found(r) => r,
        Lookup::Missing => {
            return match policy {
                UnregisteredPolicy::Accept => Ok(Checked::Unvalidated),
                UnregisteredPolicy::Reject => Err(Refusal {
                    code: ErrorCode::UnregisteredEvent,
                    message: format!(
                        "app {app:?} has no schema for event {:?}",
                        view.routing_name()
                    ),
                    pointer: None,
                    rule: None,
                }),
            };
        }
    };
    let id = resolved.schema.id;
    let start = value.len();
    resolved
        .compiled
        .encode(id, view.schema_payload(), value)
        .map_err(|r| {
            value.truncate(start);
            Refusal {
                code: ErrorCode::SchemaViolation,
                message: format!(
                    "{:?} does not match schema {} v{} (id {id}): {r}",
                    view.routing_name(),
                    resolved.schema.subject,
                    resolved.schema.version
                ),
                pointer: Some(r.pointer),
                rule: Some(r.rule),
            }
        })?;
    Ok(Checked::Encoded {
        schema_id: id,
        encoding: resolved.compiled.encoding(),
    })
}
