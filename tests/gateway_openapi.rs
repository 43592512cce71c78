//! `docs/openapi.json` against the implementation: the documented routes
//! are exactly the served ones, the documented error codes are exactly the
//! contract's, and live responses — successes and each kind of error —
//! have a documented status and a body with the documented fields.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use serde_json::{Value, json};
use std::collections::BTreeSet;
use tributary_contract::ErrorCode;
use tributary_gateway::api::ROUTES;
use tributary_tests::*;

fn spec() -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/openapi.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn schema<'a>(spec: &'a Value, r: &str) -> &'a Value {
    let name = r.rsplit('/').next().unwrap();
    &spec["components"]["schemas"][name]
}

/// Checks that `body` has every required field of the response schema
/// documented for `status` (when it is JSON).
fn conforms(spec: &Value, path: &str, method: &str, status: u16, body: &Value) {
    let op = &spec["paths"][path][method.to_lowercase()];
    let resp = &op["responses"][status.to_string()];
    assert!(
        resp.is_object(),
        "{method} {path} answered {status}, which is not documented"
    );
    // JSON bodies: `application/json`, or the registry API's own type.
    let media = resp["content"]
        .as_object()
        .and_then(|c| c.values().next())
        .cloned()
        .unwrap_or_default();
    let Some(r) = media["schema"]["$ref"].as_str() else {
        return;
    };
    let s = schema(spec, r);
    for field in s["required"].as_array().unwrap() {
        assert!(
            body.get(field.as_str().unwrap()).is_some(),
            "{method} {path} {status}: missing {field} in {body}"
        );
    }
    if let Some(code) = body.get("code") {
        let codes = spec["components"]["schemas"]["ErrorCode"]["enum"]
            .as_array()
            .unwrap();
        assert!(codes.contains(code), "undocumented code {code}");
    }
}

#[test]
fn documented_routes_and_codes_match_the_implementation() {
    let spec = spec();
    let documented: BTreeSet<(String, String)> = spec["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(p, ops)| {
            ops.as_object()
                .unwrap()
                .keys()
                .map(move |m| (m.to_uppercase(), p.clone()))
        })
        .collect();
    let served: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(documented, served);
    let doc_codes: BTreeSet<&str> = spec["components"]["schemas"]["ErrorCode"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    let codes: BTreeSet<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(doc_codes, codes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_responses_follow_the_document() {
    let spec = spec();
    let mut cfg = test_config(&kafka(), &unique_prefix("openapi"));
    // Schemas on (the repository's schema directory), so the registry API
    // is served; events without a schema are accepted unvalidated.
    cfg.schemas.source = tributary_gateway::config::SchemaSourceKind::Dir;
    cfg.schemas.dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas");
    cfg.schemas.unregistered = tributary_gateway::config::UnregisteredPolicy::Accept;
    let order_v1 = tributary_schema::dir::load(&cfg.schemas.dir)
        .unwrap()
        .version("shop.order_completed", 1)
        .unwrap()
        .id;
    cfg.limits.max_body_bytes = 4096;
    cfg.limits.max_decompressed_bytes = 8192;
    cfg.keys.push(tributary_gateway::config::WriteKeyConfig {
        key: "tiny".into(),
        app_id: APP.into(),
        requests_per_second: Some(1),
        requests_burst: Some(1),
        ..Default::default()
    });
    // The admin endpoints exist only with a token; requests here carry a
    // write key instead, so they get the documented 401.
    cfg.privacy.admin_token = Some("openapi-admin-token-0123".into());
    cfg.debugger.enabled = true;
    let gw = start_gateway(cfg).await;
    let http = HttpClient::new(gw.local_addr());
    let auth = format!("Bearer {KEY_BROKER}");
    let a = [("authorization", auth.as_str())];
    let event =
        json!({"type":"track","event":"Order Completed","messageId":"o1","anonymousId":"x"});
    // Every served route answers with a documented status.
    for (method, path) in ROUTES {
        let body = match *path {
            "/v1/batch" | "/v1/import" => json!({"batch": [event]}),
            p if p.starts_with("/v1/") => {
                let mut e = event.clone();
                e["type"] = json!(p.trim_start_matches("/v1/"));
                e["userId"] = json!("u");
                e["groupId"] = json!("g");
                e["previousId"] = json!("p");
                e
            }
            _ => Value::Null,
        };
        let bytes = if body.is_null() {
            vec![]
        } else {
            serde_json::to_vec(&body).unwrap()
        };
        let concrete = path
            .replace("{id}", &order_v1.to_string())
            .replace("{subject}", "shop.order_completed")
            .replace("{version}", "1");
        let r = http.request(method, &concrete, &a, bytes).await;
        assert!(
            r.status != 404 && r.status != 405,
            "{method} {path} is not served: {}",
            r.status
        );
        conforms(&spec, path, method, r.status, &r.json);
    }
    // Each kind of error, with its documented status and body.
    let gz = [
        ("authorization", auth.as_str()),
        ("content-encoding", "gzip"),
    ];
    type Case<'a> = (Vec<(&'a str, &'a str)>, Vec<u8>);
    let cases: Vec<Case<'_>> = vec![
        (a.to_vec(), b"not json".to_vec()),
        (vec![], b"{}".to_vec()),
        (a.to_vec(), vec![b' '; 5000]),
        (gz.to_vec(), b"garbage".to_vec()),
        (
            vec![("authorization", auth.as_str()), ("content-encoding", "br")],
            b"{}".to_vec(),
        ),
    ];
    let mut seen = BTreeSet::new();
    for (headers, body) in cases {
        let r = http.request("POST", "/v1/batch", &headers, body).await;
        conforms(&spec, "/v1/batch", "POST", r.status, &r.json);
        seen.insert(r.status);
    }
    for _ in 0..3 {
        let r = http
            .post(
                "/v1/batch",
                "tiny",
                &serde_json::to_vec(&json!({"batch": [event]})).unwrap(),
                false,
            )
            .await;
        conforms(&spec, "/v1/batch", "POST", r.status, &r.json);
        seen.insert(r.status);
    }
    assert_eq!(seen, BTreeSet::from([200, 400, 401, 413, 415, 429]));
    gw.shutdown().await.unwrap();
}
