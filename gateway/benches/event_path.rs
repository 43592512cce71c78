//! The gateway's event path over the fixed corpus (`tests/data`), for
//! instruction counts: `scripts/bench-instructions` runs
//! `event_path run <stage>` under callgrind, counting only `measured`, for
//! the cumulative stages parse (the body into raw events), prepare (+ each
//! event's checks and stamps), validate (+ permission, route, validation
//! and the value in its schema encoding) and record (the whole decide step
//! with envelope headers and key, and the headers converted for
//! librdkafka). The same command measures aff7db2 with that revision's
//! harness (`bench/instructions/aff7db2.rs`) over the same corpus.

#![allow(clippy::unwrap_used, missing_docs)]

use std::collections::HashSet;
use tributary_contract::time::Timestamp;
use tributary_gateway::config::Config;
use tributary_gateway::delivery::record::kafka_headers;
use tributary_gateway::delivery::{RecordBatch, Router};
use tributary_gateway::ingest::batch::{self, BatchRoute};
use tributary_gateway::ingest::corpus::{self, APP};
use tributary_gateway::ingest::event;
use tributary_gateway::ingest::record::{Decider, Rules, Sender};
use tributary_gateway::ingest::validate::{self, Lookup};
use tributary_schema::{Registry, Source};

struct Setup {
    config: Config,
    router: Router,
    registry: Registry,
    allowed: HashSet<String>,
}

fn setup() -> Setup {
    let config = corpus::config(true);
    let router = Router::new(&config);
    let registry = Registry::open(Source::Dir(corpus::schemas_dir())).unwrap();
    Setup {
        config,
        router,
        registry,
        allowed: corpus::allowed_events(),
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Stage {
    Parse,
    Prepare,
    Validate,
    Record,
}

#[inline(never)]
fn measured(s: &Setup, bodies: &[String], now: Timestamp, stage: Stage) -> usize {
    let rules = Rules {
        limits: &s.config.limits,
        router: &s.router,
        registry: Some(&s.registry),
        default_ack: s.config.delivery.ack,
    };
    let sender = Sender {
        app_id: APP,
        ack: None,
        allowed_events: Some(&s.allowed),
        unregistered: s.config.schemas.unregistered_policy(APP),
    };
    let mut n = 0;
    for body in bodies {
        let batch = batch::parse(body.as_bytes(), BatchRoute::Batch, &s.config.limits).unwrap();
        match stage {
            Stage::Parse => n += batch.events.len(),
            Stage::Prepare => {
                for e in &batch.events {
                    n += usize::from(event::check(e, &batch, &s.config.limits, now).is_ok());
                }
            }
            Stage::Validate => {
                let mut value = Vec::with_capacity(64 * 1024);
                for e in &batch.events {
                    let Ok((view, _)) = event::check(e, &batch, &s.config.limits, now) else {
                        continue;
                    };
                    if !s.allowed.contains(view.routing_name())
                        || s.router.route(APP, &view).is_none()
                    {
                        continue;
                    }
                    let r = s.registry.for_event(APP, view.routing_name());
                    let lookup = r.as_ref().map_or(Lookup::Missing, Lookup::Found);
                    n += usize::from(
                        validate::check(lookup, sender.unregistered, APP, &view, &mut value)
                            .is_ok(),
                    );
                }
            }
            Stage::Record => {
                let mut decider = Decider::new(rules, sender, now);
                let mut out = RecordBatch::with_capacity(batch.events.len(), 640);
                for (index, e) in batch.events.iter().enumerate() {
                    let _ = decider.decide(&batch, index, e, &mut out);
                }
                for r in out.records() {
                    // In the gateway librdkafka takes and frees the headers.
                    drop(std::hint::black_box(kafka_headers(out.headers(r))));
                }
                n += out.records().len();
            }
        }
    }
    n
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let (now, batches) = corpus::load().unwrap();
    let stage = match (
        args.first().map(String::as_str),
        args.get(1).map(String::as_str),
    ) {
        (Some("run"), Some("parse")) => Stage::Parse,
        (Some("run"), Some("prepare")) => Stage::Prepare,
        (Some("run"), Some("validate")) => Stage::Validate,
        (Some("run"), _) => Stage::Record,
        _ => {
            // `cargo bench` without arguments: a quick smoke run.
            eprintln!("usage: event_path run <parse|prepare|validate|record>");
            Stage::Record
        }
    };
    let s = setup();
    // The standard mix only: the first eight batches.
    let n = measured(&s, &batches[..8], now, stage);
    println!("events: {n}");
}
