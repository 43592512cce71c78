//! Server-driven SDK settings against the real gateway and Kafka:
//! `GET /v1/settings` (ETag, `304`, `max-age`, CORS, 401), the version on
//! every ingest answer, a reload of the settings file without a restart,
//! and the native SDK obeying a kill switch and a sampling rate flipped
//! while it sends.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use serde_json::{Map, json};
use std::time::{Duration, Instant};
use tributary_contract::DropReason;
use tributary_sdk_core::SdkConfig;
use tributary_sdk_core::native::NativeClient;
use tributary_tests::*;

fn basic(key: &str) -> String {
    use base64::Engine as _;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{key}:"))
    )
}

async fn version(http: &HttpClient) -> String {
    let auth = basic(KEY_BROKER);
    let r = http
        .request("GET", "/v1/settings", &[("authorization", &auth)], vec![])
        .await;
    assert_eq!(r.status, 200, "{}", r.json);
    r.json["version"].as_str().unwrap().to_owned()
}

/// Writes the settings file and waits until the gateway serves its version.
async fn set(http: &HttpClient, file: &std::path::Path, toml: &str) -> String {
    let before = version(http).await;
    std::fs::write(file, toml).unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let now = version(http).await;
        if now != before {
            return now;
        }
        assert!(Instant::now() < deadline, "settings were not reloaded");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_are_served_cacheably_versioned_on_answers_and_reloaded() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("settings.toml");
    std::fs::write(
        &file,
        format!("[apps.{APP}]\ndisabled_events = [\"Noisy\"]\nsample_rates = {{ \"Often\" = 0.5 }}\nttl_secs = 120\n"),
    )
    .unwrap();
    let mut cfg = test_config(&kafka(), &unique_prefix("settings"));
    cfg.sdk_settings.file = Some(file.clone());
    cfg.sdk_settings.poll_secs = 1;
    let gw = start_gateway(cfg).await;
    let http = HttpClient::new(gw.local_addr());
    let auth = basic(KEY_BROKER);

    let r = http
        .request("GET", "/v1/settings", &[("authorization", &auth)], vec![])
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json["disabledEvents"], json!(["Noisy"]));
    assert_eq!(r.json["sampleRates"], json!({"Often": 0.5}));
    assert_eq!(r.json["enabled"], true);
    assert_eq!(r.json["ttlSecs"], 120);
    let v = r.json["version"].as_str().unwrap().to_owned();
    assert_eq!(r.headers["etag"], format!("\"{v}\"").as_str());
    assert_eq!(r.headers["cache-control"], "private, max-age=120");
    assert_eq!(r.headers["access-control-allow-origin"], "*");

    // A browser's form: the key in the query, revalidated with the ETag.
    let etag = format!("\"{v}\"");
    let r = http
        .request(
            "GET",
            &format!("/v1/settings?writeKey={KEY_BROKER}"),
            &[("if-none-match", &etag)],
            vec![],
        )
        .await;
    assert_eq!(r.status, 304);
    let r = http.request("GET", "/v1/settings", &[], vec![]).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.json["code"], "unauthorized");
    let r = http.request("OPTIONS", "/v1/settings", &[], vec![]).await;
    assert_eq!(r.status, 204);
    assert!(
        r.headers["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .contains("if-none-match")
    );
    let r = http.request("DELETE", "/v1/settings", &[], vec![]).await;
    assert_eq!(r.status, 405);

    // Every ingest answer names the version in force, header and body.
    let batch = json!({"batch": [{"type": "track", "event": "Order Completed", "messageId": "s1", "anonymousId": "a"}]});
    let r = http
        .post(
            "/v1/batch",
            KEY_BROKER,
            &serde_json::to_vec(&batch).unwrap(),
            true,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["settingsVersion"], v.as_str());
    assert_eq!(r.headers["tributary-settings-version"], v.as_str());

    // The file changes: the new version is served and named, no restart;
    // a replayed answer (same idempotency key) names the new one too.
    let v2 = set(&http, &file, &format!("[apps.{APP}]\nenabled = false\n")).await;
    assert_ne!(v2, v);
    let r = http
        .post(
            "/v1/batch",
            KEY_BROKER,
            &serde_json::to_vec(&batch).unwrap(),
            true,
        )
        .await;
    assert_eq!(r.json["settingsVersion"], v2.as_str());

    // A file out of bounds is refused and the settings in force kept.
    std::fs::write(&file, format!("[apps.{APP}]\nflush_interval_ms = 5\n")).unwrap();
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert_eq!(version(&http).await, v2);
    gw.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_native_sdk_obeys_a_kill_switch_and_a_sampling_rate_flipped_while_it_sends() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("settings.toml");
    std::fs::write(&file, "").unwrap();
    let mut cfg = test_config(&kafka(), &unique_prefix("settings-sdk"));
    cfg.sdk_settings.file = Some(file.clone());
    cfg.sdk_settings.poll_secs = 1;
    let gw = start_gateway(cfg).await;
    let http = HttpClient::new(gw.local_addr());
    let queue = tempfile::tempdir().unwrap();
    let sdk_cfg = SdkConfig {
        flush_at_events: 1_000,
        ..SdkConfig::new(KEY_BROKER, format!("http://{}", gw.local_addr()))
    };
    let sdk = tokio::task::spawn_blocking({
        let dir = queue.path().to_owned();
        move || NativeClient::start(sdk_cfg, dir).unwrap()
    })
    .await
    .unwrap();
    let sdk = std::sync::Arc::new(sdk);
    let run = |f: Box<dyn FnOnce(&NativeClient) + Send>| {
        let sdk = sdk.clone();
        async move { tokio::task::spawn_blocking(move || f(&sdk)).await.unwrap() }
    };
    let flush = || {
        run(Box::new(|c: &NativeClient| {
            let r = c.flush(Duration::from_secs(20));
            assert_eq!(r.remaining, 0, "{r:?}");
        }))
    };
    let disabled = || sdk.stats().dropped.get(DropReason::DisabledByServer);
    // After the gateway serves `v`: one upload (whose answer names `v`),
    // then until the device has fetched and applied it.
    let learn = |v: String| {
        let sdk = sdk.clone();
        async move {
            sdk.track("Kept", Map::new());
            let deadline = Instant::now() + Duration::from_secs(20);
            while sdk.stats().settings_version.as_deref() != Some(v.as_str()) {
                assert!(
                    Instant::now() < deadline,
                    "the device never applied {v}: {:?}",
                    sdk.stats()
                );
                let s = sdk.clone();
                tokio::task::spawn_blocking(move || s.flush(Duration::from_secs(5)))
                    .await
                    .unwrap();
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    let track = |name: &'static str, n: usize| {
        run(Box::new(move |c: &NativeClient| {
            for _ in 0..n {
                c.track(name, Map::new());
            }
        }))
    };

    track("Noisy", 5).await;
    flush().await;
    assert_eq!(disabled(), 0);

    // The switch goes on; the device learns it from its next upload's
    // answer, fetches, and stops recording the event.
    let v = set(
        &http,
        &file,
        &format!("[apps.{APP}]\ndisabled_events = [\"Noisy\"]\n"),
    )
    .await;
    learn(v).await;
    track("Noisy", 10).await;
    flush().await;
    assert_eq!(disabled(), 10, "{:?}", sdk.stats());

    // Cleared: the event is recorded again.
    let v = set(&http, &file, "").await;
    learn(v).await;
    let before = sdk.stats().enqueued;
    track("Noisy", 10).await;
    flush().await;
    assert_eq!(sdk.stats().enqueued - before, 10);
    assert_eq!(disabled(), 10);

    // Sampling: about 30 % of "Often" kept. With 2,000 events the kept
    // share's standard deviation is about 1 %; the test allows 5 %.
    let v = set(
        &http,
        &file,
        &format!("[apps.{APP}]\nsample_rates = {{ \"Often\" = 0.3 }}\n"),
    )
    .await;
    learn(v).await;
    let before = sdk.stats();
    track("Often", 2_000).await;
    flush().await;
    let after = sdk.stats();
    let kept = (after.enqueued - before.enqueued) as f64 / 2_000.0;
    let sampled =
        after.dropped.get(DropReason::SampledOut) - before.dropped.get(DropReason::SampledOut);
    report(format!(
        "sampling at 0.3: kept {kept:.3} of 2000, {sampled} counted sampled_out"
    ));
    assert!((kept - 0.3).abs() < 0.05, "kept share {kept}");
    assert_eq!(sampled as f64, 2_000.0 - kept * 2_000.0);
    // The device's drops reached the gateway in its client reports.
    let metrics = http.request_text("GET", "/metrics").await;
    let reported = |reason: &str| client_dropped(&metrics, reason);
    assert_eq!(reported("disabled_by_server"), 10, "{metrics}");
    assert_eq!(reported("sampled_out"), sampled);
    drop(sdk);
    gw.shutdown().await.unwrap();
}
