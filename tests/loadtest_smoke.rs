//! The load-test tool against a real gateway and Kafka: the shipped smoke
//! scenario passes its thresholds with every acknowledged event delivered,
//! and each failing threshold class yields its documented exit code.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use tributary_gateway::config::RouteConfig;
use tributary_tests::*;

fn scenario_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../loadtest/scenarios")
        .join(name)
}

/// Runs the tool; returns its exit code and JSON summary.
fn run(scenario: &Path, target: &str, key: &str, prefix: &str) -> (i32, Value) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("summary.json");
    let status = Command::new(workspace_binary("tributary-loadtest"))
        .arg("run")
        .arg(scenario)
        .args([
            "--target",
            target,
            "--write-key",
            key,
            "--kafka",
            &kafka(),
            "--topic-prefix",
            prefix,
        ])
        .arg("--json")
        .arg(&out)
        .status()
        .unwrap();
    let summary = std::fs::read_to_string(&out)
        .map(|t| serde_json::from_str(&t).unwrap())
        .unwrap_or(Value::Null);
    (status.code().unwrap(), summary)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smoke_passes_with_full_delivery_and_failures_have_their_exit_codes() {
    let prefix = unique_prefix("smoke");
    let mut cfg = test_config(&kafka(), &prefix);
    cfg.rate_limits.ip_requests_per_second = 0;
    cfg.routing.routes.push(RouteConfig {
        event: "Product Viewed".into(),
        app: None,
        topic: None,
        ack: None,
        cluster: None,
    });
    let gw = start_gateway(cfg).await;
    let target = format!("http://{}", gw.local_addr());

    let smoke = scenario_path("smoke.toml");
    let (code, s) = tokio::task::spawn_blocking({
        let (t, p) = (target.clone(), prefix.clone());
        move || run(&smoke, &t, KEY_BUFFERED, &p)
    })
    .await
    .unwrap();
    assert_eq!(code, 0, "{s:#}");
    let d = &s["delivery"];
    assert_eq!(d["rate"], 1.0, "{s:#}");
    assert_eq!(
        (
            d["lost"].as_u64(),
            d["duplicated"].as_u64(),
            d["misrouted"].as_u64()
        ),
        (Some(0), Some(0), Some(0))
    );
    assert!(d["acknowledged"].as_u64().unwrap() >= 10_000, "{d}");
    assert_eq!(s["requests_answered"], s["requests_planned"]);

    // Each failing threshold class has its own exit code.
    let dir = tempfile::tempdir().unwrap();
    let base = std::fs::read_to_string(scenario_path("smoke.toml")).unwrap();
    let short = base
        .replace("duration_s = 3", "duration_s = 1")
        .replace("duration_s = 2\n", "duration_s = 0.5\n");
    let latency = dir.path().join("latency.toml");
    std::fs::write(&latency, short.replace("p99_ms = 500", "p99_ms = 0.001")).unwrap();
    let delivery = dir.path().join("delivery.toml");
    std::fs::write(&delivery, short.replace("timeout_s = 30", "timeout_s = 5")).unwrap();
    let (t, p) = (target.clone(), prefix.clone());
    let codes = tokio::task::spawn_blocking(move || {
        (
            run(&latency, &t, KEY_BUFFERED, &p).0,
            run(&delivery, &t, "not-a-key", &p).0,
            run(&delivery, &t, KEY_BUFFERED, "no.such.prefix.").0,
        )
    })
    .await
    .unwrap();
    assert_eq!(codes, (10, 11, 12), "latency, errors, delivery");
    gw.shutdown().await.unwrap();
}
