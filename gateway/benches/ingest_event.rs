//! Per-event CPU cost of the gateway's decide step on one core, and what
//! schema validation adds to it: the same ~500-byte events through
//! `ingest::record::Decider::decide` (checks, route, value, envelope
//! headers, key: everything before the producer) with
//!
//! * no registry — the value is the normalised event (what every event
//!   costs with `schemas.source = "none"`);
//! * JSON Schema — validated and framed;
//! * protobuf — converted from JSON and framed.
//!
//! The instruction counts of the same path, which repeat exactly, come
//! from `scripts/bench-instructions`.
//!
//! CPU time of this thread from /proc/thread-self/schedstat, not wall time,
//! so a busy shared machine does not distort the figures; the ratios are
//! taken in one run. Validators are compiled once before timing, as in the
//! gateway (the compile counter is printed to show it stays put).
//! Run: `cargo bench -p tributary-gateway --bench ingest_event`.

#![allow(clippy::unwrap_used, missing_docs)]

use serde_json::json;
use tributary_contract::time;
use tributary_gateway::config::{Config, UnregisteredPolicy};
use tributary_gateway::delivery::{RecordBatch, Router};
use tributary_gateway::ingest::batch::{self, BatchRoute};
use tributary_gateway::ingest::corpus;
use tributary_gateway::ingest::record::{Decider, Rules, Sender};
use tributary_schema::{Catalog, Registry, Schema, SchemaType, schema::content_id};

const ROUNDS: usize = 5;
const EVENTS: usize = 100;
const BATCHES: usize = 400;

fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}

/// A 100-event batch of ~500-byte events named `name`.
fn body(name: &str) -> Vec<u8> {
    let events: Vec<_> = (0..EVENTS)
        .map(|i| {
            json!({"type": "track", "event": name, "messageId": format!("m-{i:08}"),
                "anonymousId": format!("device-{}", i % 17), "timestamp": "2026-11-25T10:00:00.000Z",
                "properties": {"cartId": format!("cart-{i:06}"), "value": 12.5 + i as f64,
                    "currency": "EUR", "itemCount": "3",
                    "items": [{"sku": "sku-000123", "quantity": 2, "price": 4.25},
                              {"sku": "sku-000456", "quantity": 1, "price": 4.0}]},
                "context": {"app": {"version": "4.2.0", "build": "4200"},
                    "os": {"name": "Android", "version": "15"},
                    "device": {"model": "Pixel 9", "manufacturer": "Google"},
                    "locale": "de-DE", "timezone": "Europe/Berlin"}})
        })
        .collect();
    serde_json::to_vec(&json!({"batch": events, "sentAt": "2026-11-25T10:00:01.000Z"})).unwrap()
}

const JSON_SCHEMA: &str = r#"{"type":"object","properties":{
  "cartId":{"type":"string","minLength":1},"value":{"type":"number","minimum":0},
  "currency":{"enum":["EUR","USD","GBP"]},"itemCount":{"type":"string"},
  "items":{"type":"array","maxItems":100,"items":{"type":"object","properties":{
    "sku":{"type":"string"},"quantity":{"type":"integer","minimum":1},"price":{"type":"number"}},
    "required":["sku","quantity"]}}},"required":["cartId","value"]}"#;

fn registry() -> Registry {
    let proto = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../schemas/shop/checkout_started/1.proto"),
    )
    .unwrap();
    let mut c = Catalog::default();
    for (subject, t, text) in [
        ("bench.json_event", SchemaType::Json, JSON_SCHEMA.to_owned()),
        ("bench.proto_event", SchemaType::Protobuf, proto),
    ] {
        c.insert(Schema {
            id: content_id(t, &text),
            subject: subject.into(),
            version: 1,
            schema_type: t,
            text,
        })
        .unwrap();
    }
    Registry::from_catalog(c).unwrap()
}

/// CPU ns per event for `BATCHES` passes over `body`, best of `ROUNDS`.
fn measure(body: &[u8], registry: Option<&Registry>) -> f64 {
    let mut config = Config::default();
    config.routing.routes = corpus::routes(&["JSON Event", "Proto Event"]);
    let router = Router::new(&config, &[]);
    let parsed = batch::parse(body, BatchRoute::Batch, &config.limits).unwrap();
    let rules = Rules {
        limits: &config.limits,
        router: &router,
        registry,
        default_ack: config.delivery.ack,
        hot_keys: None,
    };
    let sender = Sender {
        app_id: "bench",
        ack: None,
        allowed_events: None,
        unregistered: UnregisteredPolicy::Reject,
    };
    let mut records = RecordBatch::with_capacity(EVENTS, 640);
    let mut best = f64::MAX;
    for _ in 0..ROUNDS {
        let start = thread_cpu_ns();
        let mut ok = 0usize;
        for _ in 0..BATCHES {
            let mut decider = Decider::new(rules, sender, time::now());
            records = RecordBatch::with_capacity(EVENTS, 640);
            for (index, raw) in parsed.events.iter().enumerate() {
                decider.decide(&parsed, index, raw, &mut records).unwrap();
                ok += 1;
            }
        }
        let ns = (thread_cpu_ns() - start) as f64 / ok as f64;
        best = best.min(ns);
    }
    assert_eq!(records.records().len(), EVENTS);
    best
}

fn main() {
    let registry = registry();
    let compiled = registry.compilations();
    let json_body = body("JSON Event");
    let proto_body = body("Proto Event");
    println!("event size: {} bytes", json_body.len() / EVENTS);
    let base = measure(&json_body, None);
    let with_json = measure(&json_body, Some(&registry));
    let with_proto = measure(&proto_body, Some(&registry));
    println!("| stage | CPU ns/event | events/s per core | vs no registry |");
    println!("|---|---:|---:|---:|");
    for (name, ns) in [
        ("decide, no registry", base),
        ("decide + JSON Schema validation", with_json),
        ("decide + protobuf conversion", with_proto),
    ] {
        println!("| {name} | {ns:.0} | {:.0} | {:.2}x |", 1e9 / ns, ns / base);
    }
    println!(
        "schema validation adds {:.0} ns/event (JSON Schema), {:.0} ns/event (protobuf)",
        with_json - base,
        with_proto - base
    );
    assert_eq!(
        registry.compilations(),
        compiled,
        "validators were compiled during the run"
    );
    println!("validators compiled: {compiled} (before and after the timed runs)");
}
