//! The operator endpoints under `/admin/`, behind `privacy.admin_token`
//! (a Bearer token, compared in constant time). Without a token configured
//! they do not exist (404), so a gateway cannot be administered by
//! accident.
//!
//! * `POST /admin/suppressions` — body `{"app":"shop","userId":"u1"}` (or
//!   `"anonymousId"`): from now on that id's events are dropped at the
//!   edge. The id is appended to `privacy.suppression_file` before the
//!   answer, so it survives a restart; replicas that share the file take
//!   it on their next check (`privacy.poll_secs`), others need the call too.

use super::{AppState, json_response};
use crate::error::RequestError;
use crate::privacy::suppression::{AddError, Line};
use bytes::Bytes;
use http::{Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use subtle::ConstantTimeEq;
use tributary_contract::ErrorCode;

/// Largest admin request body.
const MAX_BODY: usize = 64 << 10;

/// Handles `POST /admin/suppressions`; `None` when the admin endpoints
/// are off (the caller answers 404).
pub async fn suppress<B>(
    state: &AppState,
    parts: &http::request::Parts,
    body: B,
) -> Option<Response<Full<Bytes>>>
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let token = state.config.privacy.admin_token.as_deref()?;
    Some(match add(state, token, parts, body).await {
        Ok(line) => json_response(StatusCode::OK, &serde_json::json!({ "suppressed": line })),
        Err(e) => super::batch::error_response(&e),
    })
}

/// Whether `headers` carry the admin token: `Authorization: Bearer
/// <token>`, or HTTP Basic with the token as the password (any user name),
/// compared in constant time.
pub(crate) fn admin_authorized(headers: &http::HeaderMap, token: &str) -> bool {
    let Some(value) = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let given = if let Some(b) = value.strip_prefix("Bearer ") {
        b.trim().to_owned()
    } else if let Some(b) = value.strip_prefix("Basic ") {
        use base64::Engine as _;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(b.trim())
            .unwrap_or_default();
        let text = String::from_utf8_lossy(&decoded).into_owned();
        text.split_once(':')
            .map(|(_, p)| p.to_owned())
            .unwrap_or_default()
    } else {
        return false;
    };
    bool::from(given.as_bytes().ct_eq(token.as_bytes()))
}

async fn add<B>(
    state: &AppState,
    token: &str,
    parts: &http::request::Parts,
    body: B,
) -> Result<Line, RequestError>
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    if !admin_authorized(&parts.headers, token) {
        return Err(RequestError::new(
            ErrorCode::Unauthorized,
            "admin endpoints need `Authorization: Bearer <privacy.admin_token>`",
        ));
    }
    let bytes = Limited::new(body, MAX_BODY)
        .collect()
        .await
        .map_err(|e| RequestError::new(ErrorCode::PayloadTooLarge, format!("body: {e}")))?
        .to_bytes();
    let line: Line = serde_json::from_slice(&bytes).map_err(|e| {
        RequestError::new(
            ErrorCode::InvalidJson,
            format!("expected {{\"app\":…,\"userId\":…}} or {{\"app\":…,\"anonymousId\":…}}: {e}"),
        )
    })?;
    let id = line.id().filter(|_| !line.app.is_empty()).ok_or_else(|| {
        RequestError::new(
            ErrorCode::InvalidBatch,
            "give `app` and exactly one of `userId`, `anonymousId`, none empty",
        )
    })?;
    state.privacy.suppress(&line.app, id).map_err(|e| match e {
        AddError::NoFile => RequestError::new(ErrorCode::NotConfigured, e.to_string()),
        AddError::Io(_) => RequestError::new(ErrorCode::Internal, e.to_string()),
    })?;
    Ok(line)
}
