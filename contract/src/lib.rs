//! The Tributary wire contract, defined once and shared by every crate.
//!
//! Everything that crosses a process boundary is described here and nowhere
//! else:
//!
//! * [`event`] — the event and batch shapes a client sends (the Segment
//!   Tracking API shape), as owned types for producers (SDKs, load test);
//! * [`view`] — a zero-copy reader of one event for the ingest hot path
//!   (read while the batch is split),
//!   which checks required fields and types and reports per-event errors;
//! * [`envelope`] — the Kafka record layout: header names and the envelope
//!   carried in them, with encode and decode;
//! * [`error`] — the error codes every HTTP response uses, with their status
//!   and whether a client should retry;
//! * [`response`] — the JSON bodies of gateway responses;
//! * [`report`] — client reports of events an SDK dropped, by reason;
//! * [`health`] — reserved app-health event names;
//! * [`settings`] — server-driven SDK settings and their bounds;
//! * [`scan`] — reading raw JSON in one pass: string ends eight bytes at a
//!   time, a borrowing reader, and skipping a value while measuring its
//!   nesting and string lengths;
//! * [`time`] — the one timestamp format used on the wire;
//! * [`topic`] — how topic names are derived from event names;
//! * [`wire`] — the Confluent framing of schema-encoded values, and
//!   [`wire::decode_record`], how every consumer reads a record.
//!
//! The prose version, with byte-level examples, is `docs/contract.md`.

pub mod envelope;
pub mod error;
pub mod event;
pub mod health;
pub mod report;
pub mod response;
pub mod scan;
pub mod settings;
pub mod time;
pub mod topic;
pub mod view;
pub mod wire;

pub use envelope::{Encoding, Envelope, header};
pub use error::ErrorCode;
pub use event::{BatchRequest, Event, EventType};
pub use report::{ClientReport, DropReason};
pub use response::{BatchResponse, ErrorBody, EventRejection};
pub use settings::RemoteSettings;
pub use view::{EventView, ViewError};
