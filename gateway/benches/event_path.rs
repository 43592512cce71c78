//! The gateway's event path over the fixed corpus (`tests/data`), for
//! instruction counts: `scripts/bench-instructions` runs
//! `event_path run <stage>` under callgrind, counting only `measured`, for
//! the cumulative stages parse (the body into raw events), prepare (+ each
//! event's checks and stamps), validate (+ permission, route, validation
//! and the value in its schema encoding) and record (the whole decide step
//! with envelope headers and key, and the headers converted for
//! librdkafka), and edge (record with every edge stage on: geo and ASN
//! lookups in a database built here, the user agent, and privacy rules
//! with all three detectors). The same command measures aff7db2 with that
//! revision's harness (`bench/instructions/aff7db2.rs`) over the same
//! corpus.

#![allow(clippy::unwrap_used, missing_docs)]

#[allow(dead_code, clippy::expect_used)]
#[path = "../src/enrich/geo/test_db.rs"]
mod test_db;

use std::collections::HashSet;
use tributary_contract::time::Timestamp;
use tributary_gateway::config::Config;
use tributary_gateway::config::{AppPrivacyConfig, EnrichmentConfig};
use tributary_gateway::delivery::record::kafka_headers;
use tributary_gateway::delivery::{RecordBatch, Router};
use tributary_gateway::enrich::Enricher;
use tributary_gateway::ingest::batch::{self, BatchRoute};
use tributary_gateway::ingest::corpus::{self, APP};
use tributary_gateway::ingest::edge::Edge;
use tributary_gateway::ingest::event;
use tributary_gateway::ingest::record::{Decider, Rules, Sender};
use tributary_gateway::ingest::validate::{self, Lookup};
use tributary_gateway::privacy::policy::AppPolicy;
use tributary_schema::{Registry, Source};

struct Setup {
    config: Config,
    router: Router,
    registry: Registry,
    allowed: HashSet<String>,
    enricher: Enricher,
    policy: AppPolicy,
    _geo: tempfile::TempDir,
}

/// Every edge stage on, as `loadtest`'s bench configures them.
fn edge_stages() -> (Enricher, AppPolicy, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let (city, asn) = test_db::write_example(dir.path(), "203.0.113.0/24");
    let enricher = Enricher::new(&EnrichmentConfig {
        geo_city_db: Some(city),
        geo_asn_db: Some(asn),
        ..EnrichmentConfig::default()
    })
    .unwrap();
    let rules: AppPrivacyConfig = toml::from_str(
        r#"ip = "truncate"
hash_key = "bench-hash-key-0123456789"
patterns = { email = "hash", card = "mask", phone = "mask" }
rules = [
  { path = "properties.email", action = "hash" },
  { path = "traits.*", action = "mask" },
  { path = "context.device.advertisingId", action = "drop" },
]"#,
    )
    .unwrap();
    (enricher, AppPolicy::compile(&rules), dir)
}

fn setup() -> Setup {
    let config = corpus::config(true);
    let router = Router::new(&config, &[]);
    let registry = Registry::open(Source::Dir(corpus::schemas_dir())).unwrap();
    let (enricher, policy, geo) = edge_stages();
    Setup {
        config,
        router,
        registry,
        allowed: corpus::allowed_events(),
        enricher,
        policy,
        _geo: geo,
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Stage {
    Parse,
    Prepare,
    Validate,
    Record,
    Edge,
}

#[inline(never)]
fn measured(s: &Setup, bodies: &[String], now: Timestamp, stage: Stage) -> usize {
    run(s, bodies, now, stage)
}

fn run(s: &Setup, bodies: &[String], now: Timestamp, stage: Stage) -> usize {
    let rules = Rules {
        limits: &s.config.limits,
        router: &s.router,
        registry: Some(&s.registry),
        default_ack: s.config.delivery.ack,
        hot_keys: None,
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
            Stage::Record | Stage::Edge => {
                let mut decider = Decider::new(rules, sender, now);
                if stage == Stage::Edge {
                    decider = decider.with_edge(Edge {
                        enricher: &s.enricher,
                        policy: Some(&s.policy),
                        suppressed: None,
                        server_side: false,
                        client_ip: Some(std::net::IpAddr::from([203, 0, 113, 9])),
                        request_agent: Some(
                            "Mozilla/5.0 (Linux; Android 15; Pixel 9) ShopApp/4.2.0 okhttp/4.12.0",
                        ),
                    });
                }
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
        (Some("run"), Some("edge" | "edge-cold")) => Stage::Edge,
        (Some("run"), _) => Stage::Record,
        _ => {
            // `cargo bench` without arguments: a quick smoke run.
            eprintln!("usage: event_path run <parse|prepare|validate|record|edge>");
            Stage::Record
        }
    };
    let s = setup();
    // The steady state of a running gateway: the user-agent rules
    // compiled and the corpus's agents already seen (their first parse,
    // tens of microseconds each, is counted by `run edge-cold`).
    let cold = args.get(1).map(String::as_str) == Some("edge-cold");
    if stage == Stage::Edge && !cold {
        run(&s, &batches[..8], now, stage);
    }
    // The standard mix only: the first eight batches.
    let n = measured(&s, &batches[..8], now, stage);
    println!("events: {n}");
}
