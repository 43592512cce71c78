//! The decoder as one pure function, for fuzzers and the seed-corpus test:
//! body bytes in, per-event outcomes out (every step of the decide step
//! that serves traffic, without a registry), with no I/O. Anything it can be
//! made to panic on could crash a gateway thread.

use super::batch::{self, BatchRoute};
use super::decode;
use super::record::{Decider, Rules, Sender};
use crate::config::{Config, UnregisteredPolicy};
use crate::delivery::{RecordBatch, Router};
use std::sync::OnceLock;
use tributary_contract::EventType;

/// The default configuration and its router, built once.
fn setup() -> &'static (Config, Router) {
    static SETUP: OnceLock<(Config, Router)> = OnceLock::new();
    SETUP.get_or_init(|| {
        let config = Config::default();
        let router = Router::new(&config, &[]);
        (config, router)
    })
}

/// Runs the whole ingest decode path on `data`: the first byte picks the
/// route and encoding, the rest is the body. Returns the number of events
/// that would be accepted (for assertions); never panics on any input.
pub fn decode_batch(data: &[u8]) -> usize {
    let Some((&selector, body)) = data.split_first() else {
        return 0;
    };
    let encoding = if selector & 1 == 1 {
        decode::ContentEncoding::Gzip
    } else {
        decode::ContentEncoding::Identity
    };
    let route = match (selector >> 1) % 7 {
        0 => BatchRoute::Batch,
        n => BatchRoute::Single(EventType::ALL[(n as usize - 1) % EventType::ALL.len()]),
    };
    let Ok(body) = decode::decode(
        bytes::Bytes::copy_from_slice(body),
        encoding,
        decode::InflateLimits {
            max_bytes: 1 << 20,
            max_ratio: 200,
        },
    ) else {
        return 0;
    };
    let (config, router) = setup();
    let Ok(batch) = batch::parse(&body, route, &config.limits) else {
        return 0;
    };
    let rules = Rules {
        limits: &config.limits,
        router,
        registry: None,
        default_ack: config.delivery.ack,
        hot_keys: None,
    };
    let sender = Sender {
        app_id: "fuzz",
        ack: None,
        allowed_events: None,
        unregistered: UnregisteredPolicy::Reject,
    };
    let mut decider = Decider::new(rules, sender, tributary_contract::time::now());
    let mut out = RecordBatch::default();
    let mut accepted = 0;
    for (index, event) in batch.events.iter().enumerate() {
        if decider.decide(&batch, index, event, &mut out).is_ok()
            // What the gateway writes must itself be valid JSON.
            && out.records().last().is_some_and(|r| {
                serde_json::from_slice::<serde::de::IgnoredAny>(out.value(r)).is_ok()
            })
        {
            accepted += 1;
        }
    }
    accepted
}
