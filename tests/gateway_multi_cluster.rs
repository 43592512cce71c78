//! Several Kafka clusters at once: routes choose a cluster; each cluster has
//! its own producer, health and spool, so an outage of one does not stop
//! the other. A second real broker is started with `scripts/kafka` on
//! another port for this test (and stopped at its end).

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use serde_json::json;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tributary_contract::envelope::header;
use tributary_tests::*;

const SECOND: &str = "127.0.0.1:9192";

fn second_broker(action: &str) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/kafka");
    let dir = std::env::temp_dir().join("tributary-second-kafka");
    let ok = Command::new(script)
        .arg(action)
        .env("KAFKA_PORT", "9192")
        .env("KAFKA_CONTROLLER_PORT", "9193")
        .env("TRIBUTARY_KAFKA_DIR", dir)
        .stdout(Stdio::null())
        .status()
        .unwrap()
        .success();
    assert!(ok, "scripts/kafka {action} (second broker) failed");
}

struct StopOnDrop;
impl Drop for StopOnDrop {
    fn drop(&mut self) {
        second_broker("stop");
    }
}

fn ids(bootstrap: &str, topic: &str, expected: usize) -> Vec<String> {
    consume(
        bootstrap,
        &[topic.to_owned()],
        expected,
        Duration::from_secs(2),
        Duration::from_secs(60),
    )
    .into_iter()
    .map(|r| r.headers[header::MESSAGE_ID].clone())
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_choose_clusters_and_an_outage_of_one_spares_the_other() {
    second_broker("start");
    let _stop = StopOnDrop;
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_prefix("multi");
    let extra = format!(
        "[kafka.clusters.second]\nbrokers = \"{SECOND}\"\n[[routing.routes]]\nevent = \"EU Order\"\ncluster = \"second\"\n[rate_limits]\nip_requests_per_second = 0"
    );
    let config = write_process_config(dir.path(), &prefix, &extra);
    let gw = GatewayProcess::start(&config);
    let http = HttpClient::new(gw.addr);
    let send = |tag: String| {
        let http = http.clone();
        async move {
            let body = json!({"batch": [
                {"type":"track","event":"Order Completed","messageId":format!("home-{tag}"),"anonymousId":"a"},
                {"type":"track","event":"EU Order","messageId":format!("eu-{tag}"),"anonymousId":"a"},
            ]});
            http.post(
                "/v1/batch",
                KEY_BROKER,
                &serde_json::to_vec(&body).unwrap(),
                true,
            )
            .await
        }
    };
    let r = send("1".into()).await;
    assert_eq!(
        (r.status, r.json["accepted"].as_u64()),
        (200, Some(2)),
        "{:?}",
        r.json
    );
    let home_topic = format!("{prefix}order_completed");
    let eu_topic = format!("{prefix}eu_order");
    assert_eq!(ids(&kafka(), &home_topic, 1), ["home-1"]);
    assert_eq!(ids(SECOND, &eu_topic, 1), ["eu-1"]);

    // The second cluster goes down: its events are spooled (still 200),
    // the default cluster's keep flowing to Kafka.
    second_broker("stop");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ready = http.request("GET", "/readyz", &[], vec![]).await.status;
        if ready == 503 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the outage of the second cluster was not noticed"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let started = Instant::now();
    for i in 2..12 {
        let r = send(i.to_string()).await;
        assert_eq!(
            (r.status, r.json["accepted"].as_u64()),
            (200, Some(2)),
            "{:?}",
            r.json
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the healthy cluster's events did not wait on the other"
    );
    let home = ids(&kafka(), &home_topic, 11);
    assert_eq!(
        home.len(),
        11,
        "the default cluster kept receiving: {home:?}"
    );

    // Back up: the spool is replayed to the second cluster.
    second_broker("start");
    let eu = ids(SECOND, &eu_topic, 11);
    let mut want: Vec<String> = (1..12).map(|i| format!("eu-{i}")).collect();
    let mut got = eu.clone();
    got.sort();
    got.dedup();
    want.sort();
    assert_eq!(
        got, want,
        "every acknowledged event reached the second cluster"
    );
}
