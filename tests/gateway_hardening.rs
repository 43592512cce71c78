//! Gateway hardening against the real Kafka: rate limits per key and per
//! IP, beacon authentication, hashed keys and event bindings, load shedding,
//! slow clients, and the Prometheus endpoint.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use serde_json::json;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tributary_gateway::config::{Config, WriteKeyConfig};
use tributary_tests::*;

fn batch(n: usize, tag: &str) -> Vec<u8> {
    let events: Vec<_> = (0..n)
        .map(|i| json!({"type": "track", "event": "Order Completed", "messageId": format!("{tag}-{i}"), "anonymousId": "a"}))
        .collect();
    serde_json::to_vec(&json!({ "batch": events })).unwrap()
}

fn config(name: &str, edit: impl FnOnce(&mut Config)) -> Config {
    let mut c = test_config(&kafka(), &unique_prefix(name));
    c.rate_limits.ip_requests_per_second = 0;
    edit(&mut c);
    c
}

fn key(key: &str, edit: impl FnOnce(&mut WriteKeyConfig)) -> WriteKeyConfig {
    let mut k = WriteKeyConfig {
        key: key.into(),
        app_id: APP.into(),
        ..WriteKeyConfig::default()
    };
    edit(&mut k);
    k
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooding_key_is_limited_while_other_keys_are_served() {
    let gw = start_gateway(config("flood", |c| {
        c.keys.push(key("noisy", |k| {
            k.requests_per_second = Some(2);
            k.requests_burst = Some(5);
        }));
    }))
    .await;
    let http = HttpClient::new(gw.local_addr());
    let body = batch(2, "flood");
    let flood: Vec<_> = (0..60)
        .map(|_| {
            let (http, body) = (http.clone(), body.clone());
            tokio::spawn(async move { http.post("/v1/batch", "noisy", &body, false).await })
        })
        .collect();
    // Meanwhile a well-behaved key keeps working.
    for i in 0..10 {
        let reply = http
            .post(
                "/v1/batch",
                KEY_BUFFERED,
                &batch(2, &format!("calm{i}")),
                true,
            )
            .await;
        assert_eq!(reply.status, 202, "{:?}", reply.json);
    }
    let mut limited = 0;
    for t in flood {
        let reply = t.await.unwrap();
        match reply.status {
            202 | 200 => {}
            429 => {
                limited += 1;
                assert_eq!(reply.json["code"], "rate_limited");
                assert_eq!(reply.json["limit"], "key_requests");
                let after: u64 = reply.headers["retry-after"]
                    .to_str()
                    .unwrap()
                    .parse()
                    .unwrap();
                assert!(
                    (1..=2).contains(&after),
                    "Retry-After from the limiter: {after}"
                );
            }
            other => panic!("unexpected {other}: {:?}", reply.json),
        }
    }
    assert!(
        limited >= 50,
        "the burst of 5 (plus refill) passes, the rest is limited: {limited}"
    );
    gw.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_and_ip_limits_name_themselves() {
    let gw = start_gateway(config("evlimit", |c| {
        c.keys.push(key("small", |k| {
            // A slow refill, so the time the first request spends waiting
            // for Kafka cannot refill the bucket.
            k.events_per_second = Some(1);
            k.events_burst = Some(50);
        }));
    }))
    .await;
    let http = HttpClient::new(gw.local_addr());
    assert_eq!(
        http.post("/v1/batch", "small", &batch(40, "e1"), false)
            .await
            .status,
        200
    );
    let reply = http
        .post("/v1/batch", "small", &batch(40, "e2"), false)
        .await;
    assert_eq!(reply.status, 429);
    assert_eq!(reply.json["limit"], "key_events");
    gw.shutdown().await.unwrap();

    let gw = start_gateway(config("iplimit", |c| {
        c.rate_limits.ip_requests_per_second = 1;
        c.rate_limits.ip_requests_burst = 3;
    }))
    .await;
    let http = HttpClient::new(gw.local_addr());
    let mut statuses = Vec::new();
    for i in 0..6 {
        statuses.push(
            http.post("/v1/batch", KEY_BROKER, &batch(1, &format!("ip{i}")), false)
                .await,
        );
    }
    let limited: Vec<_> = statuses.iter().filter(|r| r.status == 429).collect();
    assert!(!limited.is_empty());
    assert_eq!(limited[0].json["limit"], "ip_requests");
    gw.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beacons_authenticate_in_the_body_or_query_and_keys_are_bound() {
    use sha2::Digest;
    let digest = hex::encode(sha2::Sha256::digest(b"hashed-key"));
    let gw = start_gateway(config("beacon", |c| {
        c.keys.push(WriteKeyConfig {
            key_sha256: Some(digest),
            app_id: APP.into(),
            ..WriteKeyConfig::default()
        });
        c.keys.push(key("orders-only", |k| {
            k.allowed_events = vec!["Order Completed".into()]
        }));
    }))
    .await;
    let http = HttpClient::new(gw.local_addr());
    let plain = [("content-type", "text/plain")];
    let mut with_key = json!({"batch": [{"type":"track","event":"Order Completed","messageId":"b1","anonymousId":"a"}], "writeKey": KEY_BROKER});
    let reply = http
        .request(
            "POST",
            "/v1/batch",
            &plain,
            serde_json::to_vec(&with_key).unwrap(),
        )
        .await;
    assert_eq!(reply.status, 200, "body writeKey: {:?}", reply.json);
    with_key["writeKey"] = json!("wrong");
    let reply = http
        .request(
            "POST",
            "/v1/batch",
            &plain,
            serde_json::to_vec(&with_key).unwrap(),
        )
        .await;
    assert_eq!(reply.status, 401);
    let path = format!("/v1/batch?writeKey={KEY_BROKER}&idempotency_key=beacon-1");
    let first = http.request("POST", &path, &plain, batch(1, "q")).await;
    let again = http.request("POST", &path, &plain, batch(1, "q")).await;
    assert_eq!(first.status, 200, "query writeKey: {:?}", first.json);
    assert_eq!(
        again.headers["idempotent-replayed"], "true",
        "beacon retries are recognised"
    );
    let reply = http
        .request(
            "POST",
            "/v1/batch",
            &[("authorization", "Bearer nope")],
            batch(1, "x"),
        )
        .await;
    assert_eq!(reply.status, 401);
    // A key configured only by its digest.
    assert_eq!(
        http.post("/v1/batch", "hashed-key", &batch(1, "h"), false)
            .await
            .status,
        200
    );
    // A key bound to some events.
    let mixed = json!({"batch": [
        {"type":"track","event":"Order Completed","messageId":"ok","anonymousId":"a"},
        {"type":"identify","messageId":"no","userId":"u"},
    ]});
    let reply = http
        .post(
            "/v1/batch",
            "orders-only",
            &serde_json::to_vec(&mixed).unwrap(),
            false,
        )
        .await;
    assert_eq!(reply.json["accepted"], 1);
    assert_eq!(reply.json["rejected"][0]["code"], "event_not_allowed");
    gw.shutdown().await.unwrap();
}

/// Opens a connection and sends the headers of a POST with a body that
/// never completes.
async fn stalled_request(addr: std::net::SocketAddr) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /v1/batch HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY_BROKER}\r\nContent-Length: 1000\r\n\r\n{{\"batch\":["
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s
}

async fn read_status(s: &mut TcpStream) -> String {
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    String::from_utf8_lossy(&buf[..n])
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_get_timeouts_and_excess_load_is_shed() {
    let gw = start_gateway(config("slow", |c| {
        c.server.body_timeout_ms = 500;
        c.server.header_timeout_ms = 500;
        c.overload.max_inflight_requests = 1;
    }))
    .await;
    let addr = gw.local_addr();
    let http = HttpClient::new(addr);

    // One stalled upload holds the only request slot: the next is shed.
    let mut stalled = stalled_request(addr).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let shed = http
        .post("/v1/batch", KEY_BROKER, &batch(1, "shed"), false)
        .await;
    assert_eq!(shed.status, 503, "{:?}", shed.json);
    assert_eq!(shed.json["code"], "overloaded");
    assert!(shed.headers.contains_key("retry-after"));
    // The stalled body times out with 408, and the slot frees.
    assert!(read_status(&mut stalled).await.contains("408"));
    assert_eq!(
        http.post("/v1/batch", KEY_BROKER, &batch(1, "after"), false)
            .await
            .status,
        200
    );

    // Headers that never finish: the connection is closed.
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"POST /v1/batch HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 512];
    let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
        .await
        .unwrap()
        .unwrap_or(0);
    assert!(
        n == 0 || String::from_utf8_lossy(&buf[..n]).contains("408"),
        "closed or 408"
    );
    assert!(started.elapsed() < Duration::from_secs(3));
    gw.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_exported_with_bounded_labels() {
    let gw = start_gateway(config("metrics", |_| {})).await;
    let http = HttpClient::new(gw.local_addr());
    let mixed = json!({"batch": [
        {"type":"track","event":"Order Completed","messageId":"secret-message-id","anonymousId":"secret-user"},
        {"type":"track","event":"Order Completed","anonymousId":"a"},
    ]});
    http.post(
        "/v1/batch",
        KEY_BROKER,
        &serde_json::to_vec(&mixed).unwrap(),
        true,
    )
    .await;
    http.post("/v1/batch", "bad-key", b"{}", false).await;
    let reply = http.request("GET", "/metrics", &[], vec![]).await;
    assert_eq!(reply.status, 200);
    // librdkafka's statistics arrive on their own interval (500 ms here).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let text = {
        let r = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build_http::<http_body_util::Full<bytes::Bytes>>()
            .get(
                format!("http://{}/metrics", gw.local_addr())
                    .parse()
                    .unwrap(),
            )
            .await
            .unwrap();
        use http_body_util::BodyExt;
        String::from_utf8(r.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap()
    };
    for series in [
        r#"tributary_http_requests_total{route="batch",status="200"} 1"#,
        r#"tributary_http_requests_total{route="batch",status="401"} 1"#,
        r#"tributary_events_total{outcome="accepted",code="none"} 1"#,
        r#"tributary_events_total{outcome="rejected",code="missing_field"} 1"#,
        "tributary_delivery_delivered_total 1",
        "tributary_http_request_duration_seconds_bucket",
        r#"tributary_request_bytes_total{stage="decompressed"}"#,
        "tributary_producer_queue_records",
        r#"tributary_kafka_brokers_up{cluster="default"} 1"#,
        "tributary_delivery_ack_seconds_count 1",
        r#"tributary_kafka_rtt_avg_microseconds{cluster="default"}"#,
    ] {
        assert!(text.contains(series), "missing {series} in:\n{text}");
    }
    assert!(!text.contains("secret"), "no user or message ids in labels");
    gw.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_events_go_to_the_dead_letter_topic_with_the_reason() {
    use tributary_contract::envelope::dead_letter as dl;
    let cfg = config("dlq", |_| {});
    let dlq = cfg.dead_letter_topic();
    let gw = start_gateway(cfg).await;
    let http = HttpClient::new(gw.local_addr());
    let body = json!({"batch": [
        {"type":"track","event":"Order Completed","messageId":"good","anonymousId":"a"},
        {"type":"track","event":"Order Completed","anonymousId":"a","properties":{"why":"no id"}},
        {"type":"rocket","messageId":"m3","anonymousId":"a"},
    ]});
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
        &kafka(),
        &[dlq],
        2,
        Duration::from_secs(1),
        Duration::from_secs(30),
    );
    assert_eq!(got.len(), 2, "each rejected event is dead-lettered once");
    let mut reasons: Vec<&str> = got.iter().map(|r| r.headers[dl::REASON].as_str()).collect();
    reasons.sort();
    assert_eq!(reasons, ["missing_field", "unknown_type"]);
    for r in &got {
        assert_eq!(r.headers[dl::STAGE], "validation");
        assert_eq!(r.headers[tributary_contract::header::APP_ID], APP);
        assert!(!r.headers[dl::MESSAGE].is_empty());
        assert!(r.value.is_object(), "the event as sent is the value");
    }
    assert_eq!(
        got.iter()
            .find(|r| r.headers[dl::REASON] == "missing_field")
            .unwrap()
            .value["properties"]["why"],
        "no id"
    );
    gw.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_keys_need_a_fresh_unreplayed_hmac() {
    use tributary_gateway::admission::signature::sign;
    let gw = start_gateway(config("hmac", |c| {
        c.keys
            .push(key("server-key", |k| k.hmac_secret = Some("s3cret".into())));
    }))
    .await;
    let http = HttpClient::new(gw.local_addr());
    let body = batch(3, "signed");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let sig = sign(b"s3cret", now, &body);
    let ts = now.to_string();
    let signed = [
        ("authorization", "Bearer server-key"),
        ("x-tributary-timestamp", ts.as_str()),
        ("x-tributary-signature", sig.as_str()),
    ];
    let first = http
        .request("POST", "/v1/batch", &signed, body.clone())
        .await;
    assert_eq!(first.status, 200, "{:?}", first.json);
    let replay = http
        .request("POST", "/v1/batch", &signed, body.clone())
        .await;
    assert_eq!(replay.status, 401);
    assert!(
        replay.json["message"]
            .as_str()
            .unwrap()
            .contains("replayed")
    );
    let unsigned = http
        .request(
            "POST",
            "/v1/batch",
            &[("authorization", "Bearer server-key")],
            body.clone(),
        )
        .await;
    assert_eq!(unsigned.status, 401);
    let old = (now - 3600).to_string();
    let stale_sig = sign(b"s3cret", now - 3600, &body);
    let stale = [
        ("authorization", "Bearer server-key"),
        ("x-tributary-timestamp", old.as_str()),
        ("x-tributary-signature", stale_sig.as_str()),
    ];
    assert_eq!(
        http.request("POST", "/v1/batch", &stale, body.clone())
            .await
            .status,
        401
    );
    let mut tampered = body.clone();
    tampered[20] ^= 1;
    let fresh = sign(b"s3cret", now, &[]);
    let bad = [
        ("authorization", "Bearer server-key"),
        ("x-tributary-timestamp", ts.as_str()),
        ("x-tributary-signature", fresh.as_str()),
    ];
    assert_eq!(
        http.request("POST", "/v1/batch", &bad, tampered)
            .await
            .status,
        401
    );
    gw.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_file_reloads_on_sighup_and_on_change() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys.toml");
    std::fs::write(&keys, "[[keys]]\nkey = \"k-old\"\napp_id = \"filed\"\n").unwrap();
    let extra = format!(
        "[auth]\nkeys_file = \"{}\"\nkeys_file_poll_secs = 1\n[rate_limits]\nip_requests_per_second = 0",
        keys.display()
    );
    let config = write_process_config(dir.path(), &unique_prefix("keys"), &extra);
    let gw = GatewayProcess::start(&config);
    let http = HttpClient::new(gw.addr);
    let status = |key: &'static str| {
        let http = http.clone();
        async move {
            http.post("/v1/batch", key, &batch(1, key), false)
                .await
                .status
        }
    };
    assert_eq!(status("k-old").await, 200);
    assert_eq!(status("k-new").await, 401);

    // Rotate by SIGHUP.
    std::fs::write(&keys, "[[keys]]\nkey = \"k-new\"\napp_id = \"filed\"\n").unwrap();
    let pid = gw.child.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .unwrap()
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while status("k-new").await != 200 {
        assert!(Instant::now() < deadline, "SIGHUP did not reload the keys");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status("k-old").await, 401, "a removed key stops working");

    // A broken file keeps the keys in force; a fixed one is picked up by
    // the change check without a signal.
    std::fs::write(&keys, "[[keys]]\nkey = \n").unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(status("k-new").await, 200);
    std::fs::write(&keys, "[[keys]]\nkey = \"k-third\"\napp_id = \"filed\"\n").unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while status("k-third").await != 200 {
        assert!(
            Instant::now() < deadline,
            "the changed file was not reloaded"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The main config's own keys stay.
    assert_eq!(status(KEY_BROKER).await, 200);
}
