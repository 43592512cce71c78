//! The native HTTP transport: performs an [`UploadRequest`] and reports an
//! [`UploadResult`]. Blocking, on the SDK's worker thread; TLS by rustls.
//!
//! Apps that must use their own stack (URLSession, OkHttp, a proxy)
//! implement [`HttpTransport`] themselves; the engine does not care.

use crate::upload::{UploadRequest, UploadResult};

/// Sends one prepared request.
pub trait HttpTransport: Send {
    /// Performs `request` and reports what happened. Never panics on
    /// network errors: they are results.
    fn send(&self, request: &UploadRequest) -> UploadResult;
}

/// Largest response body read (the gateway's answers are small).
#[cfg(feature = "native-http")]
const MAX_RESPONSE: u64 = 1 << 20;

/// [`HttpTransport`] on `ureq` with rustls (feature `native-http`).
#[cfg(feature = "native-http")]
pub struct UreqTransport {
    agent: ureq::Agent,
}

#[cfg(feature = "native-http")]
impl UreqTransport {
    /// A transport whose requests give up after `timeout`.
    pub fn new(timeout: std::time::Duration) -> UreqTransport {
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .build();
        UreqTransport {
            agent: ureq::Agent::new_with_config(config),
        }
    }
}

#[cfg(feature = "native-http")]
impl HttpTransport for UreqTransport {
    fn send(&self, request: &UploadRequest) -> UploadResult {
        let sent = if request.kind == crate::upload::RequestKind::Settings {
            let mut req = self.agent.get(&request.url);
            for (k, v) in &request.headers {
                req = req.header(k.as_str(), v.as_str());
            }
            req.call()
        } else {
            let mut req = self.agent.post(&request.url);
            for (k, v) in &request.headers {
                req = req.header(k.as_str(), v.as_str());
            }
            req.send(&request.body[..])
        };
        match sent {
            Ok(mut resp) => {
                let status = resp.status().as_u16();
                let retry_after = resp
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                let mut body = Vec::new();
                use std::io::Read;
                let _ = resp
                    .body_mut()
                    .as_reader()
                    .take(MAX_RESPONSE)
                    .read_to_end(&mut body);
                UploadResult::Http {
                    status,
                    retry_after,
                    body,
                }
            }
            Err(ureq::Error::Timeout(_)) => UploadResult::Timeout,
            Err(e) => UploadResult::Network(e.to_string()),
        }
    }
}
