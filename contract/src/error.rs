//! Error codes: the stable, machine-readable half of every error the gateway
//! returns. Clients branch on the code; the message is for humans.
//!
//! A code fixes the HTTP status of a request-level error and tells a client
//! whether retrying the same bytes can ever succeed. SDK retry policy reads
//! [`ErrorCode::retryable`] instead of guessing from status codes.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Declares the error codes once: the enum, its wire names ([`ErrorCode::as_str`])
/// and the list of all codes ([`ErrorCode::ALL`]) are generated together, so
/// they cannot drift apart.
macro_rules! error_codes {
    ($( $(#[$doc:meta])* $variant:ident = $name:literal, )*) => {
        /// Every error code the gateway can put in a response.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum ErrorCode {
            $( $(#[$doc])* #[serde(rename = $name)] $variant, )*
        }

        impl ErrorCode {
            /// Every code, in declaration order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant),*];

            /// The code as it appears on the wire.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $name,)*
                }
            }
        }
    };
}

error_codes! {
    // ---- request-level ----
    /// The body is not valid JSON (after decompression).
    InvalidJson = "invalid_json",
    /// The body is JSON but not the expected shape (e.g. `batch` missing or not an array).
    InvalidBatch = "invalid_batch",
    /// `Content-Encoding: gzip` but the body is not a complete gzip stream.
    BadGzip = "bad_gzip",
    /// A `Content-Encoding` other than `gzip` or `identity`.
    UnsupportedEncoding = "unsupported_encoding",
    /// The compressed body is larger than `limits.max_body_bytes`.
    PayloadTooLarge = "payload_too_large",
    /// The body inflates to more than `limits.max_decompressed_bytes`.
    DecompressedTooLarge = "decompressed_too_large",
    /// The batch holds more than `limits.max_events_per_batch` events.
    TooManyEvents = "too_many_events",
    /// No write key, or one the gateway does not know.
    Unauthorized = "unauthorized",
    /// No such route.
    NotFound = "not_found",
    /// The route exists but not for this HTTP method.
    MethodNotAllowed = "method_not_allowed",
    /// The gateway cannot take more work right now; retry after `Retry-After`.
    Overloaded = "overloaded",
    /// A rate limit of the write key or client IP is exhausted; retry after
    /// `Retry-After`. The body's `limit` names the limit.
    RateLimited = "rate_limited",
    /// The app has had its quota of events for the day or the month
    /// (`quotas.apps`); retry after `Retry-After`, the window's end. The
    /// body's `limit` names the window (`quota_day`, `quota_month`).
    QuotaExceeded = "quota_exceeded",
    /// The client sent the body too slowly (`server.body_timeout_ms`).
    RequestTimeout = "request_timeout",
    /// No Kafka delivery was possible for any event of the request; retry later.
    KafkaUnavailable = "kafka_unavailable",
    /// A bug. Never expected; reported so it can be found.
    Internal = "internal",
    /// An admin action needs configuration this gateway lacks (for
    /// suppressions: `privacy.suppression_file`).
    NotConfigured = "not_configured",

    // ---- event-level ----
    /// The batch element is not a JSON object.
    InvalidEvent = "invalid_event",
    /// A required field is absent.
    MissingField = "missing_field",
    /// A field has the wrong JSON type or an unparsable value.
    InvalidField = "invalid_field",
    /// The same field appears twice in one event.
    DuplicateField = "duplicate_field",
    /// `type` is not one of track, identify, page, screen, group, alias.
    UnknownType = "unknown_type",
    /// No route matches the event and the routing policy is `reject`.
    UnroutedEvent = "unrouted_event",
    /// The write key may not send this event (its `allowed_events`).
    EventNotAllowed = "event_not_allowed",
    /// The event nests objects/arrays deeper than `limits.max_nesting_depth`.
    NestingTooDeep = "nesting_too_deep",
    /// A string in the event is longer than `limits.max_string_bytes`.
    StringTooLong = "string_too_long",
    /// The event alone is larger than `limits.max_event_bytes`.
    EventTooLarge = "event_too_large",
    /// The event's payload (`properties`, or `traits` for identify/group)
    /// does not fit its registered schema; the rejection's `pointer` and
    /// `rule` say where and why.
    SchemaViolation = "schema_violation",
    /// The app has no schema for this event and its policy
    /// (`schemas.unregistered`) is `reject`.
    UnregisteredEvent = "unregistered_event",
    /// Kafka did not acknowledge the event (`ack = "broker"`); safe to retry the event.
    DeliveryFailed = "delivery_failed",
    /// The producer queue was full when the event arrived; safe to retry the event.
    QueueFull = "queue_full",
}

impl ErrorCode {
    /// HTTP status for a request that fails as a whole with this code.
    /// Event-level codes map to the status a single-event endpoint returns.
    pub fn http_status(self) -> u16 {
        use ErrorCode::*;
        match self {
            InvalidJson | InvalidBatch | BadGzip | InvalidEvent | MissingField | InvalidField
            | DuplicateField | UnknownType | UnroutedEvent | NestingTooDeep | SchemaViolation
            | UnregisteredEvent => 400,
            Unauthorized => 401,
            EventNotAllowed => 403,
            RequestTimeout => 408,
            RateLimited | QuotaExceeded => 429,
            NotFound => 404,
            MethodNotAllowed => 405,
            NotConfigured => 409,
            PayloadTooLarge | DecompressedTooLarge | TooManyEvents | EventTooLarge
            | StringTooLong => 413,
            UnsupportedEncoding => 415,
            Overloaded | KafkaUnavailable | DeliveryFailed | QueueFull => 503,
            Internal => 500,
        }
    }

    /// Whether sending the same event again later can succeed.
    pub fn retryable(self) -> bool {
        use ErrorCode::*;
        matches!(
            self,
            Overloaded
                | KafkaUnavailable
                | DeliveryFailed
                | QueueFull
                | Internal
                | RateLimited
                | QuotaExceeded
                | RequestTimeout
        )
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_name_matches_as_str() {
        for &code in ErrorCode::ALL {
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
        }
    }

    #[test]
    fn all_lists_every_code_once() {
        let names: std::collections::BTreeSet<&str> =
            ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(names.len(), ErrorCode::ALL.len());
    }

    #[test]
    fn only_transient_codes_are_retryable() {
        assert!(ErrorCode::QueueFull.retryable());
        assert!(!ErrorCode::MissingField.retryable());
        assert_eq!(ErrorCode::UnsupportedEncoding.http_status(), 415);
    }
}
