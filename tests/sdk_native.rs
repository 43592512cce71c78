//! The native SDK (sdk-core's platform pack: file storage, rustls HTTP,
//! worker thread) against the real gateway and real Kafka: every event
//! arrives exactly once — through a lost response and retry, and through an
//! app restart with events still queued on disk.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use serde_json::json;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tributary_contract::envelope::header;
use tributary_sdk_core::native::{HttpTransport, NativeClient, UreqTransport};
use tributary_sdk_core::{RequestKind, SdkConfig, UploadRequest, UploadResult};
use tributary_tests::*;

fn sdk_config(addr: std::net::SocketAddr) -> SdkConfig {
    SdkConfig {
        flush_at_events: 50,
        ..SdkConfig::new(KEY_BROKER, format!("http://{addr}"))
    }
}

/// Counts arrivals of each `properties.n` of `event` on the gateway's topics.
fn arrivals(
    bootstrap: &str,
    topics: &[String],
    expected: usize,
    event: &str,
) -> BTreeMap<i64, usize> {
    let got = consume(
        bootstrap,
        topics,
        expected,
        Duration::from_secs(2),
        Duration::from_secs(60),
    );
    let mut n = BTreeMap::new();
    for r in got
        .iter()
        .filter(|r| r.headers[header::EVENT_NAME] == event)
    {
        *n.entry(r.value["properties"]["n"].as_i64().unwrap())
            .or_default() += 1;
    }
    n
}

fn assert_each_once(arrived: &BTreeMap<i64, usize>, count: i64) {
    let missing: Vec<i64> = (0..count).filter(|i| !arrived.contains_key(i)).collect();
    let dup: Vec<(&i64, &usize)> = arrived.iter().filter(|(_, c)| **c > 1).collect();
    assert!(missing.is_empty(), "missing: {missing:?}");
    assert!(dup.is_empty(), "duplicated: {dup:?}");
    assert_eq!(arrived.len() as i64, count);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_sdk_delivers_every_event_exactly_once() {
    let bootstrap = kafka();
    let prefix = unique_prefix("sdk");
    let gw = start_gateway(test_config(&bootstrap, &prefix)).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = sdk_config(gw.local_addr());
    let report = tokio::task::spawn_blocking(move || {
        let sdk = NativeClient::start(cfg, dir.path()).unwrap();
        sdk.identify(
            "user-1",
            json!({"plan": "pro"}).as_object().unwrap().clone(),
        );
        for n in 0..300 {
            sdk.track(
                "Order Completed",
                json!({"n": n}).as_object().unwrap().clone(),
            );
        }
        sdk.screen("Home", Default::default());
        sdk.shutdown(Duration::from_secs(30))
    })
    .await
    .unwrap();
    assert_eq!(report.remaining, 0, "{report:?}");
    assert_eq!(report.dropped, 0);
    // 300 tracks + identify + screen + session start.
    assert_eq!(report.delivered, 303, "{report:?}");
    let arrived = arrivals(&bootstrap, &event_topics(&gw), 303, "Order Completed");
    assert_each_once(&arrived, 300);
    gw.shutdown().await.unwrap();
}

/// Sends the first batch for real, then tells the engine it timed out:
/// the gateway has the batch, the client does not know. Settings fetches
/// pass through.
struct LoseFirstResponse {
    inner: UreqTransport,
    keys: Arc<Mutex<Vec<String>>>,
}

impl HttpTransport for LoseFirstResponse {
    fn send(&self, req: &UploadRequest) -> UploadResult {
        let result = self.inner.send(req);
        if req.kind != RequestKind::Batch {
            return result;
        }
        let mut keys = self.keys.lock().unwrap();
        keys.push(req.idempotency_key.clone());
        if keys.len() == 1 {
            assert!(
                matches!(result, UploadResult::Http { status: 200, .. }),
                "{result:?}"
            );
            return UploadResult::Timeout;
        }
        result
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_retried_after_a_client_timeout_appears_in_kafka_once() {
    let bootstrap = kafka();
    let prefix = unique_prefix("sdkretry");
    let gw = start_gateway(test_config(&bootstrap, &prefix)).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = SdkConfig {
        backoff_base_ms: 50,
        ..sdk_config(gw.local_addr())
    };
    let keys = Arc::new(Mutex::new(Vec::new()));
    let transport = LoseFirstResponse {
        inner: UreqTransport::new(Duration::from_secs(10)),
        keys: keys.clone(),
    };
    let report = tokio::task::spawn_blocking(move || {
        let sdk = NativeClient::start_with(cfg, dir.path(), Box::new(transport)).unwrap();
        for n in 0..40 {
            sdk.track(
                "Order Completed",
                json!({"n": n}).as_object().unwrap().clone(),
            );
        }
        sdk.shutdown(Duration::from_secs(30))
    })
    .await
    .unwrap();
    assert_eq!(report.remaining, 0, "{report:?}");
    let keys = keys.lock().unwrap().clone();
    assert!(keys.len() >= 2, "the batch was retried: {keys:?}");
    assert_eq!(keys[0], keys[1], "the retry reuses the idempotency key");
    let arrived = arrivals(&bootstrap, &event_topics(&gw), 41, "Order Completed");
    assert_each_once(&arrived, 40);
    gw.shutdown().await.unwrap();
}

/// A network that is down.
struct Offline;

impl HttpTransport for Offline {
    fn send(&self, _: &UploadRequest) -> UploadResult {
        UploadResult::Network("network is unreachable".into())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_queued_on_disk_survive_an_app_restart() {
    let bootstrap = kafka();
    let prefix = unique_prefix("sdkrestart");
    let gw = start_gateway(test_config(&bootstrap, &prefix)).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_owned();
    let cfg = sdk_config(gw.local_addr());
    let (first, second) = tokio::task::spawn_blocking(move || {
        let sdk = NativeClient::start_with(cfg.clone(), &path, Box::new(Offline)).unwrap();
        for n in 0..120 {
            sdk.track(
                "Order Completed",
                json!({"n": n}).as_object().unwrap().clone(),
            );
        }
        let first = sdk.shutdown(Duration::from_millis(300));
        // The app starts again, now online.
        let sdk = NativeClient::start(cfg, &path).unwrap();
        let second = sdk.shutdown(Duration::from_secs(30));
        (first, second)
    })
    .await
    .unwrap();
    assert_eq!(first.delivered, 0);
    assert!(first.remaining >= 120, "{first:?}");
    assert_eq!(second.remaining, 0, "{second:?}");
    // 120 tracks, two session starts and one session end.
    let arrived = arrivals(&bootstrap, &event_topics(&gw), 123, "Order Completed");
    assert_each_once(&arrived, 120);
    gw.shutdown().await.unwrap();
}
