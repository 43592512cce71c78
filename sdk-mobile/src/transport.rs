//! The optional foreign HTTP transport: an app may send uploads through its
//! own stack (URLSession, OkHttp, a corporate proxy) by implementing
//! [`HttpSender`]. The engine still decides what to send and what a
//! response means; the app only moves bytes.

use std::collections::HashMap;
use std::sync::Arc;
use tributary_sdk_core::native::HttpTransport;
use tributary_sdk_core::{UploadRequest, UploadResult};

/// One request, ready to send: a batch (`POST`) or a settings fetch
/// (`GET`, no body; a `304` answer means the settings are unchanged).
#[derive(Debug, Clone, uniffi::Record)]
pub struct HttpRequest {
    /// `POST` or `GET`.
    pub method: String,
    /// Full URL.
    pub url: String,
    /// Headers to set (including `Content-Encoding`, `Authorization`,
    /// `Idempotency-Key`).
    pub headers: HashMap<String, String>,
    /// The body, already compressed.
    pub body: Vec<u8>,
}

/// What happened to a request.
#[derive(Debug, Clone, uniffi::Enum)]
pub enum HttpOutcome {
    /// A response arrived (any status).
    Response {
        /// Status code.
        status: u16,
        /// The `Retry-After` header, if any.
        retry_after: Option<String>,
        /// Response body.
        body: Vec<u8>,
    },
    /// No response in time.
    Timeout,
    /// The request could not be sent.
    NetworkError {
        /// Why, for logs.
        reason: String,
    },
}

/// An HTTP stack supplied by the app. Called on the SDK's worker thread;
/// may block until the request completes.
#[uniffi::export(foreign)]
pub trait HttpSender: Send + Sync {
    /// Sends `request` as a POST and reports the outcome.
    fn send(&self, request: HttpRequest) -> HttpOutcome;
}

/// Adapts an [`HttpSender`] to sdk-core's transport trait.
pub(crate) struct ForeignTransport(pub Arc<dyn HttpSender>);

impl HttpTransport for ForeignTransport {
    fn send(&self, request: &UploadRequest) -> UploadResult {
        let req = HttpRequest {
            method: request.kind.method().to_owned(),
            url: request.url.clone(),
            headers: request.headers.iter().cloned().collect(),
            body: request.body.clone(),
        };
        match self.0.send(req) {
            HttpOutcome::Response {
                status,
                retry_after,
                body,
            } => UploadResult::Http {
                status,
                retry_after,
                body,
            },
            HttpOutcome::Timeout => UploadResult::Timeout,
            HttpOutcome::NetworkError { reason } => UploadResult::Network(reason),
        }
    }
}
