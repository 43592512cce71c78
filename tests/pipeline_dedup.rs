//! Each event once in the lake, against the real Kafka: N events, then
//! copies of some of them made the ways the contract says copies are made —
//! a batch retried to a second gateway replica after the first answered, a
//! batch retried after the idempotency window, and records produced again
//! byte for byte (what a spool segment replayed twice or a buffered-mode
//! retry after a lost delivery report leaves in the topic). The pipeline,
//! killed with SIGKILL while it reads, writes N rows with N distinct ids;
//! a fresh pipeline over the same topics counts exactly the injected
//! copies, by reason.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use serde_json::{Value, json};
use std::path::Path;
use std::time::{Duration, Instant};
use tributary_contract::envelope::header;
use tributary_tests::*;

const N: usize = 3_000;
const BATCH: usize = 100;
const REPRODUCED: usize = 200;

fn batch(n: usize) -> Vec<Value> {
    (n * BATCH..(n + 1) * BATCH)
        .map(|i| {
            json!({"type": "track", "event": "Order Completed", "messageId": format!("d-{i}"),
                "anonymousId": format!("dev-{}", i % 37), "properties": {"total": i}})
        })
        .collect()
}

async fn send(http: &HttpClient, n: usize) {
    let body = serde_json::to_vec(&json!({ "batch": batch(n) })).unwrap();
    let key = format!("batch-{n}");
    let r = http
        .post_with(
            "/v1/batch",
            KEY_BROKER,
            &body,
            true,
            &[("idempotency-key", &key)],
        )
        .await;
    assert_eq!(r.json["accepted"], BATCH as u64, "{}", r.json);
}

/// Produces the first `n` event records of `topic` again, byte for byte,
/// each to its own partition.
fn produce_again(topic: &str, n: usize) {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", kafka())
        .set("group.id", format!("again-{}", uuid::Uuid::new_v4()))
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let md = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in md.topics()[0].partitions() {
        tpl.add_partition_offset(topic, p.id(), Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&tpl).unwrap();
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", kafka())
        .create()
        .unwrap();
    let (mut again, deadline) = (0, Instant::now() + Duration::from_secs(30));
    while again < n {
        assert!(
            Instant::now() < deadline,
            "{again} of {n} records read back"
        );
        let Some(Ok(m)) = consumer.poll(Duration::from_millis(200)) else {
            continue;
        };
        let Some(h) = m.headers() else { continue };
        if !h.iter().any(|x| x.key == header::MESSAGE_ID) {
            continue; // heartbeats
        }
        let mut headers = OwnedHeaders::new();
        for x in h.iter() {
            headers = headers.insert(Header {
                key: x.key,
                value: x.value,
            });
        }
        let mut rec = BaseRecord::<[u8], [u8]>::to(topic)
            .partition(m.partition())
            .payload(m.payload().unwrap_or_default())
            .headers(headers);
        if let Some(k) = m.key() {
            rec = rec.key(k);
        }
        if let Some(ts) = m.timestamp().to_millis() {
            rec = rec.timestamp(ts);
        }
        producer.send(rec).map_err(|(e, _)| e).unwrap();
        again += 1;
    }
    producer.flush(Duration::from_secs(10)).unwrap();
}

/// The pipeline's count of copies dropped for `reason`.
fn dropped(metrics: &str, reason: &str) -> u64 {
    let line = format!("tributary_pipeline_duplicates_dropped_total{{reason=\"{reason}\"}} ");
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(&line))
        .map_or(0, |v| v.trim().parse().unwrap_or(0))
}

/// Runs a pipeline on `config` until its lake holds `N` distinct events
/// and every record of the 3 partitions is read; returns its metrics page.
fn run_to_the_end(config: &Path, lake: &Path) -> String {
    let p = PipelineProcess::start(config);
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        assert!(Instant::now() < deadline, "the pipeline did not catch up");
        if let Some(m) = p.metrics_text() {
            let lags: Vec<i64> = m
                .lines()
                .filter(|l| l.starts_with("tributary_pipeline_lag_records{"))
                .filter_map(|l| l.rsplit(' ').next()?.parse().ok())
                .collect();
            if lags.len() == 3
                && lags.iter().all(|l| *l == 0)
                && read_lake(lake)["distinct_message_ids"].as_u64() >= Some(N as u64)
            {
                return m;
            }
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copies_from_every_documented_path_are_dropped_and_counted_and_kills_change_nothing() {
    let prefix = unique_prefix("dedup");
    let gateway = || {
        let mut cfg = test_config(&kafka(), &prefix);
        cfg.rate_limits.ip_requests_per_second = 0;
        cfg.delivery.heartbeat_secs = 1;
        cfg.idempotency.window_secs = 1;
        start_gateway(cfg)
    };
    let (a, b) = (gateway().await, gateway().await);
    let (http_a, http_b) = (
        HttpClient::new(a.local_addr()),
        HttpClient::new(b.local_addr()),
    );
    for n in 0..N / BATCH {
        send(&http_a, n).await;
    }
    // Retried through the other replica after the first answered.
    for n in 0..5 {
        send(&http_b, n).await;
    }
    // Retried after the idempotency window.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for n in 5..8 {
        send(&http_a, n).await;
    }
    let resent = 8 * BATCH;
    let topic = format!("{prefix}order_completed");
    tokio::task::spawn_blocking(move || produce_again(&topic, REPRODUCED))
        .await
        .unwrap();

    // SIGKILLed three times while it reads, then run to the end.
    let lake = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let config = write_pipeline_config(
        work.path(),
        &prefix,
        &["order_completed"],
        lake.path(),
        "max_records = 150\nidle_gap_secs = 2",
    );
    rebalance_fast(&config);
    for _ in 0..3 {
        let mut p = PipelineProcess::start(&config);
        let wait = 1500 + (uuid::Uuid::new_v4().as_u128() % 1500) as u64;
        tokio::time::sleep(Duration::from_millis(wait)).await;
        p.child.kill().unwrap();
        p.child.wait().unwrap();
    }
    let before = read_lake(lake.path());
    assert!(
        before["rows"].as_u64() > Some(0),
        "nothing was written before the kills: {before}"
    );
    let (c, l) = (config.clone(), lake.path().to_owned());
    let last_run = tokio::task::spawn_blocking(move || run_to_the_end(&c, &l))
        .await
        .unwrap();
    // The run after the kills took up partitions whose segments were
    // committed, and decided with their hashes.
    let reloaded = metric_value(&last_run, "tributary_pipeline_dedup_hashes_loaded_total");
    assert!(reloaded > 0, "{last_run}");
    let s = read_lake(lake.path());

    // A fresh group and lake over the same records counts every copy once.
    let fresh_lake = tempfile::tempdir().unwrap();
    let fresh = tempfile::tempdir().unwrap();
    let fresh_config = write_pipeline_config(
        fresh.path(),
        &format!("{prefix}fresh-"),
        &[],
        fresh_lake.path(),
        "max_records = 150\nidle_gap_secs = 2",
    );
    let text = std::fs::read_to_string(&fresh_config).unwrap().replace(
        "topics = []",
        &format!("topics = [\"{prefix}order_completed\"]"),
    );
    std::fs::write(&fresh_config, text).unwrap();
    let (c, l) = (fresh_config.clone(), fresh_lake.path().to_owned());
    let metrics = tokio::task::spawn_blocking(move || run_to_the_end(&c, &l))
        .await
        .unwrap();
    let f = read_lake(fresh_lake.path());
    let (replayed, resent_dropped) = (dropped(&metrics, "replayed"), dropped(&metrics, "resent"));
    report(format_args!(
        "dedup: {N} events + {resent} resent + {REPRODUCED} produced again; {} rows by the 3rd kill, {reloaded} hashes reloaded after it; pyarrow read {} rows, {} distinct; a fresh pipeline: {} rows, dropped {replayed} replayed and {resent_dropped} resent",
        before["rows"], s["rows"], s["distinct_message_ids"], f["rows"]
    ));
    assert_eq!(s["rows"], N, "{s}");
    assert_eq!(s["distinct_message_ids"], N, "{s}");
    assert_eq!(f["rows"], N, "{f}");
    assert_eq!(f["distinct_message_ids"], N, "{f}");
    assert_eq!(replayed, REPRODUCED as u64, "{metrics}");
    assert_eq!(resent_dropped, resent as u64, "{metrics}");
    a.shutdown().await.unwrap();
    b.shutdown().await.unwrap();
}
