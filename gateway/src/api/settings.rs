//! `GET /v1/settings`: the SDK settings of the write key's app
//! (`crate::sdk_settings`), and the version stamp on ingest answers.
//!
//! The answer is cacheable: `ETag` is the quoted version, `Cache-Control:
//! private, max-age=<ttlSecs>`, and a request whose `If-None-Match` names
//! the version in force gets `304` with no body. Browsers may send the
//! key as the `writeKey` query parameter, which keeps the request simple
//! (no CORS preflight) and lets the browser's own cache revalidate.

use super::AppState;
use crate::admission::Principal;
use crate::error::RequestError;
use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::Full;
use tributary_contract::ErrorCode;
use tributary_contract::settings::VERSION_HEADER;

/// Answers `GET /v1/settings`.
pub fn get(state: &AppState, parts: &http::request::Parts) -> Response<Full<Bytes>> {
    let keys = state.keys.current();
    let principal = match keys.authenticate(&parts.headers, parts.uri.query()) {
        Ok(Some(p)) => p,
        Ok(None) => {
            return super::batch::error_response(&RequestError::new(
                ErrorCode::Unauthorized,
                "no write key: send it as Basic/Bearer authorization or the `writeKey` query parameter",
            ));
        }
        Err(m) => {
            return super::batch::error_response(&RequestError::new(ErrorCode::Unauthorized, m));
        }
    };
    let served = state.sdk_settings.for_app(&principal.app_id);
    let etag = String::from("\"") + &served.version + "\"";
    let fresh = parts
        .headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| {
            let t = t.trim();
            t == "*" || t.trim_start_matches("W/") == etag
        });
    let mut resp = if fresh {
        let mut r = Response::new(Full::new(Bytes::new()));
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        r
    } else {
        super::json_bytes(StatusCode::OK, served.body.clone())
    };
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("private, max-age={}", served.ttl_secs)) {
        h.insert(header::CACHE_CONTROL, v);
    }
    h.insert(header::VARY, HeaderValue::from_static("authorization"));
    cors(h);
    resp
}

/// Stamps an ingest answer with the settings version of `principal`'s
/// app: the response header, and `settingsVersion` in a JSON object body
/// (computed per answer, so a remembered answer replayed to a retry names
/// the version in force now).
pub fn stamp(
    state: &AppState,
    principal: &Principal,
    mut resp: Response<Full<Bytes>>,
    body: &Bytes,
) -> Response<Full<Bytes>> {
    let version = state.sdk_settings.for_app(&principal.app_id).version;
    if body.last() == Some(&b'}') && body.len() > 2 {
        let mut out = Vec::with_capacity(body.len() + version.len() + 24);
        out.extend_from_slice(&body[..body.len() - 1]);
        out.extend_from_slice(b",\"settingsVersion\":\"");
        out.extend_from_slice(version.as_bytes());
        out.extend_from_slice(b"\"}");
        *resp.body_mut() = Full::new(Bytes::from(out));
    }
    if let Ok(v) = HeaderValue::from_str(&version) {
        resp.headers_mut().insert(VERSION_HEADER, v);
    }
    resp
}

/// CORS of every `/v1/` answer: browsers send from any origin (the write
/// key, not the origin, is the credential), and the page may read
/// `Retry-After`, the settings version and `ETag`, none of which is a
/// CORS-safelisted response header.
pub fn cors(h: &mut http::HeaderMap) {
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("etag, retry-after, tributary-settings-version"),
    );
}
