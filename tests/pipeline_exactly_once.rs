//! The pipeline's exactly-once promise against the real Kafka: N events go
//! through the gateway (schema-encoded, JSON Schema and protobuf), the
//! pipeline offloads them to Parquet on the local store and is killed with
//! SIGKILL at random points several times, restarted each time; finally
//! pyarrow reads the lake and finds exactly N rows with N distinct
//! messageIds and typed columns. The same with two instances in one group,
//! one of them killed while the other keeps running.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use serde_json::{Value, json};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use tributary_tests::*;

const N: usize = 12_000;

/// Total lag over the pipeline's partitions, and how many it reports.
fn lag(metrics_url: &str) -> Option<(i64, usize)> {
    let body = http_get(metrics_url)?;
    let mut total = 0;
    let mut partitions = 0;
    for l in body
        .lines()
        .filter(|l| l.starts_with("tributary_pipeline_lag_records{"))
    {
        total += l.rsplit(' ').next()?.parse::<i64>().ok()?;
        partitions += 1;
    }
    Some((total, partitions))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_pipeline_writes_every_event_exactly_once() {
    let prefix = unique_prefix("lake");
    let schemas = app_schema_dir();
    let cfg = schema_test_config(&prefix, schemas.path());
    let gw = start_gateway(cfg).await;
    let http = HttpClient::new(gw.local_addr());

    // N events, half JSON-Schema-typed, half protobuf-typed.
    let mut sent = 0;
    while sent < N {
        let batch: Vec<Value> = (sent..sent + 200)
            .map(|i| {
                if i % 2 == 0 {
                    json!({"type": "track", "event": "Order Completed", "messageId": format!("e-{i}"),
                        "anonymousId": format!("d-{}", i % 97),
                        "properties": {"orderId": format!("o-{i}"), "total": i as f64 + 0.25, "currency": "EUR"}})
                } else {
                    json!({"type": "track", "event": "Checkout Started", "messageId": format!("e-{i}"),
                        "anonymousId": format!("d-{}", i % 97),
                        "properties": {"cartId": format!("c-{i}"), "value": 3.5, "itemCount": i,
                            "items": [{"sku": "s", "quantity": 1, "price": 1.0}]}})
                }
            })
            .collect();
        let r = http.post_events(KEY_BROKER, &batch, true).await;
        assert_eq!(r.json["accepted"], 200, "{}", r.json);
        sent += 200;
    }

    let lake = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let config = work.path().join("pipeline.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[kafka]
brokers = "{brokers}"
group_id = "{prefix}pipeline"
topics = ["{prefix}order_completed", "{prefix}checkout_started"]
dead_letter_topic = "{prefix}dead_letter"
statistics_interval_ms = 300
[kafka.consumer]
# A killed member's partitions move after 6 s instead of 45 s.
"session.timeout.ms" = "6000"
"heartbeat.interval.ms" = "1000"
[store]
url = "file://{lake}"
[offload]
max_records = 250
[schemas]
dir = "{schemas}"
[server]
listen = "127.0.0.1:0"
"#,
            brokers = kafka(),
            lake = lake.path().display(),
            schemas = schemas.path().display(),
        ),
    )
    .unwrap();

    // Kill -9 at random points, restart each time.
    let mut kills = 0;
    for _ in 0..4 {
        let mut p = PipelineProcess::start(&config);
        let wait = 700 + (uuid::Uuid::new_v4().as_u128() % 1500) as u64;
        std::thread::sleep(Duration::from_millis(wait));
        p.child.kill().unwrap(); // SIGKILL
        p.child.wait().unwrap();
        kills += 1;
    }
    let files_after_kills = snapshot(lake.path()).len();
    assert!(
        files_after_kills > 0,
        "the pipeline wrote nothing before the kills"
    );

    // The last run goes until everything is read, then stops cleanly.
    let mut p = PipelineProcess::start(&config);
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        assert!(Instant::now() < deadline, "pipeline did not catch up");
        if let Some((0, parts)) = lag(&p.metrics)
            && parts == 6
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    let pid = p.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = p.child.wait().unwrap();
    assert!(status.success(), "graceful stop: {status}");

    // A reader no one here wrote.
    let s = read_lake(lake.path());
    report(format_args!(
        "pipeline: after {kills} kills ({files_after_kills} files by then) pyarrow read {} rows, {} distinct message ids, {} files, {} error rows, {} dead-letter rows",
        s["rows"], s["distinct_message_ids"], s["files"], s["error_rows"], s["dead_letter_rows"]
    ));
    assert_eq!(s["rows"], N, "{s}");
    assert_eq!(s["distinct_message_ids"], N, "{s}");
    assert_eq!(s["error_rows"], 0, "{s}");
    let oc = &s["events"]["order_completed"];
    assert_eq!(oc["rows"], N / 2);
    assert_eq!(oc["types"]["p_total"], "double");
    assert_eq!(oc["types"]["p_orderId"], "string");
    assert_eq!(oc["types"]["event_time"], "timestamp[us, tz=+00:00]");
    assert_eq!(oc["types"]["kafka_offset"], "int64");
    let cs = &s["events"]["checkout_started"];
    assert_eq!(cs["rows"], N / 2);
    assert_eq!(cs["types"]["p_item_count"], "int64");
    assert_eq!(cs["types"]["p_cart_id"], "string");
    assert_eq!(cs["types"]["p_value"], "double");
    // A repeated message is a list of structs, not JSON text.
    assert_eq!(
        cs["types"]["p_items"],
        "list<element: struct<sku: string, quantity: int64, price: double>>"
    );
    assert_eq!(
        cs["sample"]["p_items"],
        serde_json::json!([{"sku": "s", "quantity": 1, "price": 1.0}])
    );
    assert_eq!(cs["sample"]["app_id"], APP);
    gw.shutdown().await.unwrap();
}

/// Two pipeline instances in one consumer group while events arrive; one
/// is killed with SIGKILL three times and restarted each time, so its
/// partitions move to the other and back mid-segment. The lake still holds
/// each event once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_pipelines_in_one_group_one_killed_three_times_write_every_event_once() {
    let lake = tempfile::tempdir().unwrap();
    let sections = format!("[store]\nurl = \"file://{}\"\n", lake.path().display());
    let s = group_with_one_killed("plain Parquet", &sections, &[], || read_lake(lake.path())).await;
    assert_eq!(s["error_rows"], 0, "{s}");
}

/// The same with Iceberg tables: the two instances commit to the same
/// tables at once, and the one killed leaves segments half committed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_pipelines_in_one_group_commit_to_the_same_iceberg_tables_each_event_once() {
    let lake = IcebergLake::local();
    let s = group_with_one_killed("Iceberg", &lake.sections(), &lake.env, || lake.read()).await;
    assert_eq!(s["tables"].as_object().map(|t| t.len()), Some(2), "{s}");
}

/// Runs the group scenario against the lake of `sections` (`env` for its
/// store); returns what `read` reads from it at the end.
async fn group_with_one_killed(
    name: &str,
    sections: &str,
    env: &[(&'static str, String)],
    read: impl Fn() -> Value,
) -> Value {
    const EVENTS: usize = 8_000;
    let prefix = unique_prefix("group");
    let mut cfg = test_config(&kafka(), &prefix);
    // Quiet partitions close on the gateway's heartbeats once sending stops.
    cfg.delivery.heartbeat_secs = 1;
    let gw = start_gateway(cfg).await;
    let http = HttpClient::new(gw.local_addr());
    let work = tempfile::tempdir().unwrap();
    let config = write_pipeline_config_with(
        work.path(),
        &prefix,
        &["order_completed", "product_viewed"],
        sections,
        "max_records = 200\nidle_gap_secs = 2",
    );
    rebalance_fast(&config);

    let steady = PipelineProcess::start_with(&config, env);
    let mut killed = PipelineProcess::start_with(&config, env);
    // Events keep arriving (about 700/s) while the second one is killed.
    let sender = tokio::spawn(async move {
        for n in 0..EVENTS / 100 {
            let batch: Vec<Value> = (0..100)
                .map(|i| {
                    let id = n * 100 + i;
                    let name = if id % 2 == 0 {
                        "Order Completed"
                    } else {
                        "Product Viewed"
                    };
                    json!({"type": "track", "event": name, "messageId": format!("g-{id}"),
                        "anonymousId": format!("d-{}", id % 61), "properties": {"total": id}})
                })
                .collect();
            let r = http.post_events(KEY_BROKER, &batch, true).await;
            assert_eq!(r.json["accepted"], 100, "{}", r.json);
            tokio::time::sleep(Duration::from_millis(140)).await;
        }
    });
    for _ in 0..3 {
        let wait = 2500 + (uuid::Uuid::new_v4().as_u128() % 1500) as u64;
        tokio::time::sleep(Duration::from_millis(wait)).await;
        killed.child.kill().unwrap(); // SIGKILL
        killed.child.wait().unwrap();
        killed = PipelineProcess::start_with(&config, env);
    }
    sender.await.unwrap();

    // Both run until every partition is read and its segments committed.
    let deadline = Instant::now() + Duration::from_secs(180);
    let s = loop {
        let s = read();
        let caught_up = [&steady, &killed]
            .iter()
            .filter_map(|p| lag(&p.metrics))
            .fold((0, 0), |(l, n), (lag, parts)| (l + lag, n + parts));
        if s["distinct_message_ids"].as_u64() >= Some(EVENTS as u64) && caught_up == (0, 6) {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "the group did not catch up: {caught_up:?}, {s}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let metrics: String = [&steady, &killed]
        .iter()
        .filter_map(|p| p.metrics_text())
        .collect();
    report(format_args!(
        "pipeline group ({name}): 2 instances, one SIGKILLed 3 times while {EVENTS} events arrived: read back {} rows, {} distinct message ids, {} files; {} table commits raced and were checked again",
        s["rows"],
        s["distinct_message_ids"],
        s["files"]
            .as_array()
            .map_or_else(|| s["files"].clone(), |f| f.len().into()),
        metric_value(&metrics, "tributary_pipeline_table_commit_conflicts_total")
    ));
    assert_eq!(s["rows"], EVENTS, "{s}");
    assert_eq!(s["distinct_message_ids"], EVENTS, "{s}");
    drop((steady, killed));
    gw.shutdown().await.unwrap();
    s
}

/// A quiet partition's file closes without a shutdown: the gateway's
/// heartbeat records advance record time past `idle_gap_secs`, and the
/// pipeline writes and commits the segment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_heartbeats_close_quiet_partitions() {
    let prefix = unique_prefix("heartbeat");
    let mut cfg = test_config(&kafka(), &prefix);
    cfg.delivery.heartbeat_secs = 1;
    let gw = start_gateway(cfg).await;
    let http = HttpClient::new(gw.local_addr());
    let batch: Vec<Value> = (0..10)
        .map(|i| {
            json!({"type": "track", "event": "Order Completed", "messageId": format!("hb-{i}"),
                "anonymousId": format!("d-{i}"), "properties": {"total": i}})
        })
        .collect();
    let r = http.post_events(KEY_BROKER, &batch, false).await;
    assert_eq!(r.json["accepted"], 10, "{}", r.json);

    let lake = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let config = write_pipeline_config(
        work.path(),
        &prefix,
        &["order_completed"],
        lake.path(),
        "idle_gap_secs = 2",
    );
    let mut p = PipelineProcess::start(&config);
    let deadline = Instant::now() + Duration::from_secs(60);
    let rows = loop {
        let s = read_lake(lake.path());
        if s["rows"] == 10 || Instant::now() > deadline {
            break s;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    assert_eq!(
        rows["rows"], 10,
        "the quiet partitions' files were not closed: {rows}"
    );
    assert_eq!(rows["distinct_message_ids"], 10);
    terminate_gracefully(&mut p.child);

    // Backfill: replaying the topic into another lake writes the events
    // again there; replaying the same range twice writes the same objects.
    let replay_lake = tempfile::tempdir().unwrap();
    let replay_config = work.path().join("replay.toml");
    std::fs::write(
        &replay_config,
        std::fs::read_to_string(&config).unwrap().replace(
            &lake.path().display().to_string(),
            &replay_lake.path().display().to_string(),
        ),
    )
    .unwrap();
    let topic = format!("{prefix}order_completed");
    let replay = || {
        let out = Command::new(workspace_binary("tributary-pipeline"))
            .arg("--config")
            .arg(&replay_config)
            .args(["replay", "--topic", &topic, "--from-offset", "0"])
            .env("RUST_LOG", "warn")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "replay: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        snapshot(replay_lake.path())
    };
    let first = replay();
    let r = read_lake(replay_lake.path());
    assert_eq!(
        (r["rows"].as_u64(), r["distinct_message_ids"].as_u64()),
        (Some(10), Some(10)),
        "{r}"
    );
    assert_eq!(
        replay(),
        first,
        "a second replay of the range rewrote different objects"
    );
    gw.shutdown().await.unwrap();
}

/// Every Parquet object under `dir`, by relative path, with its bytes.
fn snapshot(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "parquet") {
                let rel = p.strip_prefix(dir).unwrap().display().to_string();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

/// An Iceberg lake through a crash at each step of a table commit (the
/// pipeline's own fault injection, `TRIBUTARY_FAILPOINTS`, aborts the
/// process there as `kill -9` would): after the data files are written but
/// before the snapshot; after the snapshot but before the Kafka offset
/// commit; and a snapshot whose answer is lost, so the commit is retried.
/// Each event is in the table once, no data file is referenced twice, and
/// no file written is left outside the table.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_iceberg_commit_crashed_at_each_step_leaves_each_event_once_and_no_file_twice() {
    const EVENTS: usize = 2_000;
    let prefix = unique_prefix("crash");
    let schemas = app_schema_dir();
    let mut cfg = schema_test_config(&prefix, schemas.path());
    // The last segments close on heartbeats.
    cfg.delivery.heartbeat_secs = 1;
    let gw = start_gateway(cfg).await;
    let http = HttpClient::new(gw.local_addr());
    for n in 0..EVENTS / 100 {
        let batch: Vec<Value> = (n * 100..(n + 1) * 100)
            .map(|i| {
                json!({"type": "track", "event": "Order Completed", "messageId": format!("c-{i}"),
                    "anonymousId": format!("d-{}", i % 31),
                    "properties": {"orderId": format!("o-{i}"), "total": i, "items": [{"sku": "a", "quantity": 1}]}})
            })
            .collect();
        let r = http.post_events(KEY_BROKER, &batch, true).await;
        assert_eq!(r.json["accepted"], 100, "{}", r.json);
    }
    let lake = IcebergLake::local();
    let work = tempfile::tempdir().unwrap();
    let config = write_pipeline_config_with(
        work.path(),
        &prefix,
        &["order_completed"],
        &format!("{}[schemas]\ndir = {:?}\n", lake.sections(), schemas.path()),
        "max_records = 100\nidle_gap_secs = 2",
    );
    rebalance_fast(&config);
    let with = |failpoints: &str| {
        let mut env = lake.env.clone();
        env.push(("TRIBUTARY_FAILPOINTS", failpoints.to_owned()));
        env
    };
    for step in ["after-table-files=3", "after-table-commit=3"] {
        let mut p = PipelineProcess::start_with(&config, &with(step));
        let status = p.child.wait().unwrap();
        assert!(!status.success(), "{step}: the pipeline aborted ({status})");
    }
    let crashed = lake.read();
    // The last run: the 2nd snapshot's answer is lost and the commit retried.
    let p = PipelineProcess::start_with(&config, &with("commit-answer-lost=2"));
    let deadline = Instant::now() + Duration::from_secs(120);
    let s = loop {
        let s = lake.read();
        if s["distinct_message_ids"].as_u64() >= Some(EVENTS as u64)
            && lag(&p.metrics).is_some_and(|(l, n)| l == 0 && n == 3)
        {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "the pipeline did not catch up: {s}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let metrics = p.metrics_text().unwrap_or_default();
    let held = metrics
        .lines()
        .find_map(|l| {
            l.strip_prefix("tributary_pipeline_table_appends_total{outcome=\"already_held\"} ")
        })
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(0);
    // Every data file the store holds is one the table references, once.
    let referenced: Vec<String> = s["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap().to_owned())
        .collect();
    let unique: std::collections::BTreeSet<&String> = referenced.iter().collect();
    let data_dir = std::path::PathBuf::from(lake.store_url.trim_start_matches("file://"))
        .join("iceberg/tributary/order_completed/data");
    let on_disk: std::collections::BTreeSet<String> = snapshot(&data_dir)
        .into_keys()
        .map(|p| {
            format!(
                "{}/iceberg/tributary/order_completed/data/{p}",
                lake.store_url
            )
        })
        .collect();
    report(format_args!(
        "iceberg crash steps: {} rows after the two crashes; then {} rows, {} distinct, {} data files referenced ({} distinct, {} on disk), {held} segments found already held",
        crashed["rows"],
        s["rows"],
        s["distinct_message_ids"],
        referenced.len(),
        unique.len(),
        on_disk.len()
    ));
    assert_eq!(s["rows"], EVENTS, "{s}");
    assert_eq!(s["distinct_message_ids"], EVENTS, "{s}");
    assert_eq!(unique.len(), referenced.len(), "a file referenced twice");
    assert_eq!(
        on_disk,
        unique.into_iter().cloned().collect(),
        "files outside the table"
    );
    // The segment committed before the second crash, and the commit
    // whose answer was lost, were both found in the table.
    assert!(held >= 2, "{metrics}");
    drop(p);
    gw.shutdown().await.unwrap();
}
