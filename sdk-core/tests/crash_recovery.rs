//! Crash recovery of the native file store: segment files truncated or
//! corrupted at random byte offsets (torn writes, bad sectors) must never
//! panic or fail the start-up; every intact record before the damage is
//! recovered, the damage is counted as `corrupt`, and the store keeps
//! working afterwards.

#![cfg(feature = "native")]
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use proptest::prelude::*;
use std::fs;
use std::path::{Path, PathBuf};
use tributary_sdk_core::native::FileStorage;
use tributary_sdk_core::storage::{Priority, Storage, StoredEvent};
use tributary_sdk_core::{DropReason, Engine, SdkConfig, UploadTask};

fn ev(seq: u64) -> StoredEvent {
    StoredEvent {
        seq,
        created_ms: 1_000 + seq as i64,
        priority: Priority::Normal,
        body: format!(
            "{{\"messageId\":\"m{seq}\",\"pad\":\"{}\"}}",
            "p".repeat((seq % 13) as usize * 7)
        )
        .into_bytes(),
    }
}

fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("seg-"))
        .collect();
    v.sort();
    v
}

fn write(dir: &Path, n: u64) {
    let mut s = FileStorage::open(dir).unwrap();
    s.load().unwrap();
    for i in 0..n {
        s.append(&ev(i)).unwrap();
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]

    #[test]
    fn truncation_anywhere_recovers_the_intact_prefix(n in 1u64..60, cut in 0.0f64..1.0) {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), n);
        let seg = segments(dir.path()).pop().unwrap();
        let len = fs::metadata(&seg).unwrap().len();
        let at = (len as f64 * cut) as u64;
        fs::OpenOptions::new().write(true).open(&seg).unwrap().set_len(at).unwrap();

        let mut s = FileStorage::open(dir.path()).unwrap();
        let loaded = s.load().unwrap();
        let got: Vec<u64> = loaded.events.iter().map(|e| e.seq).collect();
        prop_assert_eq!(&got, &(0..got.len() as u64).collect::<Vec<_>>(), "a prefix, in order");
        for e in &loaded.events {
            prop_assert_eq!(e, &ev(e.seq), "recovered records are intact");
        }
        // A cut on a record boundary is indistinguishable from records never
        // written; a cut inside a record is a torn tail: counted, truncated.
        let repaired = fs::metadata(&seg).map(|m| m.len()).unwrap_or(0); // an emptied segment is deleted
        prop_assert_eq!(loaded.corrupt, u64::from(repaired < at), "torn tail counted once");
        prop_assert!(repaired <= at);
        // Still usable, and the repair is durable.
        s.append(&ev(1000)).unwrap();
        drop(s);
        let mut s = FileStorage::open(dir.path()).unwrap();
        let again = s.load().unwrap();
        prop_assert_eq!(again.events.len(), got.len() + 1);
        prop_assert_eq!(again.corrupt, 0);
    }

    #[test]
    fn a_flipped_byte_never_panics_and_loses_only_from_the_damage_on(n in 1u64..60, pos in 0.0f64..1.0, xor in 1u8..=255) {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), n);
        let seg = segments(dir.path()).pop().unwrap();
        let mut data = fs::read(&seg).unwrap();
        let at = ((data.len() - 1) as f64 * pos) as usize;
        data[at] ^= xor;
        fs::write(&seg, &data).unwrap();

        let mut s = FileStorage::open(dir.path()).unwrap();
        let loaded = s.load().unwrap();
        prop_assert!(loaded.corrupt >= 1, "damage is detected by the checksum");
        for e in &loaded.events {
            prop_assert_eq!(e, &ev(e.seq));
        }
        let got: Vec<u64> = loaded.events.iter().map(|e| e.seq).collect();
        prop_assert_eq!(&got, &(0..got.len() as u64).collect::<Vec<_>>());
    }
}

#[test]
fn an_engine_restarted_on_a_damaged_store_keeps_working_and_reports_the_loss() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = SdkConfig {
        remote_settings: false,
        ..SdkConfig::new("wk", "http://gateway")
    };
    {
        let storage = FileStorage::open(dir.path()).unwrap();
        let mut e = Engine::new(cfg.clone(), storage, 1, 1_000).unwrap();
        for i in 0..30 {
            e.track(
                "e",
                serde_json::json!({"i": i}).as_object().unwrap().clone(),
                1_000 + i,
            )
            .unwrap();
        }
        // killed here
    }
    let seg = segments(dir.path()).pop().unwrap();
    let len = fs::metadata(&seg).unwrap().len();
    fs::OpenOptions::new()
        .write(true)
        .open(&seg)
        .unwrap()
        .set_len(len - 5)
        .unwrap();

    let storage = FileStorage::open(dir.path()).unwrap();
    let mut e = Engine::new(cfg, storage, 2, 5_000).unwrap();
    let stats = e.stats();
    assert_eq!(stats.dropped.get(DropReason::Corrupt), 1);
    // 1 session start + 29 intact events from before, plus the new
    // session's end and start.
    assert_eq!(stats.queued, 32);
    e.flush();
    let UploadTask::Upload(req) = e.next_task(5_001) else {
        panic!("upload expected")
    };
    assert_eq!(req.event_count, 32, "all fit in one batch");
}
