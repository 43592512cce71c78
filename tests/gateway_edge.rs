//! Edge enrichment against the real Kafka: the client address through
//! forged and honest `X-Forwarded-For` / `Forwarded` chains (IPv4 and
//! IPv6, with and without trusted proxies) in `context.ip`, the
//! enrichment header and the per-IP limiter's key; user agent, geo from a
//! database the test builds, bots dropped, and suppression from the
//! config and the admin endpoint.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

#[allow(dead_code, missing_docs)]
#[path = "../gateway/src/enrich/geo/test_db.rs"]
mod test_db;

use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;
use tributary_gateway::config::WriteKeyConfig;
use tributary_tests::*;

const KEY_SERVER: &str = "test-key-server";

/// Message id, write key, request headers, the `context.ip` the client
/// sent, and the address expected.
type Case<'a> = (
    &'a str,
    &'a str,
    &'a [(&'a str, &'a str)],
    Option<&'a str>,
    &'a str,
);

fn event(id: &str, context: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({"batch": [{
        "type": "track", "event": "Order Completed", "messageId": id,
        "anonymousId": format!("anon-{id}"), "context": context
    }]}))
    .unwrap()
}

async fn send(http: &HttpClient, key: &str, body: Vec<u8>, headers: &[(&str, &str)]) -> Reply {
    http.post_with("/v1/batch", key, &body, false, headers)
        .await
}

/// Every record of the gateway's event topics, by message id.
fn records(gw: &tributary_gateway::Gateway, n: usize) -> BTreeMap<String, Received> {
    consume(
        &kafka(),
        &event_topics(gw),
        n,
        Duration::from_secs(1),
        Duration::from_secs(30),
    )
    .into_iter()
    .map(|r| (r.headers["tb-message-id"].clone(), r))
    .collect()
}

fn enrichment(r: &Received) -> Value {
    serde_json::from_str(&r.headers["tb-enrichment"]).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_is_the_rightmost_untrusted_hop_in_context_and_header() {
    let bootstrap = kafka();
    let mut c = test_config(&bootstrap, &unique_prefix("edge-ip"));
    c.rate_limits.ip_requests_per_second = 0;
    c.server.trusted_proxies = vec!["127.0.0.1".into(), "10.0.0.0/8".into(), "fd00::/8".into()];
    c.keys.push(WriteKeyConfig {
        key: KEY_SERVER.into(),
        app_id: APP.into(),
        server_side: true,
        ..WriteKeyConfig::default()
    });
    let gw = start_gateway(c).await;
    let http = HttpClient::new(gw.local_addr());
    // (message id, key, headers, client-sent context.ip, expected)
    let cases: &[Case<'_>] = &[
        (
            "xff-forged-prefix",
            KEY_BROKER,
            &[("x-forwarded-for", "6.6.6.6, 198.51.100.7")],
            None,
            "198.51.100.7",
        ),
        (
            "xff-through-two-proxies",
            KEY_BROKER,
            &[("x-forwarded-for", "6.6.6.6, 198.51.100.7, 10.0.0.2")],
            None,
            "198.51.100.7",
        ),
        (
            "xff-two-lines",
            KEY_BROKER,
            &[
                ("x-forwarded-for", "6.6.6.6"),
                ("x-forwarded-for", "198.51.100.8"),
            ],
            None,
            "198.51.100.8",
        ),
        (
            "xff-ipv6",
            KEY_BROKER,
            &[("x-forwarded-for", "2001:db8::1, fd00::2")],
            None,
            "2001:db8::1",
        ),
        (
            "forwarded-ipv6-port",
            KEY_BROKER,
            &[(
                "forwarded",
                r#"for=6.6.6.6, for="[2001:db8:cafe::17]:4711";proto=https, for=10.0.0.3"#,
            )],
            None,
            "2001:db8:cafe::17",
        ),
        (
            "forwarded-over-xff",
            KEY_BROKER,
            &[
                ("forwarded", "for=198.51.100.9"),
                ("x-forwarded-for", "192.0.2.1"),
            ],
            None,
            "198.51.100.9",
        ),
        (
            "forwarded-unknown",
            KEY_BROKER,
            &[("forwarded", "for=unknown")],
            None,
            "127.0.0.1",
        ),
        ("no-header", KEY_BROKER, &[], None, "127.0.0.1"),
        (
            "client-sent-ip-replaced",
            KEY_BROKER,
            &[("x-forwarded-for", "198.51.100.10")],
            Some("9.9.9.9"),
            "198.51.100.10",
        ),
        (
            "server-side-keeps-its-users-ip",
            KEY_SERVER,
            &[("x-forwarded-for", "198.51.100.11")],
            Some("192.0.2.55"),
            "192.0.2.55",
        ),
    ];
    for (id, key, headers, sent, _) in cases {
        let context = match sent {
            Some(ip) => json!({"ip": ip, "locale": "de-DE"}),
            None => json!({"locale": "de-DE"}),
        };
        let r = send(&http, key, event(id, context), headers).await;
        assert_eq!(r.status, 200, "{id}: {}", r.json);
    }
    let got = records(&gw, cases.len());
    for (id, _, _, _, want) in cases {
        let r = &got[*id];
        assert_eq!(r.value["context"]["ip"], *want, "{id}: context.ip");
        assert_eq!(
            r.value["context"]["locale"], "de-DE",
            "{id}: the rest of the context stays"
        );
        assert_eq!(enrichment(r)["ip"], *want, "{id}: tb-enrichment ip");
    }
    report(format!(
        "edge: {} forged and honest chains gave the right context.ip",
        cases.len()
    ));
    gw.shutdown().await.unwrap();

    // Without trusted proxies nothing a client writes is believed.
    let mut c = test_config(&bootstrap, &unique_prefix("edge-ip-none"));
    c.rate_limits.ip_requests_per_second = 0;
    let gw = start_gateway(c).await;
    let http = HttpClient::new(gw.local_addr());
    let forged: [&[(&str, &str)]; 2] = [
        &[("x-forwarded-for", "6.6.6.6")],
        &[("forwarded", "for=\"[2001:db8::66]\"")],
    ];
    for (i, h) in forged.iter().enumerate() {
        let r = send(
            &http,
            KEY_BROKER,
            event(&format!("untrusted-{i}"), json!({})),
            h,
        )
        .await;
        assert_eq!(r.status, 200);
    }
    for r in records(&gw, 2).values() {
        assert_eq!(r.value["context"]["ip"], "127.0.0.1", "{:?}", r.headers);
    }
    gw.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_per_ip_limit_keys_on_the_same_address_whatever_a_client_prepends() {
    let mut c = test_config(&kafka(), &unique_prefix("edge-limit"));
    c.server.trusted_proxies = vec!["127.0.0.1".into()];
    c.rate_limits.ip_requests_per_second = 1;
    c.rate_limits.ip_requests_burst = 1;
    let gw = start_gateway(c).await;
    let http = HttpClient::new(gw.local_addr());
    let go = |id: &'static str, xff: &'static str| {
        let http = http.clone();
        // Buffered answers in milliseconds, well inside the limiter's
        // one-second period (a first broker-mode answer can take longer).
        async move {
            send(
                &http,
                KEY_BUFFERED,
                event(id, json!({})),
                &[("x-forwarded-for", xff)],
            )
            .await
            .status
        }
    };
    assert_eq!(go("l1", "6.6.6.6, 198.51.100.7").await, 202);
    // A different forged first hop: the first-hop rule gave a fresh key.
    assert_eq!(go("l2", "7.7.7.7, 198.51.100.7").await, 429);
    assert_eq!(
        go("l3", "198.51.100.8").await,
        202,
        "another client has its own budget"
    );
    gw.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_geo_bots_and_suppression_on_real_records() {
    let dir = tempfile::tempdir().unwrap();
    let (city, asn) = test_db::write_example(dir.path(), "203.0.113.0/24");
    let mut c = test_config(&kafka(), &unique_prefix("edge-facts"));
    c.rate_limits.ip_requests_per_second = 0;
    c.server.trusted_proxies = vec!["127.0.0.1".into()];
    c.enrichment.geo_city_db = Some(city);
    c.enrichment.geo_asn_db = Some(asn);
    c.privacy.admin_token = Some("admin-token-0123456789".into());
    c.privacy.suppression_file = Some(dir.path().join("suppressed.jsonl"));
    c.privacy.apps.insert(
        APP.into(),
        toml_section("bots = \"drop\"\nip = \"truncate\"\nsuppressed_user_ids = [\"gone-1\"]"),
    );
    let gw = start_gateway(c).await;
    let http = HttpClient::new(gw.local_addr());
    let chrome = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.81 Mobile Safari/537.36";
    let firefox =
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0";
    let googlebot = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";
    let body = json!({"batch": [
        {"type": "track", "event": "Order Completed", "messageId": "android", "anonymousId": "a1", "context": {"userAgent": chrome}},
        {"type": "track", "event": "Order Completed", "messageId": "crawler", "anonymousId": "a2", "context": {"userAgent": googlebot}},
        {"type": "track", "event": "Order Completed", "messageId": "suppressed", "userId": "gone-1"},
        {"type": "track", "event": "Order Completed", "messageId": "header-agent", "anonymousId": "a3"},
    ]});
    let xff = [("x-forwarded-for", "203.0.113.9"), ("user-agent", firefox)];
    let r = send(&http, KEY_BROKER, serde_json::to_vec(&body).unwrap(), &xff).await;
    assert_eq!(
        (r.status, &r.json["accepted"]),
        (200, &json!(4)),
        "{}",
        r.json
    );

    // The admin endpoint: wrong token, then an id suppressed at once.
    let admin = |token: &str| format!("Bearer {token}");
    let add = serde_json::to_vec(&json!({"app": APP, "anonymousId": "later"})).unwrap();
    let wrong = http
        .request(
            "POST",
            "/admin/suppressions",
            &[("authorization", &admin("nope"))],
            add.clone(),
        )
        .await;
    assert_eq!(wrong.status, 401);
    let ok = http
        .request(
            "POST",
            "/admin/suppressions",
            &[("authorization", &admin("admin-token-0123456789"))],
            add,
        )
        .await;
    assert_eq!(ok.status, 200, "{}", ok.json);
    let body = json!({"batch": [
        {"type": "track", "event": "Order Completed", "messageId": "later", "anonymousId": "later"},
        {"type": "track", "event": "Order Completed", "messageId": "kept", "anonymousId": "other"},
    ]});
    let r = send(&http, KEY_BROKER, serde_json::to_vec(&body).unwrap(), &xff).await;
    assert_eq!((r.status, &r.json["accepted"]), (200, &json!(2)));

    let got = records(&gw, 3);
    let ids: Vec<&str> = got.keys().map(String::as_str).collect();
    assert_eq!(
        ids,
        ["android", "header-agent", "kept"],
        "bots and suppressed ids are not stored"
    );
    let e = enrichment(&got["android"]);
    assert_eq!(e["ip"], "203.0.113.0", "truncated to /24");
    assert_eq!(got["android"].value["context"]["ip"], "203.0.113.0");
    for (k, v) in [
        ("country", json!("DE")),
        ("region", json!("BE")),
        ("city", json!("Berlin")),
        ("postalCode", json!("10115")),
        ("timeZone", json!("Europe/Berlin")),
        ("asn", json!(64500)),
        ("asOrg", json!("Example Transit")),
        ("browser", json!("Chrome")),
        ("os", json!("Android")),
        ("osVersion", json!("14")),
        ("device", json!("smartphone")),
    ] {
        assert_eq!(e[k], v, "{k} in {e}");
    }
    let e = enrichment(&got["header-agent"]);
    assert_eq!(
        (&e["browser"], &e["os"]),
        (&json!("Firefox"), &json!("Windows 10")),
        "{e}"
    );
    let metrics = http.request_text("GET", "/metrics").await;
    for (code, n) in [("bot", 1), ("suppressed", 2)] {
        let line = format!("outcome=\"dropped\",code=\"{code}\"}} {n}");
        assert!(metrics.contains(&line), "{line} in\n{metrics}");
    }
    let file = std::fs::read_to_string(dir.path().join("suppressed.jsonl")).unwrap();
    assert!(file.contains("\"anonymousId\":\"later\""), "{file}");
    report("edge: geo, agents, bots dropped, suppression from config and endpoint all checked");
    gw.shutdown().await.unwrap();
}

/// Parses one `[privacy.apps.<app>]` section through the gateway's own
/// configuration parser.
fn toml_section(text: &str) -> tributary_gateway::config::AppPrivacyConfig {
    let whole = format!("[privacy.apps.x]\n{text}\n");
    let mut c = tributary_gateway::config::Config::parse(&whole).unwrap();
    c.privacy.apps.remove("x").unwrap()
}

#[test]
fn check_config_reports_edge_mistakes_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let check = |text: &str| {
        let path = dir.path().join("gateway.toml");
        std::fs::write(
            &path,
            format!("[[keys]]\nkey = \"k\"\napp_id = \"shop\"\n{text}"),
        )
        .unwrap();
        let out = std::process::Command::new(gateway_binary())
            .args(["--config", path.to_str().unwrap(), "--check-config"])
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let rules = dir.path().join("privacy.toml");
    std::fs::write(&rules, "[apps.shop]\nip = \"drop\"\n").unwrap();
    let good = format!(
        "[server]\ntrusted_proxies = [\"10.0.0.0/8\", \"::1\"]\n[privacy]\nrules_file = \"{}\"\n[privacy.apps.web]\nhash_key = \"0123456789abcdef\"\npatterns = {{ email = \"hash\" }}\nrules = [{{ path = \"traits.*\", action = \"mask\" }}]\n",
        rules.display()
    );
    assert_eq!(check(&good), (Some(0), String::new()));
    for (text, named) in [
        (
            "[rate_limits]\ntrust_forwarded_for = true\n",
            "server.trusted_proxies",
        ),
        (
            "[server]\ntrusted_proxies = [\"10.0.0.0/33\"]\n",
            "server.trusted_proxies[0]",
        ),
        (
            "[privacy.apps.web]\nrules = [{ path = \"properties.email\", action = \"hash\" }]\n",
            "privacy.apps.web.hash_key",
        ),
        (
            "[privacy.apps.web]\nrules = [{ path = \"userId\", action = \"drop\" }]\n",
            "privacy.apps.web.rules[0]",
        ),
        (
            "[privacy.apps.web]\nrules = [{ path = \"payload.x\", action = \"mask\" }]\n",
            "must start with one of",
        ),
        (
            "[enrichment]\ngeo_city_db = \"/nonexistent/City.mmdb\"\n",
            "enrichment.geo_city_db",
        ),
    ] {
        let (code, err) = check(text);
        assert_eq!(code, Some(2), "{text}");
        assert!(err.contains(named), "{text}: {err}");
    }
    std::fs::write(&rules, "[apps.shop]\nip = \"sometimes\"\n").unwrap();
    let (code, err) = check(&format!(
        "[privacy]\nrules_file = \"{}\"\n",
        rules.display()
    ));
    assert_eq!(code, Some(2));
    assert!(
        err.contains("privacy rules") && err.contains("sometimes"),
        "{err}"
    );
}
