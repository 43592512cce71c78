//! Ingest: turning a request body into records to send, each event with
//! its own outcome. Stages run in the order of the modules below; each is a
//! plain function so it can be tested alone.
//!
//! * [`decode`] — body size cap, `Content-Encoding`, gzip with an inflation cap;
//! * [`batch`] — the batch shape, read in one pass that also reads each
//!   event's fields and measures its shape (`tributary_contract::view`);
//! * then per event, in [`record::Decider::decide`]:
//!   * [`event`] — size and shape caps, field checks, and the server's
//!     time stamps ([`stamps`]);
//!   * [`edge`] — suppression, enrichment (`crate::enrich`) and the app's
//!     privacy rules (`crate::privacy`);
//!   * the write key's permission and the route (`delivery::Router`);
//!   * [`validate`] — the payload against its registered schema, written
//!     into the record value in its schema encoding;
//!   * [`record`] — the envelope headers and the key, into the request's
//!     `delivery::RecordBatch`; a user over its rate ([`hot_keys`]) is
//!     sent without its key, or to the overflow topic.
//!
//! [`fuzzing`] runs decode, batch and every per-event step on arbitrary
//! bytes; [`corpus`] is the fixed input of the event-path tests and
//! benches.

pub mod batch;
pub mod corpus;
pub mod decode;
pub mod edge;
pub mod event;
pub mod fuzzing;
pub mod hot_keys;
pub mod record;
pub mod stamps;
pub mod validate;
