//! Schemas end to end against the real Kafka: payloads are validated
//! against the schema directory, written in the Confluent wire format
//! (JSON Schema and protobuf), readable with the contract library and with
//! Confluent's own Python deserializers pointed at the gateway's registry
//! API; bad payloads are rejected with a pointer and dead-lettered;
//! validators are compiled once, not per request.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tributary_contract::envelope::{dead_letter, header};
use tributary_contract::wire::{Body, decode_record};
use tributary_contract::{Encoding, ErrorCode};
use tributary_gateway::config::{AppSchemaConfig, Config, UnregisteredPolicy, WriteKeyConfig};
use tributary_schema::{Registry, Source};
use tributary_tests::*;

const OPEN_KEY: &str = "test-key-open-app";
const OPEN_APP: &str = "openapp";

fn config(prefix: &str, dir: &Path) -> Config {
    let mut cfg = schema_test_config(prefix, dir);
    cfg.schemas.unregistered = UnregisteredPolicy::Reject;
    cfg.schemas.apps.insert(
        OPEN_APP.into(),
        AppSchemaConfig {
            unregistered: Some(UnregisteredPolicy::Accept),
        },
    );
    cfg.keys.push(WriteKeyConfig {
        key: OPEN_KEY.into(),
        app_id: OPEN_APP.into(),
        ..WriteKeyConfig::default()
    });
    cfg
}

fn track(name: &str, id: &str, properties: Value) -> Value {
    json!({"type": "track", "event": name, "messageId": id, "anonymousId": "a-1",
           "sessionId": 1_700_000_000_000_i64, "properties": properties})
}

fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no metric {name}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payloads_are_validated_schema_encoded_and_readable_by_confluent_deserializers() {
    let prefix = unique_prefix("schemas");
    let dir = app_schema_dir();
    let gw = start_gateway(config(&prefix, dir.path())).await;
    let http = HttpClient::new(gw.local_addr());
    let registry = Registry::open(Source::Dir(dir.path().into())).unwrap();

    let batch = json!({
        "context": {"app": {"version": "1.2.0"}, "os": {"name": "iOS"}},
        "batch": [
            track("Order Completed", "oc-ok", json!({"orderId": "o1", "total": 12.5, "currency": "EUR"})),
            track("Order Completed", "oc-bad", json!({"orderId": "o2", "total": "12"})),
            track("Checkout Started", "cs-ok", json!({"cartId": "c1", "value": 30.0,
                "items": [{"sku": "a", "quantity": 2, "price": 15.0}], "itemCount": "2"})),
            track("Checkout Started", "cs-bad", json!({"cartId": "c2", "items": [{"quantity": "many"}]})),
            track("Mystery Event", "mystery", json!({})),
            track("Application Crashed", "crash-ok", json!({"type": "SIGSEGV", "stackHash": "ab12"})),
        ]
    });
    let r = http
        .post(
            "/v1/batch",
            KEY_BROKER,
            &serde_json::to_vec(&batch).unwrap(),
            true,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["accepted"], 3, "{}", r.json);
    let rejected = r.json["rejected"].as_array().unwrap();
    let by_index = |i: u64| rejected.iter().find(|x| x["index"] == i).unwrap();
    assert_eq!(by_index(1)["code"], "schema_violation");
    assert_eq!(by_index(1)["pointer"], "/total");
    assert_eq!(by_index(1)["rule"], "type");
    assert_eq!(by_index(3)["code"], "schema_violation");
    assert_eq!(by_index(3)["pointer"], "/items/0/quantity");
    assert_eq!(by_index(3)["rule"], "protobuf");
    assert_eq!(by_index(4)["code"], "unregistered_event");
    assert_eq!(rejected.len(), 3);

    // The accepted events, read with the contract library.
    let topics: Vec<String> = ["order_completed", "checkout_started", "unrouted"]
        .iter()
        .map(|t| format!("{prefix}{t}"))
        .collect();
    let records = consume(
        gw.bootstrap_servers(),
        &topics,
        3,
        Duration::from_secs(2),
        Duration::from_secs(60),
    );
    assert_eq!(records.len(), 3, "{records:?}");
    for rec in &records {
        let headers: Vec<(&str, &[u8])> = rec
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_bytes()))
            .collect();
        let decoded = decode_record(headers, &rec.raw).unwrap();
        let env = &decoded.envelope;
        let (id, payload) = match &decoded.body {
            Body::Json { schema_id, json } => (*schema_id, json.to_vec()),
            Body::Protobuf {
                schema_id,
                message_indexes,
                message,
            } => {
                assert_eq!(message_indexes, &[0]);
                (*schema_id, message.to_vec())
            }
            Body::Event(_) => panic!("{} is not schema-encoded", env.message_id),
        };
        let resolved = registry.by_id(id).unwrap();
        let value = resolved.compiled.decode(&payload).unwrap();
        assert_eq!(
            env.context.as_deref().map(|c| c.contains("1.2.0")),
            Some(true)
        );
        assert!(env.extra.as_deref().unwrap().contains("sessionId"));
        assert_eq!(env.anonymous_id.as_deref(), Some("a-1"));
        match env.message_id.as_str() {
            "oc-ok" => {
                assert_eq!(env.encoding, Encoding::ConfluentJson);
                assert_eq!(resolved.schema.subject, format!("{APP}.order_completed"));
                assert_eq!(resolved.schema.version, 2, "the latest version validates");
                assert_eq!(value["total"], 12.5);
            }
            "cs-ok" => {
                assert_eq!(env.encoding, Encoding::ConfluentProtobuf);
                assert_eq!(value["cart_id"], "c1");
                assert_eq!(value["items"][0]["quantity"], 2);
                assert_eq!(value["item_count"], "2");
            }
            "crash-ok" => {
                assert_eq!(resolved.schema.subject, "_reserved.application_crashed");
                assert_eq!(value["stackHash"], "ab12");
                assert!(env.unrouted);
            }
            other => panic!("unexpected record {other}"),
        }
    }

    // Rejected events are in the dead-letter topic with the same reason.
    let dlq = consume(
        gw.bootstrap_servers(),
        &[format!("{prefix}dead_letter")],
        3,
        Duration::from_secs(1),
        Duration::from_secs(60),
    );
    assert_eq!(dlq.len(), 3, "{dlq:?}");
    let oc_bad = dlq
        .iter()
        .find(|d| d.value["messageId"] == "oc-bad")
        .unwrap();
    assert_eq!(oc_bad.headers[dead_letter::REASON], "schema_violation");
    assert_eq!(oc_bad.headers[dead_letter::POINTER], "/total");
    assert_eq!(oc_bad.headers[dead_letter::RULE], "type");
    assert!(
        dlq.iter()
            .any(|d| d.headers[dead_letter::REASON] == ErrorCode::UnregisteredEvent.as_str())
    );

    // The registry API answers like a Confluent registry.
    let subjects = http.request("GET", "/subjects", &[], vec![]).await;
    assert!(
        subjects
            .json
            .as_array()
            .unwrap()
            .contains(&json!(format!("{APP}.checkout_started")))
    );
    let v = http
        .request(
            "GET",
            &format!("/subjects/{APP}.order_completed/versions/latest"),
            &[],
            vec![],
        )
        .await;
    assert_eq!(
        (
            v.status,
            v.json["version"].clone(),
            v.json["schemaType"].clone()
        ),
        (200, json!(2), json!("JSON"))
    );
    let missing = http
        .request("GET", "/subjects/nope.nope/versions", &[], vec![])
        .await;
    assert_eq!(
        (missing.status, missing.json["error_code"].clone()),
        (404, json!(40401))
    );

    // Validators are compiled once: more traffic, no more compilations.
    let before = metric(
        &raw_get(&http, "/metrics").await,
        "tributary_schema_compilations",
    );
    assert!(before >= 3.0, "{before}");
    for i in 0..20 {
        let b = json!({"batch": [
            track("Order Completed", &format!("more-{i}"), json!({"orderId": "o", "total": 1})),
            track("Checkout Started", &format!("more-cs-{i}"), json!({"cartId": "c"})),
        ]});
        let r = http
            .post(
                "/v1/batch",
                KEY_BUFFERED,
                &serde_json::to_vec(&b).unwrap(),
                false,
            )
            .await;
        assert_eq!(r.json["accepted"], 2, "{}", r.json);
    }
    let after = metric(
        &raw_get(&http, "/metrics").await,
        "tributary_schema_compilations",
    );
    assert_eq!(before, after, "schemas were compiled per request");
    report(format_args!(
        "schemas: 40 more events validated, compilations {before} before and {after} after"
    ));

    // Confluent's Python deserializers decode what the gateway produced.
    let cs_id = registry
        .catalog()
        .latest(&format!("{APP}.checkout_started"))
        .unwrap()
        .id;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("python/confluent_decode.py");
    let out = std::process::Command::new(python())
        .arg(&script)
        .args(["--bootstrap", gw.bootstrap_servers()])
        .args(["--registry", &format!("http://{}", gw.local_addr())])
        .args(["--json-topic", &format!("{prefix}order_completed")])
        .args(["--protobuf-topic", &format!("{prefix}checkout_started")])
        .args(["--protobuf-schema-id", &cs_id.to_string()])
        .args(["--expect", "42"])
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "confluent_decode.py failed ({}):\n{stdout}\n{}\n(install with: pip3 install 'confluent-kafka[schemaregistry,json,protobuf]')",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 42);
    let oc = lines.iter().find(|l| l["messageId"] == "oc-ok").unwrap();
    assert_eq!(
        oc["value"],
        json!({"orderId": "o1", "total": 12.5, "currency": "EUR"})
    );
    let cs = lines.iter().find(|l| l["messageId"] == "cs-ok").unwrap();
    assert_eq!(cs["value"]["cart_id"], "c1");
    assert_eq!(cs["value"]["items"][0]["sku"], "a");
    assert_eq!(cs["value"]["item_count"], "2");
    assert_eq!(cs["schema"], cs_id.to_string());
    let on = |t: &str| lines.iter().filter(|l| l["topic"] == t).count();
    report(format_args!(
        "schemas: Confluent's Python deserializers decoded {} records ({} JSON Schema, {} protobuf)",
        lines.len(),
        on(&format!("{prefix}order_completed")),
        on(&format!("{prefix}checkout_started"))
    ));

    gw.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_without_a_schema_follow_the_apps_policy() {
    let prefix = unique_prefix("unregistered");
    let dir = app_schema_dir();
    let gw = start_gateway(config(&prefix, dir.path())).await;
    let http = HttpClient::new(gw.local_addr());
    let body = json!({"batch": [track("Mystery Event", "m-open", json!({"x": 1}))]});
    let body = serde_json::to_vec(&body).unwrap();
    // testapp: reject.
    let r = http.post("/v1/batch", KEY_BROKER, &body, false).await;
    assert_eq!(
        r.json["rejected"][0]["code"], "unregistered_event",
        "{}",
        r.json
    );
    // openapp: accepted, unvalidated, to the unvalidated topic.
    let r = http.post("/v1/batch", OPEN_KEY, &body, false).await;
    assert_eq!(r.json["accepted"], 1, "{}", r.json);
    let recs = consume(
        gw.bootstrap_servers(),
        &[format!("{prefix}unvalidated")],
        1,
        Duration::from_secs(1),
        Duration::from_secs(60),
    );
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0].headers[header::UNVALIDATED], "true");
    assert_eq!(recs[0].headers[header::SCHEMA], "none");
    assert_eq!(recs[0].headers[header::ENCODING], "json");
    assert_eq!(recs[0].value["properties"]["x"], 1);
    gw.shutdown().await.unwrap();
}

async fn raw_get(http: &HttpClient, path: &str) -> String {
    http.request_text("GET", path).await
}

fn python() -> PathBuf {
    std::env::var_os("PYTHON").map_or_else(|| PathBuf::from("python3"), PathBuf::from)
}

/// The Confluent registry client, pointed at the gateway's own registry
/// API (a Confluent-compatible read API): it loads every subject, and when
/// the registry goes away a reload fails while the loaded schemas stay in
/// force.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_registry_client_reads_a_confluent_api_and_survives_its_outage() {
    let prefix = unique_prefix("registry-client");
    let dir = app_schema_dir();
    let gw = start_gateway(config(&prefix, dir.path())).await;
    let url = format!("http://{}", gw.local_addr());
    let registry = tokio::task::spawn_blocking(move || {
        let client =
            tributary_schema::confluent::ConfluentClient::new(&url, None, Duration::from_secs(5));
        Registry::open(Source::Confluent(client)).unwrap()
    })
    .await
    .unwrap();
    let local = Registry::open(Source::Dir(dir.path().into())).unwrap();
    let oc = registry.for_event(APP, "Order Completed").unwrap();
    assert_eq!(oc.schema.version, 2);
    assert_eq!(
        oc.schema.id,
        local.for_event(APP, "Order Completed").unwrap().schema.id,
        "ids come from the registry"
    );
    assert!(registry.for_event(APP, "Checkout Started").is_some());
    assert!(registry.for_event(APP, "Application Crashed").is_some());
    gw.shutdown().await.unwrap();
    let registry = std::sync::Arc::new(registry);
    let r = registry.clone();
    let reload = tokio::task::spawn_blocking(move || r.reload())
        .await
        .unwrap();
    assert!(reload.is_err(), "the registry is down");
    assert!(
        registry.for_event(APP, "Order Completed").is_some(),
        "cached schemas stay in force"
    );
}
