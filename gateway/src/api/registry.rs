//! The read side of the Confluent Schema Registry REST API, served from
//! the gateway's own registry, so consumers' off-the-shelf deserializers
//! (Confluent's Java, Python, Go clients) decode the gateway's records by
//! pointing `schema.registry.url` at the gateway — no other service.
//!
//! | route | answer |
//! |---|---|
//! | `GET /schemas/ids/{id}` | `{"schema", "schemaType", "references"}`; `?format=serialized` gives a protobuf schema as a base64 `FileDescriptorProto` |
//! | `GET /subjects` | subject names |
//! | `GET /subjects/{s}/versions` | version numbers |
//! | `GET /subjects/{s}/versions/{v}` | `{"subject", "version", "id", "schemaType", "schema", "references"}`; `{v}` may be `latest` |
//! | `GET /subjects/{s}/versions/{v}/schema` | the schema text alone |
//!
//! Errors use the registry's body (`{"error_code": 40401, "message": ...}`).
//! Writes (registering) go to the schema directory in git, or to a real
//! registry with `tributary-schema register`.

use super::AppState;
use base64::Engine;
use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::Full;
use serde_json::json;
use std::sync::Arc;
use tributary_schema::{Registry, Schema};

const CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";

fn reply(status: StatusCode, body: &serde_json::Value) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(body.to_string())));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    resp
}

fn missing(code: u32, message: &str) -> Response<Full<Bytes>> {
    reply(
        StatusCode::NOT_FOUND,
        &json!({ "error_code": code, "message": message }),
    )
}

fn subject_not_found() -> Response<Full<Bytes>> {
    missing(40401, "Subject not found.")
}

/// Decodes a percent-encoded path segment.
fn decode_segment(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The `schema` field: the text, or for `?format=serialized` a protobuf
/// schema's `FileDescriptorProto`, base64.
fn schema_field(registry: &Registry, s: &Schema, serialized: bool) -> String {
    if serialized
        && let Some(fd) = registry
            .by_id(s.id)
            .and_then(|r| r.compiled.file_descriptor().map(<[u8]>::to_vec))
    {
        return base64::engine::general_purpose::STANDARD.encode(fd);
    }
    s.text.clone()
}

fn version_body(registry: &Registry, s: &Schema, serialized: bool) -> serde_json::Value {
    json!({
        "subject": s.subject,
        "version": s.version,
        "id": s.id,
        "schemaType": s.schema_type.as_str(),
        "schema": schema_field(registry, s, serialized),
        "references": [],
    })
}

/// Answers a registry API request for `path`, or `None` when the path is
/// not one of this API's.
pub fn handle(state: &AppState, path: &str, query: Option<&str>) -> Option<Response<Full<Bytes>>> {
    if !(path.starts_with("/schemas/") || path == "/subjects" || path.starts_with("/subjects/")) {
        return None;
    }
    let registry: Arc<Registry> = match (&state.schemas, state.config.schemas.serve_registry_api) {
        (Some(r), true) => r.clone(),
        _ => {
            return Some(missing(
                40400,
                "this gateway has no schema registry (schemas.source = \"none\" or serve_registry_api = false)",
            ));
        }
    };
    let serialized = query
        .unwrap_or_default()
        .split('&')
        .any(|kv| kv == "format=serialized");
    let catalog = registry.catalog();
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    Some(match parts.as_slice() {
        ["schemas", "ids", id] => match id.parse::<u32>().ok().and_then(|id| catalog.by_id(id)) {
            Some(s) => reply(
                StatusCode::OK,
                &json!({
                    "schema": schema_field(&registry, s, serialized),
                    "schemaType": s.schema_type.as_str(),
                    "references": [],
                }),
            ),
            None => missing(40403, "Schema not found"),
        },
        ["subjects"] => reply(
            StatusCode::OK,
            &json!(catalog.subjects().collect::<Vec<_>>()),
        ),
        ["subjects", subject, "versions"] => {
            let subject = decode_segment(subject).unwrap_or_default();
            match catalog.versions(&subject) {
                Some(v) => reply(
                    StatusCode::OK,
                    &json!(v.iter().map(|s| s.version).collect::<Vec<_>>()),
                ),
                None => subject_not_found(),
            }
        }
        ["subjects", subject, "versions", version, rest @ ..]
            if rest.is_empty() || rest == ["schema"] =>
        {
            let subject = decode_segment(subject).unwrap_or_default();
            if catalog.versions(&subject).is_none() {
                return Some(subject_not_found());
            }
            let found = match *version {
                "latest" | "-1" => catalog.latest(&subject),
                v => v.parse().ok().and_then(|v| catalog.version(&subject, v)),
            };
            match (found, rest.is_empty()) {
                (None, _) => missing(40402, "Version not found."),
                (Some(s), true) => reply(StatusCode::OK, &version_body(&registry, s, serialized)),
                (Some(s), false) => {
                    let mut resp = Response::new(Full::new(Bytes::from(s.text.clone())));
                    resp.headers_mut()
                        .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
                    resp
                }
            }
        }
        _ => missing(40400, "no such registry route"),
    })
}

#[cfg(test)]
mod tests {
    use super::decode_segment;

    #[test]
    fn segments_are_percent_decoded() {
        assert_eq!(
            decode_segment("shop.order_completed").unwrap(),
            "shop.order_completed"
        );
        assert_eq!(decode_segment("a%20b%2Fc").unwrap(), "a b/c");
        assert!(decode_segment("bad%2").is_none());
        assert!(decode_segment("%ff").is_none());
    }
}
