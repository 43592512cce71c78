//! Privacy rules on every path an event takes, against the real Kafka
//! (which this test stops and starts with `scripts/kafka`, so it runs
//! alone in its own binary) and the real pipeline: events carrying an
//! e-mail address, a card number and the client's address are
//!
//! * accepted (to the event topic),
//! * rejected for good (to the dead-letter topic, the message quoting the
//!   value), and
//! * spooled to disk while Kafka is down, then replayed;
//!
//! and the raw values appear in no Kafka record (value or header), no
//! spool file, no line the gateway logged (at `debug`) and no Parquet
//! file the pipeline wrote, while the hashed e-mail is the same in every
//! event that carried it.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use tributary_tests::*;

const EMAIL: &str = "jane.doe@example.com";
const CARD: &str = "4111 1111 1111 1111";
const CLIENT_IP: &str = "198.51.100.77";
const SENT_IP: &str = "192.0.2.201";
const AD_ID: &str = "AD-7f3c-unique";
const KEY_LIMITED: &str = "test-key-limited";

fn order(id: &str, extra: Value) -> Value {
    let mut e = json!({
        "type": "track", "event": "Order Completed", "messageId": id, "anonymousId": "device-1",
        "properties": {"email": EMAIL, "note": format!("receipt to {EMAIL}, card {CARD}"), "total": 12.5},
        "context": {"ip": SENT_IP, "device": {"advertisingId": AD_ID, "model": "Pixel 8"},
                    "userAgent": "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36"}
    });
    if let (Some(o), Value::Object(more)) = (e.as_object_mut(), extra) {
        o.extend(more);
    }
    e
}

async fn send(http: &HttpClient, key: &str, events: Vec<Value>) -> Reply {
    let body = serde_json::to_vec(&json!({ "batch": events })).unwrap();
    let xff = format!("6.6.6.6, {CLIENT_IP}");
    http.post_with("/v1/batch", key, &body, true, &[("x-forwarded-for", &xff)])
        .await
}

/// Every raw value that must not be stored, and where it was found.
fn leaks(text: &str) -> Vec<&'static str> {
    let card_digits = CARD.replace(' ', "");
    [EMAIL, CARD, CLIENT_IP, SENT_IP, AD_ID]
        .into_iter()
        .filter(|raw| text.contains(raw))
        .chain(text.contains(&card_digits).then_some("card digits"))
        .collect()
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

async fn wait_ready(http: &HttpClient, want: &str, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    loop {
        let r = http.request_text("GET", "/readyz").await;
        if r.contains(want) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "/readyz never said {want:?} (last: {r:?})"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_personal_data_is_stored_nowhere_and_hashes_are_stable() {
    let bootstrap = kafka();
    let prefix = unique_prefix("privacy");
    let work = tempfile::tempdir().unwrap();
    let config = write_process_config(
        work.path(),
        &prefix,
        &format!(
            r#"
[[keys]]
key = "{KEY_LIMITED}"
app_id = "{APP}"
ack = "broker"
allowed_events = ["Order Completed"]
[privacy.apps.{APP}]
ip = "truncate"
hash_key = "privacy-test-key-0123456789"
patterns = {{ email = "hash", card = "mask" }}
rules = [
  {{ path = "properties.email", action = "hash" }},
  {{ path = "context.device.advertisingId", action = "drop" }},
]
"#
        ),
    );
    // The test client is the proxy in front of the gateway.
    let text = std::fs::read_to_string(&config).unwrap().replacen(
        "[server]\n",
        "[server]\ntrusted_proxies = [\"127.0.0.1\"]\n",
        1,
    );
    std::fs::write(&config, text).unwrap();
    let gw = GatewayProcess::start_with(&config, &[("RUST_LOG", "debug")]);
    let http = HttpClient::new(gw.addr);
    let spool = work.path().join("spool");

    // 1. Accepted, and 2. rejected for good (a key that may not send the
    // event, and a timestamp that is an e-mail address, quoted by the
    // rejection message).
    let r = send(
        &http,
        KEY_BROKER,
        vec![
            order("accepted-1", json!({})),
            order("accepted-2", json!({})),
        ],
    )
    .await;
    assert_eq!(
        (r.status, &r.json["accepted"]),
        (200, &json!(2)),
        "{}",
        r.json
    );
    let mut forbidden = order("rejected-1", json!({}));
    forbidden["event"] = json!("Something Else");
    let r = send(
        &http,
        KEY_LIMITED,
        vec![forbidden, order("rejected-2", json!({"timestamp": EMAIL}))],
    )
    .await;
    assert_eq!(
        r.json["rejected"].as_array().unwrap().len(),
        2,
        "{}",
        r.json
    );

    // 3. Spooled while Kafka is down.
    kafka_script("stop");
    wait_ready(&http, "spooling", Duration::from_secs(60)).await;
    let r = send(&http, KEY_BROKER, vec![order("spooled-1", json!({}))]).await;
    assert_eq!(
        (r.status, &r.json["accepted"]),
        (200, &json!(1)),
        "{}",
        r.json
    );
    let spool_files = files_under(&spool);
    let spooled: Vec<u8> = spool_files
        .iter()
        .flat_map(|f| std::fs::read(f).unwrap())
        .collect();
    assert!(
        String::from_utf8_lossy(&spooled).contains("spooled-1"),
        "the event is in the spool ({} files)",
        spool_files.len()
    );
    let in_spool = leaks(&String::from_utf8_lossy(&spooled));
    kafka_script("start");
    wait_ready(&http, "ready", Duration::from_secs(120)).await;

    let topic = format!("{prefix}order_completed");
    let dead = format!("{prefix}dead_letter");
    let records = consume(
        &bootstrap,
        &[topic.clone(), dead.clone()],
        5,
        Duration::from_secs(2),
        Duration::from_secs(90),
    );
    let ids: Vec<String> = records
        .iter()
        .map(|r| r.headers.get("tb-message-id").cloned().unwrap_or_default())
        .collect();
    for id in ["accepted-1", "accepted-2", "spooled-1"] {
        assert!(ids.contains(&id.to_owned()), "{id} not in Kafka: {ids:?}");
    }
    let dead_letters: Vec<&Received> = records.iter().filter(|r| r.topic == dead).collect();
    assert_eq!(dead_letters.len(), 2, "both rejections are dead-lettered");
    assert!(
        dead_letters
            .iter()
            .any(|d| d.headers["tb-dlq-message"].contains("[redacted]")),
        "the message that quoted the value is scrubbed: {:?}",
        dead_letters
            .iter()
            .map(|d| &d.headers["tb-dlq-message"])
            .collect::<Vec<_>>()
    );
    let mut in_kafka = Vec::new();
    for r in &records {
        let all = format!("{}{:?}", String::from_utf8_lossy(&r.raw), r.headers);
        in_kafka.extend(
            leaks(&all)
                .into_iter()
                .map(|l| format!("{l} in {}", r.topic)),
        );
    }

    // Hashes: the path rule and the detector give one value for one input.
    let events: Vec<&Received> = records.iter().filter(|r| r.topic == topic).collect();
    let hash = events[0].value["properties"]["email"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(hash.len(), 64, "HMAC-SHA256 hex: {hash}");
    for e in &events {
        assert_eq!(e.value["properties"]["email"], hash.as_str());
        let note = e.value["properties"]["note"].as_str().unwrap();
        assert!(
            note.contains(&hash),
            "the detector's hash is the path rule's: {note}"
        );
        assert!(
            note.contains("*******************"),
            "the card is masked: {note}"
        );
        assert_eq!(
            e.value["context"]["ip"], "198.51.100.0",
            "truncated, never the client's own"
        );
        assert!(e.value["context"]["device"].get("advertisingId").is_none());
        assert_eq!(e.value["context"]["device"]["model"], "Pixel 8");
    }

    // The pipeline writes what Kafka holds, to Parquet read by pyarrow.
    let lake = tempfile::tempdir().unwrap();
    let pipeline_config = work.path().join("pipeline.toml");
    std::fs::write(
        &pipeline_config,
        format!(
            "[kafka]\nbrokers = \"{bootstrap}\"\ngroup_id = \"{prefix}pipeline\"\ntopics = [\"{topic}\"]\ndead_letter_topic = \"{dead}\"\n[store]\nurl = \"file://{}\"\n[server]\nlisten = \"127.0.0.1:0\"\n",
            lake.path().display()
        ),
    )
    .unwrap();
    for t in [&topic, &dead] {
        let out = Command::new(workspace_binary("tributary-pipeline"))
            .arg("--config")
            .arg(&pipeline_config)
            .args(["replay", "--topic", t, "--from-offset", "0"])
            .env("RUST_LOG", "warn")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "replay {t}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let python = std::env::var_os("PYTHON").map_or_else(|| PathBuf::from("python3"), PathBuf::from);
    let dump = Command::new(python)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("python/dump_lake.py"))
        .arg(lake.path())
        .output()
        .unwrap();
    assert!(
        dump.status.success(),
        "dump_lake.py: {}",
        String::from_utf8_lossy(&dump.stderr)
    );
    let dump = String::from_utf8(dump.stdout).unwrap();
    let files: Vec<Value> = dump
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let event_files: Vec<&Value> = files
        .iter()
        .filter(|f| f["file"].as_str().unwrap().starts_with("event="))
        .collect();
    let rows: usize = event_files
        .iter()
        .map(|f| f["rows"].as_array().unwrap().len())
        .sum();
    assert_eq!(rows, 3, "three events in the lake");
    assert!(
        files
            .iter()
            .any(|f| f["file"].as_str().unwrap().starts_with("dead_letter")),
        "dead letters in the lake"
    );
    let types = &event_files[0]["types"];
    for (column, ty) in [
        ("ip", "string"),
        ("ua_browser", "string"),
        ("ua_os", "string"),
        ("geo_country", "string"),
        ("geo_asn", "int64"),
        ("is_bot", "bool"),
    ] {
        assert_eq!(types[column], ty, "column {column}: {types}");
    }
    let row = &event_files[0]["rows"][0];
    assert_eq!(
        (&row["ip"], &row["ua_browser"], &row["ua_os"]),
        (&json!("198.51.100.0"), &json!("Chrome"), &json!("Android"))
    );
    let in_lake = leaks(&dump);

    let logged = gw.output.lock().unwrap().join("\n");
    assert!(
        logged.lines().count() > 3,
        "the gateway logged at debug: {logged}"
    );
    let in_logs = leaks(&logged);
    report(format!(
        "privacy: {} records, {} spool files, {} log lines, {} Parquet files searched; hash {}…",
        records.len(),
        spool_files.len(),
        logged.lines().count(),
        files.len(),
        &hash[..12]
    ));
    assert_eq!(
        (in_kafka, in_spool, in_logs, in_lake),
        (vec![], vec![], vec![], vec![]),
        "raw values found (Kafka, spool, logs, lake)"
    );
}
