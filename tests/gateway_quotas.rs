//! Per-app quotas against the real Kafka and a real Redis: two gateway
//! replicas share one daily quota through Redis (each sees the other's
//! events within a sync interval; a new replica starts with the fleet's
//! count), refuse past it with 429 and a `Retry-After` to UTC midnight, and
//! show it in `/stats`; an accept-and-drop quota answers 200, counts what
//! it drops, and keeps its count across a restart in its state file.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use serde_json::{Value, json};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tributary_gateway::config::{AckMode, AppQuota, Config, QuotaAction, WriteKeyConfig};
use tributary_tests::*;

const BATCH: usize = 20;
const GAP_MS: u64 = 20;
const SYNC_MS: u64 = 100;
const OTHER_KEY: &str = "other-app-key";

fn quota_config(prefix: &str, replica: &str, day: u64, over: QuotaAction) -> Config {
    let mut cfg = test_config(&kafka(), prefix);
    // Another app, without a quota.
    cfg.keys.push(WriteKeyConfig {
        key: OTHER_KEY.into(),
        app_id: "other".into(),
        ack: Some(AckMode::Broker),
        ..WriteKeyConfig::default()
    });
    cfg.spool.dir = std::env::temp_dir().join(format!("tributary-spool-{prefix}-{replica}"));
    cfg.quotas.sync_ms = SYNC_MS;
    cfg.quotas.apps.insert(
        APP.into(),
        AppQuota {
            events_per_day: day,
            events_per_month: 0,
            over,
        },
    );
    cfg
}

fn batch(tag: &str, n: usize) -> Vec<u8> {
    let events: Vec<Value> = (0..BATCH)
        .map(|i| {
            json!({"type": "track", "event": "Order Completed", "messageId": format!("{tag}-{n}-{i}"),
                "userId": format!("u-{i}"), "properties": {"total": i}})
        })
        .collect();
    serde_json::to_vec(&json!({ "batch": events })).unwrap()
}

fn seconds_to_utc_midnight() -> u64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    86_400 - now % 86_400
}

fn order_topic(prefix: &str) -> Vec<String> {
    vec![format!("{prefix}order_completed")]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_share_a_daily_quota_through_redis_and_a_new_one_starts_from_it() {
    const QUOTA: u64 = 500;
    let redis = RedisServer::start();
    let prefix = unique_prefix("quota");
    let with_redis = |replica: &str| {
        let mut c = quota_config(&prefix, replica, QUOTA, QuotaAction::Reject);
        c.quotas.redis_url = Some(redis.url.clone());
        c
    };
    let a = start_gateway(with_redis("a")).await;
    let b = start_gateway(with_redis("b")).await;
    let clients = [
        HttpClient::new(a.local_addr()),
        HttpClient::new(b.local_addr()),
    ];
    let mut accepted = 0u64;
    let mut refused = [None, None];
    for n in 0..200 {
        let i = n % 2;
        let r = clients[i]
            .post("/v1/batch", KEY_BROKER, &batch("q", n), false)
            .await;
        match r.status {
            200 => accepted += r.json["accepted"].as_u64().unwrap(),
            429 => {
                refused[i].get_or_insert(r);
                if refused.iter().all(Option::is_some) {
                    break;
                }
            }
            s => panic!("unexpected {s}: {}", r.json),
        }
        tokio::time::sleep(Duration::from_millis(GAP_MS)).await;
    }
    // Past the quota by at most what both replicas accept between two
    // syncs, plus one request each.
    let bound = 2 * BATCH as u64 * (SYNC_MS / GAP_MS + 2);
    report(format_args!(
        "quotas: two replicas, daily quota {QUOTA}, sync {SYNC_MS} ms: {accepted} accepted ({} over; bound {bound})",
        accepted.saturating_sub(QUOTA)
    ));
    assert!(accepted >= QUOTA, "refused before the quota: {accepted}");
    assert!(accepted <= QUOTA + bound, "{accepted} accepted");
    for r in refused.iter().flatten() {
        assert_eq!(r.json["code"], "quota_exceeded", "{}", r.json);
        assert_eq!(r.json["limit"], "quota_day");
        let after: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
        assert!(
            after.abs_diff(seconds_to_utc_midnight()) <= 5,
            "Retry-After {after} is the end of the UTC day"
        );
    }
    // Other apps are not affected.
    for (i, c) in clients.iter().enumerate() {
        let r = c
            .post("/v1/batch", OTHER_KEY, &batch("other", i), false)
            .await;
        assert_eq!(
            (r.status, r.json["accepted"].as_u64()),
            (200, Some(BATCH as u64)),
            "{}",
            r.json
        );
    }
    let stats = clients[0].request("GET", "/stats", &[], vec![]).await.json;
    let usage = &stats["quotas"][APP];
    assert_eq!(usage["dayLimit"], QUOTA, "{stats}");
    assert_eq!(usage["exceeded"], true);
    assert!(usage["dayUsed"].as_u64().unwrap() >= QUOTA);
    assert!(
        stats["produced"].is_u64(),
        "the delivery counters stay: {stats}"
    );
    let metrics = clients[1].request_text("GET", "/metrics").await;
    assert!(
        metrics
            .contains(r#"tributary_quota_exceeded_requests_total{window="day",action="reject"} "#),
        "{metrics}"
    );
    // The shared counter holds every accepted event, and Kafka each once.
    tokio::time::sleep(Duration::from_millis(3 * SYNC_MS)).await;
    let today = usage["day"].as_str().unwrap().to_owned();
    let shared = redis
        .command(&format!("GET tributary:quota:{APP}:day:{today}"))
        .unwrap();
    assert_eq!(shared.lines().nth(1), Some(accepted.to_string().as_str()));
    let got = consume(
        &kafka(),
        &order_topic(&prefix),
        accepted as usize + 2 * BATCH,
        Duration::from_secs(2),
        Duration::from_secs(30),
    );
    let ours = got.iter().filter(|r| r.headers["tb-app-id"] == APP).count() as u64;
    assert_eq!(ours, accepted, "refused requests produced nothing");
    assert_eq!(got.len() as u64, accepted + 2 * BATCH as u64);
    a.shutdown().await.unwrap();
    b.shutdown().await.unwrap();

    // A replica started now learns the fleet's count before serving.
    let c = start_gateway(with_redis("c")).await;
    let r = HttpClient::new(c.local_addr())
        .post("/v1/batch", KEY_BROKER, &batch("late", 0), false)
        .await;
    assert_eq!(r.status, 429, "{}", r.json);
    c.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drop_quota_answers_200_counts_what_it_drops_and_keeps_its_count_across_a_restart() {
    const QUOTA: u64 = 100;
    let prefix = unique_prefix("quotadrop");
    let cfg = quota_config(&prefix, "a", QUOTA, QuotaAction::Drop);
    let gw = start_gateway(cfg.clone()).await;
    let http = HttpClient::new(gw.local_addr());
    for n in 0..8 {
        let r = http
            .post("/v1/batch", KEY_BROKER, &batch("d", n), false)
            .await;
        assert_eq!(r.status, 200, "{}", r.json);
        assert_eq!(
            r.json["accepted"], BATCH,
            "answered as accepted: {}",
            r.json
        );
    }
    let dropped = |text: &str| {
        text.lines()
            .find(|l| {
                l.starts_with(r#"tributary_events_total{outcome="dropped",code="over_quota"}"#)
            })
            .and_then(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let metrics = http.request_text("GET", "/metrics").await;
    assert_eq!(dropped(&metrics), 3 * BATCH as u64, "{metrics}");
    // The state file is written every sync.
    let deadline = Instant::now() + Duration::from_secs(5);
    let state = cfg.spool.dir.join("quotas.json");
    while !std::fs::read_to_string(&state).is_ok_and(|s| s.contains("\"day_used\":100")) {
        assert!(
            Instant::now() < deadline,
            "no state file at {}",
            state.display()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    gw.shutdown().await.unwrap();

    let again = start_gateway(cfg).await;
    let http = HttpClient::new(again.local_addr());
    let r = http
        .post("/v1/batch", KEY_BROKER, &batch("d", 99), false)
        .await;
    assert_eq!(r.status, 200);
    let metrics = http.request_text("GET", "/metrics").await;
    assert_eq!(
        dropped(&metrics),
        BATCH as u64,
        "over quota after the restart"
    );
    let got = consume(
        &kafka(),
        &order_topic(&prefix),
        QUOTA as usize,
        Duration::from_secs(2),
        Duration::from_secs(30),
    );
    report(format_args!(
        "quotas: drop mode, daily quota {QUOTA}: 9 requests of {BATCH} answered 200, {} events in Kafka, {} dropped before and {} after a restart",
        got.len(),
        3 * BATCH,
        BATCH
    ));
    assert_eq!(got.len() as u64, QUOTA);
    again.shutdown().await.unwrap();
}
