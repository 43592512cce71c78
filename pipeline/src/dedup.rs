//! Each event once: a repeated `(app, messageId)` within a partition and
//! `[dedup] window_secs` of the first copy's receipt is dropped, counted by
//! why it repeated.
//!
//! The decision must come out the same after a kill -9, a rebalance or a
//! replay, or a restart would write different files for the same offsets.
//! So it depends only on records at earlier offsets of the same partition:
//! each closed segment writes the hashes it let through (`_dedup/…/*.ids`,
//! an object of the segment, written before its offset is committed), and a
//! partition taken up at offset X reloads those of the segments that end
//! before X. Within a partition only: the gateway keeps a user's records,
//! retries included, on the user's partition (docs/contract.md, Key);
//! copies of a hot user's keyless events can land on other partitions and
//! are not found.
//!
//! Memory: a partition holds at most `max_ids_per_partition` hashes
//! (about 40 bytes each, map and order together), fewer when its window's
//! worth is less: at R events/s, min(max_ids, R × (window + slack)).

use crate::config::DedupConfig;
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};

/// A message id's 64-bit hash, stable across processes and versions
/// (xxh3 of app, a zero byte, and the id).
pub fn id_hash(app: &str, message_id: &str) -> u64 {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    h.update(app.as_bytes());
    h.update(&[0]);
    h.update(message_id.as_bytes());
    h.digest()
}

/// Why a copy was there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Copy {
    /// Same receipt time: the gateway produced the record twice (a
    /// buffered-mode retry after a lost delivery report, a spool segment
    /// replayed again).
    Replayed,
    /// Received again: the client sent it twice (a retry after the
    /// idempotency window, or through another gateway replica).
    Resent,
}

impl Copy {
    /// The `reason` label.
    pub fn label(self) -> &'static str {
        match self {
            Copy::Replayed => "replayed",
            Copy::Resent => "resent",
        }
    }
}

/// The hashes are already uniform: no second hashing.
#[derive(Default)]
struct Identity(u64);

impl Hasher for Identity {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 << 8) | u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// One partition's hashes, in offset order, each with its receipt time.
#[derive(Default)]
struct Seen {
    order: VecDeque<(u64, i64)>,
    latest: HashMap<u64, i64, BuildHasherDefault<Identity>>,
    newest: i64,
    /// The offset after the last record checked: a record below it is a
    /// rewind, and the partition reloads.
    next_offset: i64,
}

/// The hashes of every assigned partition.
pub struct Dedup {
    window_ms: i64,
    slack_ms: i64,
    max_ids: usize,
    partitions: HashMap<(String, i32), Seen>,
}

impl Dedup {
    /// `None` when `[dedup]` is off.
    pub fn new(c: &DedupConfig) -> Option<Dedup> {
        (c.window_secs > 0).then(|| Dedup {
            window_ms: secs_to_ms(c.window_secs),
            slack_ms: secs_to_ms(c.reload_slack_secs),
            max_ids: c.max_ids_per_partition.max(1),
            partitions: HashMap::new(),
        })
    }

    /// The oldest receipt time whose hashes matter to a record received at
    /// `time_ms` (older ones are not reloaded).
    pub fn reload_from(&self, time_ms: i64) -> i64 {
        time_ms.saturating_sub(self.keep_ms())
    }

    /// At most this many hashes per partition.
    pub fn max_ids(&self) -> usize {
        self.max_ids
    }

    /// Whether `key` must be (re)loaded before the record at `offset`.
    pub fn needs_load(&self, key: &(String, i32), offset: i64) -> bool {
        self.partitions
            .get(key)
            .is_none_or(|s| offset < s.next_offset)
    }

    /// Sets `key`'s hashes to `entries` (offset order) before `offset`.
    pub fn load(&mut self, key: (String, i32), offset: i64, entries: Vec<(u64, i64)>) {
        let mut s = Seen {
            next_offset: offset,
            ..Seen::default()
        };
        for (h, t) in entries {
            s.insert(h, t, self.max_ids, self.keep_ms());
        }
        self.partitions.insert(key, s);
    }

    /// Forgets a revoked partition.
    pub fn forget(&mut self, key: &(String, i32)) {
        self.partitions.remove(key);
    }

    /// Hashes held over all partitions.
    pub fn held(&self) -> usize {
        self.partitions.values().map(|s| s.order.len()).sum()
    }

    /// Checks the event at `offset` of loaded partition `key`: `Some` when
    /// it is a copy (drop it), `None` when it is new (now remembered).
    pub fn check(
        &mut self,
        key: &(String, i32),
        offset: i64,
        hash: u64,
        received_ms: i64,
    ) -> Option<Copy> {
        let (max_ids, keep_ms, window_ms) = (self.max_ids, self.keep_ms(), self.window_ms);
        let s = match self.partitions.get_mut(key) {
            Some(s) => s,
            None => self.partitions.entry(key.clone()).or_default(),
        };
        s.next_offset = offset + 1;
        let copy = match s.latest.get(&hash) {
            Some(&t) if (received_ms - t).abs() <= window_ms => Some(if t == received_ms {
                Copy::Replayed
            } else {
                Copy::Resent
            }),
            _ => None,
        };
        if copy.is_none() {
            s.insert(hash, received_ms, max_ids, keep_ms);
        }
        copy
    }

    /// Advances `key` past a record that is not an event.
    pub fn pass(&mut self, key: &(String, i32), offset: i64) {
        if let Some(s) = self.partitions.get_mut(key) {
            s.next_offset = offset + 1;
        }
    }

    /// How far behind a partition's newest receipt its hashes are kept.
    fn keep_ms(&self) -> i64 {
        self.window_ms + self.slack_ms
    }
}

impl Seen {
    /// Remembers a hash; forgets the oldest past `max_ids`, and those more
    /// than `keep_ms` older than the newest receipt.
    fn insert(&mut self, hash: u64, t: i64, max_ids: usize, keep_ms: i64) {
        self.order.push_back((hash, t));
        self.latest.insert(hash, t);
        self.newest = self.newest.max(t);
        let oldest = self.newest.saturating_sub(keep_ms);
        while let Some(&(h, ht)) = self.order.front() {
            if self.order.len() <= max_ids && ht >= oldest {
                break;
            }
            self.order.pop_front();
            if self.latest.get(&h) == Some(&ht) {
                self.latest.remove(&h);
            }
        }
    }
}

fn secs_to_ms(s: u64) -> i64 {
    i64::try_from(s.saturating_mul(1000)).unwrap_or(i64::MAX / 4)
}

/// The bytes of a segment's `.ids` object: a version line, then 16 bytes
/// per event let through (hash, receipt ms; little-endian).
pub fn encode_ids(ids: &[(u64, i64)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + ids.len() * 16);
    out.extend_from_slice(MAGIC);
    for (h, t) in ids {
        out.extend_from_slice(&h.to_le_bytes());
        out.extend_from_slice(&t.to_le_bytes());
    }
    out
}

const MAGIC: &[u8; 8] = b"TBIDS1\n\0";

/// The folder of one partition's `.ids` objects of one UTC day.
pub fn ids_day_prefix(prefix: &str, topic: &str, partition: i32, day: i64) -> String {
    let (date, _) = crate::rows::date_hour(day.saturating_mul(24));
    format!("{prefix}_dedup/topic={topic}/partition={partition}/dt={date}/")
}

/// The `.ids` object of the segment `start..=end`, filed under the day of
/// its newest receipt (a restart lists only the days its window covers).
pub fn ids_path(
    prefix: &str,
    topic: &str,
    partition: i32,
    start: i64,
    end: i64,
    newest_ms: i64,
) -> String {
    let day = crate::rows::hour_of(newest_ms).div_euclid(24);
    format!(
        "{}{start:020}-{end:020}.ids",
        ids_day_prefix(prefix, topic, partition, day)
    )
}

/// The offset range in an `.ids` object's name.
pub fn ids_range(path: &str) -> Option<(i64, i64)> {
    let name = path.rsplit('/').next()?.strip_suffix(".ids")?;
    let (a, b) = name.split_once('-')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// Reads [`encode_ids`]'s bytes.
pub fn decode_ids(bytes: &[u8]) -> anyhow::Result<Vec<(u64, i64)>> {
    let body = bytes
        .strip_prefix(MAGIC.as_slice())
        .ok_or_else(|| anyhow::anyhow!("not a Tributary ids object"))?;
    anyhow::ensure!(body.len() % 16 == 0, "ids object cut short");
    Ok(body
        .chunks_exact(16)
        .map(|c| {
            let (h, t) = c.split_at(8);
            (
                u64::from_le_bytes(h.try_into().unwrap_or_default()),
                i64::from_le_bytes(t.try_into().unwrap_or_default()),
            )
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dedup(window_secs: u64, max_ids: usize) -> Dedup {
        Dedup::new(&DedupConfig {
            window_secs,
            max_ids_per_partition: max_ids,
            reload_slack_secs: 0,
        })
        .unwrap()
    }

    fn key() -> (String, i32) {
        ("t".into(), 0)
    }

    #[test]
    fn copies_within_the_window_are_found_and_named_by_their_receipt() {
        let mut d = dedup(60, 100);
        d.load(key(), 0, Vec::new());
        let (a, b) = (id_hash("shop", "m1"), id_hash("shop", "m2"));
        assert_ne!(id_hash("shop", "m1"), id_hash("other", "m1"), "per app");
        assert_eq!(d.check(&key(), 0, a, 1_000), None);
        assert_eq!(d.check(&key(), 1, a, 1_000), Some(Copy::Replayed));
        assert_eq!(d.check(&key(), 2, a, 30_000), Some(Copy::Resent));
        assert_eq!(d.check(&key(), 3, b, 30_000), None);
        // Past the window, the same id is a new event.
        assert_eq!(d.check(&key(), 4, a, 62_000), None);
        assert_eq!(d.check(&key(), 5, a, 62_000), Some(Copy::Replayed));
    }

    #[test]
    fn memory_holds_at_most_max_ids_and_reloading_the_same_hashes_decides_the_same() {
        let mut d = dedup(3600, 3);
        d.load(key(), 0, Vec::new());
        let mut let_through = Vec::new();
        for (i, id) in ["a", "b", "c", "d"].iter().enumerate() {
            let h = id_hash("shop", id);
            assert_eq!(d.check(&key(), i as i64, h, 10), None);
            let_through.push((h, 10));
        }
        assert_eq!(d.held(), 3);
        // "a" fell out of the bound: a late copy of it is let through.
        assert_eq!(d.check(&key(), 4, id_hash("shop", "a"), 10), None);
        let_through.push((id_hash("shop", "a"), 10));
        // A restart at offset 5 from the let-through hashes: same state.
        let mut r = dedup(3600, 3);
        assert!(r.needs_load(&key(), 5));
        r.load(key(), 5, let_through);
        for id in ["a", "c", "d", "b"] {
            let h = id_hash("shop", id);
            assert_eq!(r.check(&key(), 5, h, 11), d.check(&key(), 5, h, 11), "{id}");
        }
        // An offset below the last one checked is a rewind.
        assert!(r.needs_load(&key(), 3));
    }

    #[test]
    fn ids_objects_are_named_by_day_and_range() {
        let p = ids_path("lake/", "t.order", 2, 7, 41, 1_764_115_199_999);
        assert_eq!(
            p,
            "lake/_dedup/topic=t.order/partition=2/dt=2025-11-25/00000000000000000007-00000000000000000041.ids"
        );
        assert!(p.starts_with(&ids_day_prefix("lake/", "t.order", 2, 20_417)));
        assert_eq!(ids_range(&p), Some((7, 41)));
        assert_eq!(ids_range("x/y.parquet"), None);
    }

    #[test]
    fn ids_objects_round_trip_and_refuse_other_bytes() {
        let ids = vec![(1, -5), (u64::MAX, 1_764_000_000_000)];
        assert_eq!(decode_ids(&encode_ids(&ids)).unwrap(), ids);
        assert!(decode_ids(b"PAR1....").is_err());
        assert!(decode_ids(&encode_ids(&ids)[..20]).is_err());
    }
}
