//! Against a real three-node Kafka (`scripts/kafka cluster`: KRaft,
//! replication factor 3, `min.insync.replicas=2`): the node leading the
//! event topic's partition 0 is killed with SIGKILL mid-stream and started
//! again (`loadtest/scenarios/chaos-leader.toml`), in both delivery modes.
//! In `broker` mode every acknowledged event is in Kafka exactly once by
//! messageId; in `buffered` mode the loss the report shows stays within
//! the documented bound (here: none, since the cluster keeps a leader for
//! every partition throughout). The test starts the cluster itself and
//! stops it at the end.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::path::{Path, PathBuf};
use std::process::Command;
use tributary_tests::*;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn cluster(args: &[&str]) -> String {
    let out = Command::new(repo().join("scripts/kafka"))
        .arg("cluster")
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "scripts/kafka cluster {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Stops the cluster however the test ends.
struct Cluster;
impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new(repo().join("scripts/kafka"))
            .args(["cluster", "stop"])
            .status();
    }
}

#[test]
fn a_killed_partition_leader_loses_no_acknowledged_event() {
    cluster(&["start"]);
    let _stop = Cluster;
    let bootstrap = cluster(&["bootstrap"]);
    let prefix = unique_prefix("leader");
    let topic = format!("{prefix}order_completed");
    let dir = tempfile::tempdir().unwrap();
    // librdkafka rides through the election (a few seconds) within the
    // message timeout; acks=all waits for the in-sync replicas.
    let config = write_process_config_with_kafka(
        dir.path(),
        &prefix,
        "127.0.0.1:0",
        &format!("brokers = \"{bootstrap}\"\nmessage_timeout_ms = 30000\ntopic_replication = 3"),
        "[rate_limits]\nip_requests_per_second = 0",
    );
    let gw = GatewayProcess::start(&config);
    let mut table = Vec::new();
    for (mode, key) in [("broker", KEY_BROKER), ("buffered", KEY_BUFFERED)] {
        let out = dir.path().join(format!("{mode}.json"));
        let target = format!("http://{}", gw.addr);
        let mut c = loadtest_command("chaos-leader", &[target], key, &bootstrap, &prefix, &out);
        c.env("TRIBUTARY_KAFKA_SCRIPT", repo().join("scripts/kafka"))
            .env("TRIBUTARY_CHAOS_TOPIC", &topic);
        let run = ChaosRun::run(c, &out, mode, 2);
        let (d, code) = (run.delivery(), run.code);
        table.push(run.row("leader killed", mode));
        assert_eq!(d["lost"], 0, "{mode}: {d}");
        if mode == "broker" {
            assert_eq!(
                d["duplicated"], 0,
                "broker mode: exactly once by messageId: {d}"
            );
            assert_eq!(code, 0, "{}", run.report);
        }
    }
    report(format_args!(
        "three-node cluster, partition leader killed and restarted:\n{}",
        table.join("\n")
    ));
    drop(gw);
}
