//! The web SDK (sdk-wasm's npm package, built browser entry) in headless
//! Chromium against the real gateway and the real Kafka: every event
//! arrives exactly once when the gateway is unreachable for a while and the
//! page reloads; when a page closes with events pending (beacons); and when
//! a tab closes with its queue unsent (another tab adopts it).
//!
//! `sdk-wasm/test/browser/e2e.js` drives the page; this side owns the
//! gateway process (it stops and starts it when the script asks, on a fixed
//! port so the page's endpoint stays valid) and reads Kafka. scripts/test
//! builds the package first (sdk-wasm/scripts/build).

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;
use tributary_contract::envelope::header;
use tributary_tests::*;

fn sdk_wasm() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../sdk-wasm")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// What a scenario ran: its topic prefix, its run id (in every event's
/// properties) and how many events the page tracked.
struct Run {
    prefix: String,
    run: String,
    sent: i64,
}

/// One browser at a time: the scenarios wait on timers, and three
/// Chromiums on a 2-core machine make them slow for no gain.
static ONE_BROWSER: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Runs one browser scenario.
fn run_scenario(scenario: &str, gateway_up_at_start: bool) -> Run {
    let _one = ONE_BROWSER.lock().unwrap_or_else(|p| p.into_inner());
    let root = sdk_wasm();
    assert!(
        root.join("dist/tributary.js").exists()
            && root.join("node_modules/playwright-core").exists(),
        "build the web SDK first: sdk-wasm/scripts/build (scripts/test does)"
    );
    let prefix = unique_prefix("web");
    let run = uuid::Uuid::new_v4().simple().to_string();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = write_process_config_at(
        dir.path(),
        &prefix,
        &format!("127.0.0.1:{port}"),
        "[rate_limits]\nip_requests_per_second = 0",
    );
    let mut gateway = gateway_up_at_start.then(|| GatewayProcess::start(&config));
    let mut node = Command::new("node")
        .arg(root.join("test/browser/e2e.js"))
        .args([
            scenario,
            &format!("http://127.0.0.1:{port}"),
            KEY_BROKER,
            &run,
        ])
        .current_dir(&root)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("node runs (scripts/test installs it)");
    let mut to_node = node.stdin.take().unwrap();
    let from_node = BufReader::new(node.stdout.take().unwrap());
    let mut sent = None;
    for line in from_node.lines() {
        let line = line.unwrap();
        println!("{scenario}: {line}");
        match line.as_str() {
            "@gateway up" => {
                gateway = Some(GatewayProcess::start(&config));
                writeln!(to_node, "ok").unwrap();
            }
            "@gateway down" => {
                drop(gateway.take());
                writeln!(to_node, "ok").unwrap();
            }
            l if l.starts_with("@done ") => {
                let v: serde_json::Value = serde_json::from_str(&l[6..]).unwrap();
                sent = v["sent"].as_i64();
            }
            l if l.starts_with("@failed ") => panic!("{scenario} failed in the browser: {l}"),
            _ => {}
        }
    }
    let status = node.wait().unwrap();
    assert!(
        status.success(),
        "{scenario}: the browser script exited with {status}"
    );
    drop(gateway);
    Run {
        prefix,
        run,
        sent: sent.expect("the script reported what it sent"),
    }
}

/// Reads the run's `Order Completed` events from Kafka and asserts each
/// `properties.n` in `0..sent` arrived exactly once.
fn assert_exactly_once(scenario: &str, r: &Run) {
    let (prefix, run, sent) = (&r.prefix, &r.run, r.sent);
    let got = consume(
        &kafka(),
        &[format!("{prefix}order_completed")],
        sent as usize,
        Duration::from_secs(3),
        Duration::from_secs(90),
    );
    let mut arrived: BTreeMap<i64, usize> = BTreeMap::new();
    let mut ids = BTreeMap::new();
    for r in got
        .iter()
        .filter(|r| r.value["properties"]["run"] == run.as_str())
    {
        *arrived
            .entry(r.value["properties"]["n"].as_i64().unwrap())
            .or_default() += 1;
        *ids.entry(r.headers[header::MESSAGE_ID].clone())
            .or_insert(0usize) += 1;
        assert_eq!(r.value["context"]["library"]["name"], "tributary-web");
        assert!(
            r.value["context"]["userAgent"]
                .as_str()
                .is_some_and(|ua| ua.contains("Chrome")),
            "the page's context travels with the event"
        );
    }
    let missing: Vec<i64> = (0..sent).filter(|n| !arrived.contains_key(n)).collect();
    let duplicated: Vec<_> = arrived.iter().filter(|(_, c)| **c > 1).collect();
    report(format_args!(
        "web sdk {scenario}: sent {sent}, arrived {} distinct, {} duplicated, {} missing",
        arrived.len(),
        duplicated.len(),
        missing.len()
    ));
    assert!(missing.is_empty(), "{scenario}: missing {missing:?}");
    assert!(
        duplicated.is_empty(),
        "{scenario}: duplicated {duplicated:?}"
    );
    assert_eq!(ids.len() as i64, sent, "one messageId per event");
}

#[test]
fn offline_then_reload_delivers_every_event_exactly_once() {
    let r = run_scenario("offline-reload", false);
    assert_eq!(r.sent, 120);
    assert_exactly_once("offline-reload", &r);
}

#[test]
fn a_page_closed_with_events_pending_sends_them_by_beacon() {
    let r = run_scenario("close-pending", true);
    assert_eq!(r.sent, 40);
    assert_exactly_once("close-pending", &r);
}

#[test]
fn a_closed_tabs_queue_is_delivered_by_another_tab() {
    let r = run_scenario("closed-tab", false);
    assert_eq!(r.sent, 30);
    assert_exactly_once("closed-tab", &r);
}
