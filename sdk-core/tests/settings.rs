//! The engine under server settings, automatic capture and plugins, driven
//! sans-IO: what it asks for, what it records, what it counts.
#![cfg(feature = "remote-settings")]
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use serde_json::{Map, Value, json};
use tributary_sdk_core::config::Compression;
use tributary_sdk_core::{
    Crash, DropReason, Engine, MemoryStorage, Opened, RequestKind, SdkConfig, UploadRequest,
    UploadResult, UploadTask,
};

fn config() -> SdkConfig {
    SdkConfig {
        compression: Compression::None,
        flush_at_events: 1,
        ..SdkConfig::new("wk", "http://gateway")
    }
}

fn next(e: &mut Engine<MemoryStorage>, now: i64) -> UploadRequest {
    match e.next_task(now) {
        UploadTask::Upload(r) => r,
        other => panic!("expected a request, got {other:?}"),
    }
}

fn settings_body(v: Value) -> Vec<u8> {
    let mut s = json!({"version": "v1", "enabled": true, "ttlSecs": 300});
    s.as_object_mut()
        .unwrap()
        .extend(v.as_object().unwrap().clone());
    serde_json::to_vec(&s).unwrap()
}

fn ok(body: Vec<u8>) -> UploadResult {
    UploadResult::Http {
        status: 200,
        retry_after: None,
        body,
    }
}

fn batch(req: &UploadRequest) -> Value {
    serde_json::from_slice(&req.body).unwrap()
}

fn names(req: &UploadRequest) -> Vec<String> {
    batch(req)["batch"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            e["event"]
                .as_str()
                .unwrap_or(e["type"].as_str().unwrap())
                .to_owned()
        })
        .collect()
}

#[cfg(feature = "plugins")]
fn props(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

#[test]
fn settings_are_fetched_first_applied_and_refetched_when_an_answer_names_another_version() {
    let mut e = Engine::new(config(), MemoryStorage::new(), 1, 0).unwrap();
    let get = next(&mut e, 1);
    assert_eq!(get.kind, RequestKind::Settings);
    assert_eq!(get.kind.method(), "GET");
    assert_eq!(get.url, "http://gateway/v1/settings");
    assert!(get.headers.iter().any(|(k, _)| k == "Authorization"));
    assert!(!get.headers.iter().any(|(k, _)| k == "If-None-Match"));
    e.on_response(
        get.id,
        ok(settings_body(json!({"disabledEvents": ["Noisy"]}))),
        2,
    );
    assert_eq!(
        e.track("Noisy", Map::new(), 3),
        Err(tributary_sdk_core::EnqueueError::Dropped(
            DropReason::DisabledByServer
        ))
    );
    e.track("Kept", Map::new(), 4).unwrap();
    let post = next(&mut e, 5);
    assert_eq!(post.kind, RequestKind::Batch);
    let body = batch(&post);
    assert_eq!(body["context"]["settingsVersion"], "v1", "{body}");
    assert_eq!(body["clientReport"]["dropped"]["disabled_by_server"], 1);
    assert!(names(&post).contains(&"Kept".to_owned()));
    // The answer names a new version: the next task fetches, sending ours.
    e.on_response(
        post.id,
        ok(br#"{"accepted":3,"rejected":[],"settingsVersion":"v2"}"#.to_vec()),
        6,
    );
    let get = next(&mut e, 7);
    assert_eq!(get.kind, RequestKind::Settings);
    assert!(
        get.headers
            .iter()
            .any(|(k, v)| k == "If-None-Match" && v == "\"v1\"")
    );
    e.on_response(
        get.id,
        ok(settings_body(json!({"version": "v2", "enabled": true}))),
        8,
    );
    e.track("Noisy", Map::new(), 9).unwrap();
    // Unchanged version and within the TTL: no fetch before the batch.
    assert_eq!(next(&mut e, 10).kind, RequestKind::Batch);
}

#[test]
fn the_kill_switch_stops_recording_and_uploading_until_cleared() {
    let storage = MemoryStorage::new();
    let mut e = Engine::new(config(), storage.clone(), 1, 0).unwrap();
    let get = next(&mut e, 1);
    e.on_response(get.id, ok(settings_body(json!({"enabled": false}))), 2);
    assert!(e.track("A", Map::new(), 3).is_err());
    assert!(matches!(e.next_task(4), UploadTask::Wait(_)));
    assert_eq!(e.stats().dropped.get(DropReason::DisabledByServer), 1);
    // Settings persist: a restart keeps the switch on.
    drop(e);
    let mut e = Engine::new(config(), storage, 2, 10).unwrap();
    assert!(e.track("A", Map::new(), 11).is_err());
    // At the TTL the device asks again; the switch is cleared.
    let get = next(&mut e, 2 + 300_000);
    assert_eq!(get.kind, RequestKind::Settings);
    e.on_response(get.id, ok(settings_body(json!({"version": "v3"}))), 300_003);
    e.track("A", Map::new(), 300_004).unwrap();
    assert_eq!(next(&mut e, 300_005).kind, RequestKind::Batch);
}

#[test]
fn sampling_keeps_about_the_rate_and_counts_the_rest() {
    let mut e = Engine::new(config(), MemoryStorage::new(), 9, 0).unwrap();
    let get = next(&mut e, 1);
    e.on_response(
        get.id,
        ok(settings_body(json!({"sampleRates": {"Often": 0.1}}))),
        2,
    );
    let kept = (0..2_000)
        .filter(|i| e.track("Often", Map::new(), 3 + i).is_ok())
        .count();
    assert!((140..260).contains(&kept), "kept {kept} of 2000 at 0.1");
    assert_eq!(
        e.stats().dropped.get(DropReason::SampledOut),
        2_000 - kept as u64
    );
}

#[test]
fn a_failed_fetch_backs_off_and_batches_still_go() {
    let mut e = Engine::new(config(), MemoryStorage::new(), 1, 0).unwrap();
    let get = next(&mut e, 1);
    e.on_response(get.id, UploadResult::Network("down".into()), 2);
    e.track("A", Map::new(), 3).unwrap();
    assert_eq!(next(&mut e, 4).kind, RequestKind::Batch);
}

#[test]
fn a_fetch_without_an_answer_holds_beacons_until_a_request_is_answered() {
    let cfg = SdkConfig {
        flush_at_events: 100,
        ..config()
    };
    let mut e = Engine::new(cfg, MemoryStorage::new(), 1, 0).unwrap();
    let get = next(&mut e, 1);
    e.on_response(get.id, UploadResult::Timeout, 2);
    e.track("A", Map::new(), 3).unwrap();
    // The page closes now: the gateway did not answer, so no beacon (the
    // event stays stored for the next visit).
    assert!(e.beacon_batches(60_000, 4).is_empty());
    // An upload is answered: beacons go again.
    e.flush();
    let up = next(&mut e, 5);
    e.on_response(up.id, ok(br#"{"accepted":2}"#.to_vec()), 6);
    e.track("B", Map::new(), 7).unwrap();
    assert_eq!(e.beacon_batches(60_000, 8).len(), 1);
}

#[test]
fn opens_are_installed_then_updated_and_cold_or_warm() {
    let storage = MemoryStorage::new();
    let cfg = SdkConfig {
        remote_settings: false,
        flush_at_events: 100,
        ..config()
    };
    let open = |v: &str| Opened {
        version: Some(v.into()),
        build: Some("7".into()),
        url: Some("https://shop.example/?utm_source=news&utm_medium=mail".into()),
        ..Opened::default()
    };
    let mut e = Engine::new(cfg.clone(), storage.clone(), 1, 0).unwrap();
    e.app_opened(&open("1.0"), 1).unwrap();
    e.track("First", Map::new(), 2).unwrap();
    drop(e);
    let mut e = Engine::new(cfg.clone(), storage.clone(), 2, 1_000).unwrap();
    e.app_opened(&open("1.0"), 1_001).unwrap();
    drop(e);
    let mut e = Engine::new(cfg.clone(), storage.clone(), 3, 2_000).unwrap();
    e.app_opened(&open("1.1"), 2_001).unwrap();
    // A page reload continues the session: a warm open.
    drop(e);
    let web = SdkConfig {
        new_session_on_start: false,
        ..cfg
    };
    let mut e = Engine::new(web, storage, 4, 3_000).unwrap();
    e.app_opened(&open("1.1"), 3_001).unwrap();
    e.flush();
    let req = next(&mut e, 3_002);
    let body = batch(&req);
    let events = body["batch"].as_array().unwrap();
    let of = |name: &str| -> Vec<&Value> { events.iter().filter(|x| x["event"] == name).collect() };
    assert_eq!(of("Application Installed").len(), 1);
    let updated = of("Application Updated");
    assert_eq!(updated.len(), 1);
    assert_eq!(updated[0]["properties"]["previousVersion"], "1.0");
    assert_eq!(updated[0]["properties"]["version"], "1.1");
    let opened = of("Application Opened");
    assert_eq!(
        opened
            .iter()
            .map(|o| o["properties"]["coldStart"].as_bool().unwrap())
            .collect::<Vec<_>>(),
        [true, true, true, false]
    );
    // The campaign rides on the first event after each open.
    let installed = of("Application Installed")[0];
    assert_eq!(installed["context"]["campaign"]["source"], "news");
    assert!(of("First")[0].get("context").is_none());
}

#[test]
fn a_crash_written_by_a_dying_process_is_queued_on_the_next_start() {
    let storage = MemoryStorage::new();
    let cfg = SdkConfig {
        remote_settings: false,
        ..config()
    };
    let mut e = Engine::new(cfg.clone(), storage.clone(), 1, 0).unwrap();
    e.app_opened(
        &Opened {
            version: Some("2.0".into()),
            ..Opened::default()
        },
        1,
    )
    .unwrap();
    let ctx = e.crash_context();
    assert!(ctx.enabled);
    let crash = Crash {
        kind: "IllegalStateException".into(),
        message: "boom".into(),
        stack: "at a.B.c(B.kt:1)".into(),
        fatal: true,
        source: "uncaught_exception".into(),
    };
    let body = ctx.event(&crash, "crash-1".into(), 5);
    drop(e);
    let mut e = Engine::new(cfg, storage, 2, 100).unwrap();
    e.adopt_crash(body, 5).unwrap();
    assert!(e.adopt_crash(b"{not json".to_vec(), 5).is_err());
    e.flush();
    let req = next(&mut e, 101);
    let crashed: Vec<Value> = batch(&req)["batch"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["event"] == "Application Crashed")
        .cloned()
        .collect();
    assert_eq!(crashed.len(), 1);
    let c = &crashed[0];
    assert_eq!(c["messageId"], "crash-1");
    assert_eq!(c["sessionId"], 0, "the session it crashed in");
    assert_eq!(c["properties"]["appVersion"], "2.0");
    assert_eq!(c["properties"]["fatal"], true);
    assert_eq!(c["properties"]["stackHash"].as_str().unwrap().len(), 16);
}

#[cfg(feature = "plugins")]
#[test]
fn plugins_enrich_and_drop_with_the_drops_counted() {
    let mut e = Engine::new(
        SdkConfig {
            remote_settings: false,
            ..config()
        },
        MemoryStorage::new(),
        1,
        0,
    )
    .unwrap();
    e.add_plugin(Box::new(|ev: &str| {
        (!ev.contains("\"Secret\""))
            .then(|| ev.replacen("\"properties\":{", "\"properties\":{\"tenant\":\"t1\",", 1))
    }));
    assert_eq!(
        e.track("Secret", props(json!({"a": 1})), 1),
        Err(tributary_sdk_core::EnqueueError::Dropped(
            DropReason::DroppedByPlugin
        ))
    );
    e.track("Public", props(json!({"a": 1})), 2).unwrap();
    let req = next(&mut e, 3);
    let body = batch(&req);
    let public = body["batch"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["event"] == "Public")
        .unwrap()
        .clone();
    assert_eq!(public["properties"], json!({"tenant": "t1", "a": 1}));
    assert_eq!(body["clientReport"]["dropped"]["dropped_by_plugin"], 1);
}

/// With `debug` on, each decision is a line for the platform's console:
/// the settings, an event queued and one dropped (and why), a batch sent,
/// the answer and what it did, a retry.
#[cfg(feature = "debug-log")]
#[test]
fn the_debug_log_has_a_line_per_decision() {
    let cfg = SdkConfig {
        debug: true,
        ..config()
    };
    let mut e = Engine::new(cfg, MemoryStorage::new(), 1, 0).unwrap();
    let get = next(&mut e, 1);
    e.on_response(
        get.id,
        ok(settings_body(json!({"disabledEvents": ["Noisy"]}))),
        2,
    );
    let _ = e.track("Noisy", Map::new(), 3);
    e.track("Kept", Map::new(), 4).unwrap();
    let post = next(&mut e, 5);
    e.on_response(
        post.id,
        UploadResult::Http {
            status: 503,
            retry_after: Some("2".into()),
            body: vec![],
        },
        6,
    );
    let again = next(&mut e, 2_100);
    e.on_response(
        again.id,
        ok(br#"{"accepted":2,"rejected":[]}"#.to_vec()),
        2_200,
    );
    let log = e.take_debug_log().join("\n");
    for want in [
        "fetching settings",
        "settings v1 in force",
        "dropped \"Noisy\": disabled_by_server",
        "queued \"Kept\"",
        &format!("sending batch {}: 2 events", post.idempotency_key),
        "HTTP 503, Retry-After 2",
        "retrying in 2000 ms (failure 1)",
        "2 delivered, 0 to retry",
    ] {
        assert!(log.contains(want), "missing {want:?} in\n{log}");
    }
    assert!(e.take_debug_log().is_empty(), "each line is taken once");

    // Off (the default): nothing is written.
    let mut quiet = Engine::new(config(), MemoryStorage::new(), 1, 0).unwrap();
    quiet.track("Kept", Map::new(), 1).unwrap();
    assert!(quiet.take_debug_log().is_empty());
}
