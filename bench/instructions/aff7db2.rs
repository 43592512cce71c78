//! The event path of aff7db2 (before issue "Gateway event path"), driven
//! over the fixed corpus: `scripts/bench-instructions aff7db2` copies this
//! file into a worktree of that revision as the `event_path` bench, so the
//! old path is measured with the same command, input and stages as the
//! new one. It replicates aff7db2's `api::ingest::deliver` up to the
//! producer call: prepare, permission, route, validate, envelope, headers.
//!
//! `event_path run <stage>` runs the standard-mix batches through the
//! stages up to `<stage>` (parse, prepare, validate, record) inside
//! `measured`, which callgrind's --toggle-collect counts;
//! `event_path dump <file>` writes every record and rejection as JSON
//! lines, for the byte-for-byte comparison with the new path.

#![allow(clippy::unwrap_used, missing_docs)]

use rdkafka::message::{Header, OwnedHeaders};
use std::collections::HashSet;
use std::io::Write;
use tributary_contract::{Encoding, Envelope};
use tributary_gateway::config::{Config, RouteConfig, SchemaSourceKind, UnregisteredPolicy};
use tributary_gateway::delivery::Router;
use tributary_gateway::ingest::batch::{self, BatchRoute};
use tributary_gateway::ingest::validate::{self, Checked};
use tributary_gateway::ingest::event;
use tributary_schema::{Registry, Source};

const APP: &str = "shop";

struct Setup {
    config: Config,
    router: Router,
    registry: Option<Registry>,
    allowed: HashSet<String>,
}

fn setup(with_registry: bool) -> Setup {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas");
    let mut config = Config::default();
    for event in ["Order Completed", "Checkout Started"] {
        config.routing.routes.push(RouteConfig {
            event: event.into(),
            app: None,
            topic: None,
            ack: None,
            cluster: None,
        });
    }
    if with_registry {
        config.schemas.source = SchemaSourceKind::Dir;
        config.schemas.dir = dir.clone();
        config.schemas.unregistered = UnregisteredPolicy::Accept;
    }
    let router = Router::new(&config);
    let registry = with_registry.then(|| Registry::open(Source::Dir(dir)).unwrap());
    let allowed = ["Order Completed", "Checkout Started", "Unknown Thing", "identify", "page", "screen"]
        .into_iter()
        .map(str::to_owned)
        .collect();
    Setup { config, router, registry, allowed }
}

fn corpus() -> (tributary_contract::time::Timestamp, Vec<String>) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/event_path_corpus.json");
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let at = tributary_contract::time::parse(v["received_at"].as_str().unwrap()).unwrap();
    let batches = v["batches"].as_array().unwrap().iter().map(|b| b.as_str().unwrap().to_owned()).collect();
    (at, batches)
}

#[derive(Clone, Copy, PartialEq, PartialOrd)]
enum Stage {
    Parse,
    Prepare,
    Validate,
    Record,
}

/// One record or rejection, as dumped.
enum Out {
    Record { index: usize, topic: String, key: Vec<u8>, headers: Vec<(String, Vec<u8>)>, value: Vec<u8> },
    Rejected { index: usize, code: String, message: String, pointer: Option<String>, rule: Option<String> },
}

#[inline(never)]
fn measured(s: &Setup, bodies: &[String], now: tributary_contract::time::Timestamp, stage: Stage, mut sink: Option<&mut dyn FnMut(Out)>) -> usize {
    let limits = &s.config.limits;
    let policy = s.config.schemas.unregistered_policy(APP);
    let mut payload = Vec::with_capacity(1024);
    let mut records = 0;
    let dumping = sink.is_some();
    for body in bodies {
        let batch = batch::parse(body.as_bytes(), BatchRoute::Batch, 1000).unwrap();
        if stage == Stage::Parse {
            records += batch.events.len();
            continue;
        }
        for (index, raw) in batch.events.iter().enumerate() {
            let reject = |code: tributary_contract::ErrorCode, message: String| Out::Rejected {
                index, code: code.as_str().into(), message, pointer: None, rule: None,
            };
            // Only a dump builds its owned copies: a run measures the path alone.
            let mut sink = |o: Out| {
                if let Some(f) = sink.as_mut() {
                    f(o)
                }
            };
            let (view, stamps) = match event::prepare(raw.get(), &batch, limits, now, &mut payload) {
                Ok(p) => p,
                Err(e) => {
                    sink(reject(e.code, e.message));
                    continue;
                }
            };
            if stage == Stage::Prepare {
                records += 1;
                continue;
            }
            if !s.allowed.contains(view.routing_name()) {
                sink(reject(tributary_contract::ErrorCode::EventNotAllowed,
                    format!("this write key may not send {:?}", view.routing_name())));
                continue;
            }
            let Some(target) = s.router.route(APP, &view) else {
                sink(reject(tributary_contract::ErrorCode::UnroutedEvent, "unrouted".into()));
                continue;
            };
            let checked = match validate::check(s.registry.as_ref(), policy, APP, &view, &mut payload) {
                Ok(c) => c,
                Err(r) => {
                    sink(Out::Rejected { index, code: r.code.as_str().into(), message: r.message, pointer: r.pointer, rule: r.rule });
                    continue;
                }
            };
            let target = match (checked, s.router.unvalidated()) {
                (Checked::Unvalidated, Some(t)) => t,
                _ => target,
            };
            if stage == Stage::Validate {
                records += 1;
                continue;
            }
            let (schema_id, encoding, context, extra) = match checked {
                Checked::Encoded { schema_id, encoding } => (
                    Some(schema_id),
                    encoding,
                    view.merged_context(batch.context).ok().flatten(),
                    view.extra_fields().ok().flatten(),
                ),
                Checked::NoRegistry | Checked::Unvalidated => (None, Encoding::Json, None, None),
            };
            let envelope = Envelope {
                event_type: view.kind,
                event_name: view.routing_name().to_owned(),
                message_id: view.message_id.to_string(),
                app_id: APP.to_string(),
                schema_id,
                encoding,
                timestamp: stamps.timestamp,
                client_timestamp: stamps.original_timestamp,
                sent_at: stamps.sent_at,
                received_at: now,
                custom_attributes: view.custom_attributes.map(|c| c.get().to_owned()),
                unrouted: target.unrouted,
                user_id: view.user_id.as_deref().map(str::to_owned),
                anonymous_id: view.anonymous_id.as_deref().map(str::to_owned),
                context,
                extra,
                unvalidated: checked == Checked::Unvalidated,
            };
            let header_pairs = envelope.to_headers();
            let mut headers = OwnedHeaders::new_with_capacity(12);
            for (name, value) in &header_pairs {
                headers = headers.insert(Header { key: name, value: Some(value.as_bytes()) });
            }
            records += 1;
            // In the gateway librdkafka takes and frees the headers.
            drop(std::hint::black_box(headers));
            if dumping {
                sink(Out::Record {
                    index,
                    topic: target.topic.to_string(),
                    key: view.partition_key().as_bytes().to_vec(),
                    headers: header_pairs.into_iter().map(|(k, v)| (k.to_owned(), v.into_bytes())).collect(),
                    value: payload.clone(),
                });
            }
        }
    }
    records
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let (now, batches) = corpus();
    match args.first().map(String::as_str) {
        Some("run") => {
            let stage = match args.get(1).map(String::as_str) {
                Some("parse") => Stage::Parse,
                Some("prepare") => Stage::Prepare,
                Some("validate") => Stage::Validate,
                _ => Stage::Record,
            };
            let s = setup(true);
            // The standard mix only: the first eight batches.
            let n = measured(&s, &batches[..8], now, stage, None);
            println!("events: {n}");
        }
        Some("dump") => {
            let mut f = std::fs::File::create(args.get(1).expect("dump FILE")).unwrap();
            for with_registry in [true, false] {
                let s = setup(with_registry);
                for (b, body) in batches.iter().enumerate() {
                    measured(&s, std::slice::from_ref(body), now, Stage::Record, Some(&mut |o| {
                        let line = match o {
                            Out::Record { index, topic, key, headers, value } => serde_json::json!({
                                "registry": with_registry, "batch": b, "index": index, "topic": topic,
                                "key": hex::encode(key),
                                "headers": headers.iter().map(|(k, v)| format!("{k}={}", hex::encode(v))).collect::<Vec<_>>(),
                                "value": hex::encode(value)}),
                            Out::Rejected { index, code, message, pointer, rule } => serde_json::json!({
                                "registry": with_registry, "batch": b, "index": index, "code": code,
                                "message": message, "pointer": pointer, "rule": rule}),
                        };
                        writeln!(f, "{line}").unwrap();
                    }));
                }
            }
        }
        _ => eprintln!("usage: event_path run <parse|prepare|validate|record> | dump FILE"),
    }
}
