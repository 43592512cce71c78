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

/// Runs the shipped scenario `name` off the async runtime and checks what
/// every passing run shows: exit 0, every acknowledged event delivered,
/// none lost, duplicated or misrouted. Returns the summary.
async fn run_delivered_in_full(name: &str, target: &str, key: &'static str, prefix: &str) -> Value {
    let (path, t, p) = (scenario_path(name), target.to_owned(), prefix.to_owned());
    let (code, s) = tokio::task::spawn_blocking(move || run(&path, &t, key, &p))
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
    s
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

    let s = run_delivered_in_full("smoke.toml", &target, KEY_BUFFERED, &prefix).await;
    let d = &s["delivery"];
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abuse_segments_merge_and_find_max() {
    let prefix = unique_prefix("abuse");
    let mut cfg = test_config(&kafka(), &prefix);
    cfg.rate_limits.ip_requests_per_second = 0;
    let gw = start_gateway(cfg).await;
    let target = format!("http://{}", gw.local_addr());
    let (t, p) = (target.clone(), prefix.clone());
    tokio::task::spawn_blocking(move || {
        // Abuse: every hostile request refused with a 4xx; the good traffic
        // passes its thresholds and arrives in full.
        let (code, s) = run(&scenario_path("abuse.toml"), &t, KEY_BUFFERED, &p);
        assert_eq!(code, 0, "{s:#}");
        assert_eq!(s["delivery"]["rate"], 1.0, "{s:#}");
        let hostile = s["hostile"].as_object().unwrap();
        assert_eq!(hostile.len(), 4, "{s:#}");
        for (kind, h) in hostile {
            assert!(h["sent"].as_u64().unwrap() > 0, "{kind}");
            assert_eq!(h["other"], 0, "{kind} not refused: {h}");
        }

        // Two segments of the smoke scenario, then merged.
        let dir = tempfile::tempdir().unwrap();
        let smoke = scenario_path("smoke.toml");
        let seg = |i: usize| {
            let out = dir.path().join(format!("seg{i}.json"));
            let mut c = Command::new(workspace_binary("tributary-loadtest"));
            c.arg("run")
                .arg(&smoke)
                .args([
                    "--target",
                    &t,
                    "--write-key",
                    KEY_BUFFERED,
                    "--kafka",
                    &kafka(),
                ])
                .args([
                    "--topic-prefix",
                    &p,
                    "--segment",
                    &format!("{i}/2"),
                    "--json",
                ])
                .arg(&out);
            (c.spawn().unwrap(), out)
        };
        let (mut a, out_a) = seg(1);
        let (mut b, out_b) = seg(2);
        assert!(a.wait().unwrap().success() && b.wait().unwrap().success());
        let merged = dir.path().join("merged.json");
        let status = Command::new(workspace_binary("tributary-loadtest"))
            .arg("merge")
            .arg(&smoke)
            .args([&out_a, &out_b])
            .arg("--json")
            .arg(&merged)
            .status()
            .unwrap();
        assert_eq!(status.code(), Some(0));
        let m: Value = serde_json::from_str(&std::fs::read_to_string(&merged).unwrap()).unwrap();
        let part = |f: &Path| -> Value {
            serde_json::from_str(&std::fs::read_to_string(f).unwrap()).unwrap()
        };
        let (sa, sb) = (part(&out_a), part(&out_b));
        assert_eq!(
            m["delivery"]["acknowledged"].as_u64().unwrap(),
            sa["delivery"]["acknowledged"].as_u64().unwrap()
                + sb["delivery"]["acknowledged"].as_u64().unwrap()
        );
        assert_eq!(m["delivery"]["rate"], 1.0);
        assert_eq!(
            m["requests_planned"].as_u64().unwrap(),
            sa["requests_planned"].as_u64().unwrap() + sb["requests_planned"].as_u64().unwrap()
        );
        assert!(m["latency_ms"]["p99"].as_f64().unwrap() > 0.0);

        // find-max: a result, with the probes that led to it.
        let out = dir.path().join("max.json");
        let status = Command::new(workspace_binary("tributary-loadtest"))
            .arg("find-max")
            .arg(&smoke)
            .args([
                "--target",
                &t,
                "--write-key",
                KEY_BUFFERED,
                "--start",
                "2000",
                "--probe-seconds",
                "1",
            ])
            .arg("--json")
            .arg(&out)
            .status()
            .unwrap();
        assert!(status.success());
        let r: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
        assert!(
            r["max_events_per_second"].as_f64().unwrap() >= 2000.0,
            "{r:#}"
        );
        assert!(r["probes"].as_array().unwrap().len() >= 2, "{r:#}");
    })
    .await
    .unwrap();
    gw.shutdown().await.unwrap();
}

/// The hot-user scenario against a gateway with `[hot_keys]` on: the hot
/// device takes half the traffic, its excess is spread, and every
/// acknowledged event arrives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hot_user_scenario_is_spread_and_delivered_in_full() {
    let prefix = unique_prefix("hotuser");
    let mut cfg = test_config(&kafka(), &prefix);
    cfg.rate_limits.ip_requests_per_second = 0;
    cfg.hot_keys.events_per_second = 100;
    cfg.hot_keys.burst = 200;
    let gw = start_gateway(cfg).await;
    let target = format!("http://{}", gw.local_addr());
    let s = run_delivered_in_full("hot-user.toml", &target, KEY_BROKER, &prefix).await;
    let d = &s["delivery"];
    let metrics = HttpClient::new(gw.local_addr())
        .request_text("GET", "/metrics")
        .await;
    let spread = metric_value(&metrics, "tributary_hot_key_events_total");
    let acked = d["acknowledged"].as_u64().unwrap();
    report(format_args!(
        "loadtest hot-user: {acked} acknowledged, all delivered; {spread} of the hot device's events spread"
    ));
    // The hot device sends 50 of every 99 requests; all but its burst and
    // 100/s of its events (over the 4 s run, and a second's slack) are
    // spread.
    let keyed_at_most = 200 + 100 * 5;
    let hot = acked * 50 / 99;
    assert!(
        spread + keyed_at_most >= hot && spread <= hot,
        "{spread} spread of the hot device's {hot}"
    );
    gw.shutdown().await.unwrap();
}
