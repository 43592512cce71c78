//! The shipped chaos scenarios against a gateway process and the real
//! Kafka, in both delivery modes: the broker stopped and restarted
//! mid-run, the gateway stopped with SIGTERM and with SIGKILL and started
//! again mid-run. Each run's report carries its delivery figures; every
//! acknowledged event arrives, except in the documented crash window
//! (SIGKILL with `ack = "buffered"`), whose loss the report shows. And two
//! gateway replicas under load, one SIGKILLed and restarted while the other
//! serves (`chaos-replica-kill`). And a pipeline instance SIGKILLed three
//! times beside another in its group, the lake checked row by row
//! (`chaos-pipeline-kill`).

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use serde_json::{Value, json};
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

/// One chaos run at a time: `chaos-broker` stops the broker every test
/// here writes to.
static ONE_RUN: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn chaos_scenarios_report_delivery_for_each_fault_in_both_modes() {
    let _one = ONE_RUN.lock().unwrap_or_else(|p| p.into_inner());
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
            let target = format!("http://127.0.0.1:{port}");
            let mut c = loadtest_command(scenario, &[target], key, &bootstrap, &prefix, &out);
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

/// Two gateway replicas on the same Kafka, load alternating between them;
/// replica B is SIGKILLed at 3 s and started again at 7 s. In broker mode
/// every acknowledged event arrives; in buffered mode the report counts
/// what B's crash window lost.
#[test]
fn two_replicas_one_killed_and_restarted_lose_no_acknowledged_broker_event() {
    let _one = ONE_RUN.lock().unwrap_or_else(|p| p.into_inner());
    let bootstrap = kafka();
    let prefix = unique_prefix("replicas");
    let free = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    };
    let replicas: Vec<(tempfile::TempDir, u16)> = (0..2)
        .map(|_| (tempfile::tempdir().unwrap(), free()))
        .collect();
    let configs: Vec<PathBuf> = replicas
        .iter()
        .map(|(dir, port)| {
            write_process_config_at(
                dir.path(),
                &prefix,
                &format!("127.0.0.1:{port}"),
                "[rate_limits]\nip_requests_per_second = 0",
            )
        })
        .collect();
    let replica = |i: usize, action: &str| {
        let mut c = Command::new(repo().join("scripts/chaos-gateway"));
        c.arg(action);
        chaos_env(&mut c, replicas[i].0.path(), &configs[i]);
        assert!(c.status().unwrap().success(), "replica {i}: {action}");
    };
    replica(0, "start");
    replica(1, "start");
    let mut table = Vec::new();
    for (mode, key) in [("broker", KEY_BROKER), ("buffered", KEY_BUFFERED)] {
        let out = replicas[0].0.path().join(format!("replicas-{mode}.json"));
        let targets: Vec<String> = replicas
            .iter()
            .map(|(_, port)| format!("http://127.0.0.1:{port}"))
            .collect();
        let mut c = loadtest_command(
            "chaos-replica-kill",
            &targets,
            key,
            &bootstrap,
            &prefix,
            &out,
        );
        chaos_env(&mut c, replicas[0].0.path(), &configs[0]);
        c.env("TRIBUTARY_CHAOS_DIR_B", replicas[1].0.path())
            .env("TRIBUTARY_CHAOS_CONFIG_B", &configs[1]);
        let run = ChaosRun::run(c, &out, mode, 2);
        let d = run.delivery();
        table.push(run.row("replica B killed", mode));
        if mode == "broker" {
            assert_eq!(d["lost"], 0, "broker mode: every acknowledged event: {d}");
            assert_eq!(d["rate"], 1.0, "{d}");
        }
        replica(1, "start");
    }
    replica(0, "term");
    replica(1, "term");
    report(format_args!(
        "two gateway replicas, one SIGKILLed and restarted:\n{}",
        table.join("\n")
    ));
}

/// Two pipeline instances in one group behind two gateway replicas; the
/// load test SIGKILLs the second instance three times (chaos-pipeline-kill)
/// and checks the lake itself: every event delivered to Kafka is one row.
#[test]
fn a_pipeline_instance_killed_three_times_under_load_leaves_each_event_once_in_the_lake() {
    let _one = ONE_RUN.lock().unwrap_or_else(|p| p.into_inner());
    let prefix = unique_prefix("pipekill");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let gateways: Vec<_> = (0..2)
        .map(|_| {
            let mut cfg = test_config(&kafka(), &prefix);
            cfg.rate_limits.ip_requests_per_second = 0;
            // Quiet partitions close on heartbeats once the load stops.
            cfg.delivery.heartbeat_secs = 1;
            rt.block_on(start_gateway(cfg))
        })
        .collect();
    let targets: Vec<String> = gateways
        .iter()
        .map(|g| format!("http://{}", g.local_addr()))
        .collect();
    let lake = tempfile::tempdir().unwrap();
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let config = write_pipeline_config(
        a.path(),
        &prefix,
        &["order_completed", "product_viewed"],
        lake.path(),
        "max_records = 300\nidle_gap_secs = 2",
    );
    rebalance_fast(&config);
    let steady = PipelineProcess::start(&config);
    let instance_b = |action: &str| {
        let mut c = Command::new(repo().join("scripts/chaos-pipeline"));
        c.arg(action)
            .env("TRIBUTARY_CHAOS_DIR", b.path())
            .env("TRIBUTARY_CHAOS_PIPELINE_CONFIG", &config)
            .env(
                "TRIBUTARY_PIPELINE_BIN",
                workspace_binary("tributary-pipeline"),
            );
        assert!(c.status().unwrap().success(), "pipeline B: {action}");
    };
    instance_b("start");

    let out = a.path().join("pipeline-kill.json");
    let mut c = loadtest_command(
        "chaos-pipeline-kill",
        &targets,
        KEY_BROKER,
        &kafka(),
        &prefix,
        &out,
    );
    c.arg("--lake")
        .arg(lake.path())
        .env("TRIBUTARY_CHAOS_DIR", b.path())
        .env("TRIBUTARY_CHAOS_PIPELINE_CONFIG", &config)
        .env(
            "TRIBUTARY_PIPELINE_BIN",
            workspace_binary("tributary-pipeline"),
        )
        .env(
            "TRIBUTARY_CHAOS_PIPELINE",
            repo().join("scripts/chaos-pipeline"),
        );
    let run = ChaosRun::run(c, &out, "broker", 6);
    instance_b("kill");
    drop(steady);
    let d = run.delivery();
    let l = &d["lake"];
    report(format_args!(
        "pipeline B SIGKILLed 3 times under load (two gateways, two pipelines): {} acknowledged, {} in Kafka; the lake: {} rows in {} files, {} distinct, {} missing, {} duplicated; exit {}",
        d["acknowledged"],
        d["delivered"],
        l["rows"],
        l["files"],
        l["distinct"],
        l["missing"],
        l["duplicated"],
        run.code
    ));
    assert_eq!(d["rate"], 1.0, "{d}");
    assert_eq!(l["distinct"], d["delivered"], "{d}");
    assert_eq!(l["rows"], d["delivered"], "{d}");
    assert_eq!((&l["missing"], &l["duplicated"]), (&json!(0), &json!(0)));
    assert_eq!(run.code, 0, "{}", run.report);
    for g in gateways {
        rt.block_on(g.shutdown()).unwrap();
    }
}
