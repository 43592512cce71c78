//! The shipped chaos scenarios against a gateway process and the real
//! Kafka, in both delivery modes: the broker stopped and restarted
//! mid-run, the gateway stopped with SIGTERM and with SIGKILL and started
//! again mid-run. Each run's report carries its delivery figures; every
//! acknowledged event arrives, except in the documented crash window
//! (SIGKILL with `ack = "buffered"`), whose loss the report shows.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use tributary_tests::*;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn chaos_env(cmd: &mut Command, dir: &Path, config: &Path) {
    cmd.env("TRIBUTARY_CHAOS_DIR", dir)
        .env("TRIBUTARY_CHAOS_CONFIG", config)
        .env("TRIBUTARY_GATEWAY_BIN", gateway_binary())
        .env(
            "TRIBUTARY_CHAOS_GATEWAY",
            repo().join("scripts/chaos-gateway"),
        )
        .env("TRIBUTARY_KAFKA_SCRIPT", repo().join("scripts/kafka"));
}

#[test]
fn chaos_scenarios_report_delivery_for_each_fault_in_both_modes() {
    let bootstrap = kafka();
    let prefix = unique_prefix("chaos");
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = dir.path().join("gateway.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[server]
listen = "127.0.0.1:{port}"
shutdown_grace_ms = 10000
[kafka]
brokers = "{bootstrap}"
message_timeout_ms = 5000
[routing]
topic_prefix = "{prefix}"
[[routing.routes]]
event = "Order Completed"
[rate_limits]
ip_requests_per_second = 0
[spool]
dir = "{spool}"
[[keys]]
key = "{KEY_BROKER}"
app_id = "{APP}"
ack = "broker"
[[keys]]
key = "{KEY_BUFFERED}"
app_id = "{APP}"
ack = "buffered"
"#,
            spool = dir.path().join("spool").display(),
        ),
    )
    .unwrap();
    let gateway = |action: &str| {
        let mut c = Command::new(repo().join("scripts/chaos-gateway"));
        c.arg(action);
        chaos_env(&mut c, dir.path(), &config);
        assert!(c.status().unwrap().success(), "chaos-gateway {action}");
    };
    gateway("start");
    let mut table = Vec::new();
    for scenario in ["chaos-broker", "chaos-gateway-term", "chaos-gateway-kill"] {
        for (mode, key) in [("broker", KEY_BROKER), ("buffered", KEY_BUFFERED)] {
            let out = dir.path().join(format!("{scenario}-{mode}.json"));
            let mut c = Command::new(workspace_binary("tributary-loadtest"));
            c.arg("run")
                .arg(repo().join(format!("loadtest/scenarios/{scenario}.toml")))
                .args(["--target", &format!("http://127.0.0.1:{port}")])
                .args([
                    "--write-key",
                    key,
                    "--kafka",
                    &bootstrap,
                    "--topic-prefix",
                    &prefix,
                ])
                .arg("--json")
                .arg(&out);
            chaos_env(&mut c, dir.path(), &config);
            let code = c.status().unwrap().code().unwrap();
            let s: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
            let d = &s["delivery"];
            assert_eq!(
                s["delivery_mode"], mode,
                "{scenario}/{mode}: answered in another mode"
            );
            assert!(d.is_object(), "{scenario}/{mode}: no delivery figures: {s}");
            assert_eq!(s["chaos"].as_array().unwrap().len(), 2, "{scenario}/{mode}");
            assert!(
                s["chaos"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|c| c["ok"] == true),
                "{scenario}/{mode}: a fault command failed: {}",
                s["chaos"]
            );
            assert!(
                d["acknowledged"].as_u64().unwrap() > 1000,
                "{scenario}/{mode}: {d}"
            );
            let crash_window = scenario == "chaos-gateway-kill" && mode == "buffered";
            if !crash_window {
                assert_eq!(d["lost"], 0, "{scenario}/{mode}: {d}");
                assert_eq!(d["rate"], 1.0, "{scenario}/{mode}: {d}");
                assert_eq!(code, 0, "{scenario}/{mode}: {s}");
            }
            table.push(format!(
                "{scenario:<20} {mode:<9} acknowledged {:>6} delivered {:>6} lost {:>4} duplicated {:>4} exit {code}",
                d["acknowledged"], d["delivered"], d["lost"], d["duplicated"]
            ));
            // Leave the gateway up for the next run.
            gateway("start");
        }
    }
    gateway("term");
    // Straight to stderr, past the test harness's capture, so the test
    // run's log shows the table.
    use std::io::Write as _;
    let _ = writeln!(
        std::io::stderr(),
        "\nchaos delivery by fault and mode:\n{}",
        table.join("\n")
    );
}
