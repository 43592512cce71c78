//! Ingest: turning a request body into checked, enriched events, each with
//! its own outcome. Stages run in the order of the modules below; each is a
//! plain function so it can be tested alone.
//!
//! * [`decode`] — body size cap, `Content-Encoding`, gzip with an inflation cap;
//! * [`batch`] — the batch shape and per-event parsing;
//! * [`shape`] — per-event nesting depth and string length caps;
//! * [`enrich`] — receipt time and clock-skew correction;
//! * [`validate`] — the payload against its registered schema, and its
//!   schema encoding (after routing, which it may change);
//! * [`event`] — all of the above for one event, in order ([`event::prepare`]).

pub mod batch;
pub mod decode;
pub mod enrich;
pub mod event;
pub mod fuzzing;
pub mod shape;
pub mod validate;

use tributary_contract::ErrorCode;

/// A request refused as a whole, before any event is looked at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestError {
    /// Stable code; fixes the HTTP status.
    pub code: ErrorCode,
    /// Detail for the client.
    pub message: String,
    /// Seconds the client should wait (`Retry-After`); retryable codes
    /// without one get 1.
    pub retry_after: Option<u64>,
    /// The limit that was hit, for `rate_limited`.
    pub limit: Option<&'static str>,
}

impl RequestError {
    /// A request error with `code` and a message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> RequestError {
        RequestError {
            code,
            message: message.into(),
            retry_after: None,
            limit: None,
        }
    }
}
