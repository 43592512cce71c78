//! Enqueue cost on the native path: the CPU time the *calling* thread
//! spends in `NativeClient::track` (target < 2 µs per event), and what the
//! worker then needs per event to build, persist and index it.
//!
//! CPU time comes from /proc/thread-self/schedstat (ns on CPU), not wall
//! time, so a busy shared machine does not distort the figure.
//! Run: `cargo bench -p tributary-sdk-core --features native --bench enqueue`.

#![allow(clippy::unwrap_used)]

use serde_json::{Map, Value, json};
use std::time::{Duration, Instant};
use tributary_sdk_core::native::{FileStorage, HttpTransport, NativeClient};
use tributary_sdk_core::{Engine, SdkConfig, UploadRequest, UploadResult};

const TARGET_NS: f64 = 2_000.0;
const CHUNK: usize = 40_000;
const CHUNKS: usize = 5;

fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}

struct Offline;
impl HttpTransport for Offline {
    fn send(&self, _: &UploadRequest) -> UploadResult {
        UploadResult::Network("bench: offline".into())
    }
}

fn props(i: usize) -> Map<String, Value> {
    json!({"orderId": format!("o-{i}"), "total": 12.5, "items": 3, "currency": "EUR"})
        .as_object()
        .unwrap()
        .clone()
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = SdkConfig {
        max_queue_events: 1_000_000,
        max_queue_bytes: 512 << 20,
        ..SdkConfig::new("wk", "http://127.0.0.1:9")
    };
    let sdk = NativeClient::start_with(cfg.clone(), dir.path(), Box::new(Offline)).unwrap();
    let mut caller_ns = 0u64;
    let mut calls = 0usize;
    for c in 0..CHUNKS {
        let batch: Vec<Map<String, Value>> = (0..CHUNK).map(|i| props(c * CHUNK + i)).collect();
        let t0 = thread_cpu_ns();
        for p in batch {
            sdk.track("Order Completed", p);
        }
        caller_ns += thread_cpu_ns() - t0;
        calls += CHUNK;
        // Let the worker catch up so the bounded channel never overflows.
        let want = (calls + 1) as u64;
        let deadline = Instant::now() + Duration::from_secs(60);
        while sdk.stats().enqueued < want && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    let stats = sdk.stats();
    drop(sdk);
    let per_call = caller_ns as f64 / calls as f64;

    // The worker's share: engine + file storage on this thread.
    let dir2 = tempfile::tempdir().unwrap();
    let mut engine = Engine::new(cfg, FileStorage::open(dir2.path()).unwrap(), 7, 0).unwrap();
    let batch: Vec<Map<String, Value>> = (0..CHUNK).map(props).collect();
    let t0 = thread_cpu_ns();
    for (i, p) in batch.into_iter().enumerate() {
        engine.track("Order Completed", p, i as i64).unwrap();
    }
    let worker_per_event = (thread_cpu_ns() - t0) as f64 / CHUNK as f64;

    println!(
        "calls: {calls}, queued by the worker: {}, refused: {}",
        stats.enqueued,
        stats.dropped_total()
    );
    println!("track() caller CPU per event: {per_call:.0} ns (target < {TARGET_NS:.0} ns)");
    println!("worker CPU per event (build + persist + index): {worker_per_event:.0} ns");
    if per_call < TARGET_NS {
        println!("PASS: enqueue under target");
    } else {
        println!("FAIL: enqueue over target");
        std::process::exit(1);
    }
}
