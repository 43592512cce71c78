//! Kafka failure without data loss, against the real broker, which this
//! test stops and starts with `scripts/kafka` (so it runs alone in its own
//! test binary):
//!
//! 1. the broker stops mid-stream and comes back: every event answered
//!    200/202 in either delivery mode is in Kafka afterwards;
//! 2. the gateway is killed with SIGKILL during an outage and restarted
//!    after it: every acknowledged event is replayed from the disk spool.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use serde_json::json;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tributary_contract::envelope::header;
use tributary_tests::*;

/// Sends batches alternating between the two delivery modes until
/// `until`, recording every message id the gateway acknowledged.
async fn send_until(
    addr: std::net::SocketAddr,
    tag: &str,
    until: Instant,
    acked: Arc<Mutex<BTreeSet<String>>>,
) -> HashMap<u16, usize> {
    let http = HttpClient::new(addr);
    let mut statuses = HashMap::new();
    let mut n = 0;
    while Instant::now() < until {
        let key = if n % 2 == 0 { KEY_BROKER } else { KEY_BUFFERED };
        let ids: Vec<String> = (0..20).map(|i| format!("{tag}-{n}-{i}")).collect();
        let batch: Vec<_> = ids
            .iter()
            .map(|id| json!({"type": "track", "event": "Order Completed", "messageId": id, "anonymousId": format!("a{n}")}))
            .collect();
        let body = serde_json::to_vec(&json!({ "batch": batch })).unwrap();
        let reply = tokio::time::timeout(
            Duration::from_secs(15),
            http.post("/v1/batch", key, &body, true),
        )
        .await;
        if let Ok(reply) = reply {
            *statuses.entry(reply.status).or_default() += 1;
            if reply.status == 200 || reply.status == 202 {
                let rejected: BTreeSet<usize> = reply.json["rejected"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| r["index"].as_u64().unwrap() as usize)
                    .collect();
                let mut a = acked.lock().unwrap();
                for (i, id) in ids.into_iter().enumerate() {
                    if !rejected.contains(&i) {
                        a.insert(id);
                    }
                }
            }
        }
        n += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    statuses
}

async fn ready(addr: std::net::SocketAddr) -> bool {
    HttpClient::new(addr)
        .request("GET", "/readyz", &[], vec![])
        .await
        .status
        == 200
}

async fn wait_for(what: &str, limit: Duration, mut f: impl AsyncFnMut() -> bool) {
    let end = Instant::now() + limit;
    while !f().await {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn check_arrivals(prefix: &str, acked: &BTreeSet<String>, phase: &str) {
    let topics = vec![format!("{prefix}order_completed")];
    let got = consume(
        &kafka(),
        &topics,
        acked.len(),
        Duration::from_secs(3),
        Duration::from_secs(90),
    );
    let mut counts: HashMap<String, usize> = HashMap::new();
    for r in &got {
        *counts
            .entry(r.headers[header::MESSAGE_ID].clone())
            .or_default() += 1;
    }
    let missing: Vec<&String> = acked
        .iter()
        .filter(|id| !counts.contains_key(*id))
        .collect();
    let dups = counts.values().filter(|n| **n > 1).count();
    report(format_args!(
        "kafka outage {phase}: acknowledged {}, arrived {} distinct, {} duplicated",
        acked.len(),
        counts.len(),
        dups
    ));
    assert!(
        missing.is_empty(),
        "{phase}: {} acknowledged events lost, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_events_survive_a_kafka_outage_and_a_gateway_kill() {
    kafka_script("start");
    let dir = tempfile::tempdir().unwrap();

    // 1. The broker stops mid-stream and comes back.
    let prefix = unique_prefix("outage");
    let config = write_process_config(
        dir.path(),
        &prefix,
        "[rate_limits]\nip_requests_per_second = 0",
    );
    let gw = GatewayProcess::start(&config);
    let acked = Arc::new(Mutex::new(BTreeSet::new()));
    let sender = tokio::spawn(send_until(
        gw.addr,
        "outage",
        Instant::now() + Duration::from_secs(25),
        acked.clone(),
    ));
    tokio::time::sleep(Duration::from_secs(2)).await;
    kafka_script("stop");
    let addr = gw.addr;
    wait_for(
        "the gateway to notice the outage",
        Duration::from_secs(30),
        async || !ready(addr).await,
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    kafka_script("start");
    let statuses = sender.await.unwrap();
    println!("outage: response statuses {statuses:?}");
    wait_for("the spool to drain", Duration::from_secs(60), async || {
        ready(addr).await
    })
    .await;
    let acked_1 = acked.lock().unwrap().clone();
    assert!(
        acked_1.len() > 200,
        "traffic was acknowledged throughout: {}",
        acked_1.len()
    );
    check_arrivals(&prefix, &acked_1, "outage");
    drop(gw);

    // 2. SIGKILL during an outage, restart after it.
    let dir2 = tempfile::tempdir().unwrap();
    let prefix2 = unique_prefix("kill");
    let config2 = write_process_config(
        dir2.path(),
        &prefix2,
        "[rate_limits]\nip_requests_per_second = 0",
    );
    let gw = GatewayProcess::start(&config2);
    let addr = gw.addr;
    kafka_script("stop");
    wait_for(
        "the gateway to notice the outage",
        Duration::from_secs(30),
        async || !ready(addr).await,
    )
    .await;
    let acked2 = Arc::new(Mutex::new(BTreeSet::new()));
    let statuses = send_until(
        addr,
        "kill",
        Instant::now() + Duration::from_secs(3),
        acked2.clone(),
    )
    .await;
    println!("kill: response statuses during the outage {statuses:?}");
    let mut gw = gw;
    gw.child.kill().unwrap(); // SIGKILL
    gw.child.wait().unwrap();
    kafka_script("start");
    let gw = GatewayProcess::start(&config2);
    let acked2 = acked2.lock().unwrap().clone();
    assert!(
        acked2.len() >= 100,
        "events were acknowledged during the outage: {}",
        acked2.len()
    );
    check_arrivals(&prefix2, &acked2, "kill -9");
    drop(gw);
}
