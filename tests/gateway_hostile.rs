//! The hostile-input suite: abuse a real gateway process (on the real
//! Kafka) and check each attack gets its documented status, the process's
//! memory stays bounded, and good traffic is still served afterwards.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::json;
use std::io::Write;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tributary_tests::*;

fn gzip_best(data: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::best());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn event(id: &str, extra: serde_json::Value) -> serde_json::Value {
    let mut e =
        json!({"type": "track", "event": "Order Completed", "messageId": id, "anonymousId": "a"});
    if let serde_json::Value::Object(m) = extra {
        e.as_object_mut().unwrap().extend(m);
    }
    e
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_inputs_get_their_status_and_the_gateway_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_process_config(
        dir.path(),
        &unique_prefix("hostile"),
        "[rate_limits]\nip_requests_per_second = 0",
    );
    let gw = GatewayProcess::start(&config);
    let http = HttpClient::new(gw.addr);
    let auth = format!("Bearer {KEY_BROKER}");
    let a = auth.as_str();
    let gz = [("authorization", a), ("content-encoding", "gzip")];
    let plain = [("authorization", a)];

    // A gzip bomb: 256 MiB of zeros in ~250 KB; inflation stops at the cap.
    let bomb = gzip_best(&vec![0u8; 256 << 20]);
    let r = http.request("POST", "/v1/batch", &gz, bomb).await;
    assert_eq!(
        (r.status, r.json["code"].as_str()),
        (413, Some("decompressed_too_large"))
    );

    // 100 MB of `[[[[`, gzipped: stopped at the inflation cap too.
    let brackets = gzip_best(&vec![b'['; 100 << 20]);
    let r = http.request("POST", "/v1/batch", &gz, brackets).await;
    assert_eq!(r.status, 413);
    // 4 MB of `[` sent plain: within the size caps, refused by the parser's
    // depth guard without exhausting the stack.
    let r = http
        .request("POST", "/v1/batch", &plain, vec![b'['; 4 << 20])
        .await;
    assert_eq!(
        (r.status, r.json["code"].as_str()),
        (400, Some("invalid_json"))
    );

    // A 10k-event batch is over the default limit of 5000; 5000 pass.
    let many = |n: usize| {
        let events: Vec<_> = (0..n)
            .map(|i| event(&format!("many-{n}-{i}"), json!({})))
            .collect();
        serde_json::to_vec(&json!({ "batch": events })).unwrap()
    };
    let r = http
        .request("POST", "/v1/batch", &gz, gzip_best(&many(10_000)))
        .await;
    assert_eq!(
        (r.status, r.json["code"].as_str()),
        (413, Some("too_many_events"))
    );
    let r = http
        .request("POST", "/v1/batch", &gz, gzip_best(&many(5_000)))
        .await;
    assert_eq!((r.status, r.json["accepted"].as_u64()), (200, Some(5_000)));

    // Invalid UTF-8, NaN, truncated JSON: the whole body is refused.
    for body in [
        &b"{\"batch\":[\"\xc3\x28\"]}"[..],
        b"{\"batch\":[{\"x\":NaN}]}",
        b"{\"batch\":[{",
    ] {
        let r = http
            .request("POST", "/v1/batch", &plain, body.to_vec())
            .await;
        assert_eq!(
            (r.status, r.json["code"].as_str()),
            (400, Some("invalid_json")),
            "{body:?}"
        );
    }

    // Per-event shape limits; the rest of the batch proceeds.
    let mut deep = json!(1);
    for _ in 0..40 {
        deep = json!([deep]);
    }
    let batch = json!({"batch": [
        event("ok-1", json!({})),
        event("deep", json!({"properties": {"d": deep}})),
        event("long", json!({"properties": {"s": "x".repeat(100_000)}})),
        event("big-number", json!({"properties": {"n": 1}})),
    ]});
    let text = serde_json::to_string(&batch)
        .unwrap()
        .replace(r#""n":1"#, r#""n":123456789012345678901234567890e400"#);
    let dup = text.replacen(
        r#""messageId":"ok-1""#,
        r#""messageId":"ok-1","messageId":"again""#,
        1,
    );
    let r = http
        .request("POST", "/v1/batch", &plain, dup.into_bytes())
        .await;
    assert_eq!(r.status, 200);
    let codes: Vec<(u64, &str)> = r.json["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| (x["index"].as_u64().unwrap(), x["code"].as_str().unwrap()))
        .collect();
    assert_eq!(
        codes,
        [
            (0, "duplicate_field"),
            (1, "nesting_too_deep"),
            (2, "string_too_long")
        ]
    );
    assert_eq!(
        r.json["accepted"], 1,
        "an out-of-range number is passed through verbatim"
    );

    // Huge headers: too many, and too large.
    let many_headers: Vec<(String, String)> =
        (0..100).map(|i| (format!("x-h{i}"), "v".into())).collect();
    let mut h: Vec<(&str, &str)> = many_headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    h.push(("authorization", a));
    let r = raw_status(gw.addr, &h, b"{}").await;
    assert!(r.contains("431"), "{r}");
    let big = "v".repeat(20_000);
    let r = raw_status(
        gw.addr,
        &[("x-big", big.as_str()), ("authorization", a)],
        b"{}",
    )
    .await;
    assert!(r.contains("431"), "{r}");

    // Wrong key.
    let r = http
        .request(
            "POST",
            "/v1/batch",
            &[("authorization", "Bearer stolen")],
            many(1),
        )
        .await;
    assert_eq!(r.status, 401);

    // Slowloris: many connections trickling headers are closed after the
    // header timeout (10 s by default here: only check they do not block
    // good traffic meanwhile).
    let mut slow = Vec::new();
    for _ in 0..200 {
        let mut s = TcpStream::connect(gw.addr).await.unwrap();
        s.write_all(b"POST /v1/batch HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        slow.push(s);
    }
    let r = http
        .request("POST", "/v1/batch", &gz, gzip_best(&many(10)))
        .await;
    assert_eq!(r.status, 200, "good traffic is served during a slowloris");
    drop(slow);

    // Still alive, and memory stayed bounded by the configured caps (20 MiB
    // inflation cap per request, not the 256 MiB the bomb claims).
    assert_eq!(
        http.request("GET", "/healthz", &[], vec![]).await.status,
        200
    );
    let peak_mib = gw.peak_rss_kib() / 1024;
    report(format_args!(
        "gateway peak RSS during the hostile suite: {peak_mib} MiB"
    ));
    assert!(peak_mib < 400, "peak RSS {peak_mib} MiB");
}

/// Sends a request with arbitrary headers over a raw connection and
/// returns the status line (hyper's client refuses some of these).
async fn raw_status(addr: std::net::SocketAddr, headers: &[(&str, &str)], body: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let mut req = format!(
        "POST /v1/batch HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    let _ = s.write_all(req.as_bytes()).await;
    let _ = s.write_all(body).await;
    let mut buf = vec![0u8; 1024];
    let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
        .await
        .unwrap()
        .unwrap_or(0);
    String::from_utf8_lossy(&buf[..n])
        .lines()
        .next()
        .unwrap_or("<closed>")
        .to_owned()
}
