//! The ingest spine end to end against the real Kafka: every accepted event
//! arrives exactly once with the right key, headers and value; rejected
//! events never arrive; malformed requests get their documented status.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;
use tributary_contract::envelope::header;
use tributary_contract::{BatchRequest, Event, EventType};
use tributary_tests::*;

/// A batch of `n` events of mixed types, plus a few invalid ones at known
/// positions. Returns the body and the message ids that must be accepted.
fn mixed_batch(tag: &str, n: usize) -> (Vec<u8>, Vec<String>, Vec<usize>) {
    let mut batch = Vec::new();
    let mut valid = Vec::new();
    let mut invalid_at = Vec::new();
    for i in 0..n {
        let id = format!("{tag}-{i}");
        let mut e = Event::track(
            if i % 3 == 0 {
                "Product Viewed"
            } else {
                "Order Completed"
            },
            &id,
        );
        e.anonymous_id = Some(format!("anon-{}", i % 7));
        e.timestamp = Some("2026-11-25T10:00:00.000Z".into());
        e.properties = Some(
            json!({"total": i as f64 + 0.5, "sku": format!("sku-{i}")})
                .as_object()
                .unwrap()
                .clone(),
        );
        e.custom_attributes = Some(json!({"experiment": "b"}).as_object().unwrap().clone());
        if i % 10 == 4 {
            e.kind = EventType::Identify;
            e.event = None;
            e.user_id = Some(format!("user-{i}"));
            e.traits = Some(json!({"plan": "pro"}).as_object().unwrap().clone());
        }
        let mut v = serde_json::to_value(&e).unwrap();
        if i % 10 == 7 {
            // missing messageId
            v.as_object_mut().unwrap().remove("messageId");
            invalid_at.push(i);
        } else if i % 10 == 9 {
            // wrong type
            v["properties"] = json!("not an object");
            invalid_at.push(i);
        } else {
            valid.push(id);
        }
        batch.push(v);
    }
    let body = json!({"batch": batch, "sentAt": "2026-11-25T10:00:01.000Z", "context": {"library": {"name": "test"}}});
    (serde_json::to_vec(&body).unwrap(), valid, invalid_at)
}

async fn exactly_once(mode_key: &str, expect_status: u16) {
    let bootstrap = kafka();
    let prefix = unique_prefix("once");
    let gw = start_gateway(test_config(&bootstrap, &prefix)).await;
    let http = HttpClient::new(gw.local_addr());

    let mut expected: BTreeSet<String> = BTreeSet::new();
    let mut tasks = Vec::new();
    for r in 0..12 {
        let (body, valid, invalid_at) = mixed_batch(&format!("{mode_key}-r{r}"), 50);
        expected.extend(valid.iter().cloned());
        let http = http.clone();
        let key = mode_key.to_owned();
        tasks.push(tokio::spawn(async move {
            let reply = http.post("/v1/batch", &key, &body, r % 2 == 0).await;
            (reply, valid, invalid_at)
        }));
    }
    for t in tasks {
        let (reply, valid, invalid_at) = t.await.unwrap();
        assert_eq!(reply.status, expect_status, "{:?}", reply.json);
        assert_eq!(reply.json["accepted"], valid.len(), "{:?}", reply.json);
        let rejected: Vec<u64> = reply.json["rejected"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["index"].as_u64().unwrap())
            .collect();
        assert_eq!(
            rejected,
            invalid_at.iter().map(|i| *i as u64).collect::<Vec<_>>()
        );
    }
    // One single-event request too.
    let single = json!({"event": "Order Completed", "messageId": format!("{mode_key}-single"), "userId": "u-1"});
    let reply = http
        .post("/v1/track", mode_key, single.to_string().as_bytes(), false)
        .await;
    assert_eq!(reply.status, expect_status, "{:?}", reply.json);
    expected.insert(format!("{mode_key}-single"));

    let topics: Vec<String> = event_topics(&gw);
    let got = consume(
        &bootstrap,
        &topics,
        expected.len(),
        Duration::from_secs(3),
        Duration::from_secs(60),
    );
    let mut counts: HashMap<String, usize> = HashMap::new();
    for r in &got {
        *counts
            .entry(r.headers[header::MESSAGE_ID].clone())
            .or_default() += 1;
    }
    let dups: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(dups.is_empty(), "duplicates: {dups:?}");
    let arrived: BTreeSet<String> = counts.keys().cloned().collect();
    let missing: Vec<_> = expected.difference(&arrived).collect();
    let unexpected: Vec<_> = arrived.difference(&expected).collect();
    assert!(
        missing.is_empty(),
        "{} events never arrived, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    assert!(
        unexpected.is_empty(),
        "rejected events arrived: {unexpected:?}"
    );
    assert_eq!(got.len(), expected.len());

    // Envelope, key and value of each record.
    for r in &got {
        let h = &r.headers;
        assert_eq!(h[header::APP_ID], APP);
        assert_eq!(h[header::ENCODING], "json");
        assert_eq!(h[header::MESSAGE_ID], r.value["messageId"]);
        assert!(h.contains_key(header::RECEIVED_AT));
        let kind = h[header::EVENT_TYPE].as_str();
        match kind {
            "track" => {
                let name = &h[header::EVENT_NAME];
                assert_eq!(
                    r.topic,
                    format!("{prefix}{}", name.to_lowercase().replace(' ', "_"))
                );
                assert_eq!(r.value["event"], Value::String(name.clone()));
            }
            "identify" => {
                assert_eq!(r.topic, format!("{prefix}identify"));
                assert_eq!(r.value["traits"]["plan"], "pro");
            }
            other => panic!("unexpected kind {other}"),
        }
        let user = r
            .value
            .get("userId")
            .or(r.value.get("anonymousId"))
            .unwrap();
        assert_eq!(&r.key, user.as_str().unwrap(), "key is the user");
        if h[header::MESSAGE_ID].ends_with("-single") {
            continue;
        }
        // Skew correction: the device clock is 1 s behind its own sentAt.
        assert_eq!(h[header::CLIENT_TIMESTAMP], "2026-11-25T10:00:00.000Z");
        assert_eq!(h[header::SENT_AT], "2026-11-25T10:00:01.000Z");
        let received = tributary_contract::time::parse(&h[header::RECEIVED_AT]).unwrap();
        let corrected = tributary_contract::time::parse(&h[header::TIMESTAMP]).unwrap();
        assert_eq!((received - corrected).num_milliseconds(), 1000);
        assert_eq!(h[header::CUSTOM_ATTRIBUTES], r#"{"experiment":"b"}"#);
        assert_eq!(
            r.value["context"]["library"]["name"], "test",
            "batch context merged"
        );
        if kind == "track" {
            assert!(
                r.value["properties"]["sku"]
                    .as_str()
                    .unwrap()
                    .starts_with("sku-")
            );
        }
    }
    let stats = gw.stats();
    gw.shutdown().await.unwrap();
    assert_eq!(stats.lost(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_mode_delivers_every_accepted_event_exactly_once() {
    exactly_once(KEY_BROKER, 200).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buffered_mode_delivers_every_accepted_event_exactly_once() {
    exactly_once(KEY_BUFFERED, 202).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_get_their_documented_status() {
    let bootstrap = kafka();
    let prefix = unique_prefix("bad");
    let mut cfg = test_config(&bootstrap, &prefix);
    cfg.limits.max_body_bytes = 64 * 1024;
    cfg.limits.max_decompressed_bytes = 256 * 1024;
    cfg.limits.max_events_per_batch = 100;
    let gw = start_gateway(cfg).await;
    let http = HttpClient::new(gw.local_addr());
    let k = KEY_BROKER;

    let valid = json!({"batch": [{"type":"track","event":"Order Completed","messageId":"ok-1","anonymousId":"a"}]}).to_string();
    let gz = gzip(valid.as_bytes());
    let truncated = &gz[..gz.len() / 2];
    let bomb = {
        use std::io::Write as _;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(&vec![b' '; 10 << 20]).unwrap();
        e.finish().unwrap()
    };
    assert!(
        bomb.len() < 64 * 1024,
        "the bomb itself fits under the body cap"
    );
    let too_many = json!({"batch": (0..101).map(|i| json!({"type":"track","event":"x","messageId":i.to_string(),"anonymousId":"a"})).collect::<Vec<_>>()}).to_string();

    let auth = |key: &str| {
        use base64::Engine as _;
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{key}:"))
        )
    };
    let a = auth(k);
    // (name, path, headers, body, status, code)
    type Case<'a> = (
        &'a str,
        &'a str,
        Vec<(&'a str, &'a str)>,
        Vec<u8>,
        u16,
        &'a str,
    );
    let cases: Vec<Case<'_>> = vec![
        (
            "non-JSON",
            "/v1/batch",
            vec![("authorization", &a)],
            b"hello".to_vec(),
            400,
            "invalid_json",
        ),
        (
            "truncated JSON",
            "/v1/batch",
            vec![("authorization", &a)],
            br#"{"batch":[{"type""#.to_vec(),
            400,
            "invalid_json",
        ),
        (
            "invalid UTF-8",
            "/v1/batch",
            vec![("authorization", &a)],
            b"{\"batch\":[\"\xff\"]}".to_vec(),
            400,
            "invalid_json",
        ),
        (
            "not a batch",
            "/v1/batch",
            vec![("authorization", &a)],
            b"[1,2,3]".to_vec(),
            400,
            "invalid_batch",
        ),
        (
            "truncated gzip",
            "/v1/batch",
            vec![("authorization", &a), ("content-encoding", "gzip")],
            truncated.to_vec(),
            400,
            "bad_gzip",
        ),
        (
            "gzip bomb",
            "/v1/batch",
            vec![("authorization", &a), ("content-encoding", "gzip")],
            bomb,
            413,
            "decompressed_too_large",
        ),
        (
            "unknown encoding",
            "/v1/batch",
            vec![("authorization", &a), ("content-encoding", "br")],
            valid.clone().into_bytes(),
            415,
            "unsupported_encoding",
        ),
        (
            "body too large",
            "/v1/batch",
            vec![("authorization", &a)],
            vec![b' '; 100 * 1024],
            413,
            "payload_too_large",
        ),
        (
            "too many events",
            "/v1/batch",
            vec![("authorization", &a)],
            too_many.into_bytes(),
            413,
            "too_many_events",
        ),
        (
            "no key",
            "/v1/batch",
            vec![],
            valid.clone().into_bytes(),
            401,
            "unauthorized",
        ),
        (
            "wrong key",
            "/v1/batch",
            vec![("authorization", "Bearer nope")],
            valid.clone().into_bytes(),
            401,
            "unauthorized",
        ),
        (
            "single event missing messageId",
            "/v1/track",
            vec![("authorization", &a)],
            br#"{"event":"e","anonymousId":"a"}"#.to_vec(),
            400,
            "missing_field",
        ),
        (
            "single event wrong type",
            "/v1/identify",
            vec![("authorization", &a)],
            br#"{"messageId":"m","userId":{"x":1}}"#.to_vec(),
            400,
            "invalid_field",
        ),
        (
            "unknown route",
            "/v1/nothing",
            vec![("authorization", &a)],
            vec![],
            404,
            "not_found",
        ),
    ];
    for (name, path, headers, body, status, code) in cases {
        let reply = http.request("POST", path, &headers, body).await;
        assert_eq!(reply.status, status, "{name}: {:?}", reply.json);
        assert_eq!(reply.json["code"], code, "{name}: {:?}", reply.json);
        assert!(
            reply.json["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{name}"
        );
    }
    let reply = http
        .request("GET", "/v1/batch", &[("authorization", &a)], vec![])
        .await;
    assert_eq!(reply.status, 405);

    // Per-event rejections inside an otherwise good batch, each with its code.
    let batch = json!({"batch": [
        {"type":"track","event":"Order Completed","messageId":"good","anonymousId":"a"},
        {"type":"track","event":"Order Completed","anonymousId":"a"},
        {"type":"track","event":"Order Completed","messageId":"m3","anonymousId":"a","timestamp":"yesterday"},
        {"type":"rocket","messageId":"m4","anonymousId":"a"},
        "just a string",
        {"type":"track","event":"Order Completed","messageId":"m6"},
    ]});
    let reply = http
        .post("/v1/batch", k, batch.to_string().as_bytes(), true)
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json["accepted"], 1);
    let codes: BTreeMap<u64, String> = reply.json["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["index"].as_u64().unwrap(),
                r["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let want: BTreeMap<u64, String> = [
        (1, "missing_field"),
        (2, "invalid_field"),
        (3, "unknown_type"),
        (4, "invalid_event"),
        (5, "missing_field"),
    ]
    .into_iter()
    .map(|(i, c)| (i, c.to_owned()))
    .collect();
    assert_eq!(codes, want);

    // The gateway is still healthy, and only the one good event reached Kafka.
    let reply = http.request("GET", "/healthz", &[], vec![]).await;
    assert_eq!(reply.status, 200);
    let got = consume(
        &bootstrap,
        &event_topics(&gw),
        1,
        Duration::from_secs(2),
        Duration::from_secs(30),
    );
    let ids: Vec<_> = got
        .iter()
        .map(|r| r.headers[header::MESSAGE_ID].clone())
        .collect();
    assert_eq!(ids, vec!["good".to_owned()]);
    gw.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unrouted_events_go_to_the_catch_all_topic_or_are_refused() {
    let bootstrap = kafka();
    let prefix = unique_prefix("unrouted");
    let gw = start_gateway(test_config(&bootstrap, &prefix)).await;
    let http = HttpClient::new(gw.local_addr());
    let body = BatchRequest {
        batch: vec![{
            let mut e = Event::track("Never Configured", "u-1");
            e.anonymous_id = Some("a".into());
            e
        }],
        sent_at: None,
        context: None,
        write_key: None,
        client_report: None,
    };
    let reply = http
        .post(
            "/v1/batch",
            KEY_BROKER,
            &serde_json::to_vec(&body).unwrap(),
            true,
        )
        .await;
    assert_eq!(reply.json["accepted"], 1);
    let got = consume(
        &bootstrap,
        &[format!("{prefix}unrouted")],
        1,
        Duration::from_secs(1),
        Duration::from_secs(30),
    );
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].headers[header::UNROUTED], "true");
    gw.shutdown().await.unwrap();

    let mut cfg = test_config(&bootstrap, &unique_prefix("strict"));
    cfg.routing.unrouted = tributary_gateway::config::UnroutedPolicy::Reject;
    let gw = start_gateway(cfg).await;
    let http = HttpClient::new(gw.local_addr());
    let reply = http
        .post(
            "/v1/batch",
            KEY_BROKER,
            &serde_json::to_vec(&body).unwrap(),
            false,
        )
        .await;
    assert_eq!(reply.json["accepted"], 0);
    assert_eq!(reply.json["rejected"][0]["code"], "unrouted_event");
    gw.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_batch_with_the_same_idempotency_key_is_produced_once() {
    use base64::Engine as _;
    let bootstrap = kafka();
    let prefix = unique_prefix("idem");
    let gw = start_gateway(test_config(&bootstrap, &prefix)).await;
    let http = HttpClient::new(gw.local_addr());
    let (body, valid, _) = mixed_batch("idem", 20);
    let auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{KEY_BROKER}:"))
    );
    let headers = [
        ("authorization", auth.as_str()),
        ("idempotency-key", "batch-0001"),
    ];
    let first = http
        .request("POST", "/v1/batch", &headers, body.clone())
        .await;
    let again = http
        .request("POST", "/v1/batch", &headers, body.clone())
        .await;
    assert_eq!(first.status, 200);
    assert_eq!(again.status, 200);
    assert_eq!(first.json, again.json, "the retry gets the original answer");
    assert!(first.headers.get("idempotent-replayed").is_none());
    assert_eq!(again.headers["idempotent-replayed"], "true");
    // A different key is a different batch.
    let other = [
        ("authorization", auth.as_str()),
        ("idempotency-key", "batch-0002"),
    ];
    let third = http.request("POST", "/v1/batch", &other, body).await;
    assert!(third.headers.get("idempotent-replayed").is_none());

    let got = consume(
        &bootstrap,
        &event_topics(&gw),
        valid.len() * 2,
        Duration::from_secs(2),
        Duration::from_secs(30),
    );
    assert_eq!(
        got.len(),
        valid.len() * 2,
        "first and third produced, the retry not"
    );
    gw.shutdown().await.unwrap();
}

/// A client that hangs up as soon as it has sent its batch (an SDK's
/// timeout, a closing tab) must not make the gateway forget the batch: its
/// retry under the same key gets the recorded answer, and Kafka holds each
/// event once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_whose_client_hung_up_is_answered_to_its_retry_without_producing_again() {
    use tokio::io::AsyncWriteExt;
    let bootstrap = kafka();
    let prefix = unique_prefix("hangup");
    let gw = start_gateway(test_config(&bootstrap, &prefix)).await;
    let (body, valid, _) = mixed_batch("hangup", 20);
    let mut raw = tokio::net::TcpStream::connect(gw.local_addr())
        .await
        .unwrap();
    let head = format!(
        "POST /v1/batch?writeKey={KEY_BROKER}&idempotency_key=gone-1 HTTP/1.1\r\n\
         host: gateway\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    raw.write_all(head.as_bytes()).await.unwrap();
    raw.write_all(&body).await.unwrap();
    // Gone before any answer could have been written.
    drop(raw);
    tokio::time::sleep(Duration::from_millis(300)).await;

    let http = HttpClient::new(gw.local_addr());
    let path = format!("/v1/batch?writeKey={KEY_BROKER}&idempotency_key=gone-1");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let again = loop {
        let r = http.request("POST", &path, &[], body.clone()).await;
        // A retry that comes while the first attempt still waits for Kafka
        // waits with it, so the answer is the replayed one either way.
        if r.headers.get("idempotent-replayed").is_some() || std::time::Instant::now() > deadline {
            break r;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(again.status, 200);
    assert_eq!(
        again
            .headers
            .get("idempotent-replayed")
            .and_then(|v| v.to_str().ok()),
        Some("true"),
        "the retry gets the first attempt's answer"
    );
    let got = consume(
        &bootstrap,
        &event_topics(&gw),
        valid.len(),
        Duration::from_secs(3),
        Duration::from_secs(30),
    );
    let mut ids: Vec<&str> = got
        .iter()
        .map(|r| r.headers[header::MESSAGE_ID].as_str())
        .collect();
    ids.sort_unstable();
    let before = ids.len();
    ids.dedup();
    assert_eq!(before, ids.len(), "no event produced twice");
    assert_eq!(ids.len(), valid.len());
    gw.shutdown().await.unwrap();
}
