//! The decoder as one pure function, for fuzzers and the seed-corpus test:
//! body bytes in, per-event outcomes out, with no I/O. Anything it can be
//! made to panic on could crash a gateway thread.

use super::batch::{self, BatchRoute};
use super::{decode, event};
use crate::config::LimitsConfig;
use tributary_contract::EventType;

/// Runs the whole ingest decode path on `data`: the first byte picks the
/// route and encoding, the rest is the body. Returns the number of events
/// that would be accepted (for assertions); never panics on any input.
pub fn decode_batch(data: &[u8]) -> usize {
    let Some((&selector, body)) = data.split_first() else {
        return 0;
    };
    let encoding = if selector & 1 == 1 {
        decode::Encoding::Gzip
    } else {
        decode::Encoding::Identity
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
    let Ok(batch) = batch::parse(&body, route, 1000) else {
        return 0;
    };
    let now = tributary_contract::time::now();
    let limits = LimitsConfig::default();
    let mut out = Vec::new();
    let mut accepted = 0;
    for raw in &batch.events {
        if event::prepare(raw.get(), &batch, &limits, now, &mut out).is_ok()
            // What the gateway writes must itself be valid JSON.
            && serde_json::from_slice::<serde::de::IgnoredAny>(&out).is_ok()
        {
            accepted += 1;
        }
    }
    accepted
}
