//! JSON bodies of gateway responses.
//!
//! A request that is processed at all gets a [`BatchResponse`] listing the
//! fate of each event; a request refused as a whole gets an [`ErrorBody`].

use crate::error::ErrorCode;
use serde::{Deserialize, Serialize};

/// The outcome of one accepted request: how many events were taken and
/// which were not, by position in the batch.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BatchResponse {
    /// Events accepted (acknowledged by Kafka in `broker` mode, queued for
    /// Kafka in `buffered` mode).
    pub accepted: usize,
    /// Events not accepted, each with its reason. Empty when all were taken.
    pub rejected: Vec<EventRejection>,
    /// The version of the write key's SDK settings in force
    /// ([`crate::settings`]); a device whose version differs fetches them.
    #[serde(
        default,
        rename = "settingsVersion",
        skip_serializing_if = "Option::is_none"
    )]
    pub settings_version: Option<String>,
}

/// Why one event of a batch was not accepted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventRejection {
    /// Zero-based position of the event in the request's `batch` array.
    pub index: usize,
    /// Stable error code.
    pub code: ErrorCode,
    /// Human-readable detail.
    pub message: String,
    /// Whether sending this event again may succeed.
    pub retryable: bool,
    /// For `schema_violation`: JSON pointer of the first failing value in
    /// the payload (`/items/0/price`; `""` for the payload as a whole).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pointer: Option<String>,
    /// For `schema_violation`: the rule broken (a JSON Schema keyword such
    /// as `required`, `type`, `enum`; `protobuf` for a conversion failure).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
}

/// Body of a request refused as a whole (4xx/5xx).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Stable error code.
    pub code: ErrorCode,
    /// Human-readable detail.
    pub message: String,
    /// Whether the same request may succeed later.
    pub retryable: bool,
    /// For `rate_limited`: which limit (`key_requests`, `key_events`,
    /// `ip_requests`); for `quota_exceeded`: `quota_day` or `quota_month`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<String>,
}

impl ErrorBody {
    /// An error body for `code` with a message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ErrorBody {
        ErrorBody {
            code,
            message: message.into(),
            retryable: code.retryable(),
            limit: None,
        }
    }
}
