//! Hot-key protection against the real Kafka: a user sending far above
//! `hot_keys.events_per_second` keeps its keyed burst, then its events go
//! out marked `tb-hot-key` without a key — spread over the topic's
//! partitions, or into the overflow topic — while everyone else stays
//! keyed; the pipeline writes both into the event's table, each event once.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};
use tributary_contract::envelope::header;
use tributary_tests::*;

const RATE: u32 = 20;
const BURST: u32 = 50;
const REQUESTS: usize = 10;
const LOOPING: usize = 40;
const CALM: usize = 4;

/// Sends `REQUESTS` batches, each with `LOOPING` events of user `looper`
/// and `CALM` events of users seen once; returns the seconds it took.
async fn flood(http: &HttpClient, tag: &str) -> f64 {
    let start = Instant::now();
    for r in 0..REQUESTS {
        let mut batch: Vec<Value> = (0..LOOPING)
            .map(|i| {
                json!({"type": "track", "event": "Order Completed", "messageId": format!("{tag}-l-{r}-{i}"),
                    "userId": "looper", "properties": {"total": i}})
            })
            .collect();
        batch.extend((0..CALM).map(|i| {
            json!({"type": "track", "event": "Order Completed", "messageId": format!("{tag}-c-{r}-{i}"),
                "userId": format!("calm-{r}-{i}"), "properties": {"total": i}})
        }));
        let reply = http.post_events(KEY_BROKER, &batch, false).await;
        assert_eq!(
            reply.json["accepted"],
            LOOPING + CALM,
            "nothing is refused: {}",
            reply.json
        );
        // Keyless records stick to one partition for a few ms (librdkafka's
        // sticky partitioner); requests apart from each other spread.
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    start.elapsed().as_secs_f64()
}

fn hot_config(prefix: &str, overflow_topic: bool) -> tributary_gateway::config::Config {
    let mut cfg = test_config(&kafka(), prefix);
    cfg.hot_keys.events_per_second = RATE;
    cfg.hot_keys.burst = BURST;
    if overflow_topic {
        cfg.hot_keys.overflow = tributary_gateway::config::HotKeyOverflow::Topic;
    }
    cfg
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_looping_user_is_spread_over_the_partitions_and_everyone_else_stays_keyed() {
    let prefix = unique_prefix("hot");
    let gw = start_gateway(hot_config(&prefix, false)).await;
    let http = HttpClient::new(gw.local_addr());
    let secs = flood(&http, "spread").await;
    let total = REQUESTS * (LOOPING + CALM);
    let got = consume(
        &kafka(),
        &[format!("{prefix}order_completed")],
        total,
        Duration::from_secs(2),
        Duration::from_secs(30),
    );
    assert_eq!(got.len(), total);
    let user = |r: &Received| r.headers.get(header::USER_ID).cloned().unwrap_or_default();
    let (looper, calm): (Vec<&Received>, Vec<&Received>) =
        got.iter().partition(|r| user(r) == "looper");
    let hot: Vec<&&Received> = looper
        .iter()
        .filter(|r| r.headers.contains_key(header::HOT_KEY))
        .collect();
    let keyed = looper.len() - hot.len();
    // The burst, its first arrival, and what the rate refilled meanwhile.
    let most = (BURST + 1) as f64 + f64::from(RATE) * secs + 1.0;
    report(format_args!(
        "hot keys spread: looper {} events, {keyed} keyed (burst {BURST} + {RATE}/s over {secs:.2} s), {} spread over partitions {:?}",
        looper.len(),
        hot.len(),
        hot.iter().map(|r| r.partition).collect::<BTreeSet<_>>()
    ));
    assert!(
        keyed > BURST as usize && (keyed as f64) <= most,
        "{keyed} keyed, at most {most}"
    );
    for r in &hot {
        assert_eq!(r.headers[header::HOT_KEY], "true");
        assert_eq!(r.key, "", "a hot user's event has no key");
    }
    for r in looper
        .iter()
        .filter(|r| !r.headers.contains_key(header::HOT_KEY))
    {
        assert_eq!(r.key, "looper");
    }
    assert!(
        hot.iter()
            .map(|r| r.partition)
            .collect::<BTreeSet<_>>()
            .len()
            > 1,
        "spread over more than one partition"
    );
    assert_eq!(calm.len(), REQUESTS * CALM);
    for r in &calm {
        assert!(!r.headers.contains_key(header::HOT_KEY));
        assert_eq!(r.key, user(r), "other users stay keyed");
    }
    let metrics = http.request_text("GET", "/metrics").await;
    assert_eq!(
        metric_value(&metrics, "tributary_hot_key_events_total"),
        hot.len() as u64
    );
    assert!(metric_value(&metrics, "tributary_hot_keys_tracked") >= 1);
    gw.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_looping_users_overflow_topic_is_offloaded_into_the_same_table() {
    let prefix = unique_prefix("overflow");
    let mut cfg = hot_config(&prefix, true);
    // Quiet partitions (the overflow topic's, once the flood stops) close
    // when heartbeat records move their record time on.
    cfg.delivery.heartbeat_secs = 1;
    let gw = start_gateway(cfg).await;
    assert!(
        gw.topics().contains(&format!("{prefix}overflow")),
        "the start-up check creates the overflow topic"
    );
    let http = HttpClient::new(gw.local_addr());
    flood(&http, "overflow").await;
    let total = REQUESTS * (LOOPING + CALM);
    let overflow: Vec<Received> = consume(
        &kafka(),
        &[format!("{prefix}overflow")],
        1,
        Duration::from_secs(2),
        Duration::from_secs(30),
    )
    .into_iter()
    .filter(|r| !r.headers.contains_key(header::HEARTBEAT))
    .collect();
    assert!(!overflow.is_empty());
    for r in &overflow {
        assert_eq!(r.headers[header::USER_ID], "looper");
        assert_eq!(r.headers[header::HOT_KEY], "true");
        assert_eq!(r.headers[header::EVENT_NAME], "Order Completed");
    }
    let metrics = http.request_text("GET", "/metrics").await;
    assert_eq!(
        metric_value(&metrics, "tributary_hot_key_events_total"),
        overflow.len() as u64
    );

    // The pipeline reads the event's topic and the overflow topic into
    // one table, `event=order_completed`.
    let lake = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let config = write_pipeline_config(
        work.path(),
        &prefix,
        &["order_completed", "overflow"],
        lake.path(),
        "idle_gap_secs = 2\nmax_records = 100",
    );
    let pipeline = PipelineProcess::start(&config);
    let deadline = Instant::now() + Duration::from_secs(60);
    let lake_summary = loop {
        let s = read_lake(lake.path());
        if s["rows"].as_u64() >= Some(total as u64) || Instant::now() > deadline {
            break s;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let table = &lake_summary["events"]["order_completed"];
    report(format_args!(
        "hot keys overflow: {} of {total} events in the overflow topic; lake table order_completed {} rows, {} distinct message ids",
        overflow.len(),
        table["rows"],
        lake_summary["distinct_message_ids"]
    ));
    assert_eq!(
        (
            lake_summary["rows"].as_u64(),
            lake_summary["distinct_message_ids"].as_u64(),
            table["rows"].as_u64()
        ),
        (Some(total as u64), Some(total as u64), Some(total as u64)),
        "every event of both topics in the one table, once: {lake_summary}"
    );
    let pm = pipeline.metrics_text().unwrap_or_default();
    assert_eq!(
        metric_value(&pm, "tributary_pipeline_hot_key_records_total"),
        overflow.len() as u64
    );
    drop(pipeline);
    gw.shutdown().await.unwrap();
}
