//! The one error type of a request refused as a whole, shared by the
//! stages that can refuse one (admission, decoding, the body's shape) and
//! answered by `api` in one place (`api::batch::error_response`). Per-event
//! outcomes are `tributary_contract::EventRejection`s instead.

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
