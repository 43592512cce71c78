//! Deterministic simulation of the engine: a virtual clock, a scripted
//! gateway (timeouts, 429 with Retry-After, 413, 500 storms, flapping
//! network, partial rejections) and app crashes, checked by properties:
//!
//! * nothing queued is lost unless counted as dropped
//!   (`enqueued = delivered + dropped_queued + queued`);
//! * storage never exceeds its budgets;
//! * no event is accepted twice, and a batch is only ever re-sent under
//!   its original idempotency key with exactly its original events.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use proptest::prelude::*;
use serde_json::{Map, Value, json};
use std::collections::{BTreeSet, HashMap};
use std::time::Duration;
use tributary_sdk_core::config::Compression;
use tributary_sdk_core::{
    Consent, DropReason, Engine, MemoryStorage, SdkConfig, UploadRequest, UploadResult, UploadTask,
};

/// What the scripted gateway does with one request.
#[derive(Debug, Clone, Copy)]
enum Behaviour {
    /// Accept (or replay the answer of a known key).
    Ok,
    /// Accept, but the client never sees the answer (timeout).
    OkLost,
    /// The request never reaches the gateway.
    Unreachable,
    /// 429 with Retry-After seconds.
    TooMany(u64),
    /// 503 without Retry-After.
    Unavailable,
    /// 500.
    ServerError,
    /// 413 when the batch has more than this many events, else accept.
    TooLarge(usize),
    /// Accept all but the first event, rejected for good.
    RejectFirst,
    /// Accept all but the first event, rejected as retryable.
    RetryFirst,
}

#[derive(Default)]
struct Gateway {
    accepted: HashMap<String, usize>,
    keys: HashMap<String, (Vec<String>, u16, String)>,
    requests: usize,
}

impl Gateway {
    fn ids(req: &UploadRequest) -> Vec<String> {
        let body = if req
            .headers
            .iter()
            .any(|(k, v)| k == "Content-Encoding" && v == "gzip")
        {
            use std::io::Read;
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(&req.body[..])
                .read_to_end(&mut out)
                .unwrap();
            out
        } else {
            req.body.clone()
        };
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert!(
            v["sentAt"].is_string(),
            "sentAt is stamped on every request"
        );
        v["batch"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["messageId"].as_str().unwrap().to_owned())
            .collect()
    }

    fn handle(&mut self, req: &UploadRequest, b: Behaviour) -> UploadResult {
        self.requests += 1;
        let ids = Gateway::ids(req);
        assert_eq!(ids.len(), req.event_count);
        if let Some((known, status, body)) = self.keys.get(&req.idempotency_key) {
            assert_eq!(
                known, &ids,
                "a retry carries exactly the batch's original events"
            );
            if !matches!(b, Behaviour::Unreachable) {
                return UploadResult::Http {
                    status: *status,
                    retry_after: None,
                    body: body.as_bytes().to_vec(),
                };
            }
        }
        let status = |s: u16, ra: Option<u64>| UploadResult::Http {
            status: s,
            retry_after: ra.map(|r| r.to_string()),
            body: Vec::new(),
        };
        match b {
            Behaviour::Unreachable => UploadResult::Network("connection refused".into()),
            Behaviour::TooMany(s) => status(429, Some(s)),
            Behaviour::Unavailable => status(503, None),
            Behaviour::ServerError => status(500, None),
            Behaviour::TooLarge(max) if ids.len() > max => status(413, None),
            Behaviour::Ok
            | Behaviour::OkLost
            | Behaviour::TooLarge(_)
            | Behaviour::RejectFirst
            | Behaviour::RetryFirst => {
                let mut rejected = Vec::new();
                for (i, id) in ids.iter().enumerate() {
                    match b {
                        Behaviour::RejectFirst if i == 0 => rejected.push(json!({"index": 0, "code": "invalid_field", "message": "x", "retryable": false})),
                        Behaviour::RetryFirst if i == 0 => rejected.push(json!({"index": 0, "code": "queue_full", "message": "x", "retryable": true})),
                        _ => {
                            let n = self.accepted.entry(id.clone()).or_default();
                            *n += 1;
                            assert_eq!(*n, 1, "event {id} accepted twice");
                        }
                    }
                }
                let body = json!({"accepted": ids.len() - rejected.len(), "rejected": rejected})
                    .to_string();
                self.keys
                    .insert(req.idempotency_key.clone(), (ids, 200, body.clone()));
                if matches!(b, Behaviour::OkLost) {
                    UploadResult::Timeout
                } else {
                    UploadResult::Http {
                        status: 200,
                        retry_after: None,
                        body: body.into_bytes(),
                    }
                }
            }
        }
    }
}

#[derive(Debug, Clone)]
enum Step {
    Track(usize),
    Advance(u64),
    Flush,
    Crash,
    Offline(bool),
}

fn config() -> SdkConfig {
    SdkConfig {
        max_queue_events: 40,
        max_queue_bytes: 16_000,
        max_event_bytes: 2_000,
        max_batch_events: 8,
        max_batch_bytes: 4_000,
        flush_at_events: 5,
        flush_interval_ms: 10_000,
        max_event_age_ms: 3_600_000,
        compression: Compression::None,
        // Settings fetches have their own tests (tests/settings.rs).
        remote_settings: false,
        ..SdkConfig::new("wk", "http://gateway")
    }
}

struct Sim {
    storage: MemoryStorage,
    engine: Engine<MemoryStorage>,
    gateway: Gateway,
    behaviours: Vec<Behaviour>,
    next_behaviour: usize,
    now: i64,
    seed: u64,
    // Totals over every engine instance (each crash starts a new one).
    enqueued: u64,
    delivered: u64,
    dropped_queued: u64,
}

impl Sim {
    fn new(behaviours: Vec<Behaviour>, seed: u64) -> Sim {
        let storage = MemoryStorage::new();
        let now = 1_800_000_000_000;
        let engine = Engine::new(config(), storage.clone(), seed, now).unwrap();
        Sim {
            storage,
            engine,
            gateway: Gateway::default(),
            behaviours,
            next_behaviour: 0,
            now,
            seed,
            enqueued: 0,
            delivered: 0,
            dropped_queued: 0,
        }
    }

    fn check_budget(&self) {
        let cfg = config();
        assert!(
            self.storage.len() <= cfg.max_queue_events,
            "stored {} events",
            self.storage.len()
        );
        assert!(
            self.storage.bytes() <= cfg.max_queue_bytes,
            "stored {} bytes",
            self.storage.bytes()
        );
    }

    fn retire_engine(&mut self) {
        let s = self.engine.stats();
        self.enqueued += s.enqueued;
        self.delivered += s.delivered;
        self.dropped_queued += s.dropped_queued;
    }

    fn pump(&mut self, max_requests: usize) {
        for _ in 0..max_requests {
            match self.engine.next_task(self.now) {
                UploadTask::Upload(req) => {
                    let b = if self.behaviours.is_empty() {
                        Behaviour::Ok
                    } else {
                        self.behaviours[self.next_behaviour % self.behaviours.len()]
                    };
                    self.next_behaviour += 1;
                    let result = self.gateway.handle(&req, b);
                    self.now += 20;
                    self.engine.on_response(req.id, result, self.now);
                }
                UploadTask::Wait(_) | UploadTask::Done => break,
            }
            self.check_budget();
        }
    }

    fn step(&mut self, s: &Step) {
        match s {
            Step::Track(n) => {
                for i in 0..*n {
                    let props: Map<String, Value> = json!({"i": i, "pad": "x".repeat(i * 40)})
                        .as_object()
                        .unwrap()
                        .clone();
                    let _ = self.engine.track("Order Completed", props, self.now);
                    self.now += 1;
                    self.check_budget();
                }
            }
            Step::Advance(ms) => self.now += *ms as i64,
            Step::Flush => self.engine.flush(),
            Step::Offline(off) => self.engine.set_online(!off),
            Step::Crash => {
                self.retire_engine();
                self.seed += 1;
                self.engine =
                    Engine::new(config(), self.storage.clone(), self.seed, self.now).unwrap();
            }
        }
        self.pump(4);
    }

    /// Gateway healthy from now on: everything must drain.
    fn drain(&mut self) {
        self.behaviours = vec![Behaviour::Ok];
        self.next_behaviour = 0;
        self.engine.set_online(true);
        for _ in 0..200 {
            self.engine.flush();
            match self.engine.next_task(self.now) {
                UploadTask::Upload(req) => {
                    let result = self.gateway.handle(&req, Behaviour::Ok);
                    self.engine.on_response(req.id, result, self.now);
                }
                UploadTask::Wait(d) => self.now += d.as_millis() as i64 + 1,
                UploadTask::Done => break,
            }
        }
        assert!(
            self.engine.is_idle(),
            "queue drains once the gateway is healthy: {:?}",
            self.engine.stats()
        );
        self.retire_engine();
    }

    fn check_accounting(&self) {
        assert_eq!(
            self.enqueued,
            self.delivered + self.dropped_queued,
            "every queued event is delivered or counted as dropped (enqueued {}, delivered {}, dropped {})",
            self.enqueued,
            self.delivered,
            self.dropped_queued
        );
        assert_eq!(
            self.gateway.accepted.len() as u64,
            self.delivered,
            "the gateway saw exactly the delivered events"
        );
    }
}

fn behaviour() -> impl Strategy<Value = Behaviour> {
    prop_oneof![
        4 => Just(Behaviour::Ok),
        2 => Just(Behaviour::OkLost),
        2 => Just(Behaviour::Unreachable),
        1 => (1u64..30).prop_map(Behaviour::TooMany),
        1 => Just(Behaviour::Unavailable),
        1 => Just(Behaviour::ServerError),
        1 => (1usize..4).prop_map(Behaviour::TooLarge),
        1 => Just(Behaviour::RejectFirst),
        1 => Just(Behaviour::RetryFirst),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        5 => (1usize..12).prop_map(Step::Track),
        3 => (0u64..120_000).prop_map(Step::Advance),
        1 => Just(Step::Flush),
        1 => Just(Step::Crash),
        1 => any::<bool>().prop_map(Step::Offline),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 160, .. ProptestConfig::default() })]

    #[test]
    fn nothing_is_lost_uncounted_or_accepted_twice(
        steps in prop::collection::vec(step(), 1..60),
        behaviours in prop::collection::vec(behaviour(), 1..12),
        seed in any::<u64>(),
    ) {
        let mut sim = Sim::new(behaviours, seed);
        for s in &steps {
            sim.step(s);
        }
        sim.drain();
        sim.check_accounting();
    }
}

// ---- targeted scenarios ----

fn upload(engine: &mut Engine<MemoryStorage>, now: i64) -> UploadRequest {
    match engine.next_task(now) {
        UploadTask::Upload(r) => r,
        other => panic!("expected an upload, got {other:?}"),
    }
}

fn track_n(engine: &mut Engine<MemoryStorage>, n: usize, now: i64) {
    for i in 0..n {
        engine
            .track("e", json!({"i": i}).as_object().unwrap().clone(), now)
            .unwrap();
    }
}

#[test]
fn a_timed_out_batch_is_retried_with_the_same_key_and_events_and_a_fresh_sent_at() {
    let mut e = Engine::new(config(), MemoryStorage::new(), 1, 1_000_000).unwrap();
    track_n(&mut e, 5, 1_000_000);
    let first = upload(&mut e, 1_000_100);
    e.on_response(first.id, UploadResult::Timeout, 1_000_200);
    let wait = match e.next_task(1_000_200) {
        UploadTask::Wait(d) => d,
        other => panic!("backoff expected, got {other:?}"),
    };
    assert!(
        wait >= Duration::from_millis(100) && wait <= Duration::from_millis(1000),
        "{wait:?}"
    );
    let retry = upload(&mut e, 1_000_200 + wait.as_millis() as i64);
    assert_eq!(retry.idempotency_key, first.idempotency_key);
    assert_eq!(Gateway::ids(&retry), Gateway::ids(&first));
    let sent =
        |r: &UploadRequest| serde_json::from_slice::<Value>(&r.body).unwrap()["sentAt"].clone();
    assert_ne!(
        sent(&first),
        sent(&retry),
        "sentAt is stamped when sending, not when batching"
    );
}

#[test]
fn retry_after_is_honoured() {
    let mut e = Engine::new(config(), MemoryStorage::new(), 1, 0).unwrap();
    track_n(&mut e, 5, 0);
    let r = upload(&mut e, 10);
    e.on_response(
        r.id,
        UploadResult::Http {
            status: 429,
            retry_after: Some("7".into()),
            body: vec![],
        },
        10,
    );
    assert_eq!(
        e.next_task(10),
        UploadTask::Wait(Duration::from_millis(7000))
    );
    assert_eq!(upload(&mut e, 7010).idempotency_key, r.idempotency_key);
}

#[test]
fn a_413_splits_the_batch_and_a_single_oversized_event_is_dropped() {
    let mut e = Engine::new(config(), MemoryStorage::new(), 1, 0).unwrap();
    track_n(&mut e, 7, 0); // + Session Started = 8 events
    let r = upload(&mut e, 10);
    assert_eq!(r.event_count, 8);
    e.on_response(
        r.id,
        UploadResult::Http {
            status: 413,
            retry_after: None,
            body: vec![],
        },
        10,
    );
    let half = upload(&mut e, 10);
    assert_eq!(half.event_count, 4);
    assert_ne!(half.idempotency_key, r.idempotency_key);
    e.on_response(
        half.id,
        UploadResult::Http {
            status: 413,
            retry_after: None,
            body: vec![],
        },
        10,
    );
    for expect in [2, 1] {
        let r = upload(&mut e, 10);
        assert_eq!(r.event_count, expect);
        e.on_response(
            r.id,
            UploadResult::Http {
                status: 413,
                retry_after: None,
                body: vec![],
            },
            10,
        );
    }
    assert_eq!(e.stats().dropped.get(DropReason::TooLarge), 1);
}

#[test]
fn a_restart_resumes_the_batch_in_flight_under_its_key() {
    let storage = MemoryStorage::new();
    let mut e = Engine::new(config(), storage.clone(), 1, 0).unwrap();
    track_n(&mut e, 6, 0);
    let r = upload(&mut e, 10);
    drop(e); // the app is killed before the answer arrives
    let mut e = Engine::new(config(), storage.clone(), 2, 50).unwrap();
    let again = upload(&mut e, 60);
    assert_eq!(again.idempotency_key, r.idempotency_key);
    assert_eq!(Gateway::ids(&again), Gateway::ids(&r));
}

#[test]
fn consent_pending_holds_uploads_and_denied_purges() {
    let mut e = Engine::new(config(), MemoryStorage::new(), 1, 0).unwrap();
    e.set_consent(Consent::Pending);
    track_n(&mut e, 10, 0);
    e.flush();
    assert_eq!(e.next_task(1), UploadTask::Done);
    e.set_consent(Consent::Granted);
    assert!(matches!(e.next_task(1), UploadTask::Upload(_)));
    e.set_consent(Consent::Denied);
    assert_eq!(e.stats().queued, 0);
    assert!(e.stats().dropped.get(DropReason::OptOut) >= 10);
    assert!(e.track("e", Map::new(), 2).is_err());
}

#[test]
fn sessions_end_and_start_after_inactivity() {
    let mut e = Engine::new(config(), MemoryStorage::new(), 1, 0).unwrap();
    track_n(&mut e, 1, 1_000);
    track_n(&mut e, 1, 1_000 + 31 * 60 * 1000);
    e.flush();
    let r = upload(&mut e, 1_000 + 31 * 60 * 1000);
    let v: Value = serde_json::from_slice(&r.body).unwrap();
    let names: Vec<&str> = v["batch"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "Session Started",
            "e",
            "Session Ended",
            "Session Started",
            "e"
        ]
    );
    let batch = v["batch"].as_array().unwrap();
    assert_eq!(batch[2]["properties"]["durationMs"], 1_000);
    assert_ne!(batch[1]["sessionId"], batch[4]["sessionId"]);
}

#[test]
fn drops_are_reported_to_the_gateway_once() {
    let cfg = SdkConfig {
        max_queue_events: 3,
        ..config()
    };
    let mut e = Engine::new(cfg, MemoryStorage::new(), 1, 0).unwrap();
    track_n(&mut e, 6, 0); // 1 session event + 6, room for 3
    e.flush();
    let r = upload(&mut e, 1);
    let v: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["clientReport"]["dropped"]["queue_full"], 4);
    let ok = json!({"accepted": r.event_count, "rejected": []})
        .to_string()
        .into_bytes();
    e.on_response(
        r.id,
        UploadResult::Http {
            status: 200,
            retry_after: None,
            body: ok,
        },
        2,
    );
    track_n(&mut e, 1, 3);
    e.flush();
    let next = upload(&mut e, 4);
    let v: Value = serde_json::from_slice(&next.body).unwrap();
    assert!(
        v.get("clientReport").is_none(),
        "a delivered report is not repeated"
    );
}

#[test]
fn gzip_bodies_decode_and_carry_auth_and_context() {
    let cfg = SdkConfig {
        compression: Compression::Gzip,
        ..config()
    };
    let mut e = Engine::new(cfg, MemoryStorage::new(), 1, 0).unwrap();
    e.set_context(&tributary_sdk_core::Context {
        os_name: Some("Android".into()),
        ..Default::default()
    });
    track_n(&mut e, 5, 0);
    let r = upload(&mut e, 1);
    assert!(
        r.headers
            .contains(&("Content-Encoding".into(), "gzip".into()))
    );
    assert!(
        r.headers
            .contains(&("Authorization".into(), "Basic d2s6".into()))
    );
    assert_eq!(r.url, "http://gateway/v1/batch");
    assert_eq!(Gateway::ids(&r).len(), 6);
    let mut plain = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&r.body[..]), &mut plain).unwrap();
    let v: Value = serde_json::from_slice(&plain).unwrap();
    assert_eq!(v["context"]["os"]["name"], "Android");
    let ids: BTreeSet<&str> = v["batch"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["messageId"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 6, "message ids are unique");
}

#[test]
fn beacon_batches_fit_the_quota_carry_the_write_key_and_skip_the_batch_in_flight() {
    let cfg = SdkConfig {
        max_queue_events: 1000,
        max_queue_bytes: 1 << 20,
        ..config()
    };
    let mut e = Engine::new(cfg, MemoryStorage::new(), 1, 0).unwrap();
    track_n(&mut e, 5, 0);
    let in_flight = upload(&mut e, 1);
    for i in 0..200 {
        e.track(
            "e",
            json!({"i": i, "pad": "x".repeat(300)})
                .as_object()
                .unwrap()
                .clone(),
            2,
        )
        .unwrap();
    }
    let beacons = e.beacon_batches(16 * 1024, 3);
    assert!(beacons.len() > 1, "split to stay under the quota");
    let mut sent = Vec::new();
    for b in &beacons {
        assert!(b.body.len() <= 16 * 1024, "{}", b.body.len());
        let v: Value = serde_json::from_slice(&b.body).unwrap();
        assert_eq!(v["writeKey"], "wk", "beacons cannot set headers");
        sent.extend(b.seqs.iter().copied());
    }
    assert_eq!(sent.len(), 200);
    let flying: BTreeSet<String> = Gateway::ids(&in_flight).into_iter().collect();
    for b in &beacons {
        let v: Value = serde_json::from_slice(&b.body).unwrap();
        for ev in v["batch"].as_array().unwrap() {
            assert!(
                !flying.contains(ev["messageId"].as_str().unwrap()),
                "the batch in flight is not beaconed"
            );
        }
    }
    // Hidden again before any was confirmed (the browser refused them):
    // the same events go under the same keys, so the gateway answers a
    // beacon it did receive only once.
    let again = e.beacon_batches(16 * 1024, 4);
    let keys = |b: &[tributary_sdk_core::engine::BeaconBatch]| {
        b.iter()
            .map(|b| (b.seqs.clone(), b.idempotency_key.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(keys(&again), keys(&beacons));
    for b in &beacons {
        e.beacon_sent(&b.seqs);
    }
    assert_eq!(e.stats().queued, 6, "only the batch in flight is left");
    e.track("e", json!({"late": true}).as_object().unwrap().clone(), 5)
        .unwrap();
    let later = e.beacon_batches(16 * 1024, 5);
    assert_eq!(later.len(), 1);
    assert!(
        beacons
            .iter()
            .all(|b| b.idempotency_key != later[0].idempotency_key),
        "other events, another key"
    );
}

#[test]
fn a_restart_continues_the_session_when_starts_are_not_cold() {
    // The web SDK's setting: a page load continues the session.
    let cfg = SdkConfig {
        new_session_on_start: false,
        ..config()
    };
    let storage = MemoryStorage::new();
    let mut a = Engine::new(cfg.clone(), storage.clone(), 1, 0).unwrap();
    track_n(&mut a, 1, 1_000);
    drop(a);
    let mut b = Engine::new(cfg, storage, 2, 5_000).unwrap();
    track_n(&mut b, 1, 6_000);
    b.flush();
    let r = upload(&mut b, 6_000);
    let v: Value = serde_json::from_slice(&r.body).unwrap();
    let batch = v["batch"].as_array().unwrap();
    let names: Vec<&str> = batch.iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert_eq!(names, ["Session Started", "e", "e"]);
    assert_eq!(batch[1]["sessionId"], batch[2]["sessionId"]);
}

#[test]
fn evict_frees_room_from_the_oldest_waiting_events_and_counts_them() {
    let mut e = Engine::new(config(), MemoryStorage::new(), 1, 0).unwrap();
    track_n(&mut e, 6, 1_000);
    let in_flight = upload(&mut e, 1_000);
    track_n(&mut e, 4, 2_000);
    let before = e.stats();
    let one = in_flight.body.len() / in_flight.event_count;
    let evicted = e.evict(one);
    assert!(evicted >= 1);
    let after = e.stats();
    assert_eq!(after.queued, before.queued - evicted);
    assert_eq!(after.dropped.get(DropReason::QueueFull), evicted as u64);
    // The batch in flight is untouched: its answer still settles it.
    e.on_response(
        in_flight.id,
        UploadResult::Accepted {
            rejected: vec![],
            settings_version: None,
        },
        2_500,
    );
    assert_eq!(e.stats().delivered, in_flight.event_count as u64);
    assert_eq!(e.stats().queued, after.queued - in_flight.event_count);
}

#[test]
fn no_beacons_while_backing_off_or_without_consent() {
    let mut e = Engine::new(config(), MemoryStorage::new(), 1, 0).unwrap();
    track_n(&mut e, 6, 0);
    let r = upload(&mut e, 1);
    e.on_response(r.id, UploadResult::Network("refused".into()), 2);
    track_n(&mut e, 3, 3);
    assert!(
        e.beacon_batches(60_000, 4).is_empty(),
        "the gateway looks unreachable"
    );
    e.on_response(r.id, UploadResult::Timeout, 5); // a stale id changes nothing
    assert!(e.beacon_batches(60_000, 5).is_empty());

    let mut p = Engine::new(config(), MemoryStorage::new(), 1, 0).unwrap();
    p.set_consent(Consent::Pending);
    track_n(&mut p, 3, 0);
    assert!(p.beacon_batches(60_000, 1).is_empty());
    p.set_consent(Consent::Granted);
    assert!(!p.beacon_batches(60_000, 1).is_empty());
}
