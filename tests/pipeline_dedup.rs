//! Each event once in the lake, against the real Kafka: N events, then
//! copies of some of them made the ways the contract says copies are made —
//! a batch retried to a second gateway replica after the first answered, a
//! batch retried after the idempotency window, and records produced again
//! byte for byte (what a spool segment replayed twice or a buffered-mode
//! retry after a lost delivery report leaves in the topic). The pipeline,
//! killed with SIGKILL while it reads, writes N rows with N distinct ids;
//! a fresh pipeline over the same topics counts exactly the injected
//! copies, by reason.
//!
//! The same scenario runs against three lakes: plain Parquet (read with
//! pyarrow), Apache Iceberg tables on the local store and on MinIO's S3
//! (read with PyIceberg through the same SQLite catalog). The local Iceberg
//! tables are also loaded into DuckDB by the statements
//! `tributary-pipeline warehouse --dialect duckdb` prints, which must give
//! the same rows with typed columns.

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

/// Batch `n`: Order Completed events (schema v2: line items, a list of
/// structs in the lake).
fn batch(n: usize) -> Vec<Value> {
    (n * BATCH..(n + 1) * BATCH)
        .map(|i| {
            json!({"type": "track", "event": "Order Completed", "messageId": format!("d-{i}"),
                "anonymousId": format!("dev-{}", i % 37), "properties": {"orderId": format!("o-{i}"),
                "total": i, "items": [{"sku": format!("s-{}", i % 5), "quantity": 1 + i % 3}]}})
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

/// A lake the scenario writes: plain Parquet in a folder, or Iceberg
/// tables.
enum Lake {
    Plain(tempfile::TempDir),
    Iceberg(IcebergLake),
}

impl Lake {
    fn sections(&self) -> String {
        match self {
            Lake::Plain(d) => format!("[store]\nurl = \"file://{}\"\n", d.path().display()),
            Lake::Iceberg(l) => l.sections(),
        }
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        match self {
            Lake::Plain(_) => Vec::new(),
            Lake::Iceberg(l) => l.env.clone(),
        }
    }

    /// Rows and distinct message ids, by a reader no one here wrote.
    fn read(&self) -> Value {
        match self {
            Lake::Plain(d) => read_lake(d.path()),
            Lake::Iceberg(l) => l.read(),
        }
    }
}

/// Runs a pipeline on `config` until its lake holds `N` distinct events
/// and every record of the 3 partitions is read; returns its metrics page.
fn run_to_the_end(config: &Path, lake: &Lake) -> String {
    let p = PipelineProcess::start_with(config, &lake.env());
    wait_caught_up(&p, 3, Duration::from_secs(180), || {
        lake.read()["distinct_message_ids"].as_u64() >= Some(N as u64)
    })
}

/// What the scenario found: the lake after the kills, and the metrics of
/// a fresh pipeline over the same records.
struct Outcome {
    lake: Lake,
    config: std::path::PathBuf,
    work: tempfile::TempDir,
    _schemas: tempfile::TempDir,
}

/// The scenario against the lakes `new_lake` makes (one for the killed
/// pipeline, one for a fresh one); `name` labels the report.
async fn each_event_once(name: &str, new_lake: impl Fn() -> Lake) -> Outcome {
    let prefix = unique_prefix("dedup");
    let schemas = app_schema_dir();
    let gateway = || {
        let mut cfg = schema_test_config(&prefix, schemas.path());
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
    let lake = new_lake();
    let work = tempfile::tempdir().unwrap();
    let offload = "max_records = 150\nidle_gap_secs = 2";
    let schemas_section = format!("[schemas]\ndir = {:?}\n", schemas.path());
    let config = write_pipeline_config_with(
        work.path(),
        &prefix,
        &["order_completed"],
        &(lake.sections() + &schemas_section),
        offload,
    );
    rebalance_fast(&config);
    for _ in 0..3 {
        let mut p = PipelineProcess::start_with(&config, &lake.env());
        // Soon after it starts reading (it is ready in about half a second
        // and reads the whole topic in about two).
        let wait = 600 + (uuid::Uuid::new_v4().as_u128() % 900) as u64;
        tokio::time::sleep(Duration::from_millis(wait)).await;
        p.child.kill().unwrap();
        p.child.wait().unwrap();
    }
    let before = lake.read();
    assert!(
        before["rows"].as_u64() > Some(0),
        "nothing was written before the kills: {before}"
    );
    let (c, l) = (config.clone(), lake);
    let (last_run, lake) = tokio::task::spawn_blocking(move || (run_to_the_end(&c, &l), l))
        .await
        .unwrap();
    // The run after the kills took up partitions whose segments were
    // committed, and decided with their hashes.
    let reloaded = metric_value(&last_run, "tributary_pipeline_dedup_hashes_loaded_total");
    assert!(reloaded > 0, "{last_run}");
    let s = lake.read();

    // A fresh group and lake over the same records counts every copy once.
    let fresh_lake = new_lake();
    let fresh = tempfile::tempdir().unwrap();
    let fresh_config = write_pipeline_config_with(
        fresh.path(),
        &format!("{prefix}fresh-"),
        &[],
        &(fresh_lake.sections() + &schemas_section),
        offload,
    );
    let text = std::fs::read_to_string(&fresh_config).unwrap().replace(
        "topics = []",
        &format!("topics = [\"{prefix}order_completed\"]"),
    );
    std::fs::write(&fresh_config, text).unwrap();
    let (c, l) = (fresh_config.clone(), fresh_lake);
    let (metrics, fresh_lake) = tokio::task::spawn_blocking(move || (run_to_the_end(&c, &l), l))
        .await
        .unwrap();
    let f = fresh_lake.read();
    let (replayed, resent_dropped) = (dropped(&metrics, "replayed"), dropped(&metrics, "resent"));
    report(format_args!(
        "dedup ({name}): {N} events + {resent} resent + {REPRODUCED} produced again; {} rows by the 3rd kill, {reloaded} hashes reloaded after it; read back {} rows, {} distinct; a fresh pipeline: {} rows, dropped {replayed} replayed and {resent_dropped} resent",
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
    Outcome {
        lake,
        config,
        work,
        _schemas: schemas,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copies_from_every_documented_path_are_dropped_and_counted_and_kills_change_nothing() {
    let o = each_event_once("plain Parquet", || {
        Lake::Plain(tempfile::tempdir().unwrap())
    })
    .await;
    let s = o.lake.read();
    assert_eq!(
        s["events"]["order_completed"]["types"]["p_items"],
        "list<element: struct<quantity: int64, sku: string, _extra: string>>"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_iceberg_lake_holds_each_event_once_and_loads_into_duckdb_the_same() {
    let o = each_event_once("Iceberg, local store", || {
        Lake::Iceberg(IcebergLake::local())
    })
    .await;
    let s = o.lake.read();
    let t = &s["tables"]["order_completed"];
    assert_eq!(t["rows"], N, "{s}");
    assert_eq!(
        t["iceberg_types"]["p_items"].as_str().map(|t| t.replace(char::is_numeric, "")),
        Some("list<struct<: quantity: optional long, : sku: optional string, : _extra: optional string>>".into()),
        "{t}"
    );
    assert_eq!(t["iceberg_types"]["event_time"], "timestamptz");
    // Every partition's last offset is recorded in the table.
    assert_eq!(t["offsets"].as_object().map(|o| o.len()), Some(3), "{t}");

    // The generated DuckDB load of the same files.
    let sql = stdout_of(
        std::process::Command::new(workspace_binary("tributary-pipeline"))
            .args(["--config"])
            .arg(&o.config)
            .args(["warehouse", "--dialect", "duckdb"]),
        "tributary-pipeline warehouse",
    );
    let sql_file = o.work.path().join("load.sql");
    std::fs::write(&sql_file, &sql).unwrap();
    let loaded = duckdb_load(&sql_file);
    let d = &loaded["tributary.order_completed"];
    report(format_args!(
        "duckdb load of the Iceberg table's {} data files: {} rows, {} distinct message ids; p_items {}",
        s["files"].as_array().map_or(0, Vec::len),
        d["rows"],
        d["distinct_message_ids"],
        d["types"]["p_items"]
    ));
    assert_eq!(
        (d["rows"].as_u64(), d["distinct_message_ids"].as_u64()),
        (Some(N as u64), Some(N as u64)),
        "{loaded}"
    );
    for (column, ty) in [
        (
            "p_items",
            "STRUCT(quantity BIGINT, sku VARCHAR, _extra VARCHAR)[]",
        ),
        ("p_total", "DOUBLE"),
        ("event_time", "TIMESTAMP WITH TIME ZONE"),
        ("kafka_offset", "BIGINT"),
        ("schema_id", "INTEGER"),
    ] {
        assert_eq!(d["types"][column], ty, "{column}: {d}");
    }
    assert_eq!(
        d["sample_items_sku"].as_str().map(|s| s.starts_with("s-")),
        Some(true),
        "{d}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_iceberg_lake_on_s3_holds_each_event_once() {
    let minio = MinioServer::start();
    let buckets = std::sync::atomic::AtomicUsize::new(0);
    let o = each_event_once("Iceberg, MinIO S3", || {
        let n = buckets.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Lake::Iceberg(IcebergLake::on_s3(&minio, &format!("lake{n}")))
    })
    .await;
    let s = o.lake.read();
    let files = s["files"].as_array().cloned().unwrap_or_default();
    assert!(
        !files.is_empty()
            && files
                .iter()
                .all(|f| f.as_str().is_some_and(|f| f.starts_with("s3://lake0/"))),
        "{s}"
    );
}

/// The DuckDB load `sql` run by `tests/python/duckdb_load.py`: per table
/// its rows, distinct message ids and column types.
fn duckdb_load(sql: &Path) -> Value {
    json_of(
        python_script("duckdb_load.py").arg(sql),
        "duckdb_load.py (install with: pip3 install duckdb)",
    )
}
