//! The README's first command: `tributary-gateway --dev` starts with an
//! embedded Kafka, prints its bootstrap address, accepts the README's gzip
//! batch, and any Kafka client can read the events back from that address.
//! Runs the real binary as a separate process.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;
use tributary_contract::envelope::header;
use tributary_tests::*;

struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_mode_serves_and_its_embedded_kafka_is_readable() {
    let mut child = Child(
        Command::new(gateway_binary())
            .args(["--dev", "--listen", "127.0.0.1:0"])
            .env("TRIBUTARY_LOG_FORMAT", "json")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn gateway"),
    );
    let stdout = child.0.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let mut addr = None;
    let mut bootstrap = None;
    let mut warned = false;
    for _ in 0..4 {
        let line = lines.next().expect("startup line").unwrap();
        if let Some(a) = line.strip_prefix("tributary-gateway listening on http://") {
            addr = Some(a.parse().unwrap());
        } else if let Some(b) = line.strip_prefix("embedded Kafka bootstrap: ") {
            bootstrap = Some(b.to_owned());
        } else if line.contains("in memory only") {
            warned = true;
        }
    }
    let (addr, bootstrap) = (
        addr.expect("address printed"),
        bootstrap.expect("bootstrap printed"),
    );
    assert!(warned, "dev mode must say that data is kept in memory only");

    // The README's example batch, gzipped, with the dev write key.
    let body = br#"{"batch":[{"type":"track","event":"Order Completed","messageId":"readme-1","anonymousId":"device-1","properties":{"total":12.5}}]}"#;
    let reply = HttpClient::new(addr)
        .post("/v1/batch", "dev-write-key", body, true)
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.json);
    assert_eq!(reply.json["accepted"], 1);

    let got = consume(
        &bootstrap,
        &["tributary.unrouted".to_owned()],
        1,
        Duration::from_millis(500),
        Duration::from_secs(20),
    );
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].headers[header::MESSAGE_ID], "readme-1");
    assert_eq!(got[0].headers[header::APP_ID], "dev");
    assert_eq!(got[0].value["properties"]["total"], 12.5);

    // SIGTERM drains and exits 0.
    terminate_gracefully(&mut child.0);
}
