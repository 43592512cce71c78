//! The live event debugger's routes, when `debugger.enabled` (404 when not):
//!
//! * `GET /debug` — the page ([`crate::debugger::PAGE`]);
//! * `GET /debug/stream?writeKey=<key>` — Server-Sent Events of the
//!   decisions for the key's app (`text/event-stream`, one JSON object per
//!   `data:` line: `connected`, then `accepted`, `rejected`, `dropped` and
//!   `skipped` entries).
//!
//! Both need `privacy.admin_token`: as the password of HTTP Basic (so that
//! a browser asks for it once and its `EventSource` sends it again), or as
//! a Bearer token.

use super::admin::admin_authorized;
use super::{ApiBody, AppState};
use crate::debugger::hub::{Refused, sse};
use crate::error::RequestError;
use bytes::Bytes;
use http::{HeaderValue, Response, header};
use http_body_util::{Either, Full};
use hyper::body::Frame;
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::sync::mpsc;
use tributary_contract::ErrorCode;

/// A viewer's stream: what the hub sends it, until the hub lets go.
pub struct SseBody(mpsc::Receiver<Bytes>);

impl hyper::body::Body for SseBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0.poll_recv(cx).map(|m| m.map(|b| Ok(Frame::data(b))))
    }
}

/// `GET /debug`, or `None` when the debugger is off.
pub fn page(state: &AppState, parts: &http::request::Parts) -> Option<Response<Full<Bytes>>> {
    let token = enabled(state)?;
    if !admin_authorized(&parts.headers, token) {
        return Some(challenge());
    }
    let mut resp = Response::new(Full::new(Bytes::from_static(
        crate::debugger::PAGE.as_bytes(),
    )));
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // The page is self-contained: it may talk to this gateway only.
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'",
        ),
    );
    Some(resp)
}

/// `GET /debug/stream`, or `None` when the debugger is off.
pub fn stream(state: &AppState, parts: &http::request::Parts) -> Option<Response<ApiBody>> {
    let token = enabled(state)?;
    if !admin_authorized(&parts.headers, token) {
        return Some(challenge().map(Either::Left));
    }
    let key = parts
        .uri
        .query()
        .and_then(crate::admission::auth::query_write_key)
        .unwrap_or_default();
    let Some(principal) = state.keys.current().lookup(&key) else {
        let e = RequestError::new(ErrorCode::NotFound, "no such write key (?writeKey=<key>)");
        return Some(super::batch::error_response(&e).map(Either::Left));
    };
    let hello = sse(&serde_json::json!({ "outcome": "connected", "app": &*principal.app_id }));
    let rx = match state.debugger.subscribe(&principal.app_id, hello) {
        Ok(rx) => rx,
        Err(Refused::TooManyViewers) => {
            let e = RequestError::new(
                ErrorCode::Overloaded,
                "debugger.max_viewers are watching already",
            );
            return Some(super::batch::error_response(&e).map(Either::Left));
        }
    };
    let mut resp = Response::new(Either::Right(SseBody(rx)));
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Some(resp)
}

fn enabled(state: &AppState) -> Option<&str> {
    state
        .config
        .debugger
        .enabled
        .then_some(state.config.privacy.admin_token.as_deref())
        .flatten()
}

fn challenge() -> Response<Full<Bytes>> {
    let e = RequestError::new(
        ErrorCode::Unauthorized,
        "the debugger needs privacy.admin_token: as the password of HTTP Basic, or `Authorization: Bearer`",
    );
    let mut resp = super::batch::error_response(&e);
    resp.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"tributary debugger\", charset=\"UTF-8\""),
    );
    resp
}
