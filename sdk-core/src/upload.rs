//! Upload tasks: what the engine asks the platform to do, and how the
//! platform reports back.

use std::time::Duration;

/// The platform's next step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UploadTask {
    /// Send this request now, then call `Engine::on_response` with its id.
    Upload(UploadRequest),
    /// Nothing to send yet; ask again after this long (or when an event is
    /// tracked or a flush is requested).
    Wait(Duration),
    /// Nothing to send until something changes (new events, consent,
    /// network, a response to the request in flight).
    Done,
}

/// What a request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    /// `POST /v1/batch`: a batch of events.
    Batch,
    /// `GET /v1/settings`: the server's settings (no body).
    Settings,
}

impl RequestKind {
    /// The HTTP method.
    pub fn method(self) -> &'static str {
        match self {
            RequestKind::Batch => "POST",
            RequestKind::Settings => "GET",
        }
    }
}

/// One HTTP request, fully prepared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadRequest {
    /// Identifies the request in `Engine::on_response`.
    pub id: u64,
    /// A batch, or a settings fetch; [`RequestKind::method`] is the method.
    pub kind: RequestKind,
    /// Full URL (`<endpoint>/v1/batch`, `<endpoint>/v1/settings`).
    pub url: String,
    /// Headers to send, including `Authorization` and `Idempotency-Key`.
    pub headers: Vec<(String, String)>,
    /// The body (gzipped unless [`UploadRequest::compress`] asks the platform to).
    pub body: Vec<u8>,
    /// The platform must gzip `body` and add `Content-Encoding: gzip`.
    pub compress: bool,
    /// Events in the batch.
    pub event_count: usize,
    /// The batch's idempotency key; identical on every retry of the batch.
    pub idempotency_key: String,
}

/// What happened to a request.
#[derive(Debug, Clone, PartialEq)]
pub enum UploadResult {
    /// An HTTP response arrived.
    Http {
        /// Status code.
        status: u16,
        /// The `Retry-After` header, verbatim, if present.
        retry_after: Option<String>,
        /// Response body (may be empty).
        body: Vec<u8>,
    },
    /// A 2xx answer whose body the platform read with its own JSON parser:
    /// the `rejected` entries of the contract's `BatchResponse` as
    /// `(index, retryable)`. The web SDK reports this (the browser's parser
    /// is free; one in WebAssembly is not).
    Accepted {
        /// Rejected events by batch position, and whether each may be retried.
        rejected: Vec<(usize, bool)>,
        /// The answer's `settingsVersion`.
        settings_version: Option<String>,
    },
    /// The answer to a settings fetch, read by the platform's own JSON
    /// parser (the web SDK): the settings, or `None` for `304 Not
    /// Modified`. Other statuses are reported as [`UploadResult::Http`].
    Settings(Option<tributary_contract::RemoteSettings>),
    /// No response within the platform's timeout. The gateway may or may
    /// not have taken the batch; the retry's idempotency key settles it.
    Timeout,
    /// The request could not be sent (no network, DNS, TLS, refused).
    Network(String),
}
