//! `tributary onboard` on a new event, against the real Kafka and a running
//! gateway: the schema is added to the gateway's schema directory, the
//! topic created with the configured retention, the route added to the
//! routes file the running gateway reads again, the Iceberg table created,
//! the warehouse load written; a second run finds everything done. Then
//! the event is sent through the gateway — refused before onboarding,
//! accepted and validated after — and read back from its table with
//! PyIceberg, typed.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, ResourceSpecifier};
use rdkafka::client::DefaultClientContext;
use serde_json::{Value, json};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use tributary_tests::*;

const EVENTS: usize = 40;

/// `tributary onboard` with `args`: its output lines, by step name.
fn onboard(args: &[&str]) -> std::collections::BTreeMap<String, String> {
    let out = stdout_of(
        Command::new(workspace_binary("tributary"))
            .arg("onboard")
            .args(args),
        "tributary onboard",
    );
    String::from_utf8_lossy(&out)
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let name = w.next()?;
            let outcome = w.next()?;
            ["schema", "topic", "route", "table", "warehouse"]
                .contains(&name)
                .then(|| (name.to_owned(), outcome.to_owned()))
        })
        .collect()
}

fn coupons(from: usize) -> Vec<Value> {
    (from..from + EVENTS)
        .map(|i| {
            json!({"type": "track", "event": "Coupon Redeemed", "messageId": format!("cr-{i}"),
                "userId": format!("u-{}", i % 7),
                "properties": {"code": format!("SAVE{i}"), "discount": 0.1, "items": [{"sku": "a"}]}})
        })
        .collect()
}

/// The topic's `retention.ms` as the broker has it.
async fn retention(topic: &str) -> Option<String> {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", kafka())
        .create()
        .unwrap();
    let r = admin
        .describe_configs(&[ResourceSpecifier::Topic(topic)], &AdminOptions::new())
        .await
        .unwrap();
    let resource = r.into_iter().next()?.ok()?;
    resource.get("retention.ms").and_then(|e| e.value.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn onboarding_gives_a_new_event_a_working_route_and_a_table() {
    let prefix = unique_prefix("onboard");
    let schemas = app_schema_dir();
    let work = tempfile::tempdir().unwrap();
    let routes = work.path().join("routes.toml");
    let gateway_config = work.path().join("gateway.toml");
    std::fs::write(
        &gateway_config,
        format!(
            r#"[server]
listen = "127.0.0.1:0"
[kafka]
brokers = "{brokers}"
topic_partitions = 3
topic_config = {{ "retention.ms" = "3600000" }}
[routing]
topic_prefix = "{prefix}"
# Without its route an event is refused: accepted means routed.
unrouted = "reject"
routes_file = "{routes}"
routes_file_poll_secs = 1
[schemas]
source = "dir"
dir = "{schemas}"
refresh_secs = 1
[delivery]
heartbeat_secs = 1
[spool]
dir = "{spool}"
[[keys]]
key = "{KEY_BROKER}"
app_id = "{APP}"
ack = "broker"
"#,
            brokers = kafka(),
            routes = routes.display(),
            schemas = schemas.path().display(),
            spool = work.path().join("spool").display(),
        ),
    )
    .unwrap();
    let gw = start_gateway(tributary_gateway::config::Config::load(&gateway_config).unwrap()).await;
    let http = HttpClient::new(gw.local_addr());
    let before = http.post_events(KEY_BROKER, &coupons(0), true).await;
    assert_eq!(before.json["accepted"], 0, "no schema yet: {}", before.json);

    let lake = IcebergLake::local();
    let pipeline_config = write_pipeline_config_with(
        work.path(),
        &prefix,
        &["coupon_redeemed"],
        &format!("{}[schemas]\ndir = {:?}\n", lake.sections(), schemas.path()),
        "max_records = 100\nidle_gap_secs = 2",
    );
    let schema = work.path().join("coupon_redeemed.json");
    std::fs::write(
        &schema,
        r#"{"title": "Coupon Redeemed", "type": "object", "description": "A customer redeemed a coupon.",
            "properties": {"code": {"type": "string"}, "discount": {"type": "number"},
              "items": {"type": "array", "items": {"type": "object", "properties": {"sku": {"type": "string"}}}}},
            "required": ["code"]}"#,
    )
    .unwrap();
    let load = work.path().join("load.sql");
    let args = [
        APP,
        "Coupon Redeemed",
        "--schema",
        schema.to_str().unwrap(),
        "--gateway-config",
        gateway_config.to_str().unwrap(),
        "--pipeline-config",
        pipeline_config.to_str().unwrap(),
        "--dialect",
        "duckdb",
        "--warehouse-out",
        load.to_str().unwrap(),
    ];
    let planned = onboard(&[&args[..], &["--dry-run"]].concat());
    let first = onboard(&args);
    let second = onboard(&args);
    report(format_args!(
        "onboard: dry run {planned:?}; first run {first:?}; second run {second:?}"
    ));
    for step in ["schema", "topic", "route", "table"] {
        assert_eq!(planned[step], "planned", "{planned:?}");
        assert_eq!(first[step], "done", "{first:?}");
        assert_eq!(second[step], "exists", "{second:?}");
    }
    assert!(
        std::fs::read_to_string(&load)
            .unwrap()
            .contains("coupon_redeemed")
    );
    let topic = format!("{prefix}coupon_redeemed");
    assert_eq!(retention(&topic).await.as_deref(), Some("3600000"));

    // The running gateway takes the route and the schema within seconds.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = http.post_events(KEY_BROKER, &coupons(1000), true).await;
        if r.json["accepted"] == EVENTS {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not accepted after onboarding: {}",
            r.json
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // On the event's own topic.
    let got = consume(
        &kafka(),
        std::slice::from_ref(&topic),
        EVENTS,
        Duration::from_secs(2),
        Duration::from_secs(30),
    );
    let events = got
        .iter()
        .filter(|r| {
            !r.headers
                .contains_key(tributary_contract::envelope::header::HEARTBEAT)
        })
        .count();
    assert_eq!(events, EVENTS, "the route is in force");
    let p = PipelineProcess::start_with(&pipeline_config, &lake.env);
    let deadline = Instant::now() + Duration::from_secs(60);
    let s = loop {
        let s = lake.read();
        if s["tables"]["coupon_redeemed"]["rows"].as_u64() >= Some(EVENTS as u64) {
            break s;
        }
        assert!(Instant::now() < deadline, "the table did not fill: {s}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    drop(p);
    let t = &s["tables"]["coupon_redeemed"];
    report(format_args!(
        "onboard: Coupon Redeemed accepted after onboarding; table coupon_redeemed holds {} rows, p_code {}, p_items {}",
        t["rows"], t["types"]["p_code"], t["types"]["p_items"]
    ));
    assert_eq!(t["rows"], EVENTS);
    assert_eq!(t["types"]["p_code"], "string");
    assert_eq!(
        t["types"]["p_items"],
        "list<element: struct<sku: string, _extra: string>>"
    );
    assert_eq!(t["sample"]["event_name"], "Coupon Redeemed");
    assert!(Path::new(&schemas.path().join(APP).join("coupon_redeemed/1.json")).is_file());
    gw.shutdown().await.unwrap();
}
