//! Erasure against the real Kafka: events of three users in two event
//! tables; `tributary-pipeline erase --app testapp --user-id u2`, run while
//! the pipeline is still writing a second wave of events, removes u2's
//! rows and nobody else's, read back by PyIceberg; and a pipeline that
//! reads every offset again — a fresh consumer group with a fresh catalog
//! over the same store, as when tables are rebuilt from Kafka — does not
//! bring them back (counted as erased rows).

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use serde_json::{Value, json};
use std::path::Path;
use std::process::Command;
use std::time::Duration;
use tributary_tests::*;

const EVENTS: usize = 900;

/// Sends `EVENTS` events of wave `wave`, users u1, u2, u3 in turn, half
/// Order Completed, half Checkout Started; returns how many were u2's.
async fn send(http: &HttpClient, wave: usize) -> usize {
    for n in wave * EVENTS / 100..(wave + 1) * EVENTS / 100 {
        let batch: Vec<Value> = (n * 100..(n + 1) * 100)
            .map(|i| {
                let user = format!("u{}", 1 + i % 3);
                if i % 2 == 0 {
                    json!({"type": "track", "event": "Order Completed", "messageId": format!("e-{i}"),
                        "userId": user, "properties": {"orderId": format!("o-{i}"), "total": i}})
                } else {
                    json!({"type": "track", "event": "Checkout Started", "messageId": format!("e-{i}"),
                        "userId": user, "properties": {"cartId": format!("c-{i}"), "value": 1.5}})
                }
            })
            .collect();
        let r = http.post_events(KEY_BROKER, &batch, true).await;
        assert_eq!(r.json["accepted"], 100, "{}", r.json);
    }
    (0..EVENTS).filter(|i| i % 3 == 1).count()
}

/// A gateway validating the example schemas, heartbeats on (the last
/// segments close by them): its topic prefix, schema folder and client.
async fn gateway(
    name: &str,
) -> (
    String,
    tempfile::TempDir,
    tributary_gateway::Gateway,
    HttpClient,
) {
    let prefix = unique_prefix(name);
    let schemas = app_schema_dir();
    let mut cfg = schema_test_config(&prefix, schemas.path());
    cfg.delivery.heartbeat_secs = 1;
    let gw = start_gateway(cfg).await;
    let http = HttpClient::new(gw.local_addr());
    (prefix, schemas, gw, http)
}

/// Waits until the lake holds `want` rows and the pipeline has read all 6
/// partitions; its metrics page.
fn wait_for(p: &PipelineProcess, want: u64, rows: impl Fn() -> u64) -> String {
    wait_caught_up(p, 6, Duration::from_secs(120), || rows() >= want)
}

/// `tributary-pipeline erase` on `config`: its JSON lines.
fn erase(config: &Path, env: &[(&'static str, String)], user: &str) -> Vec<Value> {
    let out = stdout_of(
        Command::new(workspace_binary("tributary-pipeline"))
            .arg("--config")
            .arg(config)
            .args(["erase", "--app", APP, "--user-id", user])
            .envs(env.iter().map(|(k, v)| (*k, v.as_str()))),
        "tributary-pipeline erase",
    );
    String::from_utf8_lossy(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Rows per user id over every table, read with PyIceberg.
fn users(lake: &IcebergLake) -> std::collections::BTreeMap<String, u64> {
    let users = json_of(
        Command::new(python()).arg("-c").arg(format!(
            "import json; from pyiceberg.catalog.sql import SqlCatalog\n\
             c = SqlCatalog('tributary', uri='sqlite:///{}', warehouse='{}/iceberg')\n\
             counts = {{}}\n\
             for t in c.list_tables('tributary'):\n\
             \x20   for u in c.load_table(t).scan(selected_fields=('user_id',)).to_arrow().column('user_id').to_pylist():\n\
             \x20       counts[u] = counts.get(u, 0) + 1\n\
             print(json.dumps(counts))",
            lake.catalog.display(),
            lake.store_url
        )),
        "pyiceberg rows per user",
    );
    serde_json::from_value(users).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erase_removes_a_users_rows_from_iceberg_tables_and_a_replay_does_not_restore_them() {
    let (prefix, schemas, gw, http) = gateway("erase").await;
    let u2 = send(&http, 0).await as u64;
    let lake = IcebergLake::local();
    let work = tempfile::tempdir().unwrap();
    let sections = format!("{}[schemas]\ndir = {:?}\n", lake.sections(), schemas.path());
    let topics = ["order_completed", "checkout_started"];
    let offload = "max_records = 100\nidle_gap_secs = 2";
    let config = write_pipeline_config_with(work.path(), &prefix, &topics, &sections, offload);
    let env = lake.env.clone();
    let rows = || lake.read()["rows"].as_u64().unwrap_or(0);
    let pipeline = PipelineProcess::start_with(&config, &env);
    wait_for(&pipeline, EVENTS as u64, rows);
    let before = users(&lake);
    assert_eq!(before.get("u2"), Some(&u2), "{before:?}");

    // A second wave, and the erase while the pipeline is writing it.
    let u2 = u2 + send(&http, 1).await as u64;
    let touched = erase(&config, &env, "u2");
    let live = wait_for(&pipeline, 2 * EVENTS as u64 - u2, rows);
    drop(pipeline);
    // What the pipeline had not committed when the tables were marked, it
    // filtered itself.
    let filtered = metric_value(&live, "tributary_pipeline_erased_rows_total");
    let removed: u64 = touched
        .iter()
        .map(|t| t["rows_removed"].as_u64().unwrap())
        .sum();
    let after = users(&lake);
    let s = lake.read();
    report(format_args!(
        "erase (Iceberg): {removed} rows of u2 removed from {} tables ({} files rewritten) and {filtered} left out by the pipeline writing the second wave meanwhile; rows per user after the first wave {before:?}, at the end {after:?}",
        touched.len(),
        touched
            .iter()
            .map(|t| t["files_rewritten"].as_u64().unwrap())
            .sum::<u64>()
    ));
    assert_eq!(after.get("u2"), None, "{after:?}");
    assert_eq!(removed + filtered, u2);
    assert_eq!(after.get("u1").copied(), before.get("u1").map(|n| 2 * n));
    assert_eq!(after.get("u3").copied(), before.get("u3").map(|n| 2 * n));
    assert_eq!(s["rows"].as_u64(), Some(2 * EVENTS as u64 - u2));
    assert_eq!(
        s["distinct_message_ids"].as_u64(),
        Some(2 * EVENTS as u64 - u2)
    );

    // Every offset read again into fresh tables of the same store: u2's
    // rows stay out.
    let replayed = lake.with_fresh_catalog();
    let rebuild = tempfile::tempdir().unwrap();
    let fresh = write_pipeline_config_with(
        rebuild.path(),
        &format!("{prefix}rebuild-"),
        &[],
        &format!(
            "{}[schemas]\ndir = {:?}\n",
            replayed.sections(),
            schemas.path()
        ),
        offload,
    );
    let text = std::fs::read_to_string(&fresh).unwrap().replace(
        "topics = []",
        &format!("topics = [\"{prefix}order_completed\", \"{prefix}checkout_started\"]"),
    );
    std::fs::write(&fresh, text).unwrap();
    let p = PipelineProcess::start_with(&fresh, &env);
    let metrics = wait_for(&p, 2 * EVENTS as u64 - u2, || {
        replayed.read()["rows"].as_u64().unwrap_or(0)
    });
    let again = users(&replayed);
    let erased = metric_value(&metrics, "tributary_pipeline_erased_rows_total");
    report(format_args!(
        "erase (Iceberg): every offset read again into fresh tables: rows per user {again:?}, {erased} rows left out as erased"
    ));
    assert_eq!(again.get("u2"), None, "{again:?}");
    assert_eq!(again.get("u1"), after.get("u1"));
    assert_eq!(erased, u2);
    gw.shutdown().await.unwrap();
}

/// The same in a plain Parquet lake: erase waits `[erasure] grace_secs`,
/// then rewrites the files that hold u2's rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erase_rewrites_a_plain_lakes_files_without_the_users_rows() {
    let (prefix, schemas, gw, http) = gateway("erase-plain").await;
    let u2 = send(&http, 0).await as u64;
    let lake = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let sections = format!(
        "[store]\nurl = \"file://{}\"\n[erasure]\nrefresh_secs = 1\ngrace_secs = 2\n[schemas]\ndir = {:?}\n",
        lake.path().display(),
        schemas.path()
    );
    let config = write_pipeline_config_with(
        work.path(),
        &prefix,
        &["order_completed", "checkout_started"],
        &sections,
        "max_records = 100\nidle_gap_secs = 2",
    );
    let p = PipelineProcess::start(&config);
    wait_for(&p, EVENTS as u64, || {
        read_lake(lake.path())["rows"].as_u64().unwrap_or(0)
    });
    drop(p);
    let touched = erase(&config, &[], "u2");
    let removed: u64 = touched
        .iter()
        .map(|t| t["rows_removed"].as_u64().unwrap())
        .sum();
    let s = read_lake(lake.path());
    let count = |user: &str| {
        let out = stdout_of(
            Command::new(python()).arg("-c").arg(format!(
                "import pyarrow.dataset as d; t = d.dataset('{}', format='parquet', exclude_invalid_files=True).to_table(columns=['user_id']); print(t.column('user_id').to_pylist().count('{user}'))",
                lake.path().display()
            )),
            "pyarrow rows of a user",
        );
        String::from_utf8_lossy(&out).trim().parse::<u64>().unwrap()
    };
    report(format_args!(
        "erase (plain Parquet): {removed} rows of u2 removed ({} files rewritten); pyarrow reads {} rows, u2 {}, u1 {}",
        touched
            .iter()
            .map(|t| t["files_rewritten"].as_u64().unwrap())
            .sum::<u64>(),
        s["rows"],
        count("u2"),
        count("u1")
    ));
    assert_eq!(removed, u2);
    assert_eq!((count("u2"), count("u1"), count("u3")), (0, 300, 300));
    assert_eq!(s["rows"].as_u64(), Some(EVENTS as u64 - u2));
    gw.shutdown().await.unwrap();
}
